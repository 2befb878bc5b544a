"""What a wrong gradient computed: the operand that makes the right formula give exactly the
plug-in's array, described against the real one.

Every tensor of a convolution is linear in each of its operands: dL/dX = A_w(G) (in the
filter F, `w`, and in G = dL/dY, `g`), dL/dF = B_x(G) (in X and in G), Y - b = C(X, F). When a
tensor is wrong, ask which w' (or x', g') the right formula needs to give it exactly: a
least-squares solve, with the other operand drawn again a few times (the plug-in called on
each draw) so that the system has more equations than unknowns. A solution at rounding level
means "the backward used a different operand", and `relations` describes it against the
real one by matching values (the draws are random, so every value is distinct): a scale,
taps zeroed, a reshape of a transposed array, axes reversed, exchanged, shifted or fixed to
one index (another sample, one filter). A description is kept only when the right formula on
the operand it names gives the plug-in's arrays at every draw; none fits: nothing is said.

`look(result, impl, options)` runs it on the smallest failing layer (shrink.py) and gives the
failing tensors side by side; `carry` tries what it found on the layer the user checked.
"""

import math

import numpy as np

from .impls import direct, reference
from .impls.calls import Raised, call
from .result import Diagnosis
from .spec import LABELS

UNKNOWNS = 256
"""Largest operand solved for (its entries are the system's unknowns)."""
DRAWS = 8
"""Most draws of the other operand (the plug-in is called once per draw)."""
SOLVED = {"dx": (("w", "g"), ("g", "w")), "dw": (("x", "g"), ("g", "x")), "y": (("w", "x"), ("x", "w"))}
"""Per tensor: (the operand solved for, the operand drawn again), most telling first."""
SYMBOL = {"w": "w", "x": "x", "g": "dy"}
KEY = {"w": "w", "x": "x", "g": "y"}
"""Each operand's key in the layer's data (G is drawn as `y`, dL/dY's shape)."""
NAMES = {"w": "filter", "x": "input", "g": "upstream gradient"}
LINEAR = {"dx": "dL/dX = Σ_j rot180(F_j) ∗ pad(dL/dY^(j))", "dw": "dL/dF_j^(i) = X^(i) ⋆ dL/dY^(j)",
          "y": "Y = X_pad ⋆_s F + b"}


def axis_names(operand: str, dims: int, transposed: bool) -> tuple:
    """Each axis of an operand in words: ('sample', 'channel', 'H', 'W') for x."""
    spatial = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}[dims]
    lead = {"x": ("sample", "channel"), "g": ("sample", "filter"),
            "w": ("channel", "filter") if transposed else ("filter", "channel")}[operand]
    return lead + spatial


def look(result, impl, options: dict, most: int) -> tuple[dict, dict]:
    """({tensor: {shape, yours, right}} for failing tensors of at most `most` numbers,
    {tensor: Diagnosis}) on the layer `result` checked: its own diagnoses, where none names a
    mistake the operand the tensor was computed with (`search`)."""
    from .options import tolerances
    from .prepare import prepare
    layer = prepare(result.spec, impl, options.get("backend", "numpy"), options.get("layout"), options.get("seed"))
    rtol, atol = tolerances(result.spec, options.get("rtol"), options.get("atol"))
    data = {name: _host(layer.data[name]) for name in ("x", "w", "b", "y")}
    outputs = _outputs(layer)
    arrays, diagnoses = {}, {}
    for check in result.checks:
        if check.passed or check.skipped:
            continue
        value = outputs.get(check.name)
        right = _right(check.name, data, layer.kwargs)
        if value is not None and right is not None and value.shape == right.shape and right.size <= most:
            arrays[check.name] = {"shape": list(right.shape), "yours": value.tolist(), "right": right.tolist()}
        diagnosis = check.diagnosis
        if (diagnosis is None or diagnosis.mistake is None) and value is not None and right is not None \
                and value.shape == right.shape:
            diagnosis = search(check.name, value, layer, data, rtol, atol) or diagnosis
        if diagnosis is not None:
            diagnoses[check.name] = diagnosis
    return arrays, diagnoses


def _outputs(layer) -> dict:
    """The plug-in's y, dx, dw, db at the layer's seeded draw, on the host (those it returned as arrays)."""
    y = call(layer.impl, "forward", {t: layer.cast[t] for t in ("x", "w", "b")}, layer.kwargs)
    grads = call(layer.impl, "backward", {"dy": layer.cast["y"], **{t: layer.cast[t] for t in ("x", "w", "b")}},
                 layer.kwargs)
    values = {"y": y, **dict(zip(("dx", "dw", "db"), grads if isinstance(grads, (tuple, list)) else ()))}
    out = {}
    for name, value in values.items():
        try:
            out[name] = _host(value).astype(np.float64)
        except Exception:  # noqa: BLE001  (what it returned is no array of numbers: its check says so)
            continue
    return out


def _host(a):
    """`a` as a NumPy array (from the device where it is a CuPy array)."""
    if a is None or isinstance(a, np.ndarray):
        return a
    from .backend import array_module
    xp = array_module(a)
    return xp.asnumpy(a) if hasattr(xp, "asnumpy") else np.asarray(a)


def _right(name: str, ops: dict, kwargs: dict):
    """The right tensor `name` from ops x, w, b, y (= G), NumPy, float64; b left out of Y when None."""
    if name == "y":
        return reference.forward(ops["x"], ops["w"], ops.get("b"), **kwargs)
    if name not in ("dx", "dw", "db"):
        return None
    return dict(zip(("dx", "dw", "db"), direct.backward(ops["y"], ops["x"], ops["w"], ops.get("b"), **kwargs)))[name]


def _linear(name: str, ops: dict, kwargs: dict):
    """The tensor without its bias: linear in each of x, w and G."""
    return _right(name, {**ops, "b": None}, kwargs)


def search(name: str, value, layer, data: dict, rtol: float, atol: float) -> Diagnosis | None:
    """The operand tensor `name` (the plug-in's `value`, host float64) was computed with, as a
    Diagnosis naming it; None where no operand makes the right formula give it."""
    if name not in SOLVED:
        return None
    for unknown, drawn in SOLVED[name]:
        found = _solve(name, unknown, drawn, value, layer, data, rtol, atol)
        if found is not None:
            return found
    return None


def _draws(name, unknown, drawn, value, layer, data):
    """[(ops, the plug-in's tensor)] at the layer's draw and at fresh draws of `drawn`, enough
    that the equations outnumber the unknowns twice; None if the plug-in fails at one."""
    size, equations = data[KEY[unknown]].size, value.size
    count = min(DRAWS, max(2, math.ceil(2 * size / equations) + 1))
    rng = np.random.default_rng([layer.seed, 3])
    draws = [(data, value)]
    for _ in range(count - 1):
        fresh = rng.standard_normal(data[KEY[drawn]].shape).astype(np.float32).astype(np.float64)
        ops = {**data, KEY[drawn]: fresh}
        args = {t: (None if ops[t] is None else _device(layer, ops[t])) for t in ("x", "w", "b", "y")}
        if name == "y":
            out = call(layer.impl, "forward", {t: args[t] for t in ("x", "w", "b")}, layer.kwargs)
        else:
            grads = call(layer.impl, "backward", {"dy": args["y"], **{t: args[t] for t in ("x", "w", "b")}},
                         layer.kwargs)
            out = grads[("dx", "dw", "db").index(name)] if isinstance(grads, (tuple, list)) and len(grads) == 3 \
                else grads
        if isinstance(out, Raised) or not hasattr(out, "shape") or tuple(out.shape) != value.shape:
            return None
        draws.append((ops, _host(out).astype(np.float64)))
    return draws


def _device(layer, a):
    from .backend import to_device
    return to_device(layer.xp, a).astype(layer.cast["x"].dtype)


def _solve(name, unknown, drawn, value, layer, data, rtol, atol) -> Diagnosis | None:
    true = data[KEY[unknown]]
    if true is None or true.size > UNKNOWNS:
        return None
    draws = _draws(name, unknown, drawn, value, layer, data)
    if draws is None:
        return None
    bias = _bias(name, data)
    targets = [out - bias for _, out in draws]
    columns = np.empty((sum(t.size for t in targets), true.size))
    unit = np.zeros(true.size)
    for i in range(true.size):
        unit[i] = 1.0
        columns[:, i] = np.concatenate([_linear(name, {**ops, KEY[unknown]: unit.reshape(true.shape)},
                                                layer.kwargs).ravel() for ops, _ in draws])
        unit[i] = 0.0
    target = np.concatenate([t.ravel() for t in targets])
    right = columns @ true.ravel()
    if _close(target, right, rtol, atol):
        return None                                   # the plug-in's tensors are right at every draw
    solution, _, rank, _ = np.linalg.lstsq(columns, target, rcond=None)
    if not _close(columns @ solution, target, rtol, atol):
        return None
    solution = solution.reshape(true.shape)
    if _close(solution, true, rtol, atol):
        return None                                   # the right operand: nothing to say of it

    def fits(candidate) -> bool:
        return candidate is not None and candidate.shape == true.shape and \
            _close(columns @ candidate.ravel(), target, rtol, atol)
    spec = layer.geom.spec
    fitting = [relation for relation in relations(solution, true, _tolerance(true, rtol, atol), spec.n)
               if fits(apply(relation, true, spec.n))]
    if fitting:
        return _diagnosis(name, unknown, fitting, layer.geom)
    if rank == true.size:
        worst = np.unravel_index(int(np.argmax(np.abs(solution - true))), true.shape)
        return Diagnosis("wrong-operand", f"{LABELS[name]} is the right formula, {LINEAR[name]}, applied to a "
                                          f"{NAMES[unknown]} that is not {SYMBOL[unknown]} (not even a rearrangement "
                                          f"of its entries: at {list(map(int, worst))} it holds "
                                          f"{solution[worst]:.6g} where {SYMBOL[unknown]} has {true[worst]:.6g}): "
                                          f"the {NAMES[unknown]} your code uses is not the layer's",
                         operand=unknown, relation="other", rule={"tensor": name, "operand": unknown, "relations": []})
    return None


def _bias(name, data):
    if name != "y" or data["b"] is None:
        return 0.0
    return data["b"].reshape((1, -1) + (1,) * (data["x"].ndim - 2))


def _tolerance(true, rtol, atol) -> float:
    return atol + rtol * float(np.max(np.abs(true)))


def _close(a, b, rtol, atol) -> bool:
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


# relations: plain data (a kind and its numbers), rebuilt on any layer by `apply`

def relations(solution, true, tolerance: float, n: tuple):
    """Descriptions of `solution` against `true`, plain dicts, most telling first; n: the layer's
    input size (a zeroed span that starts there is said so, and starts there on any layer)."""
    flat = true.ravel()
    scale = float(solution.ravel() @ flat / max(float(flat @ flat), 1e-300))
    if np.all(np.abs(solution - scale * true) <= tolerance) and abs(scale - 1) > 1e-9:
        yield {"kind": "scaled", "factor": scale}
    index = _matched(solution, true, tolerance)
    if index is None:
        return
    identity = np.arange(true.size).reshape(true.shape)
    if np.array_equal(index, identity):
        return
    if np.all((index == identity) | (index < 0)):
        spans = _zeroed(index < 0)
        if spans is None:
            yield {"kind": "zeroed", "entries": np.flatnonzero(index < 0).tolist(), "size": int(true.size)}
            return
        if all(a >= 2 and start == n[a - 2] for a, start in spans):
            yield {"kind": "zeroed", "zeroed": [[a, "n", 0] for a, _ in spans]}
        yield {"kind": "zeroed", "zeroed": [[a, "end", true.shape[a] - start] for a, start in spans]}
        yield {"kind": "zeroed", "zeroed": [[a, "start", start] for a, start in spans]}
        return
    axes = _axes(index, true.shape)
    if axes is not None:
        yield {"kind": "axes", "axes": axes}
    if np.all(index >= 0):
        for order in _orders(true.ndim):
            if np.array_equal(index, identity.transpose(order).reshape(true.shape)):
                yield {"kind": "reshaped", "order": list(order)}
    if np.all(index >= 0) and true.size <= 64:
        yield {"kind": "reordered", "index": index.ravel().tolist()}


def _matched(solution, true, tolerance):
    """Each entry of `solution` as the flat index of the entry of `true` it equals, -1 where it
    is zero (and no entry equals it); None when some entry is neither."""
    flat = true.ravel()
    order = np.argsort(flat)
    ranked = flat[order]
    wanted = solution.ravel()
    at = np.clip(np.searchsorted(ranked, wanted), 1, len(ranked) - 1) if len(ranked) > 1 else np.zeros(len(wanted),
                                                                                                        dtype=int)
    nearest = np.where(np.abs(ranked[at - 1] - wanted) < np.abs(ranked[at] - wanted), at - 1, at) \
        if len(ranked) > 1 else at
    index = np.where(np.abs(ranked[nearest] - wanted) <= tolerance, order[nearest], -1)
    if np.any((index < 0) & (np.abs(wanted) > tolerance)):
        return None
    return index.reshape(true.shape)


def _orders(ndim):
    """Axis orders of a transpose before a reshape back: the matrix transpose of
    w.reshape(p, -1).T first (im2col code's), then every other."""
    import itertools
    first = tuple(range(1, ndim)) + (0,)
    return [first] + [order for order in itertools.permutations(range(ndim)) if order not in (first,
                                                                                              tuple(range(ndim)))]


def _zeroed(mask):
    """The zeroed entries as [axis, from] pairs where they are every index from `from` on along
    one axis or more (their union); None when they are not."""
    spans = []
    covered = np.zeros_like(mask)
    for a in range(mask.ndim):
        along = np.moveaxis(mask, a, 0)
        full = [i for i in range(along.shape[0]) if along[i].all()]
        if full and full == list(range(full[0], along.shape[0])):
            spans.append([a, full[0]])
            index = [slice(None)] * mask.ndim
            index[a] = slice(full[0], None)
            covered[tuple(index)] = True
    return spans if spans and np.array_equal(covered, mask) else None


def _start(span, shape, n) -> int:
    """Where a zeroed span [axis, anchor, offset] starts on an operand of `shape` on a layer of
    input size n: `offset` from the start, `offset` before the end, or at n ('n')."""
    a, anchor, offset = span
    return offset if anchor == "start" else shape[a] - offset if anchor == "end" else n[a - 2]


def _axes(index, shape):
    """Per axis of the operand, where its entries come from: ['same'], ['reversed'], ['one', j],
    ['shifted', d], ['from', b] (another axis, same size) or ['moved', [...]]; None when the
    index does not factor axis by axis."""
    valid = index >= 0
    source = np.unravel_index(np.where(valid, index, 0), shape)
    grid = np.indices(shape)
    out = []
    for a, size in enumerate(shape):
        found = None
        for b in [a] + [b for b in range(len(shape)) if b != a]:
            if shape[b] != size and b != a:
                continue
            mapping = {}
            ok = True
            for position, src in zip(grid[b][valid], source[a][valid]):
                if mapping.setdefault(int(position), int(src)) != int(src):
                    ok = False
                    break
            if ok:
                found = (b, mapping)
                break
        if found is None:
            return None
        b, mapping = found
        out.append(_axis_map(a, b, mapping, size, valid, grid))
        if out[-1] is None:
            return None
    if not np.all(valid) and not any(m[0] == "shifted" for m in out):
        return None
    return out


def _axis_map(a, b, mapping, size, valid, grid):
    values = [mapping.get(i) for i in range(size)]
    if b != a:
        return ["from", b] if values == list(range(size)) else None
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) == size and values == list(range(size)):
        return ["same"]
    if len(known) == size and values == list(range(size))[::-1]:
        return ["reversed"]
    if known and len({v for _, v in known}) == 1 and len(known) == size:
        return ["one", known[0][1]]
    shifts = {i - v for i, v in known}
    if len(shifts) == 1:
        d = shifts.pop()
        return ["shifted", d]
    if len(known) == size and sorted(values) == list(range(size)):
        return ["moved", values]
    return None


def apply(relation: dict, true, n: tuple):
    """The operand `relation` describes, made from the right one `true` on a layer of input size
    `n` (any size); None where it cannot be (an axis fixed to an index the layer lacks)."""
    kind = relation["kind"]
    if kind == "scaled":
        return relation["factor"] * true
    if kind == "zeroed":
        out = true.copy()
        if "entries" in relation:                      # on a layer of the same size only
            if true.size != relation["size"]:
                return None
            out.ravel()[relation["entries"]] = 0
            return out
        for span in relation["zeroed"]:
            index = [slice(None)] * true.ndim
            index[span[0]] = slice(max(0, _start(span, true.shape, n)), None)
            out[tuple(index)] = 0
        return out
    if kind == "reshaped":
        return true.transpose(relation["order"]).reshape(true.shape)
    if kind == "reordered":
        index = np.asarray(relation["index"])
        return true.ravel()[index].reshape(true.shape) if index.size == true.size else None
    out = true
    for a, how in enumerate(relation["axes"]):
        out = _apply_axis(out, true, a, how)
        if out is None:
            return None
    return out


def _apply_axis(out, true, a, how):
    size = true.shape[a]
    if how[0] == "same":
        return out
    if how[0] == "reversed":
        return np.flip(out, a)
    if how[0] == "one":
        return np.repeat(np.take(out, [how[1]], axis=a), size, axis=a) if how[1] < size else None
    if how[0] == "from":
        if true.shape[how[1]] != size:
            return None
        return np.swapaxes(out, a, how[1]) if a < how[1] else out       # the pair is exchanged once
    if how[0] == "moved":
        return np.take(out, how[1], axis=a) if len(how[1]) == size else None
    d = how[1]                                          # shifted: out[i] = in[i - d], zeros coming in
    shifted = np.zeros_like(out)
    if abs(d) >= size:
        return shifted
    src = [slice(None)] * out.ndim
    dst = [slice(None)] * out.ndim
    src[a], dst[a] = (slice(0, size - d), slice(d, None)) if d > 0 else (slice(-d, None), slice(0, size + d))
    shifted[tuple(dst)] = out[tuple(src)]
    return shifted


def _diagnosis(name: str, operand: str, fitting: list, geom) -> Diagnosis:
    """The Diagnosis of `name` computed with the operand the first of `fitting` describes (the
    rest describe the same operand on this layer: `carry` tries them all on another)."""
    relation = fitting[0]
    spec = geom.spec
    names = axis_names(operand, spec.dims, spec.transposed)
    sym, what, label = SYMBOL[operand], NAMES[operand], LABELS[name]
    shape = geom.shapes["y" if operand == "g" else operand]
    expression, words, mistake = _words(relation, sym, names, shape, operand, geom)
    kind = relation["kind"] if relation["kind"] != "axes" else _axes_kind(relation["axes"])
    text = (f"{label} is the right formula, {LINEAR[name]}, applied to {'an' if what[0] in 'aeiou' else 'a'} {what} "
            f"{words}"
            + (f", {expression}" if expression else "") + f": {_consequence(name, operand, mistake, geom)}")
    return Diagnosis(mistake, text, operand=operand, relation=kind, expression=expression,
                     rule={"tensor": name, "operand": operand, "relations": fitting})


def _axes_kind(axes) -> str:
    kinds = {how[0] for how in axes if how[0] != "same"}
    names = {"reversed": "flipped", "one": "one-index", "from": "axes-exchanged", "shifted": "shifted",
             "moved": "permuted"}
    return "+".join(sorted(names[k] for k in kinds))


def _words(relation, sym, names, shape, operand, geom):
    """(NumPy expression or None, the words after 'a filter ...', mistake id)."""
    kind = relation["kind"]
    if kind == "scaled":
        return f"{relation['factor']:.6g} * {sym}", f"scaled by {relation['factor']:.6g}", "wrong-operand"
    if kind == "zeroed":
        if "entries" in relation:
            return None, f"equal to {sym} with {len(relation['entries'])} of its entries zeroed (flat indices " \
                         f"{relation['entries'][:12]}{'…' * (len(relation['entries']) > 12)})", "wrong-operand"
        n = geom.spec.n
        spans = [(span[0], _start(span, shape, n), span[1]) for span in relation["zeroed"]]
        parts = [f"{names[a]} from index {start} on" + {"n": " (the input's size n)", "end": f" (its last "
                                                        f"{shape[a] - start})", "start": ""}[anchor]
                 for a, start, anchor in spans]
        expression = "; ".join(f"{sym}[{', '.join([':'] * a + [f'{start}:'])}] = 0" for a, start, _ in spans)
        early = operand == "g" and all(a >= 2 for a, _, _ in spans)
        return (expression, f"equal to {sym} with its entries zeroed along " + " and ".join(parts),
                "loop-bounds" if early else "wrong-operand")
    if kind == "reshaped":
        order = relation["order"]
        if order == list(range(1, len(order))) + [0]:
            expression = f"{sym}.reshape({shape[0]}, -1).T.reshape({sym}.shape)"
        else:
            expression = f"{sym}.transpose({', '.join(map(str, order))}).reshape({sym}.shape)"
        return expression, (f"whose entries are {sym}'s, reordered as a reshape of a transposed array"), \
            "wrong-operand"
    if kind == "reordered":
        return (f"{sym}.ravel()[{relation['index']}].reshape({sym}.shape)",
                f"whose entries are {sym}'s in another order", "wrong-operand")
    parts, index, mistake = [], [], "wrong-operand"
    for a, how in enumerate(relation["axes"]):
        if how[0] == "same":
            index.append(":")
        elif how[0] == "reversed":
            parts.append(f"reversed along {names[a]}")
            index.append("::-1")
        elif how[0] == "one":
            parts.append(f"{names[a]} {how[1]}'s entries for every {names[a]}")
            index.append(f"[{how[1]}] * {shape[a]}")
        elif how[0] == "from":
            parts.append(f"its {names[a]} and {names[how[1]]} axes exchanged")
            index.append(":")
        elif how[0] == "moved":
            parts.append(f"its {names[a]} entries reordered to {how[1]}")
            index.append(str(how[1]))
        else:
            d = how[1]
            parts.append(f"shifted by {d} along {names[a]} ({sym}'[i] = {sym}[i − {d}], zeros coming in)"
                         if d > 0 else f"shifted by {d} along {names[a]} ({sym}'[i] = {sym}[i + {-d}], zeros coming "
                                       "in)")
            index.append(":")
    shifts = {how[1] for a, how in enumerate(relation["axes"]) if how[0] == "shifted" and a >= 2}
    if shifts and operand in ("x", "g") and all(how[0] in ("same", "shifted") for how in relation["axes"]):
        mistake = "padding-hard-coded"
    swapped = [(a, how[1]) for a, how in enumerate(relation["axes"]) if how[0] == "from" and a < how[1]]
    expression = None
    if not shifts:
        expression = f"{sym}[{', '.join(index)}]"
        if any("*" in i or i.startswith("[") for i in index):
            expression = None
        for a, b in swapped:
            expression = (expression or sym) + f".swapaxes({a}, {b})"
    return expression, "equal to " + sym + " " + ", ".join(parts), mistake


def _consequence(name, operand, mistake, geom) -> str:
    """What the relation means for the code, in the seeds' words."""
    spec = geom.spec
    if mistake == "loop-bounds":
        return (f"the loops over dL/dY stop early, before its last rows (o = {list(geom.out)}); loop over the "
                f"output's size, not the input's n = {list(spec.n)}")
    if mistake == "padding-hard-coded":
        return (f"the {NAMES[operand]} sits shifted against the right one, as when the backward pads by another "
                f"amount than the layer's padding {list(geom.padding)} (a padding hard-coded, or taken from another "
                "layer): pad and crop by the layer's own padding")
    if operand == "w":
        return ("the filter your " + ("forward caches" if name != "y" else "forward uses")
                + " is not the layer's filter: use w as given, shape (p, k, m_h, m_w)")
    if operand == "x":
        return "the input your backward reads is not the layer's X (as cached or padded)"
    return "the dL/dY your backward uses is not the one it was given"


def carry(diagnosis: Diagnosis, name: str, value, data: dict, geom, kwargs: dict, rtol: float, atol: float):
    """`diagnosis` (found on the smallest layer) for the checked layer, when the operand it names,
    made there from the layer's own operand, gives the plug-in's `value` exactly; else None."""
    rule = diagnosis.rule
    if rule is None or rule["tensor"] != name:
        return None
    ops = {t: _host(data[t]) for t in ("x", "w", "b", "y")}
    operand = KEY[rule["operand"]]
    value = _host(value).astype(np.float64)
    for relation in rule["relations"]:
        made = apply(relation, ops[operand], geom.spec.n)
        right = None if made is None else _right(name, {**ops, operand: made}, kwargs)
        if right is not None and right.shape == value.shape and _close(value, right, rtol, atol):
            return _diagnosis(name, rule["operand"], [relation], geom)
    return None
