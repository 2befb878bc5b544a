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


def diagnosis_lines(result) -> list[str]:
    """'dL/dX: diagnosis: <id>: <explanation>' for each failing tensor with a diagnosis (inert)."""
    return [f"{LABELS[c.name]}: diagnosis: {c.diagnosis.mistake or 'no known mistake'}: "
            f"{inert(c.diagnosis.explanation)}" for c in result.checks
            if not c.passed and not c.skipped and c.diagnosis is not None]


def smallest_lines(result) -> list[str]:
    """The smallest failing layer under a failing one (result.smallest), as plain lines (inert):
    a heading, the layer as YAML to paste, what made it pass one step smaller, what each
    failing tensor computed there where that says more than the layer's own diagnosis, and the
    tensors side by side. [] when there is none."""
    small = result.smallest
    if small is None:
        return []
    if not small.fields:
        return [f"smallest failing layer: {inert(small.stopped)}"]
    how = "; ".join(f"{LABELS.get(tensor, tensor)} {inert(what)}" for tensor, what in small.failure)
    stopped = f"; {inert(small.stopped)}" if small.stopped else ""
    lines = [f"smallest failing layer ({small.tried} layers tried, {small.seconds:.2f} s{stopped}): fails the same "
             f"way ({how}):"]
    lines += ["  " + inert(line) for line in small.yaml.splitlines()]
    lines += [inert(item["text"]) for item in small.further]
    for name, diagnosis in small.diagnoses.items():
        own = next((c.diagnosis for c in result.checks if c.name == name), None)
        if diagnosis.mistake and (own is None or own.mistake != diagnosis.mistake):
            lines.append(f"there, {LABELS[name]}: {diagnosis.mistake}: {inert(diagnosis.explanation)}")
    for name, arrays in small.arrays.items():
        lines += side_by_side(LABELS[name], arrays["yours"], arrays["right"])
    return lines


def side_by_side(label: str, yours, right) -> list[str]:
    """A small tensor (nested lists, (N, C, *spatial)) as rows of yours | right | yours − right,
    one block per sample and channel (and depth, in 3-D)."""
    blocks = list(_blocks(yours, right, ()))
    per = ", per [sample, channel]" if blocks and blocks[0][0] else ""            # dL/db: one row, no index
    lines = [f"side by side, {label} there{per}: yours | right | yours − right"]
    for lead, block_yours, block_right in blocks:
        rows_yours = block_yours if isinstance(block_yours[0], list) else [block_yours]
        rows_right = block_right if isinstance(block_right[0], list) else [block_right]
        if lead:
            lines.append(f"  {list(lead)}")
        for a, b in zip(rows_yours, rows_right):
            cells = [" ".join(f"{v:8.4g}" for v in row) for row in (a, b, [p - q for p, q in zip(a, b)])]
            lines.append("    " + "  |  ".join(cells))
    return lines


def _blocks(yours, right, lead):
    """(index, 2-D (or 1-D) block of yours, the same of right) down to the last two axes."""
    if not isinstance(yours[0], list) or not isinstance(yours[0][0], list):
        yield lead, yours, right
        return
    for i, (a, b) in enumerate(zip(yours, right)):
        yield from _blocks(a, b, lead + (i,))
