"""convcheck: check the backward pass of 2-D convolution layers against finite differences.

The flow, one direction (each a module):

    loader    YAML files -> ConvSpec (spec)
    geometry  ConvSpec -> Geometry: every size, from the seeds' formulas
    impls     plug-ins with forward/backward: direct, im2col, user files; reference loops
    numerical finite differences of L = sum(G * Y) through a forward only
    compare   TensorCheck per tensor, SpecResult per spec
    explain   the seeds' derivations of every size, as data, for `convcheck shapes`
    checker   verify(spec, impl): the API that ties them together
    report    rich tables, Markdown and JSON; cli: the Typer app, exit codes

    >>> from convcheck import load_specs, verify
    >>> result = verify(load_specs("configs/seed001_multichannel.yaml")[0], impl="im2col")
    >>> result.passed
    True
"""

__version__ = "0.1.0"

from .checker import verify
from .compare import SpecResult, TensorCheck
from .errors import ConvcheckError, ImplError, SpecError
from .geometry import Geometry, geometry
from .loader import load_specs
from .spec import ConvSpec

__all__ = ["verify", "load_specs", "geometry", "Geometry", "ConvSpec", "SpecResult", "TensorCheck",
           "ConvcheckError", "SpecError", "ImplError", "__version__"]
