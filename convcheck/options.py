"""What `verify` takes and its defaults, with no NumPy: the command line reads them before any
worker has started, and pytest when it starts (the plugin's --convcheck-NAME options).

OPTIONS is the one table of verify's options: the command line's `verify` and `plan` (cli),
the pytest plugin and the Python API (testing) all build theirs from it.
"""

from dataclasses import dataclass

from .errors import ConvcheckError

METHODS = ("auto", "full", "channels", "sample", "fast")
DEFAULT_BUDGET_S = 5.0
"""Seconds `auto` and `channels` may spend on finite differences per layer."""
DEFAULT_SAMPLES = 64
ORDERS = (1, 2)
"""--order: 1 checks the backward; 2 also the gradients of the backward (second.py)."""

TOLERANCES = {"float64": (1e-6, 1e-8), "float32": (1e-3, 1e-3), "float16": (5e-2, 5e-2), "bfloat16": (1e-2, 1e-2)}
"""(rtol, atol) per dtype. float64: finite differences are exact to ~1e-10 for an affine L,
so 1e-6 leaves room for accumulation order only. float32: a gradient element sums thousands
of float32 products (dL/dF: batch x o_h x o_w of them); near-zero elements carry that
rounding as absolute error, measured up to 7e-5 at 8,192 terms, hence atol 1e-3 (a real bug's
error is as large as the gradient itself). float16 (eps 9.8e-4) and bfloat16 (eps 7.8e-3):
on 300 random layers (tests/benchmarks/half_tolerances.py: up to 24 channels, 24 x 24 inputs,
batch 3, strides, dilation, groups, 1-D, 3-D, transposed; 498,561 elements), torch's CPU
conv2d in float16 was off by at most 0.016 on elements below 1 in size and 1.1% of the exact
value above it (an earlier run, 0.020 and 1.5%, set (5e-2, 5e-2)); in bfloat16, the built-ins
and torch, all accumulating in float32, by 0.00195 and 0.39%, the rounding of the result:
(1e-2, 1e-2) is 5.1x and 2.6x that."""


TOLERANCES_ORDER2 = {"float16": (0.1, 0.1), "bfloat16": (0.25, 0.25)}
"""(rtol, atol) of order 2's rows (dL2/dX, dL2/dF, dL2/db, dL2/dG) where they differ from
TOLERANCES. A second-order gradient is two rounded computations deep, and dL2/dG sums two
rounded convolutions that may cancel: on 2,000 random layers (tests/benchmarks/
order2_tolerances.py, seeds 1 and 2; 1-D to 3-D, strides, dilation, groups, transposed), torch's
own conv ops' double backward was off from float64 on the same numbers by at most 0.108 on
elements below 1 in size and 9.1% above in bfloat16 (0.03 and 2.3% in float16): (0.25, 0.25)
is 2.3x and 2.8x that, (0.1, 0.1) 3.3x and 4.3x. float32 (2.0e-5, 1.3e-5) keeps order 1's."""


CHECK_BATCH = 2
"""The batch `verify` checks a layer at when its spec sets none (shapes and `convcheck shapes`
keep 1). At batch 1 a backward that divides dL/dF or dL/db by N, or that uses sample 0's input
for every sample, is exactly right; a second sample shows both (diagnoses batch-mean and
batch-partial). A spec that sets `batch: 1` is checked at 1."""

FORWARD_CHECKS = 2
"""Calls of the plug-in's forward that verify's forward check makes: at two draws of x, w, b
(checker.SECOND_DRAW). The cost model counts them among a check's whole-layer forwards."""

THROUGH = ("builtin", "implementation")
"""Which forward finite differences go through (`verify --through`): the built-in im2col, the
default, whatever the plug-in's forward does (it is checked on its own, at two points, and
called a handful of times however many forwards the method needs); or the plug-in's own
forward once it passed its check ('implementation': the check then costs hundreds of its
calls)."""


DEFAULT_TIMEOUT_S = 300.0
"""Seconds one layer may take in a worker (import included for the first): minutes above what
the default method spends on any layer (its 5 s budget plus one forward and one backward),
and short enough that a hung CI job fails in minutes, not at the CI system's limit."""


@dataclass(frozen=True)
class Option:
    """One of verify's options: `name` is verify's keyword, `--NAME` on the command line,
    `--convcheck-NAME` in pytest. `help` is the command line's sentence; `choices`, for a str
    option, what it takes; `minimum`, the smallest value the command line takes (None: any);
    `commands`, which of `convcheck verify` and `convcheck plan` take it; `worker`: the
    runner's (how long a worker may take), passed to the worker pool, not to checker.verify."""

    name: str
    type: type
    default: object
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    commands: tuple[str, ...] = ("verify", "plan")
    worker: bool = False


OPTIONS: tuple[Option, ...] = (
    Option("method", str, "auto", "full: every coordinate; channels: every coordinate of as many input channels as "
           "fit --budget (first and last always) plus random projections; sample: --samples per tensor; fast: random "
           "projections only; auto: full when it fits --budget, else channels.", choices=METHODS,
           commands=("verify",)),
    Option("budget", float, DEFAULT_BUDGET_S, "Seconds auto and channels may spend on finite differences per layer."),
    Option("samples", int, DEFAULT_SAMPLES, "Coordinates per tensor for --method sample.", minimum=1,
           commands=("verify",)),
    Option("channels", int, None, "Pin auto and channels to exactly this many input-channel sets (full when that is "
           "all), whatever the machine's speed: the same report on any machine.", minimum=1),
    Option("projections", int, None, "Pin the random directions of auto, channels and fast.", minimum=1),
    Option("rtol", float, None, "Relative tolerance (overrides the spec's).", minimum=0, commands=("verify",)),
    Option("atol", float, None, "Absolute tolerance (overrides the spec's).", minimum=0, commands=("verify",)),
    Option("seed", int, None, "Seed for x, w, b, G (overrides the spec's).", minimum=0),
    Option("timeout", float, DEFAULT_TIMEOUT_S, "Seconds one layer may take (the plug-in's import included) before "
           "it fails; 0: no limit.", worker=True),
    Option("backend", str, "numpy", "Where the check runs: numpy (CPU) or cupy (a CUDA GPU; pip install "
           "'convcheck[cupy]').", choices=("numpy", "cupy")),
    Option("layout", str, None, "The implementation's array layout, overriding the specs': nchw, or nhwc (x (N, H, "
           "W, k), w (m_h, m_w, k, p)).", choices=("nchw", "nhwc")),
    Option("shrink", bool, True, "Shrink a failing layer to the smallest layer that fails the same way and say what "
           "each failing tensor computed there (--no-shrink: report the layer as checked, nothing more).",
           commands=("verify",)),
    Option("through", str, "builtin", "The forward finite differences go through: builtin (im2col, a forward known "
           "to be the layer; yours is checked at two draws and called twice whatever the method) or implementation "
           "(yours, once it passed its check: hundreds of its calls).", choices=THROUGH),
    Option("order", int, 1, "1: the backward against finite differences of the forward; 2: also the gradients "
           "of the backward itself (double backward, for torch: and jax: ops) against finite differences of the "
           "backward.",
           minimum=1),
)
"""verify's options in the order `convcheck verify --help` shows them (its own options, --format,
--output, --jobs, --shard, --plot, --quiet, --show-output, are the command line's alone)."""

OPTION = {option.name: option for option in OPTIONS}
"""OPTIONS by name."""


def checked(spec):
    """The spec as `verify` and `plan` check it: at CHECK_BATCH when it sets no batch."""
    if spec.batch is not None:
        return spec
    from dataclasses import replace
    return replace(spec, batch=CHECK_BATCH)


def tolerances(spec, rtol: float | None = None, atol: float | None = None, order: int = 1) -> tuple[float, float]:
    """(rtol, atol) in force: the caller's, else the spec's, else the dtype's defaults (order 2's
    rows: TOLERANCES_ORDER2's where it has the dtype)."""
    default_rtol, default_atol = TOLERANCES_ORDER2.get(spec.dtype, TOLERANCES[spec.dtype]) if order == 2 else \
        TOLERANCES[spec.dtype]
    rtol = rtol if rtol is not None else spec.rtol if spec.rtol is not None else default_rtol
    atol = atol if atol is not None else spec.atol if spec.atol is not None else default_atol
    return rtol, atol


def check_values(seed=None, rtol=None, atol=None, budget: float = DEFAULT_BUDGET_S, samples: int = DEFAULT_SAMPLES,
                 channels=None, projections=None) -> None:
    """verify's numeric options as the command line takes them (its types refuse the rest before
    this), for Python callers too: one ConvcheckError line naming the option and what is valid."""
    import math

    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    for flag, value, valid, ok in (
            ("--seed", seed, "an integer >= 0", seed is None or whole(seed) and seed >= 0),
            ("--rtol", rtol, "a finite number >= 0", rtol is None or number(rtol) and rtol >= 0),
            ("--atol", atol, "a finite number >= 0", atol is None or number(atol) and atol >= 0),
            ("--budget", budget, "a positive number of seconds (inf: no limit)",
             isinstance(budget, (int, float)) and not isinstance(budget, bool) and budget > 0),
            ("--samples", samples, "an integer >= 1", whole(samples) and samples >= 1),
            ("--channels", channels, "an integer >= 1", channels is None or whole(channels)),
            ("--projections", projections, "an integer >= 1", projections is None or whole(projections))):
        if not ok:
            raise ConvcheckError(f"{flag} {value!r}: must be {valid} ({flag[2:]}= from Python)")


def check_options(method: str = "auto", through: str = "builtin", seed=None, rtol=None, atol=None,
                  budget: float = DEFAULT_BUDGET_S, samples: int = DEFAULT_SAMPLES, channels=None,
                  projections=None, order: int = 1) -> None:
    """Every option of verify and plan as the command line would take it: ConvcheckError's one
    line naming the option and what is valid."""
    if method not in METHODS:
        raise ConvcheckError(f"--method {method}: unknown; valid: {', '.join(METHODS)}")
    check_order(order, method)
    check_values(seed, rtol, atol, budget, samples, channels, projections)
    check_pins(method, channels, projections)
    if through not in THROUGH:
        raise ConvcheckError(f"--through {through}: unknown; valid: {', '.join(THROUGH)}")


def check_order(order, method: str = "auto") -> None:
    """--order 1 or 2; order 2 has no `channels` (second.py: every set of its finite differences
    spans all channels, so covering some channels saves nothing)."""
    if order not in ORDERS or isinstance(order, bool):
        raise ConvcheckError(f"--order {order!r}: must be 1 (the backward) or 2 (also its own gradients, double "
                             "backward) (order= from Python)")
    if order == 2 and method == "channels":
        raise ConvcheckError("--method channels: order 2 has no channel sets (each set of its finite differences "
                             "perturbs every channel at once); valid with --order 2: auto, full, sample, fast")


def check_pins(method: str, channels: int | None, projections: int | None) -> None:
    """--channels pins auto and channels; --projections those and fast; both at least 1."""
    for flag, value, methods in (("--channels", channels, ("auto", "channels")),
                                 ("--projections", projections, ("auto", "channels", "fast"))):
        if value is not None and (value < 1 or method not in methods):
            what = "how many input channels" if flag == "--channels" else "how many random directions"
            raise ConvcheckError(f"{flag} {value}: pins {what} {' and '.join(methods)} cover: at least 1, with "
                                 f"--method {' or '.join(methods)}")
