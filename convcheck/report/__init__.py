"""Renderers: turn results into text, the top floor beside the command line. No computation
happens here, and nothing below imports it.

table (rich, plain text), html (a page, a notebook fragment), json_report, junit, github, plan,
shapes, plot (PNG heatmaps), progress (the bar); text: what they share. Loading the package
tells results how to show themselves (result.VIEWS: repr and Jupyter), each renderer imported
only when one is shown.
"""

from .. import result


def _text(results, seconds) -> str:
    from .table import plain_text
    return plain_text(results, seconds)


def _html(results, seconds) -> str:
    from .html import fragment
    return fragment(results, seconds)


result.VIEWS.update(text=_text, html=_html)
