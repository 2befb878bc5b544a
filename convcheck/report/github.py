"""`verify --format github`: GitHub Actions workflow commands and the job summary.

Each failing layer is one `::error file=...,line=...,title=...::message` line pointing at the
layer's line in its YAML file; when GITHUB_STEP_SUMMARY names a file, a Markdown table of
every layer is appended to it.
"""

import os

from .table import coverage_lines, summary_text
from .text import failures, inert


def _data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a workflow command's property value."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(results, seconds: float, stopped: str | None = None) -> str:
    lines = [f"::error title=convcheck interrupted::{_data(stopped)}"] if stopped else []
    for result in results:
        if result.passed:
            continue
        spec = result.spec
        where = ",".join(f"{key}={_property(inert(value))}" for key, value in
                         (("file", spec.source), ("line", spec.line)) if value is not None)
        title = _property(f"convcheck: layer '{inert(spec.name)}' failed")
        lines.append(f"::error {where},title={title}::{_data(chr(10).join(failures(result)))}")
    lines.append(f"{summary_text(results)} ({seconds:.2f} s)" + (f"; {stopped}" if stopped else ""))
    return "\n".join(lines)


def step_summary(results, seconds: float, stopped: str | None = None) -> str:
    """A Markdown table of every layer for $GITHUB_STEP_SUMMARY."""
    out = [f"### convcheck: {summary_text(results)}" + (f"; **{stopped}**" if stopped else ""), "",
           "| layer | file | verdict | method | coverage | worst error / tolerance | seconds |",
           "|---|---|---|---|---|---|---|"]
    for result in results:
        ratios = [c.tolerance_ratio for c in result.checks if c.tolerance_ratio is not None]
        worst = f"{max(ratios):.3g}" if ratios else "—"
        covered = result.skipped or result.error or "; ".join(coverage_lines(result))
        out.append(f"| {_cell(result.spec.name)} | {_cell(result.spec.where)} | "
                   f"{'skipped' if result.skipped else 'pass' if result.passed else '**FAIL**'} | "
                   f"{_cell(result.method)} | {_cell(covered)} | {worst} | "
                   f"{result.seconds:.2f} |")
    return "\n".join(out + [""])


def _cell(text) -> str:
    """A Markdown table cell: inert, its pipes escaped, and no HTML (GitHub renders it in a summary)."""
    return inert(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def write_step_summary(results, seconds: float, stopped: str | None = None) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(step_summary(results, seconds, stopped) + "\n")
