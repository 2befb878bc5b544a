"""The verdicts as data: what `verify` found, per tensor and per layer.

Plain dataclasses, no NumPy: a worker process computes them and sends them to the process
that writes the report, which therefore never imports NumPy for a passing layer (a failing
tensor's `error_map` is the one NumPy array, and only it brings NumPy in).
"""

from dataclasses import dataclass, field

VIEWS: dict = {}
"""How results show themselves, filled in by `report` when it loads (data never imports a
renderer): 'text' (repr: the tables as plain text) and 'html' (Jupyter's `_repr_html_`), each
called with (results, seconds or None). `import convcheck`'s API names load `report`."""


def _shown(kind: str, results, seconds, otherwise):
    """The registered view of `results`, or `otherwise` before `report` has loaded."""
    view = VIEWS.get(kind)
    return view(results, seconds) if view is not None else otherwise


@dataclass(frozen=True)
class Coverage:
    """How one tensor was checked. `exact` counts the elements compared one by one."""

    total: int                               # elements in the tensor
    exact: int = 0                           # elements compared with their own finite difference
    channels: tuple[int, ...] | None = None  # every coordinate of these input channels (partial)
    of_channels: int = 0                     # input channels in the layer
    sampled: int = 0                         # of `exact`: coordinates chosen one by one
    projections: int = 0                     # random directions
    filters: bool = False                    # dL/dF: channels hold every filter; a direction tests each filter

    @property
    def every(self) -> bool:
        """Every coordinate compared with its own finite difference."""
        return self.exact == self.total

    def text(self) -> str:
        """'every coordinate', 'every coordinate of input channels 0, 17, 63 (3 of 64, all filters)',
        '64 sampled of 1,000', '16 random projections (each filter on its own)', joined by ' + '."""
        parts = []
        if self.every:
            parts.append("every coordinate")
        elif self.channels is not None:
            parts.append(f"every coordinate of input channels {ranges_text(self.channels)} "
                         f"({len(self.channels)} of {self.of_channels}{', all filters' * self.filters})")
        elif self.sampled:
            parts.append(f"{self.sampled:,} sampled of {self.total:,}")
        if self.projections and not self.every:
            parts.append(f"{self.projections} random projection{'s' * (self.projections != 1)}"
                         + " (each filter on its own)" * self.filters)
        return " + ".join(parts) or "not checked"

    def as_dict(self) -> dict:
        """The JSON `coverage` object."""
        return {"text": self.text(), "every_coordinate": self.every, "exact": self.exact, "total": self.total,
                "channels": None if self.channels is None else list(self.channels),
                "sampled": self.sampled, "projections": self.projections, "per_filter": self.filters}


def ranges_text(values, most: int = 12) -> str:
    """Sorted ints as '0-3, 7, 12, 63'; past `most` runs, the rest as a count."""
    runs = []
    for value in sorted(values):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    texts = [f"{a}" if a == b else f"{a}, {b}" if b == a + 1 else f"{a}-{b}" for a, b in runs]
    shown = ", ".join(texts[:most])
    return shown if len(texts) <= most else f"{shown}, … ({len(texts) - most} more; all in --format json)"


@dataclass
class Diagnosis:
    mistake: str | None
    explanation: str
    operand: str | None = None     # wrong-operand and its kin: 'w', 'x' or 'g', the operand the backward used wrongly
    relation: str | None = None    # how that operand relates to the right one: 'permuted', 'shifted', ...
    expression: str | None = None  # the NumPy expression that makes it from the right one, where one does
    rule: dict | None = field(default=None, repr=False)  # operands.py's relation, to try on another layer

    def as_dict(self) -> dict:
        return {"mistake": self.mistake, "explanation": self.explanation, "operand": self.operand,
                "relation": self.relation, "expression": self.expression}


@dataclass
class Smallest:
    """The smallest layer found that fails as the checked one does (shrink.py): its fields as a
    spec file holds them, what it fails with, what made it pass when shrunk further, and the
    failing tensors side by side where they are small enough to read."""

    fields: dict                   # the small layer's spec fields (`yaml` gives them to paste)
    failure: list                  # [[tensor, how]]: how it fails, the same as the checked layer
    further: list = field(default_factory=list)  # {field, value, outcome, text}: one step smaller
    arrays: dict = field(default_factory=dict)   # tensor -> {shape, yours, right} (nested lists)
    diagnoses: dict = field(default_factory=dict)  # tensor -> Diagnosis on the small layer
    tried: int = 0                 # layers checked while shrinking
    seconds: float = 0.0
    stopped: str = ""              # why shrinking ended early ('': it finished)

    @property
    def yaml(self) -> str:
        """The small layer as YAML the user can paste into a spec file."""
        import yaml
        return "\n".join(yaml.safe_dump({key: value}, default_flow_style=None if isinstance(value, list) else False)
                         .strip()
                         for key, value in self.fields.items())             # a field a line, lists as [1, 2]

    def as_dict(self) -> dict:
        """The JSON `smallest` object."""
        return {"spec": self.fields, "yaml": self.yaml, "failure": [list(f) for f in self.failure],
                "shrunk_further": self.further, "arrays": self.arrays,
                "diagnoses": {name: d.as_dict() for name, d in self.diagnoses.items()}, "tried": self.tried,
                "seconds": round(self.seconds, 4), "stopped": self.stopped or None}


@dataclass
class OwnForward:
    """How one gradient relates to the plug-in's own (failing) forward."""

    consistent: bool | None   # the gradient of the plug-in's forward; None: could not be asked (see note)
    note: str                 # in words, with what to fix

    def as_dict(self) -> dict:
        return {"consistent": self.consistent, "note": self.note}


@dataclass
class TensorCheck:
    """The verdict on one tensor. Shapes are tuples, or None where there is no array."""

    name: str                      # 'y', 'dx', 'dw', 'db'
    expected_shape: tuple | None
    actual_shape: tuple | None = None
    max_abs: float | None = None
    max_rel: float | None = None   # over the elements where rtol governs (module docstring)
    tolerance_ratio: float | None = None  # worst error / its allowed error: <= 1 passes
    worst_index: tuple | None = None
    passed: bool = False
    skipped: bool = False
    unchecked: bool = False        # a gradient nothing could be compared with (the forward raised): 'not checked'
    message: str = ""
    checked: int = 0               # elements compared one by one with their own reference value
    total: int = 0                 # elements in the tensor
    coverage: Coverage | None = None
    diagnosis: object = None       # diagnose.Diagnosis of a failing tensor: the known mistake it matches, if any
    error_map: object = None       # failing dL/dX or dL/dF: |a - n| as a 2-D map (compare.error_map), NumPy
    own_forward: object = None     # a gradient beside a failing forward: consistency.OwnForward, else None

    @property
    def verdict(self) -> str:
        return "skipped" if self.skipped else "not checked" if self.unchecked else "pass" if self.passed else "FAIL"


@dataclass(repr=False)
class SpecResult:
    """Everything `verify` found for one spec. Shown as its table once `report` has loaded
    (VIEWS): plain text (repr) and HTML (`_repr_html_`, which Jupyter shows)."""

    spec: object                   # ConvSpec
    geometry: object               # Geometry
    impl: str
    method: str                    # the method that ran: 'full', 'channels', 'sample' or 'fast'
    rtol: float
    atol: float
    checks: list[TensorCheck] = field(default_factory=list)
    seconds: float = 0.0
    forwards: float = 0.0          # whole-layer forwards: the forward check and all finite differences
    error: str = ""                # the check could not finish: 'backward killed by signal SIGSEGV', ...
    backend: str = "numpy"         # the array module the check ran on: 'numpy', 'cupy'
    skipped: str = ""              # why the layer was not run: 'not expressible in this API: ...'
    through: str = "builtin"       # the forward finite differences went through: 'builtin' (im2col) or 'implementation'
    default_batch: bool = False    # the spec sets no batch: checked at options.CHECK_BATCH (spec.batch), not 1
    rerun: dict | None = None      # options that redo exactly this coverage on any machine: {'method': ..., ...}
    budget: dict | None = None     # where the budget decided: budget_seconds, finite_differences_seconds, over_seconds
    output: str = ""               # the last lines the plug-in printed while this layer was checked (workers only)
    output_lines: int = 0          # how many lines it printed
    smallest: Smallest | None = None  # a failing layer: the smallest layer that fails the same way (shrink.py)
    order: int = 1                 # 2: the checks include the backward's own gradients, d2x, d2w, d2b, d2g (second.py)
    order_tolerances: tuple | None = None  # order 2: (rtol, atol) of its rows (options.TOLERANCES_ORDER2)

    @property
    def partial(self) -> bool:
        """Some gradient was not compared at every coordinate."""
        return any(c.coverage is not None and not c.coverage.every for c in self.checks)

    @property
    def passed(self) -> bool:
        return not self.error and all(c.passed or c.skipped for c in self.checks)

    def check(self, name: str) -> TensorCheck:
        return next(c for c in self.checks if c.name == name)

    def __repr__(self) -> str:
        return _shown("text", [self], None, f"<SpecResult {self.spec.name}: {'passed' if self.passed else 'failed'}>")

    def _repr_html_(self) -> str | None:
        return _shown("html", [self], None, None)


class Results(list):
    """The SpecResults of several layers; shown as their tables and the summary line."""

    seconds: float | None = None   # what checking them took, when known

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self)

    def __repr__(self) -> str:
        return _shown("text", self, self.seconds if len(self) > 1 else None,
                      f"<Results: {len(self)} layers, {'passed' if self.passed else 'failed'}>")

    def _repr_html_(self) -> str | None:
        return _shown("html", self, self.seconds if len(self) > 1 else None, None)


@dataclass
class LayerPlan:
    """What `convcheck plan` found for one layer: one timed forward and what it predicts."""

    spec: object                   # ConvSpec
    geometry: object               # Geometry
    impl: str
    budget: float                  # seconds auto may spend on finite differences
    forward_seconds: float = 0.0   # one forward of the layer finite differences go through, timed as verify times it
    through: str = "builtin"       # that forward: the built-in im2col ('builtin') or the plug-in's ('implementation')
    full: object = None            # budget.Choice of `full` at the floor
    auto: object = None            # budget.Choice of what auto runs within `budget`
    minimum: object = None         # budget.Choice of the least `channels` keeps whatever the budget
    skipped: str = ""              # not expressible in the implementation's API
    error: str = ""                # the forward raised or crashed: nothing to estimate
    memory_bytes: int = 0          # the check's estimated peak memory (memory.estimate)
    overhead: float = 0.0          # seconds verify spends besides finite differences: the forward check
                                   # (two calls of the plug-in's forward and the loop reference) and a backward
    seconds: float = 0.0           # what planning this layer took
    order2: dict | None = None     # --order 2: what it adds (second.price): seconds of full and of auto's choice

    def estimate(self, choice) -> float:
        """Seconds verify should take on the layer running `choice` (self.full, self.auto), order 2's
        share included where planned."""
        if choice is None:
            return 0.0
        second = 0.0 if self.order2 is None else self.order2["double_backward_seconds"] + \
            self.order2["full_seconds" if choice is self.full else "seconds"]
        return choice.seconds + self.overhead + second
