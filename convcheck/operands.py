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
SOLVED = {"dx": (("w", "g"), ("g", "w")), "dw": (("x", "g"), ("xpad", "g"), ("g", "x")),
          "y": (("w", "x"), ("x", "w"), ("xpad", "w"))}
"""Per tensor: (the operand solved for, the operand drawn again), most telling first. `xpad`
is the padded input X_pad (the formula then pads nothing): an input padded by other amounts
than the layer's, on one side only or not at all, is X_pad shifted."""
SYMBOL = {"w": "w", "x": "x", "g": "dy", "xpad": "x_pad"}
KEY = {"w": "w", "x": "x", "g": "y", "xpad": "x"}
"""Each operand's key in the layer's data (G is drawn as `y`, dL/dY's shape; X_pad is X)."""
NAMES = {"w": "filter", "x": "input", "g": "upstream gradient", "xpad": "input"}
LINEAR = {"dx": "dL/dX = Σ_j rot180(F_j) ∗ pad(dL/dY^(j))", "dw": "dL/dF_j^(i) = X^(i) ⋆ dL/dY^(j)",
          "y": "Y = X_pad ⋆_s F + b"}


def axis_names(operand: str, dims: int, transposed: bool) -> tuple:
    """Each axis of an operand in words: ('sample', 'channel', 'H', 'W') for x."""
    spatial = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}[dims]
    lead = {"x": ("sample", "channel"), "xpad": ("sample", "channel"), "g": ("sample", "filter"),
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
            try:
                diagnosis = search(check.name, value, layer, data, rtol, atol) or diagnosis
            except (np.linalg.LinAlgError, ValueError, FloatingPointError):    # NaN or inf in the arrays
                pass
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
    right = _right(name, data, layer.kwargs)
    if right is None or right.shape != value.shape or _close(value, right, rtol, atol):
        return None
    other = None
    for unknown, drawn in SOLVED[name]:
        found = _solve(name, unknown, drawn, value, layer, data, rtol, atol)
        if found is not None and found.relation != "other":
            return found
        other = other or found
    fitting = [relation for relation in relations(value, right, _tolerance(right, rtol, atol), layer.geom.spec.n)
               if relation["kind"] != "scaled" and _fits(apply(relation, right, layer.geom.spec.n), value, rtol, atol)]
    return _rearranged(name, fitting, layer.geom) if fitting else other


def _fits(made, value, rtol, atol) -> bool:
    return made is not None and made.shape == value.shape and _close(value, made, rtol, atol)


def _rearranged(name: str, fitting: list, geom) -> Diagnosis:
    """The Diagnosis of a tensor that holds the right values, rearranged as `fitting[0]` says."""
    relation, spec = fitting[0], geom.spec
    sym, label = name, LABELS[name]
    names = axis_names("x" if name == "dx" else "w" if name == "dw" else "g", spec.dims, spec.transposed)
    expression, words, _ = _words(relation, sym, names, geom.shapes[{"dx": "x", "dw": "w", "y": "y"}[name]], None,
                                  geom)
    kind = relation["kind"] if relation["kind"] != "axes" else _axes_kind(relation["axes"])
    how = words.removeprefix(f"equal to {sym} ").removeprefix(f"whose entries are {sym}'s, ")
    how = how if how.startswith("reordered") else "with " + how.removeprefix("with ")
    why = {"shifted": "written at an offset: cropped from the padded gradient at the wrong place, or indexed "
                      "with a padding that is not the layer's",
           "flipped": "read or written backwards along an axis",
           "zeroed": "some never written: loops that stop early"}.get(kind, "a reshape where a transpose belongs, "
                                                                     "or axes or indices exchanged where the result "
                                                                     "is written")
    return Diagnosis("rearranged", f"{label} holds the right values in the wrong places: the right {label} {how}"
                                   + (f", {expression} of it" if expression else "") + _in_nchw(spec, expression)
                                   + f" ({why})",
                     operand=None, relation=kind, expression=expression,
                     rule={"tensor": name, "operand": None, "relations": fitting})


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


def operand(unknown: str, ops: dict, geom, kwargs: dict) -> tuple:
    """(the right operand `unknown` on a layer, the formula's keyword arguments for it): X padded
    by the layer's padding and no padding left to the formula for `xpad`; None for a
    transposed layer's xpad (its padding is cut from the output)."""
    if unknown != "xpad":
        return ops[KEY[unknown]], kwargs
    if geom.spec.transposed:
        return None, kwargs
    from .impls.common import pad
    return pad(ops["x"], geom.padding), {**kwargs, "padding": (0,) * len(geom.padding)}


def _solve(name, unknown, drawn, value, layer, data, rtol, atol) -> Diagnosis | None:
    true, kwargs = operand(unknown, data, layer.geom, layer.kwargs)
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
                                                kwargs).ravel() for ops, _ in draws])
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
    """Each entry of `solution` as the flat index of the nonzero entry of `true` it equals (the
    draws are random: each value is there once), -1 where it is zero; None when some entry is
    neither. Zeros of `true` (a padded input's border) are never matched: zero is -1."""
    flat = true.ravel()
    order = np.flatnonzero(np.abs(flat) > tolerance)
    order = order[np.argsort(flat[order])]
    ranked = flat[order]
    wanted = solution.ravel()
    if len(ranked) == 0:
        return None
    at = np.clip(np.searchsorted(ranked, wanted), 1, max(1, len(ranked) - 1)) if len(ranked) > 1 else \
        np.zeros(len(wanted), dtype=int)
    nearest = np.where(np.abs(ranked[at - 1] - wanted) < np.abs(ranked[at] - wanted), at - 1, at) \
        if len(ranked) > 1 else at
    close = (np.abs(ranked[nearest] - wanted) <= tolerance) & (np.abs(wanted) > tolerance)
    index = np.where(close, order[nearest], -1)
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
        out.append(_axis_map(a, b, mapping, size))
        if out[-1] is None:
            return None
    if not np.all(valid) and not any(m[0] == "shifted" for m in out):
        return None
    return out


def _axis_map(a, b, mapping, size):
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
    shape = geom.shapes["y" if operand == "g" else "x" if operand == "xpad" else operand]
    if operand == "xpad":
        shape = shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], geom.pads))
    expression, words, mistake = _words(relation, sym, names, shape, operand, geom)
    kind = relation["kind"] if relation["kind"] != "axes" else _axes_kind(relation["axes"])
    if operand == "xpad" and kind == "shifted":
        kind = "padded"
    text = (f"{label} is the right formula, {LINEAR[name]}, applied to {'an' if what[0] in 'aeiou' else 'a'} {what} "
            f"{words}"
            + (f", {expression}" if expression else "") + _in_nchw(spec, expression)
            + f": {_consequence(name, operand, mistake, geom)}")
    rule = {"tensor": name, "operand": operand, "relations": fitting}
    if operand == "xpad" and relation["kind"] == "axes":        # where X starts in X_pad, on the axes that show it
        rule["before"] = sorted({lo + how[1] for (lo, _), how in zip(geom.pads, relation["axes"][2:])
                                 if how[0] == "shifted"})
    return Diagnosis(mistake, text, operand=operand, relation=kind, expression=expression, rule=rule)


def _in_nchw(spec, expression) -> str:
    """For a channels-last layer: the expression indexes the arrays as convcheck holds them."""
    if spec.layout != "nhwc" or not expression:
        return ""
    return (" (in NCHW order, x (N, k, H, W) and w (p, k, m_h, m_w), as convcheck holds them; your layer's are "
            "channels-last)")


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
    if operand == "xpad" and all(how[0] in ("same", "shifted") for how in relation["axes"]) and \
            all(how[0] == "same" for how in relation["axes"][:2]):
        return _padded(relation, geom)
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
            if a < how[1]:
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
    fixed = [(a, how[1]) for a, how in enumerate(relation["axes"]) if how[0] == "one"]
    if len(fixed) == 1 and len(parts) == 1:                       # one index for every index of one axis
        a, j = fixed[0]
        expression = f"np.repeat({sym}[{', '.join([':'] * a + [f'{j}:{j + 1}'])}], {shape[a]}, axis={a})"
    elif not shifts and not any("*" in i or i.startswith("[") for i in index):
        expression = sym if all(i == ":" for i in index) else f"{sym}[{', '.join(index)}]"
        for a, b in swapped:
            expression += f".swapaxes({a}, {b})"
    return expression, "equal to " + sym + " " + ", ".join(parts), mistake


def _padded(relation, geom):
    """(expression, words, mistake) of X_pad shifted: X padded by other amounts than the layer's."""
    shifts = [how[1] if how[0] == "shifted" else 0 for how in relation["axes"][2:]]
    pads = [(lo + d, hi - d) for (lo, hi), d in zip(geom.pads, shifts)]
    widths = ", ".join(["(0, 0)"] * 2 + [f"({max(lo, 0)}, {max(hi, 0)})" for lo, hi in pads])
    expression = f"np.pad(x, ({widths}))" if all(lo >= 0 and hi >= 0 for lo, hi in pads) else None
    said = " × ".join(f"({lo}, {hi})" for lo, hi in pads)
    right = " × ".join(f"({lo}, {hi})" for lo, hi in geom.pads)
    return expression, (f"padded by (before, after) = {said} per axis where the layer pads {right} (a negative "
                        "amount crops)"), "wrong-operand"


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
        return ("the filter your " + ("backward uses (or your forward caches for it)" if name != "y" else
                                      "forward uses")
                + " is not the layer's filter: use w as given, shape (p, k, m_h, m_w)")
    if operand == "x":
        return "the input your backward reads is not the layer's X (as cached or padded)"
    if operand == "xpad":
        return ("pad X by the layer's own (before, after) on each axis, in the forward and the backward alike "
                "(np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) in 2-D)")
    return "the dL/dY your backward uses is not the one it was given"


def carry(diagnosis: Diagnosis, name: str, value, data: dict, geom, kwargs: dict, rtol: float, atol: float):
    """`diagnosis` (found on the smallest layer) for the checked layer, when the operand it names,
    made there from the layer's own operand, gives the plug-in's `value` exactly; else None."""
    rule = diagnosis.rule
    if rule is None or rule["tensor"] != name:
        return None
    ops = {t: _host(data[t]) for t in ("x", "w", "b", "y")}
    value = _host(value).astype(np.float64)
    n = geom.spec.n
    found_on = rule["operand"]
    for other, relation in [*((found_on, r) for r in rule["relations"]), *_widened(name, found_on, rule["relations"],
                                                                                    len(n)),
                            *_placed(rule, geom)]:
        if other is None:                                 # the tensor itself, rearranged
            if _fits(apply(relation, _right(name, ops, kwargs), n), value, rtol, atol):
                return _rearranged(name, [relation], geom)
            continue
        true, formula = operand(other, ops, geom, kwargs)
        made = None if true is None else apply(relation, true, n)
        if _fits(None if made is None else _right(name, {**ops, KEY[other]: made}, formula), value, rtol, atol):
            return _diagnosis(name, other, [relation], geom)
    return None


def _placed(rule: dict, geom) -> list:
    """X padded by other amounts (found on the smallest layer, where X started at the same index
    `before` on every axis that showed it) on this layer: X starting at `before` on every axis."""
    if len(rule.get("before", ())) != 1:
        return []
    before = rule["before"][0]
    shifts = [["shifted", before - lo] for lo, _ in geom.pads]
    return [("xpad", {"kind": "axes", "axes": [["same"], ["same"]] + shifts})]


def _widened(name: str, operand, found: list, dims: int) -> list:
    """(operand, relation) pairs to try beyond those found on the smallest layer, whose small
    axes may hide a shift's true form: a shift along some spatial axes on every spatial axis,
    and the same shift read the other way, on the other operand (dL/dF from X shifted by d is
    dL/dF from dL/dY shifted by −d inside the layer; the smallest layer may show either)."""
    out = []
    partner = {pair[0]: pair[1] for pair in SOLVED.get(name, ())}.get(operand)
    for relation in found:
        if relation["kind"] != "axes":
            continue
        axes = relation["axes"]
        shifts = {how[1] for how in axes[-dims:] if how[0] == "shifted"}
        if len(shifts) != 1 or not all(how[0] in ("same", "shifted") for how in axes):
            continue
        d = shifts.pop()
        every = {"kind": "axes", "axes": axes[:-dims] + [["shifted", d]] * dims}
        out.append((operand, every))
        if partner is not None:
            out.append((partner, {"kind": "axes", "axes": axes[:-dims] + [["shifted", -d]] * dims}))
    return out
