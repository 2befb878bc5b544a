"""YAML spec files -> list of `ConvSpec`.

A file holds one layer (a mapping) or `layers:` (a list of mappings) with an optional
`defaults:` mapping that each layer overrides. A `layers:` file with `input: {k, n}` is a
network: each layer's k and n default to the previous layer's p and output size (the first
layer's to `input`), and a layer that states them must agree. A directory is searched recursively for
*.yaml / *.yml. Only `yaml.safe_load`-level constructs are accepted; a key twice in one
mapping, and aliases that would expand past MAX_NODES, are refused. `fields.FIELDS` is the
format's one field table: the loader validates with it and `schema` turns it into a JSON Schema.
Every problem is a `SpecError` naming the file, line, layer and field, and what would be valid.
"""

import math
import sys
from dataclasses import replace
from pathlib import Path

import yaml

from .errors import SpecError
from .fields import (
    FIELDS,
    REQUIRED,
    check_transposed,
    did_you_mean,
    divisors_text,
    integer,
    layer_dims,
    shown,
    validate,
)
from .geometry import edges, geometry, sub, transposed_size_text
from .options import checked
from .spec import ConvSpec

TOP_LEVEL = ("layers", "defaults", "input", "only_by_name")
ONLY_BY_NAME = "only_by_name"
"""`only_by_name: true` in a file with `layers:`: a directory run passes the file over, naming it
(a network too large for a CI job's seconds, configs/resnet50.yaml); named on its own it is
checked like any other."""
MAX_NODES = 100_000
"""Most YAML nodes a file may expand to, aliases followed: a real spec has hundreds; an alias
bomb (each level an alias list of the last) has billions and is refused before it is built."""
MAX_ELEMENTS = 20_000_000
"""Largest x, w or y (160 MB in float64) a spec may ask for: beyond it a check would swap, not finish."""


def load_specs(paths, skipped: list | None = None, by_name: list | None = None) -> list[ConvSpec]:
    """Every layer in the given files and directories, in path order, each checked. In a
    directory, YAML files that are no layer spec (`is_spec`: a workflow, an environment file)
    and folders whose names start with '.' are passed over; the files passed over are appended
    to `skipped` when it is given, and the spec files marked `only_by_name: true` to `by_name`.
    A file named on its own is always read as a spec."""
    specs = []
    for path in _spec_files([Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)],
                            [] if skipped is None else skipped, [] if by_name is None else by_name):
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


def only_by_name(path: Path) -> bool:
    """A spec file that says `only_by_name: true` (a directory run passes it over)."""
    try:
        data, _ = read_yaml(path)
    except SpecError:
        return False
    return isinstance(data, dict) and data.get(ONLY_BY_NAME) is True


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
        raise SpecError(f"unknown top-level key {shown(extra[0])}{did_you_mean(str(extra[0]), TOP_LEVEL)}"
                        " (a file with 'layers:' may only also hold 'defaults:', 'input:' and 'only_by_name:')",
                        file=path, line=_key_lines(root).get(extra[0]))
    if not isinstance(data.get(ONLY_BY_NAME, False), bool):
        raise SpecError(f"'{ONLY_BY_NAME}' must be true or false, got {shown(data[ONLY_BY_NAME])}", file=path,
                        line=_key_lines(root).get(ONLY_BY_NAME))
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
        raise SpecError(f"'input' must be a mapping {{k: channels, n: size or [h, w]}}, got {shown(value)}",
                        file=path, line=_line(node))
    for key in ("k", "n"):
        if key in defaults:
            raise SpecError(f"in a network file (one with 'input:') each layer's {key} comes from the layer "
                            f"before it; remove '{key}' from 'defaults'", file=path, line=default_lines.get(key))
    n = value["n"]
    dims = len(n) if isinstance(n, list) else 1
    if not 1 <= dims <= 3:
        fail("n", f"must be an integer >= 1 or a list of 1 to 3 of them, got a list of {dims}")
    return integer(value["k"], "k", 1, fail), n if isinstance(n, list) else integer(n, "n", 1, fail)


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
    lo, hi = geom.pads[axis]
    before, after = edges(axis, spec.dims)
    o, n, e, s = sub("o", axis, spec.dims), spec.n[axis], geom.extent[axis], spec.stride[axis]
    if spec.transposed:
        return (f"{o} = {transposed_size_text(before, after, minus='-')} = ({n} - 1)·{s} - ({lo} + "
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


def _spec_files(paths: list[Path], skipped: list, by_name: list) -> list[Path]:
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
            by_name.extend(f for f in specs if only_by_name(f))
            files.extend(f for f in specs if f not in by_name)
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
            fail(shown(key), f"a key must be a field's name (text), got {shown(key)} "
                             f"(valid fields: {', '.join(FIELDS)})")
        if key not in FIELDS:
            fail(key, f"unknown field{did_you_mean(key, FIELDS)} (valid fields: {', '.join(FIELDS)})")
    for key in REQUIRED:
        if key not in fields:
            fail(key, f"missing; a layer needs {', '.join(REQUIRED)}")
    dims = layer_dims(fields, fail)
    value = {key: validate(key, fields[key], fail, dims) for key in fields}
    tol = value.get("tolerance", {})
    groups = value.get("groups", 1)
    check_transposed(value, dims, fail)
    if value["k"] % groups or value["p"] % groups:
        both = math.gcd(value["k"], value["p"])
        fail("groups", f"k = {value['k']} and p = {value['p']} must both be multiples of groups = {groups}; "
                       f"valid: {divisors_text(both)}")
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
