"""`convcheck plan`: a table per run of per-layer estimates, the total and a shard count, or
the same as JSON. No computation here beyond sums (the estimates are result.LayerPlan's)."""

import json

from rich import box
from rich.markup import escape
from rich.table import Table

from .. import __version__
from ..geometry import spec_dict
from ..memory import human
from .text import inert

NOTHING_CHECKED = "convcheck plan checks nothing: it timed each layer's forward and estimates from it"


def summary(plans, shard_count: int, target: float) -> dict:
    """Totals and the shard suggestion, as the table's last lines and JSON's top level say them."""
    estimated = [p for p in plans if p.auto is not None]
    auto = [p.estimate(p.auto) for p in plans]
    per_shard = [sum(auto[i::shard_count]) for i in range(shard_count)] if plans else [0.0]
    return {"layers": len(plans), "estimated": len(estimated), "full_seconds": sum(p.estimate(p.full) for p in plans),
            "auto_seconds": sum(auto), "target_seconds": target, "shards": shard_count,
            "largest_shard_seconds": max(per_shard), "over_target": [p.spec.name for p, s in zip(plans, auto)
                                                                     if s > target]}


def render_table(plans, totals: dict, budget: float, console) -> None:
    table = Table(title=f"plan: what verify will cost, estimated (--budget {budget:g} s)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("layer", overflow="fold", min_width=16)
    for column in ("forwards", "a forward", "memory", "full"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("auto runs", no_wrap=True)
    table.add_column("auto", justify="right", no_wrap=True)
    notes = []                                  # a skip's or an error's text goes under the table, numbered:
    for p in plans:                             # in a cell it would squeeze every other column to '…'
        if p.skipped or p.error:
            notes.append(f"[yellow]skipped[/]: {escape(inert(p.skipped))}" if p.skipped else
                         f"[bold red]error[/]: {escape(inert(p.error))}")
            table.add_row(escape(inert(p.spec.name)), "—", "—", "—", "—",
                          f"{'skipped' if p.skipped else 'error'} ({len(notes)}, below)", "—")
            continue
        table.add_row(escape(inert(p.spec.name)), f"{p.full.forwards:,g}", _seconds(p.forward_seconds),
                      human(p.memory_bytes), _seconds(p.estimate(p.full)), _short(p), _seconds(p.estimate(p.auto)))
    console.print(table)
    for number, note in enumerate(notes, 1):
        console.print(f"({number}) {note}", highlight=False, soft_wrap=True)
    for line in summary_lines(totals):
        console.print(line, highlight=False, soft_wrap=True)


def _short(p) -> str:
    """'full' or 'channels 11/64 sets + 16 proj', ' (min > budget)' when even the minimum does not fit."""
    c = p.auto
    second = "" if p.order2 is None else f"; order 2 {p.order2['method']}"
    if c.method == "full":
        return "full" + second
    over = " (min > budget)" if p.minimum.seconds > p.budget else ""
    return f"channels {c.sets}/{c.of_sets} sets + {c.projections} proj{over}{second}"


def summary_lines(totals: dict) -> list[str]:
    lines = [f"{totals['layers']} layer{'s' * (totals['layers'] != 1)}: full would take about "
             f"{_seconds(totals['full_seconds'])}, the default method about {_seconds(totals['auto_seconds'])}",
             f"--target {totals['target_seconds']:g} s: " + (
                 f"one job, no --shard, about {_seconds(totals['largest_shard_seconds'])}" if totals["shards"] == 1
                 else f"--shard i/{totals['shards']} with i = 1 … {totals['shards']}, the largest shard about "
                      f"{_seconds(totals['largest_shard_seconds'])}")]
    if totals["over_target"]:
        lines.append(f"over the target on its own (a layer cannot be split): {', '.join(totals['over_target'])}; "
                     "raise --target or lower --budget")
    return lines + [NOTHING_CHECKED]


def render_json(plans, totals: dict) -> str:
    def choice(c):
        return None if c is None else {"method": c.method, "sets": c.sets, "of_sets": c.of_sets,
                                       "projections": c.projections, "coverage": c.coverage(),
                                       "forwards": c.forwards, "seconds": round(c.seconds, 4)}
    layers = [{"name": p.spec.name, "file": p.spec.source, "line": p.spec.line, "impl": p.impl,
               "spec": spec_dict(p.geometry), "budget_seconds": p.budget,
               "forward_seconds": round(p.forward_seconds, 6), "finite_differences_through": p.through,
               "memory_bytes": p.memory_bytes,
               "overhead_seconds": round(p.overhead, 4),
               "full": choice(p.full), "auto": choice(p.auto), "minimum": choice(p.minimum),
               "full_estimate_seconds": round(p.estimate(p.full), 4),
               "auto_estimate_seconds": round(p.estimate(p.auto), 4),
               "minimum_fits_budget": None if p.minimum is None else p.minimum.seconds <= p.budget,
               "order2": None if p.order2 is None else {key: round(value, 6) if isinstance(value, float) else value
                                                        for key, value in p.order2.items()},
               "skipped": p.skipped or None, "error": p.error or None} for p in plans]
    return json.dumps({"convcheck": __version__, "checked": False, "note": NOTHING_CHECKED,
                       **{k: round(v, 4) if isinstance(v, float) else v for k, v in totals.items()},
                       "plans": layers}, indent=2)


def _seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.1f} s"
