"""Human output: one rich table per spec and a summary line."""

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import LABELS, shape_text


def make_console() -> Console:
    """stdout console; when piped (CI logs) 120 columns wide so that tables never truncate."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    return console


def _number(value) -> str:
    return "—" if value is None else f"{value:.2e}"


def method_text(result) -> str:
    """Which numerical method ran and how many coordinates it covered."""
    grads = [c for c in result.checks if c.name != "y" and c.total]
    checked, total = sum(c.checked for c in grads), sum(c.total for c in grads)
    if result.method == "full":
        return f"full: every coordinate ({total:,})"
    if result.method == "fast":
        directions = max(c.checked for c in grads)
        return f"fast: {directions} random directions per tensor ({total:,} coordinates, not located)"
    return f"sample: {checked:,} of {total:,} coordinates"


def render_result(result, console: Console) -> None:
    """A table of tensor, shapes, errors, worst index and verdict, then any failure messages."""
    spec = result.spec
    title = f"[bold]{escape(spec.name)}[/]  [dim]{escape(spec.where)}[/]"
    caption = (f"impl {escape(result.impl)} · {spec.dtype} · numerical {method_text(result)} · "
               f"rtol {result.rtol:g}, atol {result.atol:g} · {result.seconds:.2f} s")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("tensor", "expected shape", "actual shape"):
        table.add_column(column, no_wrap=True)
    for column in ("max abs err", "max rel err"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("worst index", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for check in result.checks:
        style = "green" if check.passed else "yellow" if check.skipped else "bold red"
        table.add_row(LABELS[check.name], shape_text(check.expected_shape), shape_text(check.actual_shape),
                      _number(check.max_abs), _number(check.max_rel),
                      shape_text(check.worst_index).replace("(", "[").replace(")", "]").rstrip(",]") + "]"
                      if check.worst_index else "—",
                      f"[{style}]{check.verdict}[/]")
    console.print(table)
    console.print(f"  [dim]{caption}[/]", highlight=False, soft_wrap=True)
    for check in result.checks:
        if not check.passed and not check.skipped:
            console.print(f"  [bold red]{LABELS[check.name]}[/]: {escape(check.message)}",
                          highlight=False, soft_wrap=True)


def render_summary(results, seconds: float, console: Console) -> None:
    failed = [r for r in results if not r.passed]
    style = "bold red" if failed else "bold green"
    console.print(f"[{style}]{len(results)} spec{'s' * (len(results) != 1)}: "
                  f"{len(results) - len(failed)} passed, {len(failed)} failed[/] ({seconds:.2f} s)")

