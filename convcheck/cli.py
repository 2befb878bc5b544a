"""The `convcheck` command: parse, call the API, render, choose the exit code.

Exit codes: 0 every check passed, 1 a check failed (a plug-in that crashed, exited or timed out
on a layer included), 2 bad usage, spec or plug-in import, 128 + signal when interrupted
(130 for Ctrl-C).
"""

import os
import re
import sys
import time
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Optional

import typer

from . import __version__
from .errors import ConvcheckError
from .geometry import geometry
from .loader import load_specs
from .options import OPTIONS, Option, check_order, check_pins

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode="markdown",   # docstrings as paragraphs; [cupy] is not a style tag
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Check the backward pass of 1-D, 2-D and 3-D convolution layers against finite differences.")
"""Completion options are convcheck's own (`_main`): they take the shell named, where Typer's guess
from the parent process prints nothing useful under `sh -c` (CI, make), and they say the shell's
name, where Typer's says 'Shells.bash' on Python 3.11. The shells' completion classes are
registered only when a shell asks for completions."""
if "_CONVCHECK_COMPLETE" in os.environ:
    from typer.completion import completion_init
    completion_init()


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"
    pwsh = "pwsh"


class Format(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    github = "github"
    html = "html"


IMPL_KINDS = {"direct": "built-in: loops over output positions", "im2col": "built-in: one matrix product",
              "cs231n:": "CS231n's conv_forward_naive/conv_backward_naive in PATH", "cs231n-fast:": "CS231n's *_fast",
              "torch:": "MODULE:NAME, a torch.autograd.Function or a function of torch ops",
              "layer:": "PATH.py:ClassName, a layer class",
              "jax:": "MODULE:NAME, a JAX function (a custom_vjp)"}
"""What shell completion offers for --impl before any path: impls.BUILTINS and impls.ADAPTERS' KIND: prefixes."""


def _complete_impl(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of --impl: the built-ins, the KIND: prefixes of the adapters, and the
    .py files and folders under what is typed so far (after KIND: too)."""
    found = [(name, text) for name, text in IMPL_KINDS.items() if name.startswith(incomplete)]
    adapted = incomplete.partition(":")[0] + ":" in IMPL_KINDS
    kind, colon, rest = incomplete.rpartition(":") if adapted else ("", "", incomplete)
    folder, stem = os.path.split(rest)
    try:
        entries = sorted(os.scandir(folder or "."), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith(stem) and not entry.name.startswith((".", "__")) and \
                (entry.is_dir() or entry.name.endswith(".py")):
            path = os.path.join(folder, entry.name) + ("/" if entry.is_dir() else "")
            found.append((f"{kind}{colon}{path}", "folder" if entry.is_dir() else "plug-in file"))
    return found


Paths = Annotated[list[Path], typer.Argument(help="YAML spec files or directories of them.")]
ImplOption = Annotated[str, typer.Option(autocompletion=_complete_impl,
                                         help="direct, im2col, a path to a .py file, a dotted module, or KIND:TARGET "
                                              "(cs231n:PATH, cs231n-fast:PATH, torch:MODULE:NAME, "
                                              "layer:PATH.py:ClassName, jax:MODULE:NAME).")]
JobsOption = Annotated[int, typer.Option(min=0, help="Worker processes running layers in parallel; 0: one per CPU.")]

CHOICES = {option.name: Enum(option.name.capitalize(), {choice: choice for choice in option.choices}, type=str)
           for option in OPTIONS if option.choices}
"""The Enum Typer takes for each of verify's options with choices (options.OPTIONS): Method,
Backend, Layout, Through."""


def _typed(option: Option):
    """The parameter type of one of verify's options: Optional when its default is None."""
    kind = CHOICES.get(option.name, option.type)
    return Annotated[kind if option.default is not None else Optional[kind],
                     typer.Option(min=option.minimum, help=option.help)]


def _default(option: Option):
    return CHOICES[option.name](option.default) if option.name in CHOICES and option.default is not None \
        else option.default


TYPED = SimpleNamespace(**{option.name: _typed(option) for option in OPTIONS})
DEFAULT = SimpleNamespace(**{option.name: _default(option) for option in OPTIONS})
"""verify's options (options.OPTIONS) as `verify`'s and `plan`'s parameters: `NAME: TYPED.NAME = DEFAULT.NAME`."""


def _options(command: str, given: dict) -> dict:
    """The table's options that `command` takes, from its parameters (`given`), as verify_all and
    plan_all take them (a choice as its str)."""
    return {option.name: given[option.name].value if isinstance(given[option.name], Enum) else given[option.name]
            for option in OPTIONS if command in option.commands}


def _version(value: bool):
    if value:
        print(f"convcheck {__version__}")
        raise typer.Exit()


def _install_completion(ctx: typer.Context, value: Optional[Shell]):
    if value is None or ctx.resilient_parsing:
        return
    from typer.completion import install
    _, path = install(shell=value.value)
    print(f"{value.value} completion installed in {path}\nCompletion will take effect once you restart the terminal")
    raise typer.Exit()


def _show_completion(ctx: typer.Context, param: typer.CallbackParam, value: Optional[Shell]):
    if value is None or ctx.resilient_parsing:
        return
    from typer.completion import show_callback
    show_callback(ctx, param, value.value)                  # prints the script and exits


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False,
          install_completion: Annotated[Optional[Shell], typer.Option(
              callback=_install_completion, expose_value=False, is_eager=True,
              help="Install completion for the shell named.")] = None,
          show_completion: Annotated[Optional[Shell], typer.Option(
              callback=_show_completion, expose_value=False, is_eager=True,
              help="Show completion for the shell named, to copy it or customize the installation.")] = None):
    """Check the backward pass of 1-D, 2-D and 3-D convolution layers against finite differences."""


def _load(paths, check_memory: bool = False) -> list:
    """load_specs, saying on stderr which YAML files in the folders given were not layer specs;
    `check_memory`: every layer refused at once, before any runs, whose check cannot fit this
    machine's memory (memory.refuse)."""
    skipped = []
    specs = load_specs(paths, skipped)            # files marked only_by_name are passed over quietly
    if check_memory:
        from .memory import refuse
        for spec in specs:
            refuse(spec)
    if skipped:
        names = ", ".join(str(p) for p in skipped[:5]) + (f", … ({len(skipped) - 5} more)" if len(skipped) > 5 else "")
        many = len(skipped) != 1
        print(f"convcheck: skipped {len(skipped)} YAML file{'s' * many} that hold{'s' * (not many)} no layer spec "
              f"(no `layers:` and none of n, m, k, p, padding, stride): {names}", file=sys.stderr)
    return specs


def _fail(error: ConvcheckError):
    print(f"convcheck: error: {error}", file=sys.stderr)
    raise typer.Exit(2)


@app.command()
def verify(
    paths: Paths,
    impl: ImplOption = "direct",
    method: TYPED.method = DEFAULT.method,
    budget: TYPED.budget = DEFAULT.budget,
    samples: TYPED.samples = DEFAULT.samples,
    channels: TYPED.channels = DEFAULT.channels,
    projections: TYPED.projections = DEFAULT.projections,
    rtol: TYPED.rtol = DEFAULT.rtol,
    atol: TYPED.atol = DEFAULT.atol,
    seed: TYPED.seed = DEFAULT.seed,
    format: Annotated[Format, typer.Option("--format", help="table for people; json, junit (XML) or github "
                                                            "(workflow commands) for CI; html: one self-contained "
                                                            "page with heatmaps, for a CI artifact.")] = Format.table,
    output: Annotated[Optional[Path], typer.Option(help="Write the --format report to this file; the table "
                                                        "still goes to the terminal.")] = None,
    jobs: JobsOption = 1,
    shard: Annotated[Optional[str], typer.Option(help="i/N: check only the i-th of N disjoint parts of the "
                                                      "layers found (every N-th layer from the i-th), for CI "
                                                      "matrices.")] = None,
    timeout: TYPED.timeout = DEFAULT.timeout,
    backend: TYPED.backend = DEFAULT.backend,
    layout: TYPED.layout = DEFAULT.layout,
    shrink: TYPED.shrink = DEFAULT.shrink,
    through: TYPED.through = DEFAULT.through,
    order: TYPED.order = DEFAULT.order,
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG heatmap of |analytic − numerical| of each "
                                                      "failing tensor into this folder (pip install "
                                                      "'convcheck[plot]').")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only failing specs' tables.")] = False,
    show_output: Annotated[bool, typer.Option("--show-output", help="Show what the plug-in printed under every "
                                                                    "layer, passing ones too (it is always shown "
                                                                    "under a failing layer).")] = False,
):
    """Check an implementation's forward and backward on every layer in PATHS.

    Plug-in code runs in worker processes: a layer whose plug-in crashes, exits or runs past
    --timeout fails with one line, and every other layer is still checked. What the plug-in
    prints is captured and shown under a failing layer. Exit codes: 0 all passed, 1 a layer
    failed, 2 bad usage, spec or plug-in import, 130 interrupted (Ctrl-C).
    """
    given = dict(locals())                  # the parameters alone: the table's options among them
    started = time.perf_counter()
    from . import result  # noqa: F401  (what the workers send, and rich's table: imported while they import NumPy)
    from .report import table  # noqa: F401
    from .report.progress import LazyProgress
    from .runner import Interrupted, held, verify_all
    try:
        options = _options("verify", given)
        _check_options(options["method"], budget, output, channels, projections)
        check_order(order, options["method"])
        if plot is not None:
            from .report.plot import require_matplotlib
            require_matplotlib()
        specs = _load(paths, check_memory=True)
        part = _shard(shard, specs)
        results = verify_all(part, impl, jobs=jobs or os.cpu_count() or 1,
                             progress=LazyProgress(enabled=False if quiet else None), **options)
        interrupted = None
    except ConvcheckError as e:
        _fail(e)
    except Interrupted as e:
        results, interrupted = e.results, e
    seconds = time.perf_counter() - started
    stopped = None if interrupted is None else f"{interrupted}: {len(results)} of {len(part)} layers checked"
    _report(results, seconds, format, output, quiet, len(specs), shard, show_output, stopped)
    if plot is not None:
        from .report.plot import write_plots
        for path in write_plots(results, plot):
            print(f"convcheck: wrote {path}", file=sys.stderr)
    if interrupted is not None:
        print(f"convcheck: {stopped}", file=sys.stderr)
        raise typer.Exit(128 + interrupted.signum)
    if held() is not None:                        # a signal after the last layer: the report is whole, say so
        import signal
        print(f"convcheck: {signal.Signals(held()).name} after the last layer: the report above is complete",
              file=sys.stderr)
        raise typer.Exit(128 + held())
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


def _check_options(method: str, budget: float, output: Optional[Path], channels, projections) -> None:
    if method in ("auto", "channels") and not budget > 0:
        raise ConvcheckError(f"--budget {budget}: must be a positive number of seconds")
    check_pins(method, channels, projections)
    if output is not None and not output.parent.is_dir():
        raise ConvcheckError(f"--output {output}: no such folder {str(output.parent)!r}")


def _shard(text: Optional[str], specs: list) -> list:
    """The i-th of N parts for --shard i/N: layers i-1, i-1+N, i-1+2N, ... of those found, in
    the loader's order (files sorted, layers in file order), so stable across runs."""
    if text is None:
        return specs
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ConvcheckError(f"--shard {text}: expected i/N with 1 <= i <= N, e.g. 1/4")
    i, n = int(match[1]), int(match[2])
    return specs[i - 1::n]


def _report(results, seconds: float, format: Format, output: Optional[Path], quiet: bool, found: int,
            shard: Optional[str], show_output: bool = False, stopped: Optional[str] = None) -> None:
    """The table on the terminal (stdout) unless another format goes there; the chosen format to
    stdout or --output; for github, the job summary when GITHUB_STEP_SUMMARY is set. `stopped`:
    'interrupted by SIGTERM: 1 of 3 layers checked', said by every format."""
    from .report.table import make_console, plain_text, render_result, render_summary
    if format is Format.github:
        from .report import github
        github.write_step_summary(results, seconds, stopped)
    if format is not Format.table:                  # each format's module imported only when chosen
        if format is Format.github:
            text = github.render(results, seconds, stopped)
        elif format is Format.html:
            from .report import html
            text = html.document(results, seconds, show_output, stopped=stopped)
        elif format is Format.json:
            from .report import json_report
            text = json_report.render(results, seconds, show_output, stopped)
        else:
            from .report import junit
            text = junit.render(results, seconds, show_output, stopped)
        if output is None:
            print(text)
            return
        _write(output, text + "\n")
    console = make_console()
    if shard is not None:
        console.print(f"shard {shard}: {len(results)} of the {found} layers found", highlight=False)
    for result in results:
        if not (quiet and result.passed):
            render_result(result, console, show_output)
    render_summary(results, seconds, console, stopped)
    if format is Format.table and output is not None:
        _write(output, plain_text(results, seconds, show_output, stopped) + "\n")


def _write(path: Path, text: str) -> None:
    """Write the report whole or not at all: into a file beside it, then renamed over it, so that a
    reader (a CI step, an artifact upload) never sees half a report."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        part.write_text(text, encoding="utf-8")
        os.replace(part, path)
    except OSError as e:
        part.unlink(missing_ok=True)
        _fail(ConvcheckError(f"--output {path}: cannot write it: {e.strerror}"))


class PlanFormat(str, Enum):
    table = "table"
    json = "json"


DEFAULT_TARGET_S = 600.0
"""`plan --target`: the wall time a CI job's shard should stay within (a common step limit)."""


@app.command()
def plan(
    paths: Paths,
    impl: ImplOption = "direct",
    budget: TYPED.budget = DEFAULT.budget,
    target: Annotated[float, typer.Option(help="Seconds one CI shard should take: the --shard count suggested "
                                                "keeps every shard's estimate within it.")] = DEFAULT_TARGET_S,
    channels: TYPED.channels = DEFAULT.channels,
    projections: TYPED.projections = DEFAULT.projections,
    seed: TYPED.seed = DEFAULT.seed,
    format: Annotated[PlanFormat, typer.Option("--format", help="table for people, json for CI.")] = PlanFormat.table,
    jobs: JobsOption = 1,
    timeout: TYPED.timeout = DEFAULT.timeout,
    backend: TYPED.backend = DEFAULT.backend,
    layout: TYPED.layout = DEFAULT.layout,
    through: TYPED.through = DEFAULT.through,
    order: TYPED.order = DEFAULT.order,
):
    """Estimate what `verify` will cost on every layer in PATHS, before a run: one timed forward
    per layer (in worker processes, as verify runs the plug-in), then per layer the forwards and
    time of full, what auto runs within --budget and its time, and the total with a --shard
    count for --target. Checks nothing. Exit codes: 0 estimated, 1 a layer's forward failed, 2 bad
    usage, spec or plug-in import."""
    given = dict(locals())                  # the parameters alone: the table's options among them
    from .methods.cost import shards
    from .report.progress import LazyProgress
    from .runner import Interrupted, plan_all
    try:
        if not target > 0:
            raise ConvcheckError(f"--target {target}: must be a positive number of seconds")
        _check_options("auto", budget, None, channels, projections)
        check_order(order)
        specs = _load(paths, check_memory=True)
        plans = plan_all(specs, impl, jobs=jobs or os.cpu_count() or 1, progress=LazyProgress(enabled=None),
                         **_options("plan", given))
    except ConvcheckError as e:
        _fail(e)
    except Interrupted as e:
        print(f"convcheck: {e}", file=sys.stderr)
        raise typer.Exit(128 + e.signum)
    from .report.plan import render_json, render_table, summary
    totals = summary(plans, shards([p.estimate(p.auto) for p in plans], target), target)
    if format is PlanFormat.json:
        print(render_json(plans, totals))
    else:
        from .report.table import make_console
        render_table(plans, totals, budget, make_console())
    raise typer.Exit(1 if any(p.error for p in plans) else 0)


class View(str, Enum):
    direct = "direct"
    im2col = "im2col"
    both = "both"


class ShapesFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


@app.command()
def shapes(
    paths: Annotated[list[Path], typer.Argument(help="YAML spec files or directories of them.")],
    explain: Annotated[bool, typer.Option("--explain", help="Every step of the derivation, not the key ones.")] = False,
    view: Annotated[View, typer.Option(help="direct (the correlations of the dL/dF and dL/dX derivations), "
                                            "im2col (the matrix form) or both; docs/derivations.md.")] = View.both,
    format: Annotated[ShapesFormat, typer.Option(
        "--format", help="table for a terminal, markdown for notes, json.")] = ShapesFormat.table,
):
    """Explain why every tensor (X, F, b, Y, dL/dY, dL/dF, dL/dX, dL/db) has its shape, with the
    derivations (docs/derivations.md) and the layer's own numbers. Nothing is allocated: a layer of any size is
    explained at once."""
    from .explain import explain as explain_layer
    try:
        explanations = [explain_layer(geometry(spec), view.value) for spec in _load(paths)]
    except ConvcheckError as e:
        _fail(e)
    if format is ShapesFormat.json:
        import json

        from .report.shapes import explanation_dict, networks
        positions = {id(e): i for layers in networks(explanations).values() for i, e in enumerate(layers, 1)}
        data = [explanation_dict(e, positions.get(id(e))) for e in explanations]
        print(json.dumps(data if len(data) > 1 else data[0], indent=2, ensure_ascii=False))
    elif format is ShapesFormat.markdown:
        from .report.shapes import render_markdown
        print(render_markdown(explanations, full=explain))
    else:
        from .report.shapes import render_human, render_networks
        from .report.table import make_console
        console = make_console()
        render_networks(explanations, console)
        render_human(explanations, console, full=explain)


@app.command()
def schema():
    """Print the JSON Schema of the spec file format, for editors and CI validators."""
    import json

    from .schema import spec_schema
    print(json.dumps(spec_schema(), indent=2))

