"""convcheck: check the backward pass of 1-D, 2-D and 3-D (and transposed) convolution layers
against finite differences.

The flow, one direction (docs/architecture.md has every module):

    loader    YAML files -> ConvSpec (spec; fields: the format's one field table)
    geometry  ConvSpec -> Geometry: every size, per axis, from the derivations' formulas
    impls     plug-ins with forward/backward: the built-ins, user files, adapters
    prepare   the plug-in bound to a layer and the seeded x, w, b, G it is checked on
    numerical finite differences of L = sum(G * Y) through a forward only (colouring: which
              pixels share a forward)
    methods   full, channels, sample, fast: what a check covers, its guarantee and its cost
    compare   the comparison; diagnose: the known mistake a failing tensor matches
    operands  what a wrong tensor computed: the operand that makes the right formula give it
    checker   verify(spec, impl): forward check -> backward -> method -> diagnose -> shrink -> result
    shrink    the smallest layer that fails the same way
    runner    verify_all(specs, impl): every layer in worker processes (pool, worker)
    result    the verdicts as plain data; report renders them (table, html, json, junit, ...)
    options   one table of verify's options, read by cli, pytest_plugin and testing
    explain   the derivations of every size, as data, for `convcheck shapes`

    >>> from convcheck import load_specs, verify
    >>> result = verify(load_specs("configs/multichannel_5x100x100.yaml")[0], impl="im2col")
    >>> result.passed
    True
"""

__version__ = "0.1.0"

from .errors import ConvcheckError, ImplError, SpecError  # noqa: E402  (light: no numpy)
from .geometry import Geometry, geometry  # noqa: E402  (eager: the function, not the module of that name)
from .spec import ConvSpec  # noqa: E402

_EXPORTS = {"verify": "checker", "verify_all": "runner", "SpecResult": "result", "TensorCheck": "result",
            "Results": "result", "load_specs": "loader", "check": "testing", "assert_conv_backward": "testing"}
__all__ = [*_EXPORTS, "geometry", "Geometry", "ConvSpec", "ConvcheckError", "SpecError", "ImplError",
           "__version__"]


def __getattr__(name: str):
    """The API, imported on first use (PEP 562): `import convcheck` stays light, so that the
    command can fork its workers before NumPy loads."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'convcheck' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    importlib.import_module(".report", __name__)          # results show themselves as tables (result.VIEWS)
    globals()[name] = value
    return value
