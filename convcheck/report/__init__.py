"""Renderers: turn results into text. No computation happens here."""

LABELS = {"x": "X", "w": "F", "b": "b", "y": "Y", "dy": "dL/dY", "dx": "dL/dX", "dw": "dL/dF", "db": "dL/db"}
"""Seed notation for each tensor key (F is the filter bank w)."""


def shape_text(shape) -> str:
    """(1, 5, 100, 100) as '(1,5,100,100)', compact enough for an 80-column table."""
    return "—" if shape is None else "(" + ",".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
