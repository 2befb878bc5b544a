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
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from .errors import SpecError
from .geometry import geometry
from .spec import DTYPES, LAYOUTS, PADDING_NAMES, ConvSpec


@dataclass(frozen=True)
class Field:
    """One spec field: its kind of value ('pair', 'int', 'padding', 'name', 'bool', 'dtype',
    'tolerance'), what it means, whether a layer needs it, and its least value for numbers."""

    kind: str
    description: str
    required: bool = False
    least: int = 0


FIELDS = {
    "n": Field("pair", "input size X: an int, or [h, w]", True, 1),
    "m": Field("pair", "filter size F: an int, or [m_h, m_w]", True, 1),
    "k": Field("int", "input channels", True, 1),
    "p": Field("int", "number of filters (output channels)", True, 1),
    "padding": Field("padding", "zero padding: an int, [ph, pw], [top, bottom, left, right], valid, same or full",
                     True),
    "stride": Field("pair", "stride: an int, or [s_h, s_w]", True, 1),
    "dilation": Field("pair", "filter dilation: an int, or [d_h, d_w]; taps d apart (default 1)", least=1),
    "groups": Field("int", "groups: k and p must be multiples of it; each filter sees k / groups input channels "
                           "(default 1; groups = k = p is depthwise)", least=1),
    "layout": Field("layout", "the implementation's array layout: nchw (default; PyTorch) or nhwc (x (N, H, W, k), "
                              "w (m_h, m_w, k, p), as in TensorFlow), converted at the boundary"),
    "adapter": Field("adapter", "for --impl layer:...: the names a layer class uses for in_channels, out_channels, "
                                "kernel_size, stride, padding, weight, bias, dx, dw, db"),
    "name": Field("name", "the layer's name in reports (default: the file's name)"),
    "batch": Field("int", "batch size N (default 1)", least=1),
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
PADDING_HELP = ("an int >= 0, [ph, pw], [top, bottom, left, right], "
                "or one of 'valid', 'same', 'full'")


def load_specs(paths) -> list[ConvSpec]:
    """Every layer in the given files and directories, in path order, each checked."""
    specs = []
    for path in _spec_files([Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]):
        specs.extend(load_file(path))
    return specs


def load_file(path: Path) -> list[ConvSpec]:
    """The layers of one YAML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read: {e}", file=path) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        _refuse_duplicates_and_bombs(root, path)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"not valid YAML: {problem}", file=path,
                        line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SpecError("expected a mapping with the layer's fields "
                        f"({', '.join(REQUIRED)}) or a 'layers:' list", file=path)
    if "layers" not in data:
        return [_layer(data, {}, path, _line(root), _key_lines(root), path.stem)]
    extra = sorted(set(data) - set(TOP_LEVEL))
    if extra:
        raise SpecError(f"unknown top-level key '{extra[0]}'{_did_you_mean(extra[0], TOP_LEVEL)}"
                        " (a file with 'layers:' may only also hold 'defaults:' and 'input:')",
                        file=path, line=_key_lines(root).get(extra[0]))
    defaults, layers = data.get("defaults") or {}, data["layers"]
    if not isinstance(defaults, dict):
        raise SpecError("'defaults' must be a mapping of layer fields", file=path)
    if not isinstance(layers, list) or not layers:
        raise SpecError("'layers' must be a non-empty list of layer mappings", file=path)
    default_lines = _key_lines(_child(root, "defaults"))
    layer_nodes = _child(root, "layers").value
    feed = _input(data["input"], path, _child(root, "input"), defaults, default_lines) if "input" in data else None
    specs = []
    for i, (layer, node) in enumerate(zip(layers, layer_nodes)):
        if not isinstance(layer, dict):
            raise SpecError(f"layer #{i + 1} must be a mapping of fields", file=path, line=_line(node))
        lines = {**default_lines, **_key_lines(node)}
        fed = {} if feed is None else {"k": feed[0], "n": list(feed[1])}
        spec = _layer({**fed, **layer}, defaults, path, _line(node), lines, f"{path.stem}[{i + 1}]")
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
    return _int(value["k"], "k", 1, fail), _pair(value["n"], "n", 1, fail)


def _agree(spec: ConvSpec, layer: dict, feed, previous: ConvSpec | None, path: Path, lines: dict) -> None:
    """A network layer that states k or n must match what feeds it: the previous layer's p
    and output size (with the formula that gave it), or the file's `input`."""
    k, n = feed
    source = f"layer '{previous.name}' outputs" if previous else "'input' gives"
    if "k" in layer and spec.k != k:
        raise SpecError(f"k = {spec.k}, but {source} {'p = ' if previous else 'k = '}{k} channels",
                        file=path, line=lines.get("k"), layer=spec.name, field="k")
    if "n" in layer and spec.n != n:
        how = "" if previous is None else ": " + "; ".join(_output_formula(previous, axis) for axis in (0, 1))
        raise SpecError(f"n = {spec.n[0]} x {spec.n[1]}, but {source} {n[0]} x {n[1]}{how}",
                        file=path, line=lines.get("n"), layer=spec.name, field="n")


def _output_formula(spec: ConvSpec, axis: int) -> str:
    """'o_h = (n + top + bottom - m) // s + 1 = (32 + 1 + 1 - 3) // 2 + 1 = 16'."""
    geom = geometry(spec)
    lo, hi = geom.padding[2 * axis], geom.padding[2 * axis + 1]
    names = ("o_h", "top", "bottom") if axis == 0 else ("o_w", "left", "right")
    return (f"{names[0]} = (n + {names[1]} + {names[2]} - m) // s + 1 = ({spec.n[axis]} + {lo} + {hi} - "
            f"{spec.m[axis]}) // {spec.stride[axis]} + 1 = {geom.out[axis]}")


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


def _spec_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file())
            if not found:
                raise SpecError("directory holds no *.yaml or *.yml files", file=path)
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise SpecError("no such file or directory", file=path)
    return files


def _layer(layer: dict, defaults: dict, path: Path, line, lines: dict, default_name: str) -> ConvSpec:
    """Validate one layer's fields (defaults overridden by the layer) into a ConvSpec."""
    fields = {**defaults, **layer}
    name = fields.get("name", default_name)
    if not isinstance(name, str) or not name:
        name = default_name

    def fail(field, message):
        raise SpecError(message, file=path, line=lines.get(field, line), layer=name, field=field)

    for key in fields:
        if key not in FIELDS:
            fail(key, f"unknown field{_did_you_mean(str(key), FIELDS)} (valid fields: {', '.join(FIELDS)})")
    for key in REQUIRED:
        if key not in fields:
            fail(key, f"missing; a layer needs {', '.join(REQUIRED)}")
    value = {key: VALIDATORS[FIELDS[key].kind](fields[key], key, FIELDS[key].least, fail) for key in fields}
    tol = value.get("tolerance", {})
    groups = value.get("groups", 1)
    if value["k"] % groups or value["p"] % groups:
        both = math.gcd(value["k"], value["p"])
        fail("groups", f"k = {value['k']} and p = {value['p']} must both be multiples of groups = {groups}; "
                       f"valid: {', '.join(str(g) for g in range(1, both + 1) if both % g == 0)}")
    spec = ConvSpec(
        n=value["n"], m=value["m"], k=value["k"], p=value["p"], padding=value["padding"], stride=value["stride"],
        dilation=value.get("dilation", (1, 1)), groups=groups, name=name, batch=value.get("batch", 1),
        bias=value.get("bias", True), dtype=value.get("dtype", "float64"), layout=value.get("layout", "nchw"),
        adapter=value.get("adapter", ()),
        seed=value.get("seed", 0), rtol=tol.get("rtol"), atol=tol.get("atol"), source=str(path), line=line)
    try:
        shapes = geometry(spec).shapes
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


def _int(value, field, least, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        fail(field, f"must be an integer >= {least}, got {_repr(value)}")
    return value


def _pair(value, field, least, fail) -> tuple[int, int]:
    """An int or an [h, w] pair of ints >= least."""
    if isinstance(value, list) and len(value) == 2:
        return tuple(_int(v, field, least, fail) for v in value)
    if isinstance(value, list):
        fail(field, f"must be an integer >= {least} or an [h, w] pair, got a list of {len(value)}")
    return (_int(value, field, least, fail),) * 2


def _name(value, field, least, fail) -> str:
    if not (isinstance(value, str) and value):
        fail(field, f"must be a non-empty string, got {_repr(value)}")
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
    """A value for a message, cut short: a spec may hold a huge list."""
    return reprlib.repr(value)


def _padding(value, field, least, fail):
    """A padding name, or (top, bottom, left, right) from an int, [ph, pw] or a 4-list."""
    if isinstance(value, str):
        if value.lower() in PADDING_NAMES:
            return value.lower()
        fail("padding", f"unknown name {_repr(value)}{_did_you_mean(value.lower(), PADDING_NAMES)} "
                        f"(valid: {PADDING_HELP})")
    if isinstance(value, list) and len(value) in (2, 4):
        pads = [_int(v, "padding", 0, fail) for v in value]
        return (pads[0], pads[0], pads[1], pads[1]) if len(pads) == 2 else tuple(pads)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value,) * 4
    fail("padding", f"got {_repr(value)}; valid: {PADDING_HELP}")


VALIDATORS = {"pair": _pair, "int": _int, "padding": _padding, "name": _name, "bool": _bool, "dtype": _dtype,
              "tolerance": _tolerance, "layout": _layout, "adapter": _adapter}
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
