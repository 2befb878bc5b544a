"""forward dereferences a null pointer, as a broken C kernel would: the interpreter dies with SIGSEGV."""
import ctypes

from convcheck.impls.direct import backward  # noqa: F401


def forward(x, w, b, *, stride, padding):
    return ctypes.string_at(0)
