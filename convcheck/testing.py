"""convcheck where code is already checked: `assert_conv_backward` in a test suite, `check` in a
notebook. An implementation given by name (a file, a module, a built-in, 'cs231n:PATH') is
checked in a worker process, as `convcheck verify` checks it: a plug-in that crashes, exits,
hangs past `timeout=` or raises KeyboardInterrupt fails its layer, never the test runner or the
kernel. Objects (functions, classes, modules, an `Implementation`) cannot be sent to a worker:
they are checked in this process.

    from convcheck.testing import assert_conv_backward
    assert_conv_backward("my_conv.py", "configs/multichannel_5x100x100.yaml")
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
from .fields import fields_of
from .impls import impl_text, implementation
from .loader import load_mapping, load_specs
from .options import DEFAULT_TIMEOUT_S
from .options import OPTIONS as VERIFY_OPTIONS
from .report.text import headline
from .result import Results, SpecResult
from .spec import ConvSpec

OPTIONS = tuple(option.name for option in VERIFY_OPTIONS)
"""Keyword arguments that are `verify`'s options (options.OPTIONS), not spec fields (seed and
layout override the spec's); `timeout` is the worker's, for an implementation given by name."""


def assert_conv_backward(impl, spec=None, *, api: str | None = None, **fields) -> "SpecResult | Results":
    """Check `impl` on the spec's layers; raise AssertionError with the plain-text report (table,
    coverage, diagnosis, where the error is) when any fails, else return the result (a Results
    list when the spec holds several layers). Bad fields or options raise the CLI's one-line
    error as a ValueError (convcheck.SpecError, ImplError)."""
    results = _check(impl, None, api, spec, fields)
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
    results = _check(forward, backward, api, spec, fields)
    return results[0] if len(results) == 1 else results


def _check(impl, backward, api, spec, fields: dict) -> Results:
    """Every layer of the spec, in a worker for an implementation given by name, else here."""
    options = {key: fields.pop(key) for key in OPTIONS if key in fields}
    timeout = options.pop("timeout", None)
    text = impl_text(impl, backward, api)
    specs = specs_of(spec, fields)
    from .memory import refuse
    for layer in specs:                                  # what cannot fit: the CLI's line, before anything runs
        refuse(layer)
    started = time.perf_counter()
    if text is None:
        from .checker import verify
        impl = implementation(impl, backward, api=api)
        results = Results(verify(layer, impl, **options) for layer in specs)
    else:
        from .runner import Interrupted, Session
        session = Session(text, timeout=DEFAULT_TIMEOUT_S if timeout is None else timeout, **options)
        try:
            session.start()
            results = Results(session.verify(layer) for layer in specs)
        except Interrupted:
            raise KeyboardInterrupt() from None
        finally:
            session.close()
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
