"""The README's and docs/' promises: their examples work, the README's commands are the ones CI runs.

Each example is read from its document by the heading of its section (`section`), so an example
that moves to another section, or a heading that is renamed, fails here rather than going untested.
"""

import re
from pathlib import Path

from convcheck import load_specs, verify

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^(```|~~~)")


def section(doc: str, heading: str) -> str:
    """The text of the section of `doc` (a path under the repository, e.g. "docs/plugins.md") whose
    heading starts with `heading` (without its #s), up to the next heading of the same or a higher
    level; lines inside code blocks are never headings."""
    lines, found, level, fenced = (ROOT / doc).read_text().splitlines(), None, 0, False
    for number, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        match = None if fenced else re.match(r"^(#+) (.*)$", line)
        if match and found is not None and len(match.group(1)) <= level:
            return "\n".join(lines[found:number]) + "\n"
        if match and found is None and match.group(2).startswith(heading):
            found, level = number + 1, len(match.group(1))
    assert found is not None, f"{doc} has no heading {heading!r}"
    return "\n".join(lines[found:]) + "\n"


def test_readme_plugin_example_passes_every_config(tmp_path):
    code = next(c for c in re.findall(r"```python\n(.*?)```", section("docs/plugins.md", "A complete plug-in"), re.S)
                if "def backward(" in c)
    plugin = tmp_path / "my_conv.py"
    plugin.write_text(code)
    for spec in load_specs(ROOT / "configs"):
        result = verify(spec, str(plugin), method="sample", samples=32)
        assert result.passed, (spec.name, [(c.name, c.message) for c in result.checks])


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert any(c.endswith("convcheck verify configs/") for c in commands)
    test_command = next(c for c in commands if c.endswith("python -m pytest"))
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_spec_example_loads_and_passes(tmp_path):
    example = re.search(r"```yaml\n(.*?)```", section("docs/reference.md", "Spec format"), re.S).group(1)
    path = tmp_path / "example.yaml"
    path.write_text(example)
    specs = load_specs(path)
    assert [s.name for s in specs] == ["stride2-leftover-rows", "same-float32", "atrous-depthwise"]
    assert specs[1].dtype == "float32" and specs[1].rtol == 1e-3 and not specs[1].bias
    assert (specs[2].dilation, specs[2].groups) == ((2, 2), 4)
    assert all(verify(spec, "direct").passed for spec in specs)


LECTURE = """import torch
import torch.nn.functional as F


class LectureConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, convparam=(0, 1)):
        padding, stride = convparam
        ctx.save_for_backward(x, w)
        ctx.convparam = convparam
        return F.conv2d(x, w, b, stride=stride, padding=padding)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        padding, stride = ctx.convparam
        dx = torch.nn.grad.conv2d_input(x.shape, w, dy, stride=stride, padding=padding)
        dw = torch.nn.grad.conv2d_weight(x, w.shape, dy, stride=stride, padding=padding)
        return dx, dw, dy.sum((0, 2, 3)), None
"""


def test_readme_wrapper_adapts_a_convparam_op(tmp_path):
    """The three-line wrapper of 'Adapting an op' around a lecture's convparam=(padding, stride) op."""
    import pytest
    pytest.importorskip("torch")
    wrapper = section("docs/plugins.md", "Adapting an op: a three-line wrapper")
    (tmp_path / "lecture.py").write_text(LECTURE)
    (tmp_path / "lecture_wrapper.py").write_text(re.search(r"```python\n(.*?)```", wrapper, re.S).group(1))
    results = {spec.name: verify(spec, f"torch:{tmp_path / 'lecture_wrapper.py'}:conv", method="full")
               for spec in load_specs(ROOT / "configs")}
    assert results["valid-9x9x3-four-3x3x3"].passed and results["stride2-leftover-rows"].passed
    assert "this op takes one stride and one padding" in results["asymmetric-padding"].check("y").message
    direct = verify(load_specs(ROOT / "configs" / "valid_square.yaml")[0], f"torch:{tmp_path / 'lecture.py'}:"
                    "LectureConv")
    assert "takes from 4 to 5 positional arguments" in direct.check("y").message


def _block(doc: str, heading: str) -> str:
    return re.search(r"```python\n(.*?)```", section(doc, heading), re.S).group(1)


def test_readme_testing_and_notebook_examples_run(tmp_path, monkeypatch):
    import naive_loops
    import pytest

    from convcheck.impls import direct
    monkeypatch.chdir(tmp_path)                                          # a project with configs/ and my_conv.py
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    (tmp_path / "my_conv.py").write_text("from convcheck.impls.direct import forward, backward\n")
    suite = {"my_conv": naive_loops, "forward": direct.forward, "backward": direct.backward}
    exec(_block("docs/python.md", "`assert_conv_backward`"), suite)
    suite["test_my_conv_backward"]()                                     # raises if any layer fails
    torch = pytest.importorskip("torch")
    assert torch
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "course" / "assignment2"))
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "course"))
    from cs231n.layers import conv_backward_naive, conv_forward_naive
    from torch_ops import Conv2dOp
    notebook = {"forward": direct.forward, "backward": direct.backward, "conv_forward_naive": conv_forward_naive,
                "conv_backward_naive": conv_backward_naive, "MyConvFunction": Conv2dOp}
    import shutil
    shutil.copytree(ROOT / "tests" / "course" / "assignment2" / "cs231n", tmp_path / "cs231n")
    lines = _block("docs/python.md", "In a notebook").strip().splitlines()
    exec(lines[0], notebook)
    results = [eval(line.split("#")[0], notebook) for line in lines[1:] if line]
    assert len(results) == 4 and all(r.passed for r in results), [repr(r) for r in results]
    assert results[1].impl == "conv_forward_naive/conv_backward_naive" and results[2].impl == "Conv2dOp"
    assert len(results[3]) == len(load_specs(ROOT / "configs" / "course")) and results[0].default_batch


def test_readme_notebook_lines_are_the_tested_ones():
    """The README's short notebook example is a copy of lines of the one run above."""
    tested = _block("docs/python.md", "In a notebook").splitlines()
    shown = _block("README.md", "For course code and learners").strip().splitlines()
    assert shown and all(line in tested for line in shown if line), [line for line in shown if line not in tested]


def test_readme_smallest_layer_example_is_what_verify_prints():
    """The README's example of a wrong operand and the smallest failing layer: its diagnosis, its
    YAML and its 'passes with' lines are what checking the planted course plug-in prints."""
    text = section("README.md", "Check your own code")
    block = next(b for b in re.findall(r"```\n(.*?)```", text, re.S) if "smallest failing layer" in b)
    plugin = ROOT / "tests" / "course" / "mistakes" / "scrambled_filter.py"
    result = verify(load_specs(ROOT / "configs" / "valid_square.yaml")[0], f"cs231n:{plugin}")
    diagnosis = result.check("dx").diagnosis
    assert f"diagnosis: {diagnosis.mistake}: {diagnosis.explanation}" in block
    lines = [line.strip() for line in block.splitlines()]
    assert all(line.strip() in lines for line in result.smallest.yaml.splitlines())
    assert all(item["text"] in lines for item in result.smallest.further)


def test_every_diagnosis_id_is_in_the_readme_table_and_the_failures_page():
    """The ids are a contract (JSON diagnosis.mistake): each has its row in both tables."""
    from convcheck.diagnose import MISTAKES
    readme = section("README.md", "Check your own code")
    failures = section("docs/failures.md", "Diagnosis: the known mistakes")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    for mistake in MISTAKES:
        assert any(f"`{mistake}`" in row.split("|")[1] for row in rows), mistake
        assert f"| `{mistake}` |" in failures, mistake
