"""The spec format's fields: `FIELDS`, the one table of what each field takes and means (the
loader validates with it, `schema` turns it into a JSON Schema), and the validators that turn
a field's YAML value into what `ConvSpec` holds, or fail naming the field and what is valid.
"""

import difflib
import math
import reprlib
from dataclasses import dataclass

from .spec import DTYPES, LAYOUTS, PADDING_NAMES, ConvSpec


@dataclass(frozen=True)
class Field:
    """One spec field: its kind of value ('axes': an int or one per spatial axis, 'int',
    'dims', 'padding', 'name', 'bool', 'dtype', 'tolerance', ...), what it means, whether a
    layer needs it, and its least value for numbers."""

    kind: str
    description: str
    required: bool = False
    least: int = 0


FIELDS = {
    "n": Field("axes", "input size X: an int, or one per spatial axis ([h, w] in 2-D)", True, 1),
    "m": Field("axes", "filter size F: an int, or one per spatial axis ([m_h, m_w] in 2-D)", True, 1),
    "k": Field("int", "input channels", True, 1),
    "p": Field("int", "number of filters (output channels)", True, 1),
    "padding": Field("padding", "zero padding: an int, one per axis, (before, after) per axis ([top, bottom, left, "
                                "right] in 2-D), valid, same or full", True),
    "stride": Field("axes", "stride: an int, or one per spatial axis ([s_h, s_w] in 2-D)", True, 1),
    "dims": Field("dims", "spatial axes: 1, 2 or 3 (default: the length of n or m where either is a list, else 2)"),
    "dilation": Field("axes", "filter dilation: an int, or one per spatial axis; taps d apart (default 1)", least=1),
    "groups": Field("int", "groups: k and p must be multiples of it; each filter sees k / groups input channels "
                           "(default 1; groups = k = p is depthwise)", least=1),
    "transposed": Field("bool", "a transposed convolution (PyTorch's ConvTranspose1d/2d/3d; default false): w is "
                                "(k, p / groups, *m), padding is cut from the full output"),
    "output_padding": Field("axes", "transposed only: extra rows at the end of each axis of the output, an int or "
                                    "one per axis, each smaller than its stride or dilation (default 0)"),
    "layout": Field("layout", "the implementation's array layout: nchw (default; PyTorch) or nhwc (x (N, H, W, k), "
                              "w (m_h, m_w, k, p), as in TensorFlow), converted at the boundary"),
    "adapter": Field("adapter", "for --impl layer:...: the names a layer class uses for in_channels, out_channels, "
                                "kernel_size, stride, padding, weight, bias, dx, dw, db"),
    "name": Field("name", "the layer's name in reports (default: the file's name)"),
    "batch": Field("int", "batch size N (default: shapes use 1, verify checks 2, which shows batch mistakes)", least=1),
    "bias": Field("bool", "whether the layer has a bias b (default true)"),
    "dtype": Field("dtype", "dtype of the arrays the implementation gets (default float64); bfloat16 is ml_dtypes' "
                            "for NumPy plug-ins (pip install 'convcheck[bfloat16]') and torch.bfloat16 for torch ops"),
    "seed": Field("int", "seed of x, w, b and the upstream gradient G (default 0)", least=0),
    "tolerance": Field("tolerance", "{rtol, atol} overriding the dtype's defaults"),
}


REQUIRED = tuple(name for name, field in FIELDS.items() if field.required)


DIMS = (1, 2, 3)


MAX_INT = 2**31 - 1
"""Largest int a spec field takes: sizes past it cannot index an array (and no layer has them)."""


def padding_help(dims: int) -> str:
    """What a padding may be for a layer of `dims` spatial axes."""
    per_axis = {1: "[p]", 2: "[ph, pw]", 3: "[pd, ph, pw]"}[dims]
    sides = {1: "[before, after]", 2: "[top, bottom, left, right]",
             3: "[before_d, after_d, before_h, after_h, before_w, after_w]"}[dims]
    return f"an int >= 0, {per_axis}, {sides}, or one of 'valid', 'same', 'full'"


def fields_of(spec: ConvSpec) -> dict:
    """A ConvSpec back as the fields of one layer, as briefly as a file would hold them (an int
    where every axis agrees, `dims` only where n and m do not say it): `load_mapping` of this
    gives the same spec, and a field overriding n or m may change the number of axes."""
    def brief(values):
        values = list(values)
        return values[0] if len(set(values)) == 1 else values

    n, m = brief(spec.n), brief(spec.m)
    fields = {"n": n, "m": m, "k": spec.k, "p": spec.p,
              "padding": spec.padding if isinstance(spec.padding, str) else brief(spec.padding),
              "stride": brief(spec.stride), "dilation": brief(spec.dilation), "groups": spec.groups,
              "name": spec.name, "bias": spec.bias, "dtype": spec.dtype, "seed": spec.seed}
    if spec.batch is not None:
        fields["batch"] = spec.batch
    if isinstance(n, int) and isinstance(m, int) and spec.dims != 2:
        fields = {"dims": spec.dims, **fields}
    if spec.transposed:
        fields.update(transposed=True, output_padding=brief(spec.out_padding))
    if spec.layout != "nchw":
        fields["layout"] = spec.layout
    if spec.adapter:
        fields["adapter"] = dict(spec.adapter)
    tolerance = {key: value for key, value in (("rtol", spec.rtol), ("atol", spec.atol)) if value is not None}
    if tolerance:
        fields["tolerance"] = tolerance
    return fields


def check_transposed(value: dict, dims: int, fail) -> None:
    """output_padding only with transposed: true, each entry below its axis's stride or dilation;
    a transposed layer's padding is ints (what is cut from the full output), not a name."""
    if not value.get("transposed", False):
        if "output_padding" in value:
            fail("output_padding", "only a transposed layer has an output padding; add transposed: true or remove it")
        return
    if value["padding"] in ("same", "full"):
        fail("padding", f"'{value['padding']}' means nothing for a transposed layer, whose padding is what is cut "
                        "from each side of the full output; give ints (valid is 0)")
    stride, dilation = value["stride"], value.get("dilation", (1,) * dims)
    for a, op in enumerate(value.get("output_padding", ())):
        most = max(stride[a], dilation[a]) - 1
        if op > most:
            fail("output_padding", f"{op} on axis {a} must be smaller than the stride ({stride[a]}) or the "
                                   f"dilation ({dilation[a]}) on that axis; valid: 0 … {most}")


def divisors_text(number: int, most: int = 12) -> str:
    """'1, 2, 4, 8': the divisors of `number`, found up to its square root; past `most`, the
    first ones and a count."""
    low, high, d = [], [], 1
    while d * d <= number:
        if number % d == 0:
            low.append(d)
            if d != number // d:
                high.append(number // d)
        d += 1
    found = low + high[::-1]
    shown = ", ".join(str(d) for d in found[:most])
    return shown if len(found) <= most else f"{shown}, … ({len(found)} divisors of {number} in all)"


def integer(value, field, least, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        fail(field, f"must be an integer >= {least}, got {shown(value)}")
    if value > MAX_INT:
        fail(field, f"must be an integer from {least} to {MAX_INT:,}, got {shown(value)}")
    return value


def layer_dims(fields: dict, fail) -> int:
    """A layer's spatial axes: its `dims`, else the length of n or m where either is a list, else 2;
    a list of another length is refused naming the field and dims."""
    lengths = {key: len(fields[key]) for key in ("n", "m", "stride", "dilation") if isinstance(fields.get(key), list)}
    if "dims" in fields:
        dims = fields["dims"]
        if not isinstance(dims, int) or isinstance(dims, bool) or dims not in DIMS:
            fail("dims", f"must be 1, 2 or 3, got {shown(dims)}")
    else:
        given = [lengths[key] for key in ("n", "m") if key in lengths]
        dims = given[0] if given else 2
        if not 1 <= dims <= 3:
            fail("n" if "n" in lengths else "m", f"must be an integer >= 1 or a list of 1 to 3 of them (one per "
                                                 f"spatial axis), got a list of {dims}")
    for key, length in lengths.items():
        if length != dims:
            because = ("from dims" if "dims" in fields else "from the length of n" if "n" in lengths else
                       "from the length of m" if "m" in lengths else "the default")
            fail(key, f"must be an integer or a list of {dims} (dims = {dims}, {because}), got a list of {length}")
    return dims


def validate(key: str, raw, fail, dims: int):
    """One field's value as ConvSpec holds it; per-axis kinds learn the layer's dims."""
    field = FIELDS[key]
    if field.kind in ("axes", "padding"):
        return VALIDATORS[field.kind](raw, key, field.least, fail, dims)
    return VALIDATORS[field.kind](raw, key, field.least, fail)


def _axes(value, field, least, fail, dims: int = 2) -> tuple[int, ...]:
    """An int (the same on every axis) or a list of `dims` ints >= least."""
    if isinstance(value, list) and len(value) == dims:
        return tuple(integer(v, field, least, fail) for v in value)
    if isinstance(value, list):
        fail(field, f"must be an integer >= {least} or a list of {dims} (dims = {dims}), got a list of {len(value)}")
    return (integer(value, field, least, fail),) * dims


def _dims_value(value, field, least, fail) -> int:
    """Validated by `layer_dims` already."""
    return value


def _name(value, field, least, fail) -> str:
    if not (isinstance(value, str) and value):
        fail(field, f"must be a non-empty string, got {shown(value)}")
    if not value.isprintable():                      # a control character or a lone surrogate
        escaped = value.encode("unicode_escape").decode("ascii")
        fail(field, f"must be printable text (no control characters, tabs or line breaks), got '{escaped}'")
    return value


def _bool(value, field, least, fail) -> bool:
    if not isinstance(value, bool):
        fail(field, f"must be true or false, got {shown(value)}")
    return value


def _dtype(value, field, least, fail) -> str:
    if value not in DTYPES:
        fail(field, f"must be one of {', '.join(DTYPES)}, got {shown(value)}")
    return value


def _layout(value, field, least, fail) -> str:
    if value not in LAYOUTS:
        fail(field, f"must be one of {', '.join(LAYOUTS)}, got {shown(value)}")
    return value


def _adapter(value, field, least, fail) -> tuple:
    """((name, renamed), ...) from {name: renamed}, names from impls.layer.NAMES, identifiers as values."""
    from .impls.layer import NAMES
    if not isinstance(value, dict):
        fail(field, f"must be a mapping {{name: the class's name for it}}, got {shown(value)}")
    for key, renamed in value.items():
        if key not in NAMES:
            fail(field, f"unknown name {shown(key)}{did_you_mean(str(key), NAMES)} (valid: {', '.join(NAMES)})")
        if not (isinstance(renamed, str) and renamed.isidentifier()):
            fail(field, f"{key} must be renamed to a Python identifier, got {shown(renamed)}")
    return tuple(sorted(value.items()))


def _tolerance(value, field, least, fail) -> dict:
    """{'rtol': float, 'atol': float}, either may be absent."""
    if not isinstance(value, dict) or set(value) - {"rtol", "atol"}:
        fail(field, f"must be a mapping with rtol and/or atol (finite numbers >= 0), got {shown(value)}")
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number < math.inf:
            fail(field, f"{key} must be a finite number >= 0, got {shown(number)}")
    return {key: float(number) for key, number in value.items()}


def shown(value) -> str:
    """A value for a message, cut short: a spec may hold a huge list, or an integer too long to
    print (Python refuses past 4,300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 14000:
        return "an integer of over 4,000 digits"
    return reprlib.repr(value)


def _padding(value, field, least, fail, dims: int = 2):
    """A padding name, or (before, after) per axis, axis by axis (2-D: (top, bottom, left, right)),
    from an int, one int per axis, or a (before, after) pair per axis."""
    if isinstance(value, str):
        if value.lower() in PADDING_NAMES:
            return value.lower()
        fail("padding", f"unknown name {shown(value)}{did_you_mean(value.lower(), PADDING_NAMES)} "
                        f"(valid: {padding_help(dims)})")
    if isinstance(value, list) and len(value) in (dims, 2 * dims):
        pads = [integer(v, "padding", 0, fail) for v in value]
        return tuple(p for v in pads for p in (v, v)) if len(pads) == dims else tuple(pads)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value,) * (2 * dims)
    fail("padding", f"got {shown(value)}; valid: {padding_help(dims)}" + (f" (dims = {dims})" if dims != 2 else ""))


VALIDATORS = {"axes": _axes, "int": integer, "dims": _dims_value, "padding": _padding, "name": _name, "bool": _bool,
              "dtype": _dtype, "tolerance": _tolerance, "layout": _layout, "adapter": _adapter}
"""kind -> validate(value, field, least, fail): the value as ConvSpec holds it, or fail(field, message)."""


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
