"""Dies with SIGSEGV while being imported (a broken C extension)."""
import ctypes

ctypes.string_at(0)
