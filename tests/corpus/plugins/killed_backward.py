"""backward is killed with SIGKILL, as the kernel's out-of-memory killer would do."""
import os
import signal

from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    os.kill(os.getpid(), signal.SIGKILL)
