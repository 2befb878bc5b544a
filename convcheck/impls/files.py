"""How a file becomes code: a module per file path and content, its own folder's imports private.

`import_file(path, label)` executes a .py file as it is on disk now. A second load of the same
path returns the same module while neither the file nor any module it imported from its own
folder has changed (compared by content), and a fresh one when one has: a notebook that edits
layers.py and checks again sees the edit, and a test suite that checks two students' files
checks two files. Sources are compiled from the file every time, never from a cached .pyc,
whose timestamp has a one-second grain.

- package=False (plain plug-ins, layer classes, torch ops given by path): the file runs as a
  module of its own name (`convcheck_plugin_<path>_<content>`), with its folder first on
  sys.path while it runs, so `import helpers` finds the file beside it, as `python my_conv.py`
  would.
- package=True (CS231n's files, and any file in a folder holding __init__.py, `in_package`):
  the file is imported as its package imports it: up while
  folders hold __init__.py (assignment2/cs231n/layers.py is `cs231n.layers`), the folder above
  the top package first on sys.path, so `from .fast_layers import ...` and
  `from cs231n.im2col import ...` resolve.

The folder's modules are private to each load. While a file imports, modules that its root
folder provides by top-level name (another course's `cs231n`, the caller's own `import cs231n`)
are set aside, and put back afterwards; the modules it brings from its root are taken out of
sys.modules again, kept alive by the loaded module alone. So two courses' `cs231n` packages in
one process never see each other. Libraries (NumPy, torch, the standard library) stay shared.
What a plug-in imports from its own folder at call time, inside a function, is not private: its
root stays on sys.path, at the end.
"""

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig

from ..errors import ImplError

_LOADED: dict = {}
"""(real path, package) -> (((file, digest), ...) of what the load executed, the module)."""


def import_file(path: str, label: str, package: bool = False):
    """The module of the .py file at `path`, executed afresh unless an earlier load's files are
    unchanged; any failure is one ImplError line starting with `--impl LABEL`."""
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise ImplError(f"--impl {label}: no such file")
    key = (real, package)
    if key in _LOADED and all(_digest(file) == digest for file, digest in _LOADED[key][0]):
        return _LOADED[key][1]
    root, name = _package_of(real) if package else (os.path.dirname(real), None)
    name = name or f"convcheck_plugin_{_short(real.encode())}_{_digest(real)[:12]}"
    module, files = _execute(real, name, root, label, package)
    _LOADED[key] = (tuple((file, _digest(file)) for file in files), module)
    return module


def in_package(path: str) -> bool:
    """The file's folder is a package (holds __init__.py): its relative imports need it imported so."""
    return os.path.isfile(os.path.join(os.path.dirname(os.path.realpath(path)), "__init__.py"))


def _package_of(path: str) -> tuple[str, str]:
    """(the folder above the top package, the dotted name) of a file inside packages."""
    parts, folder = [os.path.splitext(os.path.basename(path))[0]], os.path.dirname(path)
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parts.insert(0, os.path.basename(folder))
        folder = os.path.dirname(folder)
    return folder, ".".join(parts)


def _execute(path: str, name: str, root: str, label: str, package: bool):
    """Import `path` as `name` with `root` first on sys.path and its modules private: (module,
    the source files it executed from `root`)."""
    provided = _provided(root)
    set_aside = {n: m for n, m in list(sys.modules.items()) if n.partition(".")[0] in provided and _own(m)}
    for n in set_aside:
        del sys.modules[n]
    before, saved_path = set(sys.modules), list(sys.path)
    finder = _FreshFinder(root, provided)
    sys.path.insert(0, root)
    sys.meta_path.insert(0, finder)
    importlib.invalidate_caches()                     # a file written a moment ago is found
    try:
        if package:
            module = importlib.import_module(name)
        else:
            spec = importlib.util.spec_from_file_location(name, path, loader=_FreshLoader(name, path))
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    except BaseException as e:  # a plug-in may even call sys.exit at import
        sys.modules.pop(name, None)
        where = f" (line {e.lineno})" if isinstance(e, SyntaxError) else ""
        as_name = f" as {name}" if package else ""
        raise ImplError(f"--impl {label}: importing it{as_name} failed{where}: {type(e).__name__}: {e}") from None
    finally:
        sys.meta_path.remove(finder)
        private = [n for n in sys.modules if n not in before and n.partition(".")[0] in provided]
        files = {path} | {os.path.realpath(f) for n in private if (f := getattr(sys.modules[n], "__file__", None))
                          and f.endswith(".py")}
        for n in private:
            del sys.modules[n]
        sys.modules.update(set_aside)
        sys.path[:] = saved_path + ([] if root in saved_path else [root])
    return module, sorted(files)


def _provided(root: str) -> set[str]:
    """Top-level module names a folder provides: its .py files, extension modules and folders
    (convcheck's own name never: a plug-in beside a convcheck checkout imports the one running)."""
    try:
        entries = os.listdir(root)
    except OSError:
        return set()
    return {entry.partition(".")[0] for entry in entries if entry.endswith((".py", ".so", ".pyd")) or
            os.path.isdir(os.path.join(root, entry))} - {"__pycache__", "", __name__.partition(".")[0]}


def _own(module) -> bool:
    """A module of user code: from a file outside the standard library and installed packages
    (those stay shared, as Python keeps them when a script's folder shadows their names)."""
    origin = getattr(module, "__file__", None)
    return bool(origin) and not is_library(os.path.realpath(origin))


_LIBRARIES: tuple = ()


def is_library(path: str) -> bool:
    """A file of the standard library or an installed package (site-packages), by its absolute path."""
    global _LIBRARIES
    if not _LIBRARIES:
        paths = sysconfig.get_paths()
        _LIBRARIES = tuple({p + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths
                            for p in (paths[key], os.path.realpath(paths[key]))})
    return path.startswith(_LIBRARIES)


def _digest(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return _short(file.read())
    except OSError:
        return ""


def _short(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class _FreshLoader(importlib.machinery.SourceFileLoader):
    """Compiles the source every time: no .pyc read (its timestamp has a one-second grain, so a
    file edited twice within a second could run its older version), none written."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)


class _FreshFinder:
    """While a file imports: its root folder's modules found there, loaded by _FreshLoader."""

    def __init__(self, root: str, provided: set[str]):
        self.root, self.provided = root, provided

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in self.provided:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path if path is not None else [self.root])
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _FreshLoader(fullname, spec.origin)
        return spec
