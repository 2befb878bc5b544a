"""convcheck: check the backward pass of 2-D convolution layers against finite differences.

The flow, one direction (each a module):

    loader    YAML files -> ConvSpec (spec)
    geometry  ConvSpec -> Geometry: every size, from the seeds' formulas
    impls     plug-ins with forward/backward: direct, im2col, user files (files: a module per
              path and content, imports private; blame: what a plug-in raised, in words);
              reference loops
    numerical finite differences of L = sum(G * Y) through a forward only (the built-in
              im2col's, unless verify is asked for the plug-in's)
    compare   the comparison; result: TensorCheck per tensor, SpecResult per spec (no NumPy)
    diagnose  the known mistake a failing tensor matches; consistency: beside a failing
              forward, whether each gradient is that forward's
    explain   the seeds' derivations of every size, as data, for `convcheck shapes`
    checker   verify(spec, impl): the API that ties them together, in this process (options:
              its options and defaults; a spec without batch is checked at 2)
    memory    a check's peak memory from the layer's sizes; a layer that cannot fit is refused
    runner    verify_all(specs, impl): every layer in worker processes (the CLI's way)
    testing   assert_conv_backward and check: test suites and notebooks (pytest_plugin: one
              pytest item per layer of a spec file)
    report    rich tables, Markdown and JSON; cli: the Typer app, exit codes

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
