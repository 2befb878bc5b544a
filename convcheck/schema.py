"""The spec file format as a JSON Schema (draft 2020-12), built from the loader's field table
`loader.FIELDS`, so that the two cannot drift. `convcheck schema` prints it; editors use it to
validate and complete spec files. The loader stays the authority: it also refuses what a
schema cannot say (a float such as 3.0 for an int, duplicate keys, an impossible layer)."""

from .loader import FIELDS, MAX_ELEMENTS
from .spec import DTYPES, LAYOUTS, PADDING_NAMES


def _integer(least: int) -> dict:
    return {"type": "integer", "minimum": least}


def _any_case(word: str) -> str:
    """'same' as '[sS][aA][mM][eE]': the loader reads padding names in any case."""
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


def _field(field) -> dict:
    """The JSON Schema of one field's value."""
    kind = field.kind
    if kind == "int":
        schema = _integer(field.least)
    elif kind == "pair":
        schema = {"oneOf": [_integer(field.least),
                            {"type": "array", "items": _integer(field.least), "minItems": 2, "maxItems": 2}]}
    elif kind == "padding":
        names = "|".join(_any_case(name) for name in PADDING_NAMES)
        schema = {"oneOf": [_integer(0), {"type": "array", "items": _integer(0), "minItems": 2, "maxItems": 2},
                            {"type": "array", "items": _integer(0), "minItems": 4, "maxItems": 4},
                            {"type": "string", "pattern": f"^({names})$"}]}
    elif kind == "name":
        schema = {"type": "string", "minLength": 1}
    elif kind == "bool":
        schema = {"type": "boolean"}
    elif kind == "dtype":
        schema = {"enum": list(DTYPES)}
    elif kind == "layout":
        schema = {"enum": list(LAYOUTS)}
    elif kind == "adapter":
        from .impls.layer import NAMES
        schema = {"type": "object", "additionalProperties": False,
                  "properties": {name: {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"} for name in NAMES}}
    elif kind == "tolerance":
        number = {"type": "number", "minimum": 0}
        schema = {"type": "object", "properties": {"rtol": number, "atol": number}, "additionalProperties": False}
    else:
        raise ValueError(f"no schema for field kind {kind!r}")
    return {"description": field.description, **schema}


def spec_schema() -> dict:
    """One layer (a mapping of fields), or `layers:` with optional `defaults:` and `input:`. In the second
    form a layer may leave required fields to `defaults`, which a schema cannot check; the
    loader does."""
    properties = {name: _field(field) for name, field in FIELDS.items()}
    layer = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [name for name, field in FIELDS.items() if field.required]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convcheck layer spec",
        "description": ("2-D convolution layers for `convcheck verify` and `convcheck shapes`. "
                        f"Each tensor of a layer holds at most {MAX_ELEMENTS:,} numbers."),
        "oneOf": [
            {**layer, "required": required},
            {"type": "object", "required": ["layers"], "additionalProperties": False,
             "properties": {"defaults": layer,
                            "layers": {"type": "array", "minItems": 1, "items": layer},
                            "input": {"description": "a network: each layer's k and n default to the previous "
                                                     "layer's p and output size, the first layer's to these",
                                      "type": "object", "required": ["k", "n"], "additionalProperties": False,
                                      "properties": {"k": _field(FIELDS["k"]), "n": _field(FIELDS["n"])}}}},
        ],
    }
