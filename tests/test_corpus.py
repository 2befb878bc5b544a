"""The hardening corpus (tests/corpus/): bad spec files and hostile plug-ins through `convcheck verify`.

Each bad spec, and each plug-in that cannot be imported, exits 2 with one line naming the file;
each plug-in that misbehaves at run time fails its layer with one line saying what it did and
exits 1, while the other layers are still checked. Never a traceback, never a hang: every run
has --timeout 3 and the whole corpus runs in seconds.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcheck.cli import app

CORPUS = Path(__file__).parent / "corpus"
SPECS, PLUGINS = CORPUS / "specs", CORPUS / "plugins"
GOOD = Path(__file__).parent.parent / "configs" / "valid_square.yaml"
runner = CliRunner()

BAD_SPECS = {  # file -> what its one line must say (after 'convcheck: error: <file>')
    "malformed.yaml": ":3: not valid YAML",
    "string_for_int.yaml": "field 'n': must be an integer >= 1, got 'nine'",
    "float_for_int.yaml": "field 'm': must be an integer >= 1, got 3.0",
    "fractional_int.yaml": "field 'k': must be an integer >= 1, got 3.5",
    "bool_for_int.yaml": "field 'n': must be an integer >= 1, got True",
    "nan_tolerance.yaml": "rtol must be a finite number >= 0, got nan",
    "inf_tolerance.yaml": "atol must be a finite number >= 0, got inf",
    "empty.yaml": "expected a mapping with the layer's fields",
    "comment_only.yaml": "expected a mapping with the layer's fields",
    "empty_layers.yaml": "'layers' must be a non-empty list",
    "duplicate_key.yaml": "key 'stride' appears twice in one mapping (lines 7 and 8)",
    "duplicate_key_nested.yaml": "key 'dtype' appears twice in one mapping (lines 2 and 3)",
    "alias_bomb.yaml": "expands to more than 100,000 values through its aliases",
    "python_tag.yaml": "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply",
    "binary.yaml": "cannot read: 'utf-8' codec can't decode",
    "invalid_utf8.yaml": "cannot read: 'utf-8' codec can't decode",
    "tab_indent.yaml": ":3: not valid YAML: found character '\\t'",
    "zero_stride.yaml": "field 'stride': must be an integer >= 1, got 0",
    "negative_filters.yaml": "field 'p': must be an integer >= 1, got -2",
    "filter_larger_than_input.yaml": "field 'm': filter height 7 is larger than the padded input height",
    "unknown_field.yaml": "field 'strides': unknown field; did you mean 'stride'?",
    "bad_padding_word.yaml": "unknown name 'sme'; did you mean 'same'?",
    "bad_padding_list.yaml": "field 'padding': got [1, 2, 3]; valid:",
    "bad_stride_list.yaml": "field 'stride': must be an integer or a list of 2 (dims = 2, the default), got a list "
                            "of 3",
    "bad_dtype.yaml": "field 'dtype': must be one of float64, float32, float16, bfloat16, got 'int8'",
    "list_of_scalars.yaml": "expected a mapping with the layer's fields",
    "layer_not_a_mapping.yaml": "layer #1 must be a mapping of fields",
    "missing_field.yaml": "field 'k': missing",
    "two_documents.yaml": "not valid YAML: but found another document",
    "negative_seed.yaml": "field 'seed': must be an integer >= 0, got -1",
    "duplicate_layer_name.yaml": "two layers are named 'same'",
    "huge_layer.yaml": "would hold 1,280,000,000,000 numbers",
    "no_specs": "directory holds no *.yaml or *.yml files",
    "dims_float.yaml": "field 'dims': must be 1, 2 or 3, got 2.0",
    "non_string_key.yaml": "unknown top-level key 1 (a file with 'layers:' may only also hold",
    "null_key.yaml": "a key must be a field's name (text), got None",
    "nul_byte.yaml": ":2: not valid YAML: unacceptable character #x0000",
    "esc_byte.yaml": ":2: not valid YAML: unacceptable character #x001b",
    "nested_3000.yaml": "nested deeper than Python can read",
    "integer_4401_digits.yaml": "holds a value Python cannot read: Exceeds the limit (4300 digits)",
    "surrogate_name.yaml": "field 'name': must be printable text (no control characters, tabs or line breaks), "
                           "got '\\ud800'",
    "escape_in_name.yaml": "field 'name': must be printable text (no control characters, tabs or line breaks), "
                           "got 'conv\\x1b]0;pwned\\x07'",
    "huge_stride.yaml": "field 'stride': must be an integer from 1 to 2,147,483,647, got 100000000000000000000",
    "groups_of_a_huge_gcd.yaml": "valid: 1, 2, 3, 6, 7, 9, 11, 14, 18, 21, 22, 31, … (192 divisors of 2147483646",
    "huge_dilation.yaml": "field 'dilation': dilation 1000000 spreads the filter's 3 taps over d·(m − 1) + 1 = "
                          "2000001 input rows, more than the padded input height n + top + bottom = 5, so the "
                          "output size is 0; valid: dilation <= 2",
}

UNIMPORTABLE = {  # plug-in -> its one line (exit 2)
    "python2_syntax.py": "importing it failed (line 4): SyntaxError: Missing parentheses in call to 'print'",
    "missing_sibling.py": "importing it failed: ModuleNotFoundError: No module named 'conv_helpers'",
    "no_backward.py": "defines no backward function",
    "import_segfaults.py": "the worker importing it was killed by signal SIGSEGV",
    "import_exits.py": "the worker importing it exited with code 0",
    "import_hangs.py": "the worker importing it timed out after 3 s",
}

MISBEHAVING = {  # plug-in -> the line its failed layer shows (exit 1)
    "raises.py": "backward raised IndexError: index 9 is out of bounds for axis 0 with size 2 "
                 "(raises.py:6 in _scatter: `return dx[i]`)",
    "hangs_backward.py": "error: backward timed out after 3 s",
    "hangs_forward.py": "error: forward timed out after 3 s",
    "segfaults_forward.py": "error: forward killed by signal SIGSEGV",
    "segfaults_backward.py": "error: backward killed by signal SIGSEGV",
    "exits_backward.py": "error: backward exited with code 3",
    "aborts_backward.py": "error: backward killed by signal SIGABRT",
    "killed_backward.py": "error: backward killed by signal SIGKILL (out of memory?)",
    "sys_exit_forward.py": "forward raised SystemExit: 4 (sys_exit_forward.py:8 in forward: `sys.exit(4)`)",
    "raises_keyboard_interrupt.py": "error: the check could not finish: KeyboardInterrupt "
                                    "(raises_keyboard_interrupt.py:6 in backward)",
    "recurses.py": "backward raised RecursionError: maximum recursion depth exceeded (recurses.py:6 in backward: "
                   "`return backward(dy, x, w, b, stride=stride, padding=padding)`)",
    "mutates_inputs.py": "backward wrote into its argument dy (in place)",
    "returns_nan.py": "dL/dX: holds 1 non-finite values, first at (0, 0, 0, 5)",
    "wrong_shape.py": "dL/dF: shape (3, 4, 3, 3), but the spec gives (4, 3, 3, 3)",
    "wrong_dtype.py": "dL/dX: dtype float32, expected float64 (the spec's dtype)",
    "returns_none.py": "backward returned NoneType, expected a tuple (dx, dw, db)",
    "returns_garbage.py": "dL/dX: shape ('t', 'a', 'l', 'l'), but the spec gives (2, 3, 9, 9)",
    "huge_allocation.py": "backward raised MemoryError: Unable to allocate",
    "fixed_batch.py": "Y: shape (1, 4, 7, 7), but the spec gives (2, 4, 7, 7)",
    "first_call_only.py": "(though right on a second draw of x, w and b called just before: the forward's answer "
                          "depends on more than its inputs, a cache or a counter, or on their values)",
    "reused_buffer.py": "dL/db: 4 of 4 checked elements off; worst at (0,): got 0, expected 17.0777",
    "object_dtype.py": "Y: dtype object, expected float64 (the spec's dtype)",
    "nan_on_batches.py": "Y: holds 392 non-finite values, first at (0, 0, 0, 0)",
    "control_characters.py": "dL/dX: backward raised ValueError: \\x1b[2J\\x00bad\\x0d\\x0a::error file=ci.yml::pwned"
                             "\\x1b[0m (control_characters.py:14 in backward)",
}


def run(*args):
    return runner.invoke(app, ["verify", *map(str, args), "--timeout", "3"])


def test_the_corpus_is_what_this_file_expects():
    assert sorted(BAD_SPECS) == sorted(p.name for p in SPECS.iterdir())
    assert sorted({**UNIMPORTABLE, **MISBEHAVING, "prints.py": None}) == sorted(p.name for p in PLUGINS.glob("*.py"))
    assert len(BAD_SPECS) + len(UNIMPORTABLE) + len(MISBEHAVING) >= 30


@pytest.mark.parametrize("name", sorted(BAD_SPECS))
def test_bad_spec_exits_2_with_one_line_naming_the_file(name):
    result = run(SPECS / name)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"convcheck: error: {SPECS / name}") and result.stderr.count("\n") == 1
    assert BAD_SPECS[name] in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", sorted(UNIMPORTABLE))
def test_unimportable_plugin_exits_2_with_one_line(name):
    result = run(GOOD, "--impl", PLUGINS / name)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"convcheck: error: --impl {PLUGINS / name}: ")
    assert result.stderr.count("\n") == 1 and UNIMPORTABLE[name] in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", sorted(MISBEHAVING))
def test_misbehaving_plugin_fails_its_layer_and_exits_1(name):
    result = run(GOOD, "--impl", PLUGINS / name, "--quiet")
    assert result.exit_code == 1, result.output
    assert MISBEHAVING[name] in result.stdout
    assert "1 spec: 0 passed, 1 failed" in result.stdout
    assert "Traceback" not in result.output


def test_a_crash_fails_only_its_layer_and_the_next_layers_are_checked(tmp_path):
    """A plug-in that segfaults on one layer shape: that layer fails, a fresh worker checks the rest."""
    plugin = tmp_path / "picky.py"
    plugin.write_text("import ctypes\nfrom convcheck.impls.direct import forward, backward as _backward\n\n"
                      "def backward(dy, x, w, b, *, stride, padding):\n"
                      "    if x.shape[2] == 8:\n        ctypes.string_at(0)\n"
                      "    return _backward(dy, x, w, b, stride=stride, padding=padding)\n")
    spec = tmp_path / "three.yaml"
    spec.write_text("defaults: {padding: valid, stride: 1, m: 3, k: 2, p: 2}\nlayers:\n"
                    "  - {name: a, n: 9}\n  - {name: b, n: 8}\n  - {name: c, n: 7}\n")
    for jobs in ("1", "2"):
        result = run(spec, "--impl", plugin, "--jobs", jobs, "--format", "json")
        assert result.exit_code == 1
        import json
        data = json.loads(result.stdout)
        assert [(s["name"], s["passed"], s["error"]) for s in data["specs"]] == [
            ("a", True, None), ("b", False, "backward killed by signal SIGSEGV"), ("c", True, None)]


def test_a_plugin_printing_on_stdout_cannot_corrupt_a_report_written_there():
    """A whole process: the worker's stdout is the terminal's, so only a real run shows this."""
    import json
    import shutil
    import subprocess
    done = subprocess.run([shutil.which("convcheck"), "verify", str(GOOD), "--impl", str(PLUGINS / "prints.py"),
                           "--format", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["passed"] == 1
    assert "forward called {" not in done.stdout + done.stderr          # captured, and the layer passed
    shown = subprocess.run([shutil.which("convcheck"), "verify", str(GOOD), "--impl", str(PLUGINS / "prints.py"),
                            "--show-output"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "    | forward called {" in shown.stdout and "forward" not in shown.stderr
