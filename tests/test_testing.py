"""convcheck.testing: assert_conv_backward for test suites, check for notebooks."""

import importlib
import sys
from html.parser import HTMLParser
from pathlib import Path

import naive_loops
import pytest
from wrong import WRONG

import convcheck
from convcheck import ConvSpec, ImplError, SpecError
from convcheck.impls import direct
from convcheck.result import Results, SpecResult
from convcheck.testing import assert_conv_backward, check

ROOT = Path(__file__).parent.parent
MULTICHANNEL = ROOT / "configs" / "multichannel_5x100x100.yaml"
STRIDES = ROOT / "configs" / "strides_and_padding.yaml"
COURSE = Path(__file__).parent / "course"
LAYER = dict(n=7, m=3, k=2, p=3, padding=1, stride=2, batch=2)
NO_ROTATION = WRONG["no_rotation"][0]


def test_returns_the_result_for_a_right_implementation_in_every_form():
    forms = ["direct", "naive_loops", str(Path(naive_loops.__file__)), naive_loops, (direct.forward, direct.backward),
             convcheck.impls.load_impl("im2col")]
    for impl in forms:
        result = assert_conv_backward(impl, **LAYER)
        assert isinstance(result, SpecResult) and result.passed and not result.partial
        assert result.spec.stride == (2, 2) and result.geometry.shapes["x"] == (2, 2, 7, 7)


def test_raises_for_a_wrong_implementation_with_the_plain_table():
    with pytest.raises(AssertionError) as raised:
        assert_conv_backward(NO_ROTATION, **LAYER)
    message = str(raised.value)
    first = message.splitlines()[0]
    assert first.startswith("layer: dL/dX: ") and "checked elements off" in first
    assert "\x1b[" not in message and all(line == line.rstrip() for line in message.splitlines())
    rows = {line.split()[0]: line.split()[-1] for line in message.splitlines() if line.startswith("  ")
            and line.split()[0] in ("Y", "dL/dX", "dL/dF", "dL/db")}
    assert rows == {"Y": "pass", "dL/dX": "FAIL", "dL/dF": "pass", "dL/db": "pass"}
    assert "smallest failing layer" in message and "passes with" in message
    assert "diagnosis: filter-not-rotated" in message
    assert "|analytic − numerical| of dL/dX" in message            # where the error is
    assert "every coordinate" in message                           # coverage


def test_a_spec_file_checks_its_layers_and_fields_override_them():
    results = assert_conv_backward("im2col", STRIDES)
    assert isinstance(results, Results) and len(results) == 4 and results.passed
    assert [r.spec.name for r in results] == ["stride2-leftover-rows", "asymmetric-padding", "same-stride2-float32",
                                              "full-no-bias"]
    one = assert_conv_backward("im2col", MULTICHANNEL, n=20, batch=2, method="fast")
    assert one.spec.n == (20, 20) and one.spec.m == (5, 5) and one.method == "fast"
    assert one.spec.source == str(MULTICHANNEL)                            # still said to come from its file
    three = assert_conv_backward("direct", MULTICHANNEL, n=[6, 6, 6], m=2, k=2, p=2)   # a new number of axes
    assert three.spec.dims == 3 and three.geometry.shapes["w"] == (2, 2, 2, 2, 2)


def test_a_mapping_a_convspec_and_options():
    spec = {"n": [8, 6], "m": 3, "k": 2, "p": 2, "padding": "same", "stride": 1}
    result = assert_conv_backward("direct", spec, dtype="float32", seed=4, rtol=1e-3)
    assert result.spec.n == (8, 6) and result.spec.dtype == "float32" and result.rtol == 1e-3
    network = {"input": {"k": 2, "n": 8}, "defaults": {"m": 3, "padding": 1, "stride": 1},
               "layers": [{"name": "a", "p": 4}, {"name": "b", "p": 2, "stride": 2}]}
    results = assert_conv_backward("direct", network, batch=2)
    assert [r.spec.k for r in results] == [2, 4] and all(r.spec.batch == 2 for r in results)
    convspec = ConvSpec(n=(5, 5), m=(2, 2), k=1, p=1, padding=(0, 0, 0, 0), stride=(1, 1), name="c")
    assert assert_conv_backward("direct", convspec, stride=2).spec.stride == (2, 2)
    wide = assert_conv_backward("direct", n=6, m=3, k=1, p=1, padding=(1, 0, 2, 0), stride=(1, 2), dilation=(2, 1))
    assert wide.spec.padding == (1, 0, 2, 0) and wide.spec.stride == (1, 2)     # tuples read as lists


def test_bad_fields_and_options_raise_the_clis_line_as_a_value_error():
    with pytest.raises(ValueError) as raised:
        assert_conv_backward("direct", n=5, m=3, k=1, p=1, padding=0, stride=0)
    assert isinstance(raised.value, SpecError)
    assert str(raised.value) == "layer 'layer': field 'stride': must be an integer >= 1, got 0"
    with pytest.raises(ValueError, match="field 'strid': unknown field; did you mean 'stride'"):
        assert_conv_backward("direct", n=5, m=3, k=1, p=1, padding=0, strid=1)
    with pytest.raises(ValueError, match="field 'padding': missing; a layer needs n, m, k, p, padding, stride"):
        assert_conv_backward("direct", n=5, m=3, k=1, p=1, stride=1)
    with pytest.raises(ValueError, match=r"multichannel_5x100x100.yaml.*field 'k'"):
        assert_conv_backward("direct", MULTICHANNEL, k=0)
    with pytest.raises(ValueError, match="--method exact: unknown; valid: auto, full, channels, sample, fast"):
        assert_conv_backward("direct", method="exact", **LAYER)
    with pytest.raises(ImplError, match="--impl nowhere_conv: no built-in, file or module"):
        assert_conv_backward("nowhere_conv", **LAYER)
    with pytest.raises(ValueError, match="api 'keras': unknown; valid: cs231n, torch, layer"):
        check(direct.forward, direct.backward, api="keras", **LAYER)
    with pytest.raises(ValueError, match="expected forward and backward callables"):
        check(direct.forward, **LAYER)
    with pytest.raises(ValueError, match="spec: expected a spec file's path, a mapping of fields or a ConvSpec"):
        check(direct.forward, direct.backward, spec=42)


def test_check_returns_failures_too_and_adapts_cs231n_functions_by_name():
    sys.path.insert(0, str(COURSE / "assignment2"))
    try:
        layers = importlib.import_module("cs231n.layers")
        result = check(layers.conv_forward_naive, layers.conv_backward_naive, **LAYER)
        assert result.passed and result.impl == "conv_forward_naive/conv_backward_naive"
        skipped = check(layers.conv_forward_naive, layers.conv_backward_naive, **{**LAYER, "padding": [1, 0, 1, 0]})
        assert skipped.skipped.startswith("not expressible in this API")
        assert check(layers, api="cs231n", **LAYER).passed                          # the module, said
        assert assert_conv_backward(str(COURSE / "assignment2" / "cs231n" / "layers.py"), api="cs231n", **LAYER).passed
    finally:
        sys.path.remove(str(COURSE / "assignment2"))
    failing = check(NO_ROTATION.forward, NO_ROTATION.backward, **LAYER)
    assert not failing.passed and failing.check("dx").diagnosis.mistake == "filter-not-rotated"


def test_check_adapts_a_layer_class_with_the_spec_adapter_field():
    sys.path.insert(0, str(COURSE))
    try:
        from cs7643_conv import Conv2D
    finally:
        sys.path.remove(str(COURSE))
    renamed = {"in_channels": "in_c", "weight": "W", "dw": "dW"}
    result = check(Conv2D, n=8, m=3, k=3, p=4, padding=1, stride=1, batch=2, adapter=renamed)
    assert result.passed and result.impl == "Conv2D"
    assert check(Conv2D, api="layer", n=9, m=3, k=2, p=2, padding=0, stride=2, adapter=renamed).passed


def test_check_adapts_a_torch_function():
    pytest.importorskip("torch")
    sys.path.insert(0, str(COURSE))
    try:
        import torch_ops
    finally:
        sys.path.remove(str(COURSE))
    assert check(torch_ops.Conv2dOp, **LAYER).passed                                  # found by its type
    assert not check(torch_ops.UnrotatedOp, **LAYER).passed
    assert check(torch_ops.conv, api="torch", **LAYER).passed                         # a function of torch ops


class Rows(HTMLParser):
    """The rows of every <table> in a page, as lists of cell texts, and every <img>/<svg> seen."""

    def __init__(self):
        super().__init__()
        self.rows, self.cell, self.images, self.text = [], None, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag in ("img", "svg", "script", "link", "iframe"):
            self.images.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell += data


def test_a_result_renders_as_a_notebook_shows_it():
    result = check(NO_ROTATION.forward, NO_ROTATION.backward, **LAYER)
    page = Rows()
    page.feed(result._repr_html_())
    header, *rows = page.rows
    assert header == ["tensor", "expected shape", "actual shape", "max abs err", "max rel err", "err/tol",
                      "worst index", "verdict"]
    assert [(row[0], row[1], row[-1]) for row in rows] == [
        ("Y", "(2,3,4,4)", "pass"), ("dL/dX", "(2,2,7,7)", "FAIL"), ("dL/dF", "(3,2,3,3)", "pass"),
        ("dL/db", "(3,)", "pass")]
    text = " ".join(page.text)
    assert "diagnosis: filter-not-rotated" in text and "every coordinate" in text
    assert "smallest failing layer" in text and result.smallest.yaml.splitlines()[0] in text
    assert [tag for tag, _ in page.images] in (["img"], ["svg"])                 # the heatmap, inline
    plain = repr(result)                                                       # what a terminal shows
    assert "dL/dX" in plain and "FAIL" in plain and "\x1b[" not in plain
    passing = Rows()
    passing.feed(check(direct.forward, direct.backward, **LAYER)._repr_html_())
    assert [row[-1] for row in passing.rows[1:]] == ["pass"] * 4 and not passing.images


def test_the_plain_text_stays_text_inside_a_jupyter_kernel(monkeypatch):
    """rich renders to Jupyter's display instead of its file when it finds a kernel; a result's
    text must not (found running a real notebook through nbclient)."""
    import builtins

    class ZMQInteractiveShell:                       # what rich looks for
        pass

    import rich.jupyter
    shown = []
    monkeypatch.setattr(builtins, "get_ipython", lambda: ZMQInteractiveShell(), raising=False)
    monkeypatch.setattr(rich.jupyter, "display", lambda segments, text: shown.append(text))
    from rich.console import Console
    assert Console().is_jupyter                      # rich would display, not write
    text = repr(check(direct.forward, direct.backward, **LAYER))
    assert "dL/dX" in text and "every coordinate" in text and shown == []


def test_several_layers_render_with_their_summary_line():
    results = check(direct.forward, direct.backward, spec=STRIDES)
    assert isinstance(results, Results) and results.passed and len(results) == 4
    page = Rows()
    page.feed(results._repr_html_())
    text = " ".join(page.text)
    assert "4 specs: 4 passed, 0 failed" in text and sum(row[0] == "tensor" for row in page.rows) == 4
    assert "4 specs: 4 passed, 0 failed" in repr(results)


SEGFAULTS = "import ctypes\nfrom convcheck.impls.direct import forward, backward as _backward\n\n" \
            "def backward(dy, x, w, b, **k):\n    print('about to crash')\n    ctypes.string_at(0)\n"
HANGS = "import time\nfrom convcheck.impls.direct import forward, backward as _backward\n\n" \
        "def backward(dy, x, w, b, **k):\n    while True:\n        time.sleep(0.01)\n"


def test_a_file_is_checked_in_a_worker_so_a_crash_or_a_hang_fails_the_assertion_not_the_test_run(tmp_path):
    (tmp_path / "segfaults.py").write_text(SEGFAULTS)
    with pytest.raises(AssertionError, match="backward killed by signal SIGSEGV") as failure:
        assert_conv_backward(str(tmp_path / "segfaults.py"), **LAYER)
    assert "about to crash" in str(failure.value)                        # what it printed, under the table
    (tmp_path / "hangs.py").write_text(HANGS)
    result = check(str(tmp_path / "hangs.py"), timeout=1, **LAYER)
    assert not result.passed and result.error == "backward timed out after 1 s"
    with pytest.raises(ValueError, match="--timeout -1: must be a number of seconds"):
        check(str(tmp_path / "hangs.py"), timeout=-1, **LAYER)


def test_a_script_without_a_main_guard_or_from_stdin_checks_a_file_once(tmp_path):
    """Workers start from a fork server that never runs the caller's __main__ again: a plain
    script (no `if __name__ == "__main__":`) and one piped to python both work."""
    import subprocess
    import sys
    script = ("from convcheck import check\n"
              f"r = check({str(COURSE / 'assignment2' / 'cs231n' / 'layers.py')!r}, api='cs231n', "
              "n=7, m=3, k=3, p=4, padding=1, stride=2)\nprint('checked', r.passed)\n")
    (tmp_path / "plain.py").write_text(script)
    for command, stdin in (([sys.executable, "plain.py"], None), ([sys.executable, "-"], script)):
        done = subprocess.run(command, input=stdin, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout == "checked True\n", done.stdout + done.stderr
