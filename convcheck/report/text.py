"""Text every renderer shares: untrusted text made inert, shapes, failure lines, rerun flags.

Text a user or a plug-in controls (layer names, file paths, --impl, exception messages, what a
plug-in printed) goes through `inert` in every renderer but JSON (whose escapes are already
inert): nothing it holds can move the terminal's cursor, set its title, start a line with a CI
workflow command (`::error ...`), break XML 1.0 or fail to encode.
"""


import re

from ..spec import LABELS

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_INLINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def inert(text, lines: bool = False) -> str:
    """`text` with every control character (C0 and C1: ESC, NUL, BEL, carriage return, and the
    line break unless `lines`), bidirectional override and lone surrogate written as a visible
    escape (\\x1b, \\u202e, \\ud800), so that it prints as itself and nothing else."""
    def visible(match):
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return (_CONTROL if lines else _CONTROL_INLINE).sub(visible, str(text))



def shape_text(shape) -> str:
    """(1, 5, 100, 100) as '(1,5,100,100)', compact enough for an 80-column table."""
    return "—" if shape is None else "(" + ",".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def failures(result) -> list[str]:
    """One line per reason a spec failed: the run's error, then each failing tensor's message (inert)."""
    lines = [inert(result.error)] if result.error else []
    return lines + [f"{LABELS[c.name]}: {inert(c.message)}" for c in result.checks if not c.passed and not c.skipped]


def headline(results) -> str:
    """One line for a test runner's summary: 'conv1: dL/dF: 1200 of 1250 checked elements off; ...'
    for the first failing layer, and how many others failed."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return f"{len(results)} layer{'s' * (len(results) != 1)} passed"
    first = failed[0]
    reasons = failures(first)
    more = f" (and {len(failed) - 1} more failing layer{'s' * (len(failed) > 2)})" if len(failed) > 1 else ""
    return f"{inert(first.spec.name)}: {reasons[0] if reasons else 'failed'}{more}"


def rerun_flags(result) -> str:
    """'--method channels --channels 46 --projections 16': the options that redo this result's
    coverage exactly, on any machine ('' when the check did not run)."""
    if not result.rerun:
        return ""
    return " ".join(f"--{key} {value}" for key, value in result.rerun.items())
