"""The smallest failing layer: a failing spec shrunk field by field while it fails the same way,
as property-based testing tools shrink a failing example.

"The same way" is the failure's signature (`failure`): which tensors fail and how, each by
its diagnosis, the exception the plug-in raised, a wrong shape, or wrong values no known
mistake gives. Each field in FIELDS is lowered towards its least value (every axis together
first, then each axis; each side of the padding): the least value is tried first, then a
binary search between it and the value that still fails. Passes repeat until nothing
shrinks. Every candidate is a layer the loader accepts and the plug-in's API can express (a
layer it skips is not the same failure); each is checked by `verify` with the checked layer's
options, at batch, seed, dtype and tolerances as given.

The result (`result.Smallest`) holds the small layer as spec fields, the outcome one step
below it for each field (what made it pass), the failing tensors side by side where they hold
at most ARRAY_NUMBERS numbers, and what each failing tensor computed there (operands.py).
"""

import re
import time

from .errors import ConvcheckError, SpecError
from .fields import fields_of
from .options import CHECK_BATCH
from .result import Smallest
from .spec import LABELS

FIELDS = ("n", "batch", "groups", "k", "p", "m", "output_padding", "stride", "padding", "dilation")
"""The fields shrunk, in this order: the input size first (it sets what every later try costs)."""
LEAST = {"n": 1, "batch": 1, "groups": 1, "k": 1, "p": 1, "m": 1, "output_padding": 0, "stride": 1, "padding": 0,
         "dilation": 1}
DEFAULTS = {"dilation": 1, "groups": 1, "bias": True, "dtype": "float64", "seed": 0, "transposed": False}
"""Fields a pasted spec leaves out at these values (dilation: every axis 1)."""
AXES = ("n", "m", "stride", "dilation", "output_padding", "padding")
"""Fields held per axis (padding per side)."""
ROUNDS = 4
"""Passes over FIELDS at most (one more after the last that shrank nothing is not needed)."""
ARRAY_NUMBERS = 64
"""Largest failing tensor shown side by side with the right one."""
PADDINGS = 4
"""Paddings 0 to 3 are tried on the smallest layer: one that alone passes is held fixed in the code."""
FLOOR_S = 2.0
"""Seconds shrinking may take on any layer; a layer whose check took longer may take as long
again: a failing run costs at most about twice an unshrunk one."""
NEEDS = {"n": "an input of more than {v}", "batch": "a batch of more than {v}", "groups": "more than {v} groups",
         "k": "more than {v} input channel{s}", "p": "more than {v} filter{s}", "m": "a filter larger than {v}",
         "output_padding": "an output padding above {v}", "stride": "a stride above {v}",
         "padding": "a padding other than {v}", "dilation": "a dilation above {v}"}


class _Stop(Exception):
    """Shrinking ran out of time (or was interrupted): keep what was found."""


def limit_for(seconds: float) -> float:
    """Seconds shrinking may take after a check that took `seconds`."""
    return max(FLOOR_S, seconds)


def failure(result) -> tuple:
    """How `result` fails: ((tensor, how), ...); () when it passes or was skipped."""
    if result.skipped:
        return ()
    if result.error:
        return (("layer", "error"),)
    return tuple((c.name, _how(c)) for c in result.checks if not c.passed and not c.skipped)


def _how(check) -> str:
    if check.unchecked:
        return "not checked"
    if check.diagnosis is not None and check.diagnosis.mistake:
        return check.diagnosis.mistake
    raised = re.match(r"(?:forward |backward )?raised ([A-Za-z_][\w.]*)", check.message)
    if raised:
        return f"raised {raised.group(1)}"
    if check.actual_shape is not None and tuple(check.actual_shape) != tuple(check.expected_shape or ()):
        return "wrong shape"
    if check.max_abs is None:
        return "invalid"                       # a wrong dtype, NaN, not an array: validate's message
    return "wrong values"


def smallest(result, impl, options: dict, limit: float) -> Smallest | None:
    """The smallest layer that fails as `result` does, found within `limit` seconds; None when
    the layer does not fail in a way shrinking can follow (it passed, was skipped, or the check
    itself could not finish). `impl`: what verify was given (an Implementation or a name);
    `options`: verify's keyword options (method, budget, seed, rtol, ...)."""
    target = failure(result)
    if not target or target == (("layer", "error"),):
        return None
    started = time.perf_counter()
    search = _Search(target, impl, options, started, limit)
    fields = _fields(result.spec)
    search.memo[_key(fields)] = (target, result)
    stopped = ""
    try:
        for _ in range(ROUNDS):
            before = fields
            for name in FIELDS:
                for slot in _slots(fields, name):
                    fields = search.lower(fields, name, slot)
            if fields == before:
                break
    except _Stop as e:
        stopped = str(e)
    further = [] if stopped else search.further(fields)
    small = search.memo[_key(fields)][1]
    found = Smallest(_brief(fields, f"{result.spec.name}-smallest", short=True), [list(f) for f in target], further,
                     stopped=stopped)
    if not stopped:
        _describe(found, small, impl, options)
        unnamed = any(d.mistake is None or "shifted" in (d.relation or "") or d.relation == "padded"
                      for d in found.diagnoses.values()) or \
            any(how.startswith("raised") or how == "wrong values" for _, how in target)
        only = search.only_padding(fields) if unnamed else None
        if only is not None:
            _padding_found(found, small, only, fields["padding"])
    found.tried = search.tried
    found.seconds = time.perf_counter() - started
    return found


_TRIED: dict = {}
"""Layers checked while shrinking, kept across the layers one process checks with one plug-in
and options (a run's layers shrink towards the same small ones): (impl, options) -> memo."""
KEPT = 4096
"""Most layers _TRIED keeps; past it, it starts again."""


def _memo(impl, options: dict) -> dict:
    """The memo of layers tried with `impl` and `options` (only the latest pair is kept). A
    plug-in named by its file is known by the functions loaded from it: a file edited since
    (the learner's loop reloads it) starts a new memo."""
    if isinstance(impl, str):
        from .impls import load_impl
        loaded = load_impl(impl)
        impl = (impl, loaded.forward, loaded.backward)
    context = (impl, tuple(sorted((key, repr(value)) for key, value in options.items())))
    if context not in _TRIED or len(_TRIED[context]) > KEPT:
        _TRIED.clear()
        _TRIED[context] = {}
    return _TRIED[context]


class _Search:
    """The candidates tried, by their fields (memo: key -> (failure or None when invalid, result))."""

    def __init__(self, target, impl, options, started: float, limit: float):
        self.target, self.impl, self.limit, self.deadline = target, impl, limit, started + limit
        self.options = {**options, "shrink": False}
        self.memo, self.tried = _memo(impl, self.options), 0

    def outcome(self, fields):
        """(failure, result) of the layer `fields` describe; (None, None) where it is no valid layer."""
        key = _key(fields)
        if key not in self.memo:
            if time.perf_counter() > self.deadline:
                raise _Stop(f"stopped after {self.tried} layers: shrinking may take {self.limit:.3g} s")
            self.memo[key] = self._check(fields)
        return self.memo[key]

    def _check(self, fields):
        from .checker import verify
        from .loader import load_mapping
        try:
            spec = load_mapping(_brief(fields, "shrinking"))[0]
        except SpecError:
            return None, None
        self.tried += 1
        try:
            result = verify(spec, self.impl, **self.options)
        except ConvcheckError:
            return None, None
        except KeyboardInterrupt:
            raise _Stop(f"interrupted after {self.tried} layers") from None
        return failure(result), result

    def fails(self, fields) -> bool:
        return self.outcome(fields)[0] == self.target

    def lower(self, fields, name, slot):
        """`fields` with field `name` at `slot` (indices into its list, None for an int) as low as
        it goes while the layer fails the same way: values from its least up, doubling the step
        (a candidate that is no valid layer costs nothing), then a binary search between the
        last that did not fail the same way and the first that did."""
        value = _get(fields, name, slot)
        least = LEAST[name]
        if value is None or value <= least:
            return fields
        low, high, step = least - 1, value, 0           # low does not fail the same way; high does
        while least + step < value:                     # least, least + 1, + 2, + 4, ...: mistakes show on
            if self.fails(_set(fields, name, slot, least + step)):  # small layers, which are cheap to check
                high = least + step
                break
            low, step = least + step, max(1, 2 * step)
        while high - low > 1:
            middle = (low + high) // 2
            if self.fails(_set(fields, name, slot, middle)):
                high = middle
            else:
                low = middle
        return _set(fields, name, slot, high)

    def only_padding(self, fields):
        """The one padding (every side alike) at which the layer passes, of 0 to PADDINGS - 1,
        while it fails at every other: a padding the code holds fixed; None if there is none
        such (or the padding is a name)."""
        if not isinstance(fields.get("padding"), list):
            return None
        passing = []
        try:
            for value in range(PADDINGS):
                failed, _ = self.outcome({**fields, "padding": [value] * len(fields["padding"])})
                if failed == ():
                    passing.append(value)
                elif failed is None:
                    return None
        except _Stop:
            return None
        return passing[0] if len(passing) == 1 and passing[0] > 0 else None

    def further(self, fields) -> list:
        """For each field above its least value: what the layer does one step below."""
        found = []
        for name in FIELDS:
            for slot in _slots(fields, name, single=True):
                value = _get(fields, name, slot)
                if value is None or value <= LEAST[name]:
                    continue
                try:
                    failed, _ = self.outcome(_set(fields, name, slot, value - 1))
                except _Stop:
                    return found
                if failed is None:
                    continue
                label = _label(name, slot, fields)
                if failed == ():
                    outcome, text = "passes", (f"passes with {label} = {value - 1}: the mistake needs "
                                               + NEEDS[name].format(v=value - 1, s="s" * (value - 1 != 1)))
                else:
                    how = "; ".join(f"{LABELS.get(tensor, tensor)} {what}" for tensor, what in failed)
                    outcome, text = "fails differently", f"with {label} = {value - 1} it fails differently ({how})"
                found.append({"field": name, "axis": None if slot is None or len(slot) != 1 else slot[0],
                              "value": value - 1, "outcome": outcome, "text": text})
        return found


def _describe(found: Smallest, small, impl, options) -> None:
    """The small layer's failing tensors side by side (when small) and what each computed."""
    from .operands import look
    found.arrays, found.diagnoses = look(small, impl, options, ARRAY_NUMBERS)


def _padding_found(found: Smallest, small, only: int, padding: list) -> None:
    """Name padding-hard-coded for each failing tensor of the small layer that nothing else names
    (or only the exception it raised)."""
    from .result import Diagnosis
    for check in small.checks:
        if check.passed or check.skipped or check.unchecked:
            continue
        named = found.diagnoses.get(check.name)
        if named is None or named.mistake is None or "shifted" in (named.relation or "") or \
                named.relation == "padded":                # a shift is what a fixed padding does
            found.diagnoses[check.name] = Diagnosis(
                "padding-hard-coded", f"the smallest failing layer (padding {_sides(padding)}) passes at padding "
                                      f"{only} and fails at every other of 0 to {PADDINGS - 1}: the code pads by "
                                      f"{only} whatever the layer's padding is (np.pad(x, {only}), "
                                      f"x_pad[{only}:-{only}]): take the padding from the layer (conv_param['pad'], "
                                      "padding=) everywhere it is used")


def _sides(padding: list):
    return padding[0] if len(set(padding)) == 1 else padding


def _fields(spec) -> dict:
    """The spec's fields with every per-axis field as a list (padding: (before, after) per axis,
    or its name), the batch as checked."""
    fields = fields_of(spec)
    fields.pop("dims", None)
    fields["batch"] = spec.batch or CHECK_BATCH
    for name, value in (("n", spec.n), ("m", spec.m), ("stride", spec.stride), ("dilation", spec.dilation)):
        fields[name] = list(value)
    if spec.transposed:
        fields["output_padding"] = list(spec.out_padding)
    if not isinstance(spec.padding, str):
        fields["padding"] = list(spec.padding)
    return fields


def _brief(fields: dict, name: str, short: bool = False) -> dict:
    """`fields` as a file holds them: an int where every axis (every side) agrees, `dims` where
    that leaves it unsaid; named `name`, first. short: without the fields at their defaults."""
    out = {key: value for key, value in fields.items() if key != "name"}
    for key in AXES:
        value = out.get(key)
        if isinstance(value, list) and len(set(value)) == 1:
            out[key] = value[0]
    if short:
        out = {key: value for key, value in out.items() if DEFAULTS.get(key, (None,)) != value}
    dims = len(fields["n"])
    if dims != 2 and not isinstance(out["n"], list) and not isinstance(out["m"], list):
        return {"name": name, "dims": dims, **out}
    return {"name": name, **out}


def _key(fields: dict) -> tuple:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(fields.items()) if k != "name")


def _slots(fields: dict, name: str, single: bool = False) -> list:
    """Where field `name` can be lowered: None for an int field; for a list, every entry
    together (where all agree), then each axis's pair of sides (padding), then each entry.
    single: one slot per field where every entry agrees, else each entry."""
    value = fields.get(name)
    if not isinstance(value, list):
        return [None] if isinstance(value, int) and not isinstance(value, bool) else []
    every = tuple(range(len(value)))
    if single:
        return [every] if len(set(value)) == 1 else [(i,) for i in every]
    slots = [every] if len(set(value)) == 1 and len(value) > 1 else []
    if name == "padding" and len(value) > 2:
        slots += [(2 * a, 2 * a + 1) for a in range(len(value) // 2)]
    return slots + [(i,) for i in every]


def _get(fields, name, slot):
    value = fields.get(name)
    if slot is None:
        return value
    values = {value[i] for i in slot}
    return values.pop() if len(values) == 1 else None


def _set(fields, name, slot, new) -> dict:
    if slot is None:
        return {**fields, name: new}
    value = list(fields[name])
    for i in slot:
        value[i] = new
    return {**fields, name: value}


def _label(name: str, slot, fields) -> str:
    """'p', 'stride', 'n[1]' (one axis of a field that differs per axis)."""
    if slot is None or len(slot) == len(fields[name]):
        return name
    return f"{name}[{slot[0]}]"


