"""`convcheck schema`: every example spec validates, and bad specs are refused by the schema
and the loader alike."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from convcheck.cli import app
from convcheck.errors import SpecError
from convcheck.loader import FIELDS, load_specs
from convcheck.schema import spec_schema

CONFIGS = Path(__file__).parent.parent / "configs"
LAYER = {"n": 8, "m": 3, "k": 2, "p": 4, "padding": "valid", "stride": 1}


def validator():
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_command_prints_the_schema():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == spec_schema()


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_spec_validates(path):
    validator().validate(yaml.safe_load(path.read_text()))
    assert load_specs(path)


def test_every_field_of_the_loader_is_in_the_schema():
    single = spec_schema()["oneOf"][0]
    assert set(single["properties"]) == set(FIELDS)
    assert set(single["required"]) == {name for name, field in FIELDS.items() if field.required}


GOOD = [
    LAYER,
    {**LAYER, "n": [8, 6], "m": [3, 1], "padding": [1, 2, 3, 4], "stride": [2, 1], "batch": 2, "bias": False,
     "dtype": "float32", "seed": 3, "tolerance": {"rtol": 0.01}, "name": "a"},
    {**LAYER, "padding": "SAME"},
    {**LAYER, "n": 50, "m": 5, "dims": 1, "padding": [2, 1]},
    {**LAYER, "n": [9, 8, 7], "padding": [1, 0, 1], "stride": [1, 2, 1]},
    {**LAYER, "dims": 3, "padding": [1, 1, 0, 0, 2, 2]},
    {"defaults": {"k": 2, "p": 3, "padding": 1, "stride": 1}, "layers": [{"n": 5, "m": 3}, {"n": 9, "m": 5}]},
    {"input": {"k": 3, "n": [8, 6]}, "defaults": {"m": 3, "padding": 1, "stride": 1}, "layers": [{"p": 4}, {"p": 2}]},
]
BAD = [
    ({**LAYER, "strid": 1}, "unknown field"),
    ({key: value for key, value in LAYER.items() if key != "k"}, "missing"),
    ({**LAYER, "k": 0}, "integer >= 1"),
    ({**LAYER, "k": "two"}, "integer >= 1"),
    ({**LAYER, "n": [8, 6, 4, 2]}, "a list of 1 to 3"),
    ({**LAYER, "n": [8, 6, 4], "m": [3, 3]}, "a list of 3"),
    ({**LAYER, "dims": 1, "stride": [1, 2]}, "a list of 1"),
    ({**LAYER, "padding": "half"}, "unknown name"),
    ({**LAYER, "padding": [1, 2, 3]}, "padding"),
    ({**LAYER, "padding": -1}, "padding"),
    ({**LAYER, "dtype": "float8"}, "dtype"),
    ({**LAYER, "bias": "yes"}, "true or false"),
    ({**LAYER, "name": ""}, "non-empty string"),
    ({**LAYER, "tolerance": {"rtol": -1}}, "finite number >= 0"),
    ({**LAYER, "tolerance": {"rel": 0.1}}, "rtol and/or atol"),
    ({**LAYER, "seed": -3}, "integer >= 0"),
    ({"layers": []}, "non-empty list"),
    ({"layers": [LAYER], "extra": 1}, "unknown top-level key"),
    ({"input": {"k": 3}, "layers": [{"p": 4, "m": 3, "padding": 1, "stride": 1}]}, "'input' must be a mapping"),
    ({"input": {"k": 3, "n": 0}, "layers": [{"p": 4, "m": 3, "padding": 1, "stride": 1}]}, "integer >= 1"),
    ([LAYER], "expected a mapping"),
]


@pytest.mark.parametrize("data", GOOD)
def test_good_specs_pass_both(data, tmp_path):
    validator().validate(data)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_specs(path)


@pytest.mark.parametrize("data,message", BAD, ids=[m for _, m in BAD])
def test_bad_specs_fail_both(data, message, tmp_path):
    assert not validator().is_valid(data)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=message):
        load_specs(path)


CORPUS = Path(__file__).parent / "corpus" / "specs"
BEYOND_THE_SCHEMA = {
    # what JSON Schema cannot see, which the loader refuses (tests/test_corpus.py):
    "float_for_int.yaml",             # 3.0 is an integer to JSON Schema, a float to YAML
    "duplicate_key.yaml", "duplicate_key_nested.yaml",  # parsers keep the last value
    "filter_larger_than_input.yaml",  # arithmetic across fields
    "huge_layer.yaml",                # a product of fields
    "duplicate_layer_name.yaml",      # uniqueness of a field across list items
    "nan_tolerance.yaml", "inf_tolerance.yaml",  # JSON has no NaN or infinity to bound
    "dims_float.yaml",                # 2.0 is the integer 2 to JSON Schema
    "huge_dilation.yaml", "groups_of_a_huge_gcd.yaml",  # arithmetic across fields
}


@pytest.mark.parametrize("path", sorted(p for p in CORPUS.glob("*.yaml")), ids=lambda p: p.name)
def test_corpus_specs_that_are_yaml_fail_the_schema_unless_listed(path):
    if path.name == "alias_bomb.yaml":
        pytest.skip("expands to 387 million values: the loader's job, not a validator's")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError):
        pytest.skip("not YAML a parser reads: no schema applies")
    if data is None:
        pytest.skip("empty: no document to validate")
    valid = validator().is_valid(data)
    assert valid == (path.name in BEYOND_THE_SCHEMA)
