"""The spec file format as a JSON Schema (draft 2020-12), built from the loader's field table
`fields.FIELDS`, so that the two cannot drift. `convcheck schema` prints it; editors use it to
validate and complete spec files. The loader stays the authority: it also refuses what a
schema cannot say (a float such as 3.0 for an int, duplicate keys, an impossible layer)."""

from .fields import DIMS, FIELDS, MAX_INT
from .loader import MAX_ELEMENTS
from .spec import DTYPES, LAYOUTS, PADDING_NAMES


def _integer(least: int) -> dict:
    return {"type": "integer", "minimum": least, "maximum": MAX_INT}


def _any_case(word: str) -> str:
    """'same' as '[sS][aA][mM][eE]': the loader reads padding names in any case."""
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


def _field(field) -> dict:
    """The JSON Schema of one field's value."""
    kind = field.kind
    if kind == "int":
        schema = _integer(field.least)
    elif kind == "axes":                       # one per spatial axis: the loader checks the length against dims
        schema = {"oneOf": [_integer(field.least),
                            {"type": "array", "items": _integer(field.least), "minItems": 1, "maxItems": max(DIMS)}]}
    elif kind == "dims":
        schema = {"enum": list(DIMS)}
    elif kind == "padding":                    # one per axis, or (before, after) per axis
        names = "|".join(_any_case(name) for name in PADDING_NAMES)
        schema = {"oneOf": [_integer(0), {"type": "array", "items": _integer(0), "minItems": 1,
                                          "maxItems": 2 * max(DIMS)},
                            {"type": "string", "pattern": f"^({names})$"}]}
    elif kind == "name":                       # printable: no control characters, line breaks or lone surrogates
        schema = {"type": "string", "minLength": 1,
                  "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\ud800-\\udfff]+$"}
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


def _per_dims(dims: int) -> dict:
    """A layer of `dims` spatial axes: its per-axis fields hold an int or `dims` of them, its
    padding an int, `dims` ints or 2 `dims`; and dims says so, or (absent) the length of n or m
    does, or neither is a list and dims is the default 2."""
    axes = {"oneOf": [{"type": "integer"}, {"type": "array", "minItems": dims, "maxItems": dims}]}
    padding = {"oneOf": [{"type": ["integer", "string"]}, {"type": "array", "minItems": dims, "maxItems": dims},
                         {"type": "array", "minItems": 2 * dims, "maxItems": 2 * dims}]}
    said = [{"required": ["dims"], "properties": {"dims": {"const": dims}}}]
    implied = [{"required": [key], "properties": {key: {"type": "array"}}} for key in ("n", "m")]
    if dims == 2:
        implied.append({"not": {"anyOf": implied[:]}})
    return {"properties": {**{key: axes for key in ("n", "m", "stride", "dilation", "output_padding")},
                           "padding": padding},
            "anyOf": said + [{"not": {"required": ["dims"]}, "anyOf": implied}]}


def _transposed_rules() -> dict:
    """A single layer's output_padding needs transposed: true; a transposed layer's padding is
    ints, never 'same' or 'full' (the loader says so for layers that take them from defaults)."""
    named = {"type": "string", "pattern": f"^({_any_case('same')}|{_any_case('full')})$"}
    return {"dependentSchemas": {"output_padding": {"required": ["transposed"],
                                                    "properties": {"transposed": {"const": True}}}},
            "if": {"required": ["transposed"], "properties": {"transposed": {"const": True}}},
            "then": {"properties": {"padding": {"not": named}}}}


def spec_schema() -> dict:
    """One layer (a mapping of fields), or `layers:` with optional `defaults:` and `input:`. A
    single layer's per-axis fields are checked against its dims; in the second form a layer may
    leave fields, dims among them, to `defaults`, which a schema cannot check; the loader does."""
    properties = {name: _field(field) for name, field in FIELDS.items()}
    layer = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [name for name, field in FIELDS.items() if field.required]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convcheck layer spec",
        "description": ("1-D, 2-D and 3-D convolution layers for `convcheck verify` and `convcheck shapes`. "
                        f"Each tensor of a layer holds at most {MAX_ELEMENTS:,} numbers."),
        "oneOf": [
            {**layer, "required": required, "oneOf": [_per_dims(dims) for dims in DIMS], **_transposed_rules()},
            {"type": "object", "required": ["layers"], "additionalProperties": False,
             "properties": {"defaults": layer,
                            "layers": {"type": "array", "minItems": 1, "items": layer},
                            "only_by_name": {"description": "true: a directory run passes the file over (a network "
                                                            "too large for a CI job); named on its own it is checked",
                                             "type": "boolean"},
                            "input": {"description": "a network: each layer's k and n default to the previous "
                                                     "layer's p and output size, the first layer's to these",
                                      "type": "object", "required": ["k", "n"], "additionalProperties": False,
                                      "properties": {"k": _field(FIELDS["k"]), "n": _field(FIELDS["n"])}}}},
        ],
    }
