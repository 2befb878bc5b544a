"""Human output: one rich table per spec and a summary line."""

import os
import sys

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..spec import LABELS
from .text import inert, rerun_flags, shape_text, smallest_lines


def make_console() -> Console:
    """stdout console; when piped or written to a file (CI logs) 120 columns wide so that tables
    never truncate, and without the trailing spaces rich pads table lines with."""
    console = Console(emoji=False)             # ':name:' in a path or message prints as it is
    if not console.is_terminal:
        console = Console(file=TrimmedLines(sys.stdout), width=max(console.width, 120), emoji=False)
    return console


class TrimmedLines:
    """A text file that writes each line without trailing whitespace (rich pads every line of a
    table to the table's width)."""

    def __init__(self, file):
        self.file, self.pending = file, ""

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()                        # an unfinished line waits for its end
        self.file.write("".join(line.rstrip() + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        self.file.flush()

    def isatty(self) -> bool:
        return False


def trimmed(text: str) -> str:
    """Text without trailing whitespace on any line."""
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _number(value) -> str:
    return "—" if value is None else f"{value:.2e}"


def coverage_lines(result) -> list[str]:
    """'every coordinate (51,260)' when the check was complete, else one line per gradient and
    the options that redo that coverage on any machine."""
    grads = [c for c in result.checks if c.name != "y" and c.coverage is not None]
    if not result.partial:
        total = sum(c.total for c in grads)
        return [f"every coordinate ({total:,})"] if grads else []
    return [f"{LABELS[c.name]} {c.coverage.text()}" for c in grads] + \
        [f"the same coverage on any machine: {rerun_flags(result)}"] * bool(result.rerun)


def budget_line(result) -> str:
    """'over budget: ...' when finite differences ran past OVER times the budget, else ''."""
    spent = result.budget or {}
    if not spent.get("over_seconds"):
        return ""
    return (f"over budget: finite differences took {spent['finite_differences_seconds']:.1f} s, "
            f"{spent['over_seconds']:.1f} s past --budget {spent['budget_seconds']:g} s: the minimum exact coverage "
            "does not fit it (`convcheck plan` estimates layers before a run; --method fast costs a few forwards)")


def render_result(result, console: Console, show_output: bool = False) -> None:
    """A table of tensor, shapes, errors, worst index and verdict, then any failure messages;
    what the plug-in printed under a failing layer (under every layer with `show_output`)."""
    spec = result.spec
    title = f"[bold]{escape(inert(spec.name))}[/]" + (f"  [dim]{escape(inert(spec.where))}[/]" if spec.source else "")
    lines = coverage_lines(result)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("tensor", "expected shape", "actual shape"):
        table.add_column(column, no_wrap=True)
    for column in ("max abs err", "max rel err", "err/tol"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("worst index", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for check in result.checks:
        style = "green" if check.passed else "yellow" if check.skipped or check.unchecked else "bold red"
        table.add_row(LABELS[check.name], shape_text(check.expected_shape), shape_text(check.actual_shape),
                      _number(check.max_abs), _number(check.max_rel), _number(check.tolerance_ratio),
                      index_text(check.worst_index), f"[{style}]{check.verdict}[/]")
    console.print(table if result.checks else title)
    if result.skipped:
        console.print(f"  [yellow]skipped[/]: {escape(inert(result.skipped))} · impl {escape(inert(result.impl))}",
                      highlight=False, soft_wrap=True)
        return
    console.print(f"  [dim]{escape(caption_text(result))}[/]", highlight=False, soft_wrap=True)
    if len(lines) > 1:
        for number, line in enumerate(lines):
            console.print(f"  [yellow]{'coverage' if number == 0 else '':8}[/] {escape(line)}",
                          highlight=False, soft_wrap=True)
    if budget_line(result):
        console.print(f"  [yellow]{escape(budget_line(result))}[/]", highlight=False, soft_wrap=True)
    if result.error:
        console.print(f"  [bold red]error[/]: {escape(inert(result.error))}", highlight=False, soft_wrap=True)
    judged = any(c.own_forward is not None for c in result.checks)
    failing = [c for c in result.checks if not c.passed and not c.skipped]
    for check in result.checks:
        if not check.passed and not check.skipped:
            style = "yellow" if check.unchecked else "bold red"
            console.print(f"  [{style}]{LABELS[check.name]}[/]: {escape(inert(check.message))}",
                          highlight=False, soft_wrap=True)
            following = failing[failing.index(check) + 1:]
            same = following and check.diagnosis is not None and following[0].diagnosis == check.diagnosis and \
                following[0].message == check.message and check.error_map is None
            if check.diagnosis is not None and not same:        # said once under the last tensor it explains
                console.print(f"    [bold yellow]diagnosis: {check.diagnosis.mistake or 'no known mistake'}[/]: "
                              f"{escape(inert(check.diagnosis.explanation))}", highlight=False, soft_wrap=True)
            if check.error_map is not None:
                for line in heatmap_lines(check.name, check.error_map, len(check.expected_shape) - 2):
                    console.print(f"    {line}", highlight=False, soft_wrap=True)
        if check.own_forward is not None:
            console.print(f"    [bold]your forward[/]: {escape(inert(check.own_forward.note))}", highlight=False,
                          soft_wrap=True)
        if check.name == "y" and judged:
            console.print(f"  [bold]{escape(JUDGED)}[/]", highlight=False, soft_wrap=True)
    for line in smallest_lines(result):
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    for line in shown_output(result, show_output):
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)


def caption_text(result) -> str:
    """'impl im2col · float64 · batch 2 (the spec sets none) · method full: every coordinate (51,260)
    through im2col · rtol 1e-06, atol 1e-08 · 0.23 s'."""
    lines = coverage_lines(result)
    covered = lines[0] if len(lines) == 1 else "partial coverage, below" if lines else "not checked"
    on = "" if result.backend == "numpy" else f" · on {result.backend}"
    batch = f" · batch {result.spec.batch} (the spec sets none)" if result.default_batch else ""
    through = f" through {THROUGH_WORDS[result.through]}" if lines else ""
    own = result.order_tolerances
    own = f", rtol {own[0]:g}, atol {own[1]:g}" if own and tuple(own) != (result.rtol, result.atol) else ""
    order = f" · order 2 (dL2 rows: differences of your backward{own})" if result.order == 2 else ""
    return (f"impl {inert(result.impl)} · {result.spec.dtype}{on}{batch}{order} · method {result.method}: {covered}"
            f"{through} · rtol {result.rtol:g}, atol {result.atol:g} · {result.seconds:.2f} s")


SHAPED = {"d2x": "dx", "d2w": "dw", "d2g": "dy"}
"""A second-order gradient's error map is laid out as the gradient of the same shape's."""

THROUGH_WORDS = {"builtin": "im2col", "implementation": "your forward"}
"""The forward finite differences went through (SpecResult.through), as the caption says it."""


def index_text(index) -> str:
    """(0, 2, 4, 1) as '[0,2,4,1]', None as '—'."""
    return shape_text(index).replace("(", "[").replace(")", "]").rstrip(",]") + "]" if index else "—"


def plain_text(results, seconds: float | None = None, show_output: bool = False, stopped: str | None = None) -> str:
    """The tables as the terminal shows them, as text: no colour codes, 120 columns, no trailing
    spaces; then the summary line when `seconds` is given (`verify --output`, AssertionError
    messages, a result's repr)."""
    with open(os.devnull, "w") as sink:
        plain = Console(file=sink, width=120, color_system=None, record=True, emoji=False,
                        force_jupyter=False)       # in a notebook rich would display each line as a cell output
        for result in results:
            render_result(result, plain, show_output)
        if seconds is not None:
            render_summary(results, seconds, plain, stopped)
        return trimmed(plain.export_text()).rstrip("\n")


def shown_output(result, always: bool = False) -> list[str]:
    """What the plug-in printed, for a failing layer (any layer if `always`): 'plug-in output (3
    lines):' or '(2,000 lines; the last 20):', then those lines, indented; [] for none."""
    if not result.output_lines or not (always or not result.passed):
        return []
    shown = result.output.split("\n") if result.output else []
    count = f"{result.output_lines:,} line{'s' * (result.output_lines != 1)}"
    head = count if len(shown) >= result.output_lines else f"{count}; the last {len(shown)}"
    return [f"plug-in output ({head}):"] + [f"  | {inert(line)}" for line in shown]


JUDGED = ("Y failed; every gradient was judged against the true layer (finite differences through the built-in "
          "im2col, never your forward): a gradient's 'pass' means right for this layer")


SHADES = " ░▒▓█"
HEATMAP_SIZE = (24, 40)
"""Most rows and columns a terminal heatmap shows; larger maps are max-pooled into blocks."""


def heatmap_lines(name: str, error, dims: int = 2) -> list[str]:
    """|analytic - numerical| of a failing dL/dX (over rows x columns, summed over batch and
    channels) or dL/dF (over m_h x m_w) in block characters, darkest at the largest: a frame
    at the border says padding, every s-th row stride, one corner off-by-one. A 1-D layer's map
    is one row; a 3-D layer's is summed over depth (compare.error_map)."""
    import numpy as np
    blocks, title = pooled(name, error, dims, HEATMAP_SIZE)
    top = blocks.max()
    levels = np.zeros(blocks.shape, dtype=int) if top == 0 else np.ceil(blocks / top * (len(SHADES) - 1)).astype(int)
    lines = [f"{title}; █ = {top:.3g}):", "┌" + "──" * blocks.shape[1] + "┐"]
    lines += ["│" + "".join(SHADES[v] * 2 for v in row) + "│" for row in levels]
    return lines + ["└" + "──" * blocks.shape[1] + "┘"]


def pooled(name: str, error, dims: int, most: tuple[int, int]):
    """(blocks, title): the error map max-pooled into at most `most` rows x columns of blocks,
    and '|analytic − numerical| of dL/dX over rows × columns, summed over ... (12 × 12' (unclosed:
    the caller adds the scale)."""
    import numpy as np
    error = np.asarray(error, dtype=float)
    finite = np.isfinite(error)
    if not finite.all():                            # NaN or inf: drawn as the largest error, never a crash
        error = np.where(finite, error, error[finite].max(initial=0.0) or 1.0)
    rows, cols = error.shape
    step_r, step_c = -(-rows // most[0]), -(-cols // most[1])
    padded = np.zeros((-(-rows // step_r) * step_r, -(-cols // step_c) * step_c))
    padded[:rows, :cols] = error
    blocks = padded.reshape(padded.shape[0] // step_r, step_r, -1, step_c).max(axis=(1, 3))
    axes = {("dx", 1): "positions, summed over batch and channels", ("dw", 1): "taps, summed over filters and channels",
            ("dx", 2): "rows × columns, summed over batch and channels",
            ("dw", 2): "m_h × m_w, summed over filters and channels",
            ("dx", 3): "rows × columns, summed over batch, channels and depth",
            ("dw", 3): "m_h × m_w, summed over filters, channels and m_d",
            ("dy", 1): "output positions, summed over batch and filters",
            ("dy", 2): "output rows × columns, summed over batch and filters",
            ("dy", 3): "output rows × columns, summed over batch, filters and depth"}[SHAPED.get(name, name), dims]
    blocked = f", {step_r} × {step_c} blocks" if step_r * step_c > 1 else ""
    return blocks, f"|analytic − numerical| of {LABELS[name]} over {axes} ({rows} × {cols}{blocked}"


def summary_text(results) -> str:
    """'3 specs: 3 passed (1 on partial coverage), 0 failed': a pass that did not compare every
    coordinate says so."""
    failed = sum(not r.passed for r in results)
    skipped = sum(bool(r.skipped) for r in results)
    partial = sum(r.passed and r.partial for r in results)
    note = f" ({partial} on partial coverage: see its coverage lines)" if partial else ""
    skips = f", {skipped} skipped (not expressible in the implementation's API)" if skipped else ""
    return (f"{len(results)} spec{'s' * (len(results) != 1)}: {len(results) - failed - skipped} passed{note}{skips}, "
            f"{failed} failed")


def render_summary(results, seconds: float, console: Console, stopped: str | None = None) -> None:
    """The summary line; an interrupted run says so on it ('... (1.20 s); interrupted by SIGTERM:
    1 of 3 layers checked')."""
    style = "bold red" if any(not r.passed for r in results) or stopped else "bold green"
    console.print(f"[{style}]{escape(summary_text(results))}[/] ({seconds:.2f} s)" +
                  (f"; [bold red]{escape(stopped)}[/]" if stopped else ""))

