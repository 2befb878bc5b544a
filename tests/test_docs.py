"""README.md and docs/*.md hold together: every relative link reaches a file and a heading, the markdown
is well formed (code fences closed, table rows as wide as their header), the derivations' headings are
the ones convcheck's messages cite and their NumPy checks run, and no document names the sources the
math was first written from."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _prose(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: links reduced to their text, lower case, every character but
    letters, digits, spaces, '-' and '_' dropped, spaces turned into '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    for _, line in _prose(path):
        match = re.match(r"^#{1,6} (.*?)\s*#*\s*$", line)
        if match:
            anchor = _anchor(match.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            if count:
                seen[f"{anchor}-{count}"] = 1
    return set(seen)


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("doc", DOCS, ids=_name)
def test_relative_links_reach_a_file_and_a_heading(doc):
    broken = []
    for number, line in _prose(doc):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):         # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                broken.append(f"{_name(doc)}:{number}: {target}: no file {path}")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{_name(doc)}:{number}: {target}: {_name(file)} has no heading #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_readme_links_to_every_document():
    linked = {(ROOT / target.partition("#")[0]).resolve()
              for _, line in _prose(ROOT / "README.md") for target in LINK.findall(line)}
    assert {doc for doc in DOCS[1:] if doc not in linked} == set()


@pytest.mark.parametrize("doc", DOCS, ids=_name)
def test_markdown_is_well_formed(doc):
    lines = doc.read_text().splitlines()
    assert sum(1 for line in lines if FENCE.match(line)) % 2 == 0, f"{_name(doc)}: a code fence is never closed"
    problems, header = [], None
    for number, line in _prose(doc):
        if not line.startswith("|"):
            header = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", re.sub(r"`[^`]*`", "", line)))
        if header is None:
            header = cells
        elif cells != header:
            problems.append(f"{_name(doc)}:{number}: {cells - 1} columns, the table's header has {header - 1}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=_name)
def test_no_document_cites_the_source_notes(doc):
    """The derivations are the project's own; the notes they were first written from ship with
    nothing, so no document refers to them ("seed 001", "the seeds' notation", "seeds 000/004")."""
    text = doc.read_text()
    hits = [m.group(0) for m in re.finditer(r"seeds? ?0\d\d|seeds'|seeds 0|seed00\d", text, re.I)]
    assert not hits, f"{_name(doc)}: {hits}"


DERIVATIONS = ROOT / "docs" / "derivations.md"
HEADINGS = ["The notation", "The forward pass", "The dL/dF derivation", "The dL/db derivation",
            "The dL/dX derivation", "'Same' padding", "The im2col form", "The per-index form",
            "Beyond the plain layer"]


def test_derivations_have_the_headings_the_messages_cite():
    headings = [line[3:] for _, line in _prose(DERIVATIONS) if line.startswith("## ")]
    assert headings == HEADINGS


def test_derivations_numpy_checks_run():
    """The NumPy blocks of docs/derivations.md are one script: each computes a formula as the page
    writes it and asserts it against the built-in `direct`."""
    pytest.importorskip("scipy")
    blocks = re.findall(r"```python\n(.*?)```", DERIVATIONS.read_text(), re.S)
    assert len(blocks) >= len(HEADINGS) - 1
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DERIVATIONS), "exec"), namespace)
