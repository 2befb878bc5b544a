from pathlib import Path

import pytest

from convcheck.errors import SpecError
from convcheck.geometry import geometry
from convcheck.loader import load_specs

CONFIGS = Path(__file__).parent.parent / "configs"


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path, text) -> str:
    with pytest.raises(SpecError) as e:
        load_specs(write(tmp_path, text))
    message = str(e.value)
    assert "\n" not in message
    return message


LAYER = "n: 8\nm: 3\nk: 2\np: 4\npadding: valid\nstride: 1\n"


def test_single_layer_file(tmp_path):
    (spec,) = load_specs(write(tmp_path, "name: a\n" + LAYER))
    assert (spec.n, spec.m, spec.k, spec.p, spec.padding, spec.stride) == ((8, 8), (3, 3), 2, 4, "valid", (1, 1))
    assert (spec.batch, spec.bias, spec.dtype, spec.seed) == (None, True, "float64", 0)     # batch: none set
    assert spec.batch_size == 1 and geometry(spec).shapes["x"] == (1, 2, 8, 8)              # shapes use 1
    assert spec.source.endswith("spec.yaml") and spec.line == 1


def test_pairs_padding_forms_and_optionals(tmp_path):
    text = ("n: [8, 6]\nm: [3, 1]\nk: 1\np: 1\nstride: [2, 1]\npadding: [1, 2]\nbatch: 3\nbias: false\n"
            "dtype: float32\nseed: 7\ntolerance: {rtol: 0.01, atol: 0.001}\n")
    (spec,) = load_specs(write(tmp_path, text))
    assert spec.n == (8, 6) and spec.m == (3, 1) and spec.stride == (2, 1)
    assert spec.padding == (1, 1, 2, 2)
    assert (spec.batch, spec.bias, spec.dtype, spec.seed, spec.rtol, spec.atol) == (3, False, "float32", 7, 0.01, 0.001)


@pytest.mark.parametrize("padding,expected", [("3", (3, 3, 3, 3)), ("[1, 2, 3, 4]", (1, 2, 3, 4)),
                                              ("same", "same"), ("full", "full"), ("SAME", "same")])
def test_padding_forms(tmp_path, padding, expected):
    (spec,) = load_specs(write(tmp_path, LAYER.replace("padding: valid", f"padding: {padding}")))
    assert spec.padding == expected


def test_layers_with_defaults_and_line_numbers(tmp_path):
    text = ("defaults:\n  k: 2\n  p: 3\n  padding: same\n  stride: 1\n"
            "layers:\n  - n: 5\n    m: 3\n  - name: big\n    n: 9\n    m: 5\n    p: 7\n")
    first, second = load_specs(write(tmp_path, text))
    assert first.name == "spec[1]" and first.line == 7 and first.p == 3
    assert second.name == "big" and second.line == 9 and second.p == 7 and second.padding == "same"


def test_directory_is_searched_for_yaml_and_yml(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path, LAYER, "a.yaml")
    write(tmp_path / "sub", LAYER, "b.yml")
    write(tmp_path, "not: a spec", "c.txt")
    assert [Path(s.source).name for s in load_specs(tmp_path)] == ["a.yaml", "b.yml"]


def test_shipped_configs_load():
    specs = load_specs(CONFIGS)
    assert len(specs) >= 9
    seed001 = next(s for s in specs if s.name.startswith("5x100x100"))
    assert (seed001.n, seed001.m, seed001.k, seed001.p) == ((100, 100), (5, 5), 5, 10)


def test_typo_gets_did_you_mean_with_file_line_layer_field(tmp_path):
    message = error_of(tmp_path, "name: conv1\n" + LAYER.replace("stride: 1", "strde: 1"))
    assert "spec.yaml:7" in message and "layer 'conv1'" in message and "field 'strde'" in message
    assert "did you mean 'stride'?" in message


@pytest.mark.parametrize("change,field,needle", [
    (("k: 2", "k: 0"), "k", "integer >= 1"),
    (("k: 2", "k: 2.5"), "k", "integer >= 1"),
    (("k: 2", "k: true"), "k", "integer >= 1"),
    (("n: 8", "n: [8, 8, 8, 8]"), "n", "a list of 1 to 3 of them (one per spatial axis), got a list of 4"),
    (("n: 8", "n: [8, 8, 8]\ndims: 2"), "n", "a list of 2 (dims = 2, from dims), got a list of 3"),
    (("stride: 1", "stride: [1, 1, 1]"), "stride", "a list of 2 (dims = 2, the default)"),
    (("n: 8\nm: 3", "n: [8, 8]\nm: [3, 3, 3]"), "m", "a list of 2 (dims = 2, from the length of n), got a list of 3"),
    (("p: 4", "p: 4\ndims: 4"), "dims", "must be 1, 2 or 3"),
    (("padding: valid", "padding: sme"), "padding", "did you mean 'same'?"),
    (("padding: valid", "padding: -1"), "padding", "valid: an int >= 0"),
    (("padding: valid", "padding: [1, 2, 3]"), "padding", "[top, bottom, left, right]"),
    (("stride: 1", "stride: 0"), "stride", "integer >= 1"),
    (("m: 3", "m: 12"), "m", "larger than the padded input"),
    (("p: 4", "p: 4\ndtype: float8"), "dtype", "float64, float32, float16, bfloat16"),
    (("p: 4", "p: 4\nbias: maybe"), "bias", "true or false"),
    (("p: 4", "p: 4\ntolerance: 0.1"), "tolerance", "rtol and/or atol"),
])
def test_invalid_fields_name_the_field_and_what_is_valid(tmp_path, change, field, needle):
    message = error_of(tmp_path, LAYER.replace(*change))
    assert f"field '{field}'" in message and needle in message


def test_missing_required_field(tmp_path):
    assert "field 'padding': missing" in error_of(tmp_path, LAYER.replace("padding: valid\n", ""))


@pytest.mark.parametrize("text,needle", [
    ("n: [1, 2\n", "not valid YAML"),
    ("", "expected a mapping"),
    ("- 1\n- 2\n", "expected a mapping"),
    ("layers: []\n", "non-empty list"),
    ("layers:\n  - 3\n", "layer #1 must be a mapping"),
    ("layer:\n  - n: 3\n", "unknown field"),
    ("defaults: {k: 1}\nlayers:\n  - " + LAYER.replace("\n", "\n    ") + "\nextra: 1\n",
     "unknown top-level key 'extra'"),
    ("!!python/object/apply:os.system ['echo hi']\n", "not valid YAML"),
])
def test_malformed_files(tmp_path, text, needle):
    assert needle in error_of(tmp_path, text)


def test_missing_path_and_empty_directory(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_specs(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="no \\*.yaml"):
        load_specs(tmp_path)


def test_huge_layers_are_refused_not_swapped(tmp_path):
    message = error_of(tmp_path, LAYER.replace("n: 8", "n: 20000").replace("m: 3", "m: 3\nbatch: 8"))
    assert "field 'n'" in message and "up to 20,000,000" in message


def test_impossible_layer_points_at_the_filter_line(tmp_path):
    message = error_of(tmp_path, "name: tiny\nn: 3\nm: 5\nk: 1\np: 1\npadding: 0\nstride: 1\n")
    assert message.startswith(str(tmp_path / "spec.yaml") + ":3: layer 'tiny': field 'm':")


def test_a_duplicate_key_is_refused_naming_both_lines(tmp_path):
    message = error_of(tmp_path, LAYER + "stride: 2\n")
    assert "key 'stride' appears twice in one mapping (lines 6 and 7)" in message and message.startswith(
        str(tmp_path / "spec.yaml") + ":7")
    nested = "defaults:\n  k: 2\n  k: 3\nlayers:\n  - {n: 5, m: 3, p: 1, padding: 0, stride: 1}\n"
    assert "key 'k' appears twice in one mapping (lines 2 and 3)" in error_of(tmp_path, nested)
    in_a_layer = "layers:\n  - n: 5\n    m: 3\n    n: 6\n"
    assert "(lines 2 and 4)" in error_of(tmp_path, in_a_layer)


def test_merge_keys_and_small_aliases_still_work(tmp_path):
    text = ("layers:\n  - &base {n: 8, m: 3, k: 2, p: 4, padding: valid, stride: 1, name: a}\n"
            "  - <<: *base\n    name: b\n    stride: 2\n")
    first, second = load_specs(write(tmp_path, text))
    assert (first.stride, second.stride, second.n) == ((1, 1), (2, 2), (8, 8))


def test_an_alias_bomb_is_refused_before_it_is_built(tmp_path):
    levels = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    message = error_of(tmp_path, "\n".join(levels) + "\n" + LAYER.replace("n: 8", "n: *a9"))
    assert "expands to more than 100,000 values through its aliases" in message


def test_python_tags_binary_files_and_empty_files_are_refused(tmp_path):
    assert "not valid YAML" in error_of(tmp_path, "!!python/object/apply:os.system ['true']\n")
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)))
    with pytest.raises(SpecError, match="cannot read"):
        load_specs(tmp_path / "bin.yaml")
    assert "expected a mapping" in error_of(tmp_path, "")


@pytest.mark.parametrize("value,needle", [("3.0", "integer >= 1, got 3.0"), ("3.5", "got 3.5"),
                                          ("[8, 6.5]", "got 6.5")])
def test_floats_are_not_ints(tmp_path, value, needle):
    assert needle in error_of(tmp_path, LAYER.replace("n: 8", f"n: {value}"))


@pytest.mark.parametrize("value", [".nan", ".inf", "-1", "true"])
def test_tolerances_must_be_finite_numbers(tmp_path, value):
    assert "finite number >= 0" in error_of(tmp_path, LAYER + f"tolerance: {{rtol: {value}}}\n")


def test_a_huge_value_is_cut_short_in_the_message(tmp_path):
    message = error_of(tmp_path, LAYER.replace("k: 2", "k: [" + ", ".join(["1"] * 10000) + "]"))
    assert len(message) < 400


NETWORK = """input: {k: 3, n: 32}
defaults: {m: 3, stride: 1, padding: 1}
layers:
  - {name: first, p: 8, stride: 2}
  - {name: second, p: 16}
  - {name: third, p: 4, m: [3, 5], padding: valid}
"""


def test_a_network_file_feeds_each_layer_the_previous_output(tmp_path):
    (tmp_path / "net.yaml").write_text(NETWORK)
    first, second, third = load_specs(tmp_path / "net.yaml")
    assert (first.k, first.n, second.k, second.n, third.k, third.n) == (3, (32, 32), 8, (16, 16), 16, (16, 16))
    assert all(s.chained for s in (first, second, third))
    plain = tmp_path / "plain.yaml"
    plain.write_text(NETWORK.replace("input: {k: 3, n: 32}\n", "").replace("defaults: {", "defaults: {k: 3, n: 9, "))
    assert not any(s.chained for s in load_specs(plain))


@pytest.mark.parametrize("layer, needle", [
    ("{name: second, p: 16, k: 6}", "net.yaml:5: layer 'second': field 'k': k = 6, but layer 'first' outputs "
                                    "p = 8 channels"),
    ("{name: second, p: 16, n: 32}", "net.yaml:5: layer 'second': field 'n': n = 32 x 32, but layer 'first' outputs "
                                     "16 x 16: o_h = (n + top + bottom - m) // s + 1 = (32 + 1 + 1 - 3) // 2 + 1 = 16"),
])
def test_a_layer_that_disagrees_with_the_one_before_names_both_and_the_formula(tmp_path, layer, needle):
    (tmp_path / "net.yaml").write_text(NETWORK.replace("{name: second, p: 16}", layer))
    with pytest.raises(SpecError) as e:
        load_specs(tmp_path / "net.yaml")
    assert needle in str(e.value)


def test_stating_the_fed_k_and_n_is_allowed(tmp_path):
    (tmp_path / "net.yaml").write_text(NETWORK.replace("{name: second, p: 16}", "{name: second, p: 16, k: 8, n: 16}"))
    assert load_specs(tmp_path / "net.yaml")[1].k == 8


@pytest.mark.parametrize("change, needle", [
    (("input: {k: 3, n: 32}", "input: {k: 3}"), "'input' must be a mapping {k: channels, n: size or [h, w]}"),
    (("input: {k: 3, n: 32}", "input: {k: 0, n: 32}"), "field 'input.k': must be an integer >= 1, got 0"),
    (("defaults: {", "defaults: {k: 3, "), "each layer's k comes from the layer before it; remove 'k' from"),
    (("{name: first, p: 8, stride: 2}", "{name: first, p: 8, k: 4}"), "k = 4, but 'input' gives k = 3 channels"),
    (("input:", "inptu:"), "unknown top-level key 'inptu'; did you mean 'input'?"),
    (("third, p: 4, m: [3, 5]", "third, p: 4, m: [17, 5]"), "field 'm': filter height 17 is larger than"),
])
def test_bad_network_files_are_one_line(tmp_path, change, needle):
    (tmp_path / "net.yaml").write_text(NETWORK.replace(*change))
    with pytest.raises(SpecError) as e:
        load_specs(tmp_path / "net.yaml")
    assert needle in str(e.value)


def test_a_folder_passes_over_yaml_that_is_no_spec_and_hidden_folders(tmp_path):
    """`convcheck verify .` in a repository: its workflow and environment files are not layers."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("on: push\njobs: {}\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "layer.yaml").write_text("name: h\n" + LAYER)           # a hidden folder: not searched
    (tmp_path / "environment.yml").write_text("name: env\ndependencies: [numpy]\n")
    (tmp_path / "layers").mkdir()
    write(tmp_path / "layers", "name: a\n" + LAYER)
    skipped = []
    assert [s.name for s in load_specs(tmp_path, skipped)] == ["a"] and skipped == [tmp_path / "environment.yml"]
    with pytest.raises(SpecError, match="unknown field"):                        # named on its own: read as a spec
        load_specs(tmp_path / "environment.yml")
    (tmp_path / "environment.yml").write_text("name: env\ndependencies: [numpy]\nn: 5\n")   # looks like one: read
    with pytest.raises(SpecError, match="field 'dependencies': unknown field"):
        load_specs(tmp_path)
    from typer.testing import CliRunner

    from convcheck.cli import app
    (tmp_path / "environment.yml").write_text("name: env\n")
    result = CliRunner().invoke(app, ["verify", str(tmp_path), "-q"])
    assert result.exit_code == 0 and "skipped 1 YAML file that holds no layer spec" in result.stderr
    assert "environment.yml" in result.stderr and "1 spec: 1 passed" in result.stdout


def test_a_file_marked_only_by_name_is_passed_over_by_a_directory_run_and_read_when_named(tmp_path):
    network = "only_by_name: true\ndefaults: {m: 3, k: 2, p: 2, padding: 1, stride: 1}\nlayers:\n  - n: 8\n  - n: 4\n"
    write(tmp_path, LAYER, "a.yaml")
    write(tmp_path, network, "big.yaml")
    assert [Path(s.source).name for s in load_specs(tmp_path)] == ["a.yaml"]
    assert [s.n for s in load_specs(tmp_path / "big.yaml")] == [(8, 8), (4, 4)]
    write(tmp_path, network.replace("true", "'yes'"), "bad.yaml")
    with pytest.raises(SpecError, match="'only_by_name' must be true or false, got 'yes'"):
        load_specs(tmp_path / "bad.yaml")


def test_the_resnet50_file_holds_its_53_convolutions():
    """torchvision's resnet50 at 224 x 224: 53 conv layers, 4.1 GFLOP of multiply-adds forward
    (2 p k prod(m) prod(o) each), and each layer's input size the previous stage's output."""
    specs = load_specs(CONFIGS / "resnet50.yaml")
    assert len(specs) == 53 and all(s.batch == 1 and not s.bias for s in specs)
    flop = sum(2 * s.p * s.k * s.m[0] * s.m[1] * geometry(s).out[0] * geometry(s).out[1] for s in specs)
    assert abs(flop / 2e9 - 4.09) < 0.01                # 4.09 G multiply-adds, as published for ResNet-50
    assert not any(Path(s.source).name == "resnet50.yaml" for s in load_specs(CONFIGS))
