"""What a plug-in raised, in one line that points the right way.

A plug-in's exception is either its call refused (the function does not take the arguments
convcheck passed: Python's own TypeError at the call, or an `assert`/`raise` on an argument in
the called function's own body) or a bug in its code (a Python 2 `/` passing a float to
`range`, an index past the end). The first gets the call convcheck made and docs/plugins.md's
three-line wrapper; the second gets the user's line that raised, as pytest shows it:

    TypeError: 'float' object cannot be interpreted as an integer (layers.py:413 in
    conv_forward_naive: `out = np.zeros((N, F, H_out, W_out))`); a size computed with / is a
    float in Python 3: use //

Frames are told apart by file: convcheck's own, libraries' (the standard library and
installed packages: torch's `Function.apply`, NumPy), and the user's (the rest, or the plug-in's
folder where it is known).
"""

import os
import traceback

from .common import ADAPTING, CALL
from .files import is_library

NOTE = "convcheck_note"
"""The attribute an adapter sets on an exception to add what it knows (the pair it passed)."""
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
CHECKS = ("assert ", "assert(", "raise ", "raise(")
"""How an argument check's line starts."""
PYTHON2 = ("'float' object cannot be interpreted as an integer", "slice indices must be integers",
           "Cannot cast array data from dtype('float64') to dtype('int64')", "only integers, slices",
           "'float' object cannot be safely interpreted as an integer")
"""What a size computed with Python 2's integer `/` raises in Python 3 (a float where an int goes)."""


def describe(error: BaseException, folder: str | None, call: bool = True) -> str:
    """'IndexError: index 7 is out of bounds (layers.py:412 in conv_backward_naive: `dx[i] = ...`)';
    the call convcheck made and the wrapper's pointer instead of the line when the call itself
    was refused (`call`: say the call at all); an adapter's note last."""
    text = type(error).__name__ + (f": {error}" if str(error) else "")
    frames = traceback.extract_tb(error.__traceback__)
    refused = _refused(frames)
    own = [f for f in frames if _users(f.filename, folder)]
    if own:
        last = own[-1]
        line = "" if refused or not last.line else f": `{last.line.strip()}`"
        text += f" ({os.path.basename(last.filename)}:{last.lineno} in {last.name}{line})"
    if not refused and isinstance(error, (TypeError, IndexError, ValueError)) and any(s in str(error) for s in PYTHON2):
        text += "; a size computed with / is a float in Python 3: use // (integer division)"
    made = getattr(error, CALL, None) if call and refused else None
    if made is not None:
        text += f"; convcheck called {made} (if your op takes other arguments, see the {ADAPTING})"
    note = getattr(error, NOTE, None)
    return text if note is None else f"{text}; {note}"


def _users(filename: str, folder: str | None) -> bool:
    path = os.path.abspath(filename)
    if folder is not None:
        return path.startswith(folder + os.sep)
    return not path.startswith(PACKAGE) and not is_library(path) and os.path.isfile(path)


def _refused(frames) -> bool:
    """The call itself was refused: no frame past convcheck's but libraries' (Python bound the
    arguments and refused, or a library called with them did), or the innermost frame is the
    called function's own, on an `assert` or `raise` line (an argument check)."""
    last_ours = max((i for i, f in enumerate(frames) if os.path.abspath(f.filename).startswith(PACKAGE)), default=-1)
    called = [f for f in frames[last_ours + 1:] if not is_library(os.path.abspath(f.filename))]
    if not called:
        return True
    return frames[-1] is called[0] and (called[0].line or "").lstrip().startswith(CHECKS)
