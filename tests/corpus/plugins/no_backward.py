"""Defines forward only."""
from convcheck.impls.direct import forward  # noqa: F401
