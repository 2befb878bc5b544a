"""A device-array test double: NumPy's API in a module of its own, whose arrays refuse to
become NumPy arrays, as CuPy's do.

Code that takes `xp = convcheck.backend.array_module(x)` and calls `xp.` works on it. A
stray `np.` call on one of its arrays raises (`__array_function__`, `__array_ufunc__`), and
so does any implicit conversion to NumPy (`np.asarray(a)`, `__array__`): a hidden
device-to-host copy in the shared code fails the test. What CuPy allows stays allowed:
scalars out of 0-d arrays (`float(a)`, `int(a)`, `bool(a)`, `a.item()`), NumPy arrays as
indices and as values assigned into a device array (host to device), `asnumpy(a)`, the
explicit copy to the host, and DLPack (`torch.from_dlpack(a)`, `from_dlpack(tensor)`), the
zero-copy exchange with another library on the same device. A NumPy array as an operand of
arithmetic is refused, as CuPy's ufuncs refuse it.
"""

import numpy as np

CONVERSIONS = 0
"""asnumpy calls so far: tests check that only the report's figures come back."""


class StrictArray:
    """An np.ndarray held out of NumPy's reach."""

    __slots__ = ("_a",)
    __array_ufunc__ = None          # np.add(strict, 1) and ndarray + strict defer to us, then fail

    def __init__(self, a: np.ndarray):
        self._a = a

    def __array__(self, *args, **kwargs):
        raise TypeError("implicit conversion of a device array to NumPy (use xp.asnumpy)")

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} called on a device array: use xp.{func.__name__}")

    def __getattr__(self, name):
        if name.startswith("__"):           # no __array_interface__ or __array_struct__ for NumPy to find
            raise AttributeError(name)
        return _wrap(getattr(self._a, name))

    def __repr__(self):
        return f"StrictArray(shape={self._a.shape}, dtype={self._a.dtype})"

    def __dlpack__(self, **kwargs):             # zero-copy exchange on the array's own device, as CuPy's:
        return self._a.__dlpack__(**kwargs)     # torch.from_dlpack(a), and xp.from_dlpack(tensor) back

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap(key)] = _unwrap(value)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)


def _operator(name):
    def method(self, *others):
        if any(isinstance(other, np.ndarray) for other in others):
            raise TypeError(f"a NumPy array as an operand of a device array ({name}): move it with xp.asarray")
        return _wrap(getattr(self._a, name)(*map(_unwrap, others)))
    method.__name__ = name
    return method


for _name in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv", "rfloordiv",
              "mod", "rmod", "pow", "rpow", "matmul", "rmatmul", "neg", "pos", "abs", "invert", "and", "rand",
              "or", "ror", "xor", "lt", "le", "gt", "ge", "eq", "ne", "iadd", "isub", "imul", "itruediv"):
    setattr(StrictArray, f"__{_name}__", _operator(f"__{_name}__"))


def _unwrap(value):
    if isinstance(value, StrictArray):
        return value._a
    if isinstance(value, _Proxy):
        return value._target
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value):
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if callable(value) and not isinstance(value, type) or type(value).__name__ == "module":
        return _Proxy(value)
    return value


class _Proxy:
    """A NumPy function, ufunc or submodule whose calls take and give StrictArrays."""

    def __init__(self, target):
        self._target = target

    def __call__(self, *args, **kwargs):
        return _wrap(self._target(*_unwrap(args), **_unwrap(kwargs)))

    def __getattr__(self, name):
        return _wrap(getattr(self._target, name))


def asarray(a, dtype=None):
    """To the device: NumPy arrays, scalars and StrictArrays alike (as cupy.asarray)."""
    if isinstance(a, StrictArray):
        return a if dtype is None else StrictArray(a._a.astype(dtype, copy=False))
    return StrictArray(np.asarray(_unwrap(a), dtype=dtype))


def asnumpy(a):
    """The explicit device-to-host copy (as cupy.asnumpy)."""
    global CONVERSIONS
    CONVERSIONS += 1
    return np.array(_unwrap(a))


def __getattr__(name):
    """Everything else of NumPy's API: dtypes and constants as they are, functions wrapped."""
    return _wrap(getattr(np, name))
