"""HTML: `verify --format html` (one self-contained page) and a result's `_repr_html_` (Jupyter).

A page leads with an index of the layers, failing ones first, each linked to its section
(an in-page fragment, `#layer-3`), and the sections follow in the same order: failures, then
skipped layers, then passes. Per layer: its table, the caption, coverage lines, each failing
tensor's message (one message shared by several tensors, a backward that raised, said once),
diagnosis and error heatmap (an inline PNG through matplotlib when it is installed, else an
inline SVG drawn here), what the plug-in printed, and the layer's spec as YAML. Nothing is
loaded from outside: no scripts, no fonts, no links but the index's fragments; images are
data: URIs or inline SVG.
"""

import base64
import html
import importlib.util

from .. import __version__
from ..spec import LABELS
from .table import JUDGED, budget_line, caption_text, coverage_lines, index_text, pooled, shown_output, summary_text
from .text import inert, shape_text, smallest_lines

STYLE = """
.convcheck { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px; color: #1f2328; }
.convcheck h1 { font-size: 20px; margin: 0 0 4px; }
.convcheck h2 { font-size: 16px; margin: 18px 0 6px; }
.convcheck h2 small, .convcheck .caption { color: #656d76; font-weight: normal; }
.convcheck table.checks { border-collapse: collapse; margin: 4px 0; }
.convcheck table.checks th, .convcheck table.checks td { padding: 3px 10px; border-bottom: 1px solid #d0d7de;
  text-align: left; white-space: nowrap; }
.convcheck table.checks td.number { text-align: right; font-variant-numeric: tabular-nums; }
.convcheck .pass { color: #1a7f37; } .convcheck .fail { color: #cf222e; font-weight: bold; }
.convcheck .other { color: #9a6700; }
.convcheck .diagnosis { color: #9a6700; font-weight: bold; margin-left: 1.5em; }
.convcheck .note { margin-left: 1.5em; }
.convcheck figure { margin: 6px 0 6px 1.5em; } .convcheck figcaption { color: #656d76; font-size: 12px; }
.convcheck pre { background: #f6f8fa; padding: 6px 10px; margin: 4px 0; }
.convcheck section.layer { border-top: 1px solid #d0d7de; margin-top: 10px; }
.convcheck nav.index ol { margin: 4px 0; padding-left: 1.5em; } .convcheck nav.index a { color: inherit; }
"""

SVG_CELLS = (48, 64)
"""Most rows and columns of an SVG heatmap; larger maps are max-pooled into blocks."""
RAMP = ((0.0, (252, 253, 191)), (0.25, (254, 159, 109)), (0.5, (222, 73, 104)), (0.75, (140, 41, 129)),
        (1.0, (0, 0, 4)))
"""Colours from 0 to the largest error: magma reversed, so that 0 is light like the page."""


def document(results, seconds: float, show_output: bool = False, images: str = "auto",
             stopped: str | None = None) -> str:
    """One self-contained HTML page: the summary line (and what stopped the run, if something
    did), then every layer (what the plug-in printed under failing layers, under all with
    `show_output`)."""
    failed = any(not r.passed for r in results) or bool(stopped)
    ordered = sorted(range(len(results)), key=lambda i: _rank(results[i]))     # failures first, stable
    index = "".join(f'<li><a href="#layer-{i + 1}"><span class="{_style(_verdict(results[i]))}">'
                    f"{_verdict(results[i])}</span> {_text(results[i].spec.name)}</a></li>" for i in ordered)
    body = (f'<h1>convcheck report</h1>\n<p class="summary {"fail" if failed else "pass"}">'
            f"{_text(summary_text(results))} ({seconds:.2f} s)</p>\n"
            + (f'<p class="fail">{_text(stopped)}</p>\n' if stopped else "") +
            f'<p class="caption">convcheck {__version__}</p>\n'
            f'<nav class="index"><ol>{index}</ol></nav>\n'
            + "".join(layer(results[i], images, show_output, anchor=f"layer-{i + 1}") for i in ordered))
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>convcheck: {_text(summary_text(results))}</title>\n<style>{STYLE}</style>\n</head>\n"
            f'<body class="convcheck">\n{body}</body>\n</html>\n')


def fragment(results, seconds: float | None = None, images: str = "auto") -> str:
    """The layers (and the summary line when `seconds` is given) as a <div> for a notebook."""
    summary = "" if seconds is None else (
        f'<p class="summary {"fail" if any(not r.passed for r in results) else "pass"}">'
        f"{_text(summary_text(results))} ({seconds:.2f} s)</p>\n")
    layers = "".join(layer(r, images) for r in results)
    return f'<div class="convcheck">\n<style>{STYLE}</style>\n{summary}{layers}</div>'


def _verdict(result) -> str:
    return "skipped" if result.skipped else "pass" if result.passed else "FAIL"


def _rank(result) -> int:
    return {"FAIL": 0, "skipped": 1, "pass": 2}[_verdict(result)]


def layer(result, images: str = "auto", show_output: bool = False, anchor: str | None = None) -> str:
    """One layer's section: heading, table, caption, coverage, failures with their diagnosis and
    heatmap, the plug-in's output, the spec."""
    spec = result.spec
    verdict = _verdict(result)
    where = f' id="{anchor}"' if anchor else ""
    parts = [f'<section class="layer"{where} data-verdict="{verdict}">',
             f'<h2><span class="{_style(verdict)}">{verdict}</span> {_text(spec.name)} '
             f"<small>{_text(spec.where if spec.source else '')}</small></h2>"]
    if result.checks:
        parts.append(_table(result))
    if result.skipped:
        parts.append(f'<p class="other">skipped: {_text(result.skipped)} · impl {_text(result.impl)}</p>')
    else:
        parts.append(f'<p class="caption">{_text(caption_text(result))}</p>')
        lines = coverage_lines(result)
        if len(lines) > 1:
            parts.append('<ul class="coverage">' + "".join(f"<li>{_text(line)}</li>" for line in lines)
                         + "</ul>")
        if budget_line(result):
            parts.append(f'<p class="other">{_text(budget_line(result))}</p>')
        if result.error:
            parts.append(f'<p><span class="fail">error</span>: {_text(result.error)}</p>')
        parts.extend(_failure(result, check, images, _sharing(result, check)) for check in result.checks)
        if any(c.own_forward is not None for c in result.checks):
            parts.append(f"<p><b>{_text(JUDGED)}</b></p>")
        smallest = smallest_lines(result)
        if smallest:
            parts.append(f'<pre class="smallest">{_text(chr(10).join(smallest))}</pre>')
        output = shown_output(result, show_output)
        if output:
            parts.append(f"<pre class=\"output\">{_text(chr(10).join(output))}</pre>")
    parts.append(f'<details{" open" * (verdict == "FAIL")}><summary>spec</summary>'
                 f'<pre class="spec">{_text(_spec_yaml(spec))}</pre></details>')
    return "\n".join(parts) + "\n</section>\n"


def _table(result) -> str:
    head = "".join(f"<th>{name}</th>" for name in ("tensor", "expected shape", "actual shape", "max abs err",
                                                   "max rel err", "err/tol", "worst index", "verdict"))
    rows = []
    for check in result.checks:
        numbers = "".join(f'<td class="number">{"—" if v is None else f"{v:.2e}"}</td>'
                          for v in (check.max_abs, check.max_rel, check.tolerance_ratio))
        rows.append(f'<tr data-tensor="{check.name}"><td>{_text(LABELS[check.name])}</td>'
                    f"<td>{shape_text(check.expected_shape)}</td><td>{shape_text(check.actual_shape)}</td>{numbers}"
                    f"<td>{index_text(check.worst_index)}</td>"
                    f'<td class="{_style(check.verdict)}">{check.verdict}</td></tr>')
    return (f'<table class="checks"><thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(rows)
            + "\n</tbody></table>")


def _sharing(result, check) -> list | None:
    """The tensors whose failure is `check`'s very message with nothing of their own to add (no
    diagnosis, no heatmap: a backward that raised): all of them at the first, [] at the others;
    None for a message of its own."""
    def plain(c):
        return not c.passed and not c.skipped and c.diagnosis is None and c.error_map is None and c.message
    if not plain(check):
        return None
    same = [c for c in result.checks if plain(c) and c.message == check.message]
    if len(same) < 2:
        return None
    return same if same[0] is check else []


def _failure(result, check, images: str, sharing: list | None = None) -> str:
    """A failing tensor's message, diagnosis, heatmap and relation to the plug-in's forward; a
    message several tensors share said once, at the first of them, with all their names."""
    parts = []
    if not check.passed and not check.skipped and sharing != []:
        names = ", ".join(LABELS[c.name] for c in sharing) if sharing else LABELS[check.name]
        parts.append(f'<p class="message"><span class="{_style(check.verdict)}">{_text(names)}'
                     f"</span>: {_text(check.message)}</p>")
        if check.diagnosis is not None:
            parts.append(f'<p class="diagnosis">diagnosis: {_text(check.diagnosis.mistake or "no known mistake")}'
                         f": {_text(check.diagnosis.explanation)}</p>")
        if check.error_map is not None:
            parts.append(heatmap(result, check, images))
    if check.own_forward is not None:
        parts.append(f'<p class="note"><b>your forward</b>: {_text(check.own_forward.note)}</p>')
    return "\n".join(parts)


def heatmap(result, check, images: str = "auto") -> str:
    """A figure with the error map: <img> of a PNG data URI ('png', or 'auto' with matplotlib)
    or an inline <svg> ('svg', or 'auto' without it)."""
    dims = len(check.expected_shape) - 2
    blocks, title = pooled(check.name, check.error_map, dims, SVG_CELLS)
    png = images == "png" or (images == "auto" and importlib.util.find_spec("matplotlib") is not None)
    caption = f"{title}; the largest, {blocks.max():.3g}, is {'brightest' if png else 'darkest'})"
    if png:
        from .plot import heatmap_png
        data = base64.b64encode(heatmap_png(result, check)).decode("ascii")
        picture = (f'<img class="heatmap" alt="{_text(caption)}" width="375" '
                   f'src="data:image/png;base64,{data}">')
    else:
        picture = svg_heatmap(blocks, caption)
    return f"<figure>{picture}<figcaption>{_text(caption)}</figcaption></figure>"


def svg_heatmap(blocks, title: str, cell: int = 0) -> str:
    """An inline SVG of a 2-D array of errors >= 0: one rect per block, coloured on RAMP from 0
    to its maximum, and a colour bar from 0 to that maximum. Inline in HTML it needs no xmlns, so
    the page holds no address at all."""
    rows, cols = blocks.shape
    cell = cell or max(4, min(48, 480 // max(cols, 1), 360 // max(rows, 1)))
    top = float(blocks.max())
    width, height = cols * cell, rows * cell
    rects = [f'<rect class="cell" x="{c * cell}" y="{r * cell}" width="{cell}" height="{cell}" '
             f'fill="{_colour(value / top if top else 0)}"/>'
             for r, row in enumerate(blocks.tolist()) for c, value in enumerate(row)]
    bar = [f'<rect x="{width + 12}" y="{i * height / 20:.1f}" width="12" height="{height / 20 + 0.5:.1f}" '
           f'fill="{_colour(1 - i / 19)}"/>' for i in range(20)]
    labels = (f'<text x="{width + 28}" y="10" font-size="10">{top:.3g}</text>'
              f'<text x="{width + 28}" y="{height}" font-size="10">0</text>')
    return (f'<svg class="heatmap" width="{width + 70}" height="{height}" '
            f'role="img" aria-label="{_text(title)}"><title>{_text(title)}</title>'
            f'<rect width="{width}" height="{height}" fill="none" stroke="#d0d7de"/>'
            + "".join(rects + bar) + labels + "</svg>")


def _colour(level: float) -> str:
    """#rrggbb on RAMP at `level` in [0, 1]."""
    level = min(max(level, 0.0), 1.0)
    for (a, low), (b, high) in zip(RAMP, RAMP[1:]):
        if level <= b:
            t = (level - a) / (b - a)
            return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(low, high))
    return "#000004"


def _text(text) -> str:
    """Text for the page: inert (its line breaks kept), then escaped: never markup."""
    return html.escape(inert(text, lines=True))


def _style(verdict: str) -> str:
    return {"pass": "pass", "FAIL": "fail"}.get(verdict, "other")


def _spec_yaml(spec) -> str:
    """The layer as a spec file would hold it, one field a line, defaults included (each value in
    JSON, which YAML reads)."""
    import json

    from ..fields import fields_of
    return "\n".join(f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields_of(spec).items())
