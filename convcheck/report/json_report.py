"""Machine output for `verify --format json`: a stable, plain-JSON object."""

import json
import math

from .. import __version__
from ..geometry import spec_dict
from .text import rerun_flags


def result_dict(result, show_output: bool = False) -> dict:
    """One spec's result; tensor keys are y, dx, dw, db (and with order 2 d2x, d2w, d2b, d2g).
    `output`: what the plug-in printed, for a
    failing layer (for every layer with show_output), else null."""
    spec = result.spec
    return {
        "name": spec.name, "file": spec.source, "line": spec.line, "impl": result.impl,
        "method": result.method, "order": result.order,
        "order_tolerances": None if result.order_tolerances is None else list(result.order_tolerances),
        "backend": result.backend, "dtype": spec.dtype,
        "rtol": result.rtol,
        "atol": result.atol,
        "passed": result.passed and not result.skipped, "skipped": result.skipped or None,
        "partial_coverage": result.partial, "forwards": round(result.forwards, 2),
        "seconds": round(result.seconds, 4), "error": result.error or None, "spec": spec_dict(result.geometry),
        "output": {"lines": result.output_lines, "last": result.output.split("\n") if result.output else []}
        if result.output_lines and (show_output or not result.passed) else None,
        "finite_differences_through": result.through, "default_batch": result.default_batch,
        "rerun": result.rerun, "rerun_flags": rerun_flags(result),
        "budget": result.budget,
        "smallest": None if result.smallest is None else result.smallest.as_dict(),
        "tensors": {c.name: {
            "expected_shape": _list(c.expected_shape), "actual_shape": _list(c.actual_shape),
            "max_abs_err": c.max_abs, "max_rel_err": c.max_rel, "tolerance_ratio": _finite(c.tolerance_ratio),
            "worst_index": _list(c.worst_index), "checked": c.checked, "total": c.total, "verdict": c.verdict,
            "message": c.message, "coverage": None if c.coverage is None else c.coverage.as_dict(),
            "diagnosis": None if c.diagnosis is None else c.diagnosis.as_dict(),
            "own_forward": None if c.own_forward is None else c.own_forward.as_dict(),
        } for c in result.checks},
    }


def render(results, seconds: float, show_output: bool = False, stopped: str | None = None) -> str:
    """The report; `interrupted` is null, or what stopped the run ('interrupted by SIGTERM: 1 of
    3 layers checked'): the specs are then only those checked before it."""
    failed = sum(not r.passed for r in results)
    skipped = sum(bool(r.skipped) for r in results)
    partial = sum(r.passed and r.partial for r in results)
    report = {"convcheck": __version__, "passed": len(results) - failed - skipped, "failed": failed,
              "skipped": skipped, "passed_on_partial_coverage": partial, "seconds": round(seconds, 4),
              "interrupted": stopped,
              "specs": [result_dict(r, show_output) for r in results]}
    return json.dumps(_strict(report), indent=2, allow_nan=False)


def _strict(value):
    """`value` with every NaN or infinity made null: strict JSON parsers refuse bare NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    return value


def _list(value):
    return None if value is None else list(value)


def _finite(value):
    """JSON has no infinity: an error where none was allowed (tolerance 0) reads as a huge ratio."""
    return None if value is None else min(value, 1.7976931348623157e308)
