"""The `convcheck` command: parse, call the API, render, choose the exit code.

Exit codes: 0 every check passed, 1 a check failed, 2 bad usage, spec or plug-in.
"""

import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from .checker import DEFAULT_BUDGET_S, DEFAULT_SAMPLES
from .checker import verify as verify_spec
from .errors import ConvcheckError
from .geometry import geometry
from .impls import load_impl
from .loader import load_specs

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Check the backward pass of 2-D convolution layers against finite differences.")


class Method(str, Enum):
    auto = "auto"
    full = "full"
    channels = "channels"
    sample = "sample"
    fast = "fast"


class Format(str, Enum):
    table = "table"
    json = "json"


def _version(value: bool):
    if value:
        print(f"convcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False):
    """Check the backward pass of 2-D convolution layers against finite differences."""


def _fail(error: ConvcheckError):
    print(f"convcheck: error: {error}", file=sys.stderr)
    raise typer.Exit(2)


@app.command()
def verify(
    paths: Annotated[list[Path], typer.Argument(help="YAML spec files or directories of them.")],
    impl: Annotated[str, typer.Option(help="direct, im2col, a path to a .py file, or a dotted module.")] = "direct",
    method: Annotated[Method, typer.Option(help="full: every coordinate; channels: every coordinate of as many "
                                                "input channels as fit --budget (first and last always) plus "
                                                "random projections; sample: --samples per tensor; fast: random "
                                                "projections only; auto: full when it fits --budget, else "
                                                "channels.")] = Method.auto,
    budget: Annotated[float, typer.Option(help="Seconds auto and channels may spend on finite "
                                                          "differences per layer.")] = DEFAULT_BUDGET_S,
    samples: Annotated[int, typer.Option(min=1, help="Coordinates per tensor for --method sample.")] = DEFAULT_SAMPLES,
    rtol: Annotated[Optional[float], typer.Option(min=0, help="Relative tolerance (overrides the spec's).")] = None,
    atol: Annotated[Optional[float], typer.Option(min=0, help="Absolute tolerance (overrides the spec's).")] = None,
    seed: Annotated[Optional[int], typer.Option(min=0, help="Seed for x, w, b, G (overrides the spec's).")] = None,
    format: Annotated[Format, typer.Option("--format", help="table for people, json for machines.")] = Format.table,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only failing specs' tables.")] = False,
):
    """Check an implementation's forward and backward on every layer in PATHS."""
    started = time.perf_counter()
    from .report.progress import LazyProgress
    progress = LazyProgress(enabled=False if quiet else None)
    try:
        specs = load_specs(paths)
        implementation = load_impl(impl)
        results = []
        for spec in specs:
            progress.start(f"{spec.name}: finite differences")
            results.append(verify_spec(spec, implementation, method=method.value, samples=samples, budget=budget,
                                       rtol=rtol, atol=atol, seed=seed, progress=progress))
            progress.stop()
    except ConvcheckError as e:
        progress.stop()
        _fail(e)
    seconds = time.perf_counter() - started
    if format is Format.json:
        from .report import json_report
        print(json_report.render(results, seconds))
    else:
        from .report.table import make_console, render_result, render_summary
        console = make_console()
        for result in results:
            if not (quiet and result.passed):
                render_result(result, console)
        render_summary(results, seconds, console)
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


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
    view: Annotated[View, typer.Option(help="direct (seeds 000-004), im2col (seed 003) or both.")] = View.both,
    format: Annotated[ShapesFormat, typer.Option(
        "--format", help="table for a terminal, markdown for notes, json.")] = ShapesFormat.table,
):
    """Explain why every tensor (X, F, b, Y, dL/dY, dL/dF, dL/dX, dL/db) has its shape, with the seeds'
    derivations and the layer's own numbers. The engine is run to confirm every printed shape."""
    from .explain import confirm
    from .explain import explain as explain_layer
    try:
        explanations = [explain_layer(geometry(spec), view.value) for spec in load_specs(paths)]
        for explanation in explanations:
            confirm(explanation)
    except ConvcheckError as e:
        _fail(e)
    if format is ShapesFormat.json:
        import json

        from .report.shapes import explanation_dict
        data = [explanation_dict(e) for e in explanations]
        print(json.dumps(data if len(data) > 1 else data[0], indent=2, ensure_ascii=False))
    elif format is ShapesFormat.markdown:
        from .report.shapes import render_markdown
        print(render_markdown(explanations, full=explain))
    else:
        from .report.shapes import render_human
        from .report.table import make_console
        render_human(explanations, make_console(), full=explain)


@app.command()
def schema():
    """Print the JSON Schema of the spec file format, for editors and CI validators."""
    import json

    from .schema import spec_schema
    print(json.dumps(spec_schema(), indent=2))


def main():
    app()
