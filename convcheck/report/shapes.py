"""`convcheck shapes` output: an `Explanation` as rich panels, Markdown or JSON-ready data."""

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from . import LABELS, shape_text, spec_dict


def _title(spec) -> str:
    return f"{spec.name}  ({spec.where})"


def _tensor_table(explanation) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("tensor", "seeds' notation", "array layout", "shape"):
        table.add_column(column)
    for t in explanation.tensors:
        table.add_row(LABELS[t.key], t.seed, t.layout, shape_text(t.shape))
    return table


def render_human(explanations, console: Console, full: bool) -> None:
    """A panel per spec: the tensor table, then the key equations (or, with full, every step)."""
    for explanation in explanations:
        parts = [_tensor_table(explanation)]
        steps = [s for s in explanation.steps if full or s.compact]
        if full:
            for number, step in enumerate(steps, 1):
                head = Text(f"{number}. {step.title}", style="bold")
                head.append(f"  [{step.view}]", style="dim")
                body = Text(f"{step.formula}\n")
                body.append(f"{step.numbers}\n", style="cyan")
                body.append(f"→ {step.result}")
                if step.note:
                    body.append(f"\n{step.note}", style="dim")
                parts += [head, Padding(body, (0, 0, 1, 3))]
        else:
            table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
            for column in ("equation", "with this layer's numbers", "result"):
                table.add_column(column)
            for step in steps:
                table.add_row(step.title, Text(step.numbers, style="cyan"), step.result)
            parts.append(table)
            parts.append(Text("--explain prints every step of the derivation", style="dim"))
        console.print(Panel(Group(*parts), title=escape(_title(explanation.geometry.spec)),
                            title_align="left", box=box.ROUNDED))


def render_markdown(explanations, full: bool) -> str:
    """The same explanation as Markdown, with each step's equation in LaTeX."""
    out = []
    for explanation in explanations:
        spec = explanation.geometry.spec
        out += [f"## {_title(spec)}", "", "| tensor | seeds' notation | array layout | shape |", "|---|---|---|---|"]
        out += [f"| {LABELS[t.key]} | {t.seed} | `{t.layout}` | `{shape_text(t.shape)}` |" for t in explanation.tensors]
        out.append("")
        steps = [s for s in explanation.steps if full or s.compact]
        out += ["### Derivation" if full else "### Key steps", ""]
        for number, step in enumerate(steps, 1):
            out.append(f"{number}. **{step.title}** ({step.view})")
            if step.latex:
                out.append(f"   $${step.latex}$$")
            out.append(f"   - formula: {step.formula}")
            out.append(f"   - numbers: `{step.numbers}`")
            out.append(f"   - result: {step.result}")
            if step.note and full:
                out.append(f"   - {step.note}")
        out.append("")
    return "\n".join(out)


def explanation_dict(explanation) -> dict:
    """The stable JSON object of one spec: name, resolved spec, tensor shapes, steps."""
    geom = explanation.geometry
    spec = geom.spec
    return {
        "name": spec.name,
        "file": spec.source,
        "line": spec.line,
        "spec": spec_dict(geom),
        "tensors": {key: None if shape is None else list(shape) for key, shape in geom.shapes.items()},
        "steps": [{"id": s.id, "view": s.view, "title": s.title, "formula": s.formula, "numbers": s.numbers,
                   "result": s.result, "note": s.note} for s in explanation.steps],
    }
