"""YAML spec files -> list of `ConvSpec`.

A file holds one layer (a mapping) or `layers:` (a list of mappings) with an optional
`defaults:` mapping that each layer overrides. A `layers:` file with `input: {k, n}` is a
network: each layer's k and n default to the previous layer's p and output size (the first
layer's to `input`), and a layer that states them must agree. A directory is searched recursively for
*.yaml / *.yml. Only `yaml.safe_load`-level constructs are accepted; a key twice in one
mapping, and aliases that would expand past MAX_NODES, are refused. `FIELDS` is the format's
one field table: the loader validates with it and `schema` turns it into a JSON Schema.
Every problem is a `SpecError` naming the file, line, layer and field, and what would be valid.
"""

import difflib
import math
import reprlib
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from .errors import SpecError
from .geometry import edges, geometry, sub
from .options import checked
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
    "dtype": Field("dtype", "dtype of the arrays the implementation gets (default float64)"),
    "seed": Field("int", "seed of x, w, b and the upstream gradient G (default 0)", least=0),
    "tolerance": Field("tolerance", "{rtol, atol} overriding the dtype's defaults"),
}
REQUIRED = tuple(name for name, field in FIELDS.items() if field.required)
TOP_LEVEL = ("layers", "defaults", "input")
MAX_NODES = 100_000
"""Most YAML nodes a file may expand to, aliases followed: a real spec has hundreds; an alias
bomb (each level an alias list of the last) has billions and is refused before it is built."""
MAX_ELEMENTS = 20_000_000
"""Largest x, w or y (160 MB in float64) a spec may ask for: beyond it a check would swap, not finish."""
DIMS = (1, 2, 3)


def padding_help(dims: int) -> str:
    """What a padding may be for a layer of `dims` spatial axes."""
    per_axis = {1: "[p]", 2: "[ph, pw]", 3: "[pd, ph, pw]"}[dims]
    sides = {1: "[before, after]", 2: "[top, bottom, left, right]",
             3: "[before_d, after_d, before_h, after_h, before_w, after_w]"}[dims]
    return f"an int >= 0, {per_axis}, {sides}, or one of 'valid', 'same', 'full'"


def load_specs(paths, skipped: list | None = None) -> list[ConvSpec]:
    """Every layer in the given files and directories, in path order, each checked. In a
    directory, YAML files that are no layer spec (`is_spec`: a workflow, an environment file)
    and folders whose names start with '.' are passed over; the files passed over are appended
    to `skipped` when it is given. A file named on its own is always read as a spec."""
    specs = []
    for path in _spec_files([Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)],
                            [] if skipped is None else skipped):
        specs.extend(load_file(path))
    return specs


SPEC_KEYS = {"layers", *REQUIRED}
"""A YAML mapping with one of these keys is a layer spec (or meant to be one: it is read, and its
mistakes are reported)."""


def is_spec(path: Path) -> bool:
    """A YAML mapping with `layers:` or one of a layer's required fields; a file that does not
    read as YAML counts (reading it then says why)."""
    try:
        data, _ = read_yaml(path)
    except SpecError:
        return True
    return isinstance(data, dict) and bool(SPEC_KEYS & set(data))


def load_file(path: Path) -> list[ConvSpec]:
    """The layers of one YAML file."""
    return _specs(*read_yaml(Path(path)), path)


def read_yaml(path: Path):
    """(data, root node) of a YAML file, parsed safely: a key twice in a mapping and alias bombs
    refused before anything is built; any problem is a SpecError naming the file (and line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read: {e}", file=path) from None
    loader = None
    try:
        loader = yaml.SafeLoader(text)                 # its reader refuses NUL, ESC and other control bytes
        root = loader.get_single_node()
        _refuse_duplicates_and_bombs(root, path)
        return (loader.construct_document(root) if root is not None else None), root
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        position = getattr(e, "position", None)           # a reader error: a character YAML does not allow
        line = mark.line + 1 if mark else text.count("\n", 0, position) + 1 if position is not None else None
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"not valid YAML: {problem}", file=path, line=line) from None
    except RecursionError:
        raise SpecError(f"nested deeper than Python can read (a list or mapping inside another over "
                        f"{sys.getrecursionlimit() // 4} times); a spec nests 3 levels", file=path) from None
    except SpecError:
        raise
    except ValueError as e:                            # an integer of more than 4,300 digits, say
        raise SpecError(f"holds a value Python cannot read: {str(e).split(';')[0]}; a layer's sizes are small "
                        "integers", file=path) from None
    finally:
        if loader is not None:
            loader.dispose()


def load_mapping(data) -> list[ConvSpec]:
    """The layers of a spec given as Python data: one layer's fields, or {layers, defaults,
    input} as in a file. Tuples count as lists, so `stride=(1, 2)` reads as `stride: [1, 2]`.
    Problems are the same SpecError lines as for a file, without a file."""
    try:
        data = _lists(data)
    except RecursionError:
        raise SpecError("nested deeper than Python can read; a spec nests 3 levels") from None
    return _specs(data, None, None)


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


def _lists(value):
    """Python data as YAML would give it: tuples as lists, all the way down."""
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    return value


def _specs(data, root, path: Path | None) -> list[ConvSpec]:
    """The layers of a file's (or a mapping's) data; `root` is its YAML node for line numbers
    (None for Python data)."""
    stem = path.stem if path is not None else "layer"
    if not isinstance(data, dict):
        raise SpecError("expected a mapping with the layer's fields "
                        f"({', '.join(REQUIRED)}) or a 'layers:' list", file=path)
    if "layers" not in data:
        return [_layer(data, {}, path, _line(root), _key_lines(root), stem)]
    extra = [key for key in data if key not in TOP_LEVEL]
    if extra:
        raise SpecError(f"unknown top-level key {_repr(extra[0])}{_did_you_mean(str(extra[0]), TOP_LEVEL)}"
                        " (a file with 'layers:' may only also hold 'defaults:' and 'input:')",
                        file=path, line=_key_lines(root).get(extra[0]))
    defaults, layers = data.get("defaults") or {}, data["layers"]
    if not isinstance(defaults, dict):
        raise SpecError("'defaults' must be a mapping of layer fields", file=path)
    if not isinstance(layers, list) or not layers:
        raise SpecError("'layers' must be a non-empty list of layer mappings", file=path)
    default_lines = _key_lines(_child(root, "defaults"))
    layer_nodes = _child(root, "layers").value if root is not None else [None] * len(layers)
    feed = _input(data["input"], path, _child(root, "input"), defaults, default_lines) if "input" in data else None
    specs = []
    for i, (layer, node) in enumerate(zip(layers, layer_nodes)):
        if not isinstance(layer, dict):
            raise SpecError(f"layer #{i + 1} must be a mapping of fields", file=path, line=_line(node))
        lines = {**default_lines, **_key_lines(node)}
        fed = {} if feed is None else {"k": feed[0], "n": list(feed[1]) if isinstance(feed[1], (list, tuple))
                                       else feed[1]}
        spec = _layer({**fed, **layer}, defaults, path, _line(node), lines, f"{stem}[{i + 1}]")
        if feed is not None:
            _agree(spec, layer, feed, specs[-1] if specs else None, path, lines)
            spec = replace(spec, chained=True)
            feed = (spec.p, geometry(spec).out)
        specs.append(spec)
    names = [s.name for s in specs]
    for name in names:
        if names.count(name) > 1:
            raise SpecError(f"two layers are named '{name}'; names must be unique in a file", file=path)
    return specs


def _input(value, path: Path, node, defaults: dict, default_lines: dict) -> tuple[int, tuple[int, int]]:
    """(k, (h, w)) of a network file's `input: {k, n}`."""
    def fail(field, message):
        raise SpecError(message, file=path, line=_key_lines(node).get(field, _line(node)), field=f"input.{field}")

    if not isinstance(value, dict) or set(value) != {"k", "n"}:
        raise SpecError(f"'input' must be a mapping {{k: channels, n: size or [h, w]}}, got {_repr(value)}",
                        file=path, line=_line(node))
    for key in ("k", "n"):
        if key in defaults:
            raise SpecError(f"in a network file (one with 'input:') each layer's {key} comes from the layer "
                            f"before it; remove '{key}' from 'defaults'", file=path, line=default_lines.get(key))
    n = value["n"]
    dims = len(n) if isinstance(n, list) else 1
    if not 1 <= dims <= 3:
        fail("n", f"must be an integer >= 1 or a list of 1 to 3 of them, got a list of {dims}")
    return _int(value["k"], "k", 1, fail), n if isinstance(n, list) else _int(n, "n", 1, fail)


def _agree(spec: ConvSpec, layer: dict, feed, previous: ConvSpec | None, path: Path, lines: dict) -> None:
    """A network layer that states k or n must match what feeds it: the previous layer's p
    and output size (with the formula that gave it), or the file's `input`."""
    k, n = feed
    n = tuple(n) if isinstance(n, (list, tuple)) else (n,) * spec.dims
    source = f"layer '{previous.name}' outputs" if previous else "'input' gives"
    if "k" in layer and spec.k != k:
        raise SpecError(f"k = {spec.k}, but {source} {'p = ' if previous else 'k = '}{k} channels",
                        file=path, line=lines.get("k"), layer=spec.name, field="k")
    if "n" in layer and spec.n != n:
        how = "" if previous is None else ": " + "; ".join(_output_formula(previous, axis)
                                                           for axis in range(previous.dims))
        raise SpecError(f"n = {' x '.join(map(str, spec.n))}, but {source} {' x '.join(map(str, n))}{how}",
                        file=path, line=lines.get("n"), layer=spec.name, field="n")


def _output_formula(spec: ConvSpec, axis: int) -> str:
    """'o_h = (n + top + bottom - m) // s + 1 = (32 + 1 + 1 - 3) // 2 + 1 = 16' (m: the filter's
    span d (m - 1) + 1); a transposed layer's 'o_h = (n - 1)·s - (top + bottom) + d·(m - 1) +
    output_padding + 1 = …'."""
    geom = geometry(spec)
    lo, hi = geom.padding[2 * axis], geom.padding[2 * axis + 1]
    before, after = edges(axis, spec.dims)
    o, n, e, s = sub("o", axis, spec.dims), spec.n[axis], geom.extent[axis], spec.stride[axis]
    if spec.transposed:
        return (f"{o} = (n - 1)·s - ({before} + {after}) + d·(m - 1) + output_padding + 1 = ({n} - 1)·{s} - ({lo} + "
                f"{hi}) + {e - 1} + {spec.out_padding[axis]} + 1 = {geom.out[axis]}")
    return f"{o} = (n + {before} + {after} - m) // s + 1 = ({n} + {lo} + {hi} - {e}) // {s} + 1 = {geom.out[axis]}"


def _refuse_duplicates_and_bombs(root, path: Path) -> None:
    """Walk the node graph once: a key twice in one mapping is an error naming both lines, and
    so is a graph that aliases would expand past MAX_NODES."""
    sizes = {}

    def size(node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = MAX_NODES + 1                  # a cycle counts as too large
        children = ([item for pair in node.value for item in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise SpecError(f"key '{key.value}' appears twice in one mapping (lines {seen[key.value]} "
                                        f"and {line}); keep one", file=path, line=line)
                    seen[key.value] = line
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                raise SpecError(f"the YAML expands to more than {MAX_NODES:,} values through its aliases "
                                "(*name); a spec needs a few hundred", file=path, line=node.start_mark.line + 1)
        sizes[id(node)] = total
        return total

    if root is not None:
        size(root)


def _spec_files(paths: list[Path], skipped: list) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file() and
                           not any(part.startswith(".") for part in f.relative_to(path).parts[:-1]))
            if not found:
                raise SpecError("directory holds no *.yaml or *.yml files", file=path)
            specs = [f for f in found if is_spec(f)]
            if not specs:
                many = len(found) != 1
                raise SpecError(f"directory holds no layer spec: its {len(found)} YAML file{'s' * many} "
                                f"hold{'s' * (not many)} no `layers:` and none of {', '.join(REQUIRED)}", file=path)
            skipped.extend(f for f in found if f not in specs)
            files.extend(specs)
        elif path.is_file():
            files.append(path)
        else:
            raise SpecError("no such file or directory", file=path)
    return files


def _layer(layer: dict, defaults: dict, path: Path, line, lines: dict, default_name: str) -> ConvSpec:
    """Validate one layer's fields (defaults overridden by the layer) into a ConvSpec."""
    fields = {**defaults, **layer}
    name = fields.get("name", default_name)
    if not isinstance(name, str) or not name or not name.isprintable():
        name = default_name                            # messages name the layer by its place, never by such a name

    def fail(field, message):
        raise SpecError(message, file=path, line=lines.get(field, line), layer=name, field=field)

    for key in fields:
        if not isinstance(key, str):
            fail(_repr(key), f"a key must be a field's name (text), got {_repr(key)} "
                             f"(valid fields: {', '.join(FIELDS)})")
        if key not in FIELDS:
            fail(key, f"unknown field{_did_you_mean(key, FIELDS)} (valid fields: {', '.join(FIELDS)})")
    for key in REQUIRED:
        if key not in fields:
            fail(key, f"missing; a layer needs {', '.join(REQUIRED)}")
    dims = _dims(fields, fail)
    value = {key: _validate(key, fields[key], fail, dims) for key in fields}
    tol = value.get("tolerance", {})
    groups = value.get("groups", 1)
    _transposed_fields(value, dims, fail)
    if value["k"] % groups or value["p"] % groups:
        both = math.gcd(value["k"], value["p"])
        fail("groups", f"k = {value['k']} and p = {value['p']} must both be multiples of groups = {groups}; "
                       f"valid: {_divisors_text(both)}")
    spec = ConvSpec(
        n=value["n"], m=value["m"], k=value["k"], p=value["p"], padding=value["padding"], stride=value["stride"],
        dilation=value.get("dilation", (1,) * dims), groups=groups, name=name, batch=value.get("batch"),
        bias=value.get("bias", True), dtype=value.get("dtype", "float64"), layout=value.get("layout", "nchw"),
        adapter=value.get("adapter", ()), transposed=value.get("transposed", False),
        output_padding=value.get("output_padding", ()),
        seed=value.get("seed", 0), rtol=tol.get("rtol"), atol=tol.get("atol"),
        source=None if path is None else str(path), line=line)
    try:
        shapes = geometry(checked(spec)).shapes       # as verify checks it: at options.CHECK_BATCH if none is set
    except SpecError as e:  # no output position: point at the field's own line
        fail(e.field, e.detail)
    for tensor in ("x", "w", "y"):
        size = math.prod(shapes[tensor])
        if size > MAX_ELEMENTS:
            field = {"x": "n", "w": "m", "y": "p"}[tensor]
            fail(field, f"the layer's {tensor} would hold {size:,} numbers {shapes[tensor]}; "
                        f"convcheck checks layers up to {MAX_ELEMENTS:,} per tensor: use smaller "
                        "n, k, p or batch (gradient errors show on small layers too)")
    return spec


def _transposed_fields(value: dict, dims: int, fail) -> None:
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


def _divisors_text(number: int, most: int = 12) -> str:
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


MAX_INT = 2**31 - 1
"""Largest int a spec field takes: sizes past it cannot index an array (and no layer has them)."""


def _int(value, field, least, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        fail(field, f"must be an integer >= {least}, got {_repr(value)}")
    if value > MAX_INT:
        fail(field, f"must be an integer from {least} to {MAX_INT:,}, got {_repr(value)}")
    return value


def _dims(fields: dict, fail) -> int:
    """A layer's spatial axes: its `dims`, else the length of n or m where either is a list, else 2;
    a list of another length is refused naming the field and dims."""
    lengths = {key: len(fields[key]) for key in ("n", "m", "stride", "dilation") if isinstance(fields.get(key), list)}
    if "dims" in fields:
        dims = fields["dims"]
        if not isinstance(dims, int) or isinstance(dims, bool) or dims not in DIMS:
            fail("dims", f"must be 1, 2 or 3, got {_repr(dims)}")
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


def _validate(key: str, raw, fail, dims: int):
    """One field's value as ConvSpec holds it; per-axis kinds learn the layer's dims."""
    field = FIELDS[key]
    if field.kind in ("axes", "padding"):
        return VALIDATORS[field.kind](raw, key, field.least, fail, dims)
    return VALIDATORS[field.kind](raw, key, field.least, fail)


def _axes(value, field, least, fail, dims: int = 2) -> tuple[int, ...]:
    """An int (the same on every axis) or a list of `dims` ints >= least."""
    if isinstance(value, list) and len(value) == dims:
        return tuple(_int(v, field, least, fail) for v in value)
    if isinstance(value, list):
        fail(field, f"must be an integer >= {least} or a list of {dims} (dims = {dims}), got a list of {len(value)}")
    return (_int(value, field, least, fail),) * dims


def _dims_value(value, field, least, fail) -> int:
    """Validated by `_dims` already."""
    return value


def _name(value, field, least, fail) -> str:
    if not (isinstance(value, str) and value):
        fail(field, f"must be a non-empty string, got {_repr(value)}")
    if not value.isprintable():                      # a control character or a lone surrogate
        shown = value.encode("unicode_escape").decode("ascii")
        fail(field, f"must be printable text (no control characters, tabs or line breaks), got '{shown}'")
    return value


def _bool(value, field, least, fail) -> bool:
    if not isinstance(value, bool):
        fail(field, f"must be true or false, got {_repr(value)}")
    return value


def _dtype(value, field, least, fail) -> str:
    if value not in DTYPES:
        fail(field, f"must be one of {', '.join(DTYPES)}, got {_repr(value)}")
    return value


def _layout(value, field, least, fail) -> str:
    if value not in LAYOUTS:
        fail(field, f"must be one of {', '.join(LAYOUTS)}, got {_repr(value)}")
    return value


def _adapter(value, field, least, fail) -> tuple:
    """((name, renamed), ...) from {name: renamed}, names from impls.layer.NAMES, identifiers as values."""
    from .impls.layer import NAMES
    if not isinstance(value, dict):
        fail(field, f"must be a mapping {{name: the class's name for it}}, got {_repr(value)}")
    for key, renamed in value.items():
        if key not in NAMES:
            fail(field, f"unknown name {_repr(key)}{_did_you_mean(str(key), NAMES)} (valid: {', '.join(NAMES)})")
        if not (isinstance(renamed, str) and renamed.isidentifier()):
            fail(field, f"{key} must be renamed to a Python identifier, got {_repr(renamed)}")
    return tuple(sorted(value.items()))


def _tolerance(value, field, least, fail) -> dict:
    """{'rtol': float, 'atol': float}, either may be absent."""
    if not isinstance(value, dict) or set(value) - {"rtol", "atol"}:
        fail(field, f"must be a mapping with rtol and/or atol (finite numbers >= 0), got {_repr(value)}")
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number < math.inf:
            fail(field, f"{key} must be a finite number >= 0, got {_repr(number)}")
    return {key: float(number) for key, number in value.items()}


def _repr(value) -> str:
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
        fail("padding", f"unknown name {_repr(value)}{_did_you_mean(value.lower(), PADDING_NAMES)} "
                        f"(valid: {padding_help(dims)})")
    if isinstance(value, list) and len(value) in (dims, 2 * dims):
        pads = [_int(v, "padding", 0, fail) for v in value]
        return tuple(p for v in pads for p in (v, v)) if len(pads) == dims else tuple(pads)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value,) * (2 * dims)
    fail("padding", f"got {_repr(value)}; valid: {padding_help(dims)}" + (f" (dims = {dims})" if dims != 2 else ""))


VALIDATORS = {"axes": _axes, "int": _int, "dims": _dims_value, "padding": _padding, "name": _name, "bool": _bool,
              "dtype": _dtype, "tolerance": _tolerance, "layout": _layout, "adapter": _adapter}
"""kind -> validate(value, field, least, fail): the value as ConvSpec holds it, or fail(field, message)."""


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _line(node) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _child(node, key):
    """The value node under `key` of a mapping node, or None."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    return None


def _key_lines(node) -> dict:
    """Line of each key of a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value}
