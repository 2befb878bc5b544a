"""convcheck where code is already checked: `assert_conv_backward` in a test suite, `check` in a
notebook. Both run `verify` in this process (the test runner or the kernel is the isolation).

    from convcheck.testing import assert_conv_backward
    assert_conv_backward("my_conv.py", "configs/seed001_multichannel.yaml")
    assert_conv_backward((forward, backward), n=7, m=3, k=3, p=4, padding=1, stride=2)
    assert_conv_backward("cs231n/layers.py", api="cs231n", n=7, m=3, k=3, p=2, padding=1, stride=2)

The implementation is anything `convcheck.impls.implementation` takes (what --impl takes, a
module, a (forward, backward) pair; `api=` for CS231n's pair, a torch op or a layer class).
The spec is a file's path, a mapping of fields or a ConvSpec; keyword fields override it
(or are the whole spec), and keyword options go to `verify`.
"""

import os
import time
from dataclasses import replace

from .errors import SpecError
from .impls import implementation
from .loader import fields_of, load_mapping, load_specs
from .report import headline
from .result import Results, SpecResult
from .spec import ConvSpec

OPTIONS = ("method", "rtol", "atol", "seed", "budget", "backend", "layout", "samples", "channels", "projections",
           "through")
"""Keyword arguments that are `verify`'s options, not spec fields (seed and layout override the spec's)."""


def assert_conv_backward(impl, spec=None, *, api: str | None = None, **fields) -> "SpecResult | Results":
    """Check `impl` on the spec's layers; raise AssertionError with the plain-text report (table,
    coverage, diagnosis, where the error is) when any fails, else return the result (a Results
    list when the spec holds several layers). Bad fields or options raise the CLI's one-line
    error as a ValueError (convcheck.SpecError, ImplError)."""
    results = _check(implementation(impl, api=api), spec, fields)
    if not results.passed:
        raise AssertionError(f"{headline(results)}\n\n{results!r}")
    return results[0] if len(results) == 1 else results


def check(forward, backward=None, *, api: str | None = None, spec=None, **fields) -> "SpecResult | Results":
    """Check functions defined in a notebook (or anything `assert_conv_backward` takes) and return
    the result, passed or not; it shows as the table in Jupyter and as plain text elsewhere.

        check(forward, backward, n=7, m=3, k=3, p=4, padding=1, stride=2)
        check(conv_forward_naive, conv_backward_naive, n=7, m=3, k=3, p=2, padding=1, stride=2)   # CS231n
        check(MyConvFunction, n=7, m=3, k=3, p=4, padding=1, stride=1)       # torch.autograd.Function
    """
    results = _check(implementation(forward, backward, api=api), spec, fields)
    return results[0] if len(results) == 1 else results


def _check(impl, spec, fields: dict) -> Results:
    from .checker import verify
    options = {key: fields.pop(key) for key in OPTIONS if key in fields}
    started = time.perf_counter()
    results = Results(verify(layer, impl, **options) for layer in specs_of(spec, fields))
    results.seconds = time.perf_counter() - started
    return results


def specs_of(spec, fields: dict) -> list[ConvSpec]:
    """The layers to check: a file's (every layer of it), a mapping's, a ConvSpec, or the fields
    alone; `fields` override each layer's."""
    if spec is None:
        return load_mapping(fields)
    if isinstance(spec, (str, os.PathLike)):
        return [_override(layer, fields) for layer in load_specs(spec)]
    if isinstance(spec, ConvSpec):
        return [_override(spec, fields)]
    if isinstance(spec, dict):
        if "layers" in spec:
            return [_override(layer, fields) for layer in load_mapping(spec)]
        return load_mapping({**spec, **fields})
    raise SpecError(f"spec: expected a spec file's path, a mapping of fields or a ConvSpec, got {type(spec).__name__}")


def _override(spec: ConvSpec, fields: dict) -> ConvSpec:
    """`spec` with `fields` in place of its own, validated as a layer; still from its file."""
    if not fields:
        return spec
    try:
        layer = load_mapping({**fields_of(spec), **fields})[0]
    except SpecError as e:                   # said as for the file, and that the keyword is the override
        given = " (given as a keyword argument)" if e.field in fields else ""
        raise SpecError(e.detail + given, file=spec.source, line=spec.line, layer=e.layer, field=e.field) from None
    return replace(layer, source=spec.source, line=spec.line)
