"""Imports a sibling module that is not there (a file the student forgot to copy)."""
from conv_helpers import im2col  # noqa: F401

from convcheck.impls.direct import backward, forward  # noqa: F401
