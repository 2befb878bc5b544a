"""YAML spec files -> list of `ConvSpec`.

A file holds one layer (a mapping) or `layers:` (a list of mappings) with an optional
`defaults:` mapping that each layer overrides. A directory is searched recursively for
*.yaml / *.yml. Only `yaml.safe_load`-level constructs are accepted. Every problem is a
`SpecError` naming the file, line, layer and field, and what would be valid.
"""

import difflib
import math
from pathlib import Path

import yaml

from .errors import SpecError
from .geometry import geometry
from .spec import DTYPES, PADDING_NAMES, ConvSpec

REQUIRED = ("n", "m", "k", "p", "padding", "stride")
OPTIONAL = ("name", "batch", "bias", "dtype", "seed", "tolerance")
FIELDS = REQUIRED + OPTIONAL
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
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"not valid YAML: {problem}", file=path,
                        line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise SpecError("expected a mapping with the layer's fields "
                        f"({', '.join(REQUIRED)}) or a 'layers:' list", file=path)
    if "layers" not in data:
        return [_layer(data, {}, path, _line(root), _key_lines(root), path.stem)]
    extra = sorted(set(data) - {"layers", "defaults"})
    if extra:
        raise SpecError(f"unknown top-level key '{extra[0]}'{_did_you_mean(extra[0], ('layers', 'defaults'))}"
                        " (a file with 'layers:' may only also hold 'defaults:')",
                        file=path, line=_key_lines(root).get(extra[0]))
    defaults, layers = data.get("defaults") or {}, data["layers"]
    if not isinstance(defaults, dict):
        raise SpecError("'defaults' must be a mapping of layer fields", file=path)
    if not isinstance(layers, list) or not layers:
        raise SpecError("'layers' must be a non-empty list of layer mappings", file=path)
    default_lines = _key_lines(_child(root, "defaults"))
    layer_nodes = _child(root, "layers").value
    specs = []
    for i, (layer, node) in enumerate(zip(layers, layer_nodes)):
        if not isinstance(layer, dict):
            raise SpecError(f"layer #{i + 1} must be a mapping of fields", file=path, line=_line(node))
        lines = {**default_lines, **_key_lines(node)}
        specs.append(_layer(layer, defaults, path, _line(node), lines, f"{path.stem}[{i + 1}]"))
    names = [s.name for s in specs]
    for name in names:
        if names.count(name) > 1:
            raise SpecError(f"two layers are named '{name}'; names must be unique in a file", file=path)
    return specs


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
    if "name" in fields and not (isinstance(fields["name"], str) and fields["name"]):
        fail("name", f"must be a non-empty string, got {fields['name']!r}")

    tol = fields.get("tolerance") or {}
    if not isinstance(tol, dict) or set(tol) - {"rtol", "atol"}:
        fail("tolerance", f"must be a mapping with rtol and/or atol (numbers >= 0), got {tol!r}")
    for key, value in tol.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            fail("tolerance", f"{key} must be a number >= 0, got {value!r}")
    dtype = fields.get("dtype", "float64")
    if dtype not in DTYPES:
        fail("dtype", f"must be one of {', '.join(DTYPES)}, got {dtype!r}")
    bias = fields.get("bias", True)
    if not isinstance(bias, bool):
        fail("bias", f"must be true or false, got {bias!r}")

    spec = ConvSpec(
        n=_pair(fields["n"], "n", 1, fail), m=_pair(fields["m"], "m", 1, fail),
        k=_int(fields["k"], "k", 1, fail), p=_int(fields["p"], "p", 1, fail),
        padding=_padding(fields["padding"], fail), stride=_pair(fields["stride"], "stride", 1, fail),
        name=name, batch=_int(fields.get("batch", 1), "batch", 1, fail), bias=bias, dtype=dtype,
        seed=_int(fields.get("seed", 0), "seed", 0, fail),
        rtol=None if tol.get("rtol") is None else float(tol["rtol"]),
        atol=None if tol.get("atol") is None else float(tol["atol"]),
        source=str(path), line=line)
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
        fail(field, f"must be an integer >= {least}, got {value!r}")
    return value


def _pair(value, field, least, fail) -> tuple[int, int]:
    """An int or an [h, w] pair of ints >= least."""
    if isinstance(value, list) and len(value) == 2:
        return tuple(_int(v, field, least, fail) for v in value)
    if isinstance(value, list):
        fail(field, f"must be an integer >= {least} or an [h, w] pair, got a list of {len(value)}")
    return (_int(value, field, least, fail),) * 2


def _padding(value, fail):
    """A padding name, or (top, bottom, left, right) from an int, [ph, pw] or a 4-list."""
    if isinstance(value, str):
        if value.lower() in PADDING_NAMES:
            return value.lower()
        fail("padding", f"unknown name {value!r}{_did_you_mean(value.lower(), PADDING_NAMES)} "
                        f"(valid: {PADDING_HELP})")
    if isinstance(value, list) and len(value) in (2, 4):
        pads = [_int(v, "padding", 0, fail) for v in value]
        return (pads[0], pads[0], pads[1], pads[1]) if len(pads) == 2 else tuple(pads)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value,) * 4
    fail("padding", f"got {value!r}; valid: {PADDING_HELP}")


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
