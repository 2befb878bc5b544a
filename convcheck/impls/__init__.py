"""Implementations under test: the plug-in contract, the built-ins and the loader.

A plug-in is any module (a .py file or an importable dotted name) that defines

    forward(x, w, b, *, stride, padding) -> y
    backward(dy, x, w, b, *, stride, padding) -> (dx, dw, db)

with x (N, k, H, W), w (p, k, m_h, m_w), b (p,) or None, y and dy (N, p, o_h, o_w),
stride = (s_h, s_w) and padding = (top, bottom, left, right), ints already resolved.
db is None when b is None. The built-ins `direct` and `im2col` follow the same contract.
"""

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Callable

from ..errors import ImplError

BUILTINS = {"direct": "convcheck.impls.direct", "im2col": "convcheck.impls.im2col"}
ADAPTERS = {"cs231n": "convcheck.impls.cs231n", "cs231n-fast": "convcheck.impls.cs231n",
            "torch": "convcheck.impls.torch_op", "layer": "convcheck.impls.layer", "jax": "convcheck.impls.jax_op"}
"""`--impl KIND:TARGET`: user code of a known shape, adapted to the contract below."""


@dataclass(frozen=True)
class Implementation:
    """A loaded plug-in: its name as given, its two functions, and the folder of its own files
    (None for the built-ins), where `describe` looks for the line that raised."""

    name: str
    forward: Callable
    backward: Callable
    folder: str | None = None
    expressible: Callable | None = None   # adapters: (spec, geometry) -> why a layer cannot be run, or None
    bind: Callable | None = None          # adapters that read the spec: spec -> (forward, backward) for it
    second: Callable | None = None        # ops autograd differentiates twice (torch:): the double backward,
                                          # second(dy, x, w, b, u, **kwargs) -> {x, w, b, y} (second.py)

    def for_spec(self, spec) -> "Implementation":
        """This implementation for one spec (adapters read its `adapter:` block)."""
        if self.bind is None:
            return self
        forward, backward = self.bind(spec)
        return Implementation(self.name, forward, backward, self.folder, self.expressible, second=self.second)

    def describe(self, error: BaseException, call: bool = True) -> str:
        """What the plug-in raised, in one line (blame.describe): the user's line that raised, or,
        when the call itself was refused, the call convcheck made and the wrapper of docs/plugins.md."""
        from .blame import describe
        return describe(error, self.folder, call)


def load_impl(impl: "str | Implementation") -> Implementation:
    """A built-in name, a path to a .py file, or a dotted module name -> Implementation."""
    if isinstance(impl, Implementation):
        return impl
    kind, _, target = impl.partition(":")
    if kind in ADAPTERS and target:
        adapter = importlib.import_module(ADAPTERS[kind])
        return Implementation(impl, *adapter.load(kind, target))
    module, folder = (importlib.import_module(BUILTINS[impl]), None) if impl in BUILTINS else load_module(impl)
    missing = [f for f in ("forward", "backward") if not callable(getattr(module, f, None))]
    if missing:
        raise ImplError(f"--impl {impl}: defines no {' and no '.join(missing)} function; a plug-in needs "
                        "forward(x, w, b, *, stride, padding) and backward(dy, x, w, b, *, stride, padding)"
                        + _adapter_hint(impl, module))
    return Implementation(name=impl, forward=module.forward, backward=module.backward, folder=folder)


def _adapter_hint(impl: str, module) -> str:
    """'; it defines conv_forward_naive and conv_backward_naive, CS231n's API: --impl cs231n:layers.py'
    when the module holds code an adapter takes (CS231n's pair, a layer class, a torch op), else ''."""
    from .cs231n import FUNCTIONS
    for kind, names in FUNCTIONS.items():
        if all(callable(getattr(module, name, None)) for name in names):
            return f"; it defines {names[0]} and {names[1]}, CS231n's API: check them with --impl {kind}:{impl}"
    torch = sys.modules.get("torch")
    classes = [(name, value) for name, value in vars(module).items() if isinstance(value, type) and
               getattr(value, "__module__", None) == module.__name__]
    ops = [name for name, value in classes if torch is not None and issubclass(value, torch.autograd.Function)]
    if ops:
        return f"; it defines the torch op {ops[0]}: check it with --impl torch:{impl}:{ops[0]}"
    layers = [name for name, value in classes if callable(getattr(value, "forward", None)) and
              callable(getattr(value, "backward", None))]
    if layers:
        return f"; it defines the class {layers[0]} with forward and backward: check it with --impl layer:{impl}:" \
               f"{layers[0]}"
    return ""


APIS = ("cs231n", "torch", "layer", "jax")
"""`api=` of the Python API: the shapes of user code it adapts (KIND of `--impl KIND:TARGET`)."""


def implementation(impl, backward=None, *, api: str | None = None) -> Implementation:
    """What the Python API takes as an implementation -> Implementation:
    - what --impl takes: a built-in name, a .py path, a dotted module, 'KIND:TARGET'; with `api`,
      a path is that API's file ('cs231n' + 'layers.py' is --impl cs231n:layers.py);
    - an Implementation, or a module (any object) defining forward and backward;
    - forward and backward callables in the plug-in contract, as a pair or given apart;
    - with api='cs231n' (or found by the names conv_forward_naive / conv_forward_fast): CS231n's
      pair of functions; api='torch' (or a torch.autograd.Function subclass): an op of torch;
      api='layer' (or any other class with forward and backward): a layer class; api='jax': a
      JAX function (a custom_vjp) called as impls/jax_op.py says.
    """
    text = impl_text(impl, backward, api)
    if text is not None:
        return load_impl(text)
    if isinstance(impl, (tuple, list)) and len(impl) == 2 and backward is None:
        impl, backward = impl
    if isinstance(impl, Implementation):
        return impl
    if backward is None and not callable(impl):                     # a module (or any object holding the pair)
        if api == "cs231n":
            from .cs231n import FUNCTIONS
            names = FUNCTIONS["cs231n"] if hasattr(impl, FUNCTIONS["cs231n"][0]) else FUNCTIONS["cs231n-fast"]
            impl, backward = (getattr(impl, name, None) for name in names)
        else:
            impl, backward = getattr(impl, "forward", None), getattr(impl, "backward", None)
    if api is None:
        api = _api_of(impl, backward)
    folder = _folder(impl)
    if api in ("torch", "layer", "jax"):
        if backward is not None:
            raise ImplError(f"impl: api={api!r} takes one object (the op or the layer class), not a backward too")
        adapter = importlib.import_module(ADAPTERS[api])
        return Implementation(_label(impl), *adapter.adapt(impl, folder))
    if not (callable(impl) and callable(backward)):
        raise ImplError("impl: expected forward and backward callables (forward(x, w, b, *, stride, padding), "
                        "backward(dy, x, w, b, *, stride, padding)), a module defining them, what --impl takes, "
                        f"or api= one of {', '.join(APIS)}; got {_label(impl)} and {_label(backward)}")
    if api == "cs231n":
        from .cs231n import adapt
        return Implementation(f"{_label(impl)}/{_label(backward)}", *adapt(impl, backward, folder))
    return Implementation(f"{_label(impl)}/{_label(backward)}", impl, backward, folder)


def impl_text(impl, backward=None, api: str | None = None) -> str | None:
    """What --impl says for an implementation given by name (a str or a path: 'cs231n' and
    'layers.py' is 'cs231n:layers.py'), which worker processes can import; None for objects."""
    if api is not None and api not in APIS:
        raise ImplError(f"api {api!r}: unknown; valid: {', '.join(APIS)}, or None for the plug-in contract")
    if backward is not None or not isinstance(impl, (str, os.PathLike)):
        return None
    text = os.fspath(impl)
    return text if api is None or text.startswith(f"{api}:") else f"{api}:{text}"


def _api_of(forward, backward) -> str | None:
    """The API user objects follow, from their shape: None for the plug-in contract."""
    if backward is None and type(forward).__module__.split(".")[0] in ("jax", "jaxlib"):   # a custom_vjp, a jit
        return "jax"
    if backward is None and isinstance(forward, type):
        torch = sys.modules.get("torch")
        return "torch" if torch is not None and issubclass(forward, torch.autograd.Function) else "layer"
    from .cs231n import FUNCTIONS
    if getattr(forward, "__name__", "") in {names[0] for names in FUNCTIONS.values()}:
        return "cs231n"
    return None


def _label(obj) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__


def _folder(obj) -> str | None:
    """The folder of the file that defines `obj` (a notebook cell's too), for `describe`."""
    code = getattr(getattr(obj, "__func__", obj), "__code__", None)
    filename = code.co_filename if code is not None else getattr(sys.modules.get(getattr(obj, "__module__", "")),
                                                                  "__file__", None)
    return os.path.dirname(os.path.realpath(filename)) if filename and os.path.isfile(filename) else None


def load_named(kind: str, target: str, what: str, needs: Callable) -> tuple:
    """(the callable NAME names, the folder of MODULE's own files, NAME) for `--impl
    KIND:MODULE:NAME` (torch:, jax:); `needs(label)` imports the library first (its own `import`
    inside MODULE would fail less clearly); `what` is what messages call NAME ('op', 'function')."""
    label = f"{kind}:{target}"
    module_name, _, name = target.rpartition(":")
    if not module_name or not name:
        raise ImplError(f"--impl {label}: expected {kind}:MODULE:NAME (a module or .py path, then the {what}'s name)")
    needs(label)
    module, folder = load_module(module_name, label)
    found = getattr(module, name, None)
    if not callable(found):
        raise ImplError(f"--impl {label}: {module_name} defines no {what} named {name!r}")
    return found, folder, name


def load_module(impl: str, label: str | None = None):
    """(module, the folder of its own files) for a path to a .py file or a dotted module name;
    any failure is one ImplError line starting with `--impl LABEL`."""
    label = label or impl
    if impl.endswith(".py") or os.path.isfile(impl):       # os.path, not pathlib: workers import this module
        from .files import import_file, in_package
        return import_file(impl, label, package=in_package(impl)), os.path.dirname(os.path.realpath(impl))
    if os.getcwd() not in sys.path:  # like `python -m`: modules under the current folder import
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(impl)
    except ModuleNotFoundError as e:
        if e.name and impl.startswith(e.name):
            raise ImplError(f"--impl {label}: no built-in, file or module of that name "
                            f"(built-ins: {', '.join(BUILTINS)}; or a path to a .py file)") from None
        raise ImplError(f"--impl {label}: importing it failed: {type(e).__name__}: {e}") from None
    except Exception as e:
        raise ImplError(f"--impl {label}: importing it failed: {type(e).__name__}: {e}") from None
    origin = getattr(module, "__file__", None)
    return module, os.path.dirname(os.path.realpath(origin)) if origin else None
