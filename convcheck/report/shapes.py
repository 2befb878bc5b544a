"""`convcheck shapes` output: an `Explanation` as rich panels, Markdown or JSON-ready data."""

import math

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..geometry import spec_dict
from ..spec import LABELS
from .text import shape_text


def layer_summary(geom) -> dict:
    """One row of a network table: input (k, h, w), output (p, o_h, o_w) and parameter count."""
    spec = geom.spec
    weights = spec.p * (spec.k // spec.groups) * math.prod(spec.m)
    return {"name": spec.name, "input": [spec.k, *spec.n], "output": [spec.p, *geom.out],
            "parameters": weights + (spec.p if spec.bias else 0)}


def networks(explanations) -> dict:
    """{file: [its layers' explanations, in order]} for the network files (with `input:`) among them."""
    found = {}
    for explanation in explanations:
        spec = explanation.geometry.spec
        if spec.chained:
            found.setdefault(spec.source, []).append(explanation)
    return found


def _size(shape) -> str:
    return " x ".join(str(v) for v in shape)


def render_networks(explanations, console: Console) -> None:
    """A summary table per network file, as torchinfo or Keras print one: layer, input,
    output, parameters, and the total."""
    for source, layers in networks(explanations).items():
        rows = [layer_summary(e.geometry) for e in layers]
        console.print(f"[bold]network {escape(source)}[/]: input {_size(rows[0]['input'])}", highlight=False,
                      soft_wrap=True)
        table = Table(box=box.SIMPLE_HEAD)
        for column, justify in (("layer", "left"), ("input k x h x w", "right"), ("output p x o_h x o_w", "right"),
                                ("parameters", "right")):
            table.add_column(column, justify=justify)
        for row in rows:
            table.add_row(escape(row["name"]), _size(row["input"]), _size(row["output"]), f"{row['parameters']:,}")
        table.add_section()
        table.add_row("total", "", _size(rows[-1]["output"]), f"{sum(r['parameters'] for r in rows):,}")
        console.print(table)


def _title(spec) -> str:
    return f"{spec.name}  ({spec.where})"


def _tensor_table(explanation) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("tensor", "notation", "array layout", "shape"):
        table.add_column(column)
    for t in explanation.tensors:
        table.add_row(LABELS[t.key], t.notation, t.layout, shape_text(t.shape))
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
    """The same explanation as Markdown, with each step's equation in LaTeX; network files'
    summary tables first."""
    out = []
    for source, layers in networks(explanations).items():
        rows = [layer_summary(e.geometry) for e in layers]
        out += [f"## network {source}: input {_size(rows[0]['input'])}", "",
                "| layer | input k x h x w | output p x o_h x o_w | parameters |", "|---|---:|---:|---:|"]
        out += [f"| {r['name']} | {_size(r['input'])} | {_size(r['output'])} | {r['parameters']:,} |" for r in rows]
        out += [f"| **total** | | {_size(rows[-1]['output'])} | {sum(r['parameters'] for r in rows):,} |", ""]
    for explanation in explanations:
        spec = explanation.geometry.spec
        out += [f"## {_title(spec)}", "", "| tensor | notation | array layout | shape |", "|---|---|---|---|"]
        out += [f"| {LABELS[t.key]} | {t.notation} | `{t.layout}` | `{shape_text(t.shape)}` |"
                for t in explanation.tensors]
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


def explanation_dict(explanation, position: int | None = None) -> dict:
    """The stable JSON object of one spec: name, resolved spec, tensor shapes, steps; a layer
    of a network file also has "network": its 1-based position, input, output, parameters."""
    geom = explanation.geometry
    spec = geom.spec
    network = {} if not spec.chained else {"network": {"position": position, **layer_summary(geom)}}
    return {**network,
        "name": spec.name,
        "file": spec.source,
        "line": spec.line,
        "spec": spec_dict(geom),
        "tensors": {key: None if shape is None else list(shape) for key, shape in geom.shapes.items()},
        "steps": [{"id": s.id, "view": s.view, "title": s.title, "formula": s.formula, "numbers": s.numbers,
                   "result": s.result, "note": s.note} for s in explanation.steps],
    }
