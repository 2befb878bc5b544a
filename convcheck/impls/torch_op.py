"""`--impl torch:MODULE:NAME`: a PyTorch custom op (a `torch.autograd.Function` subclass, for
instance a C++/CUDA extension) or a function of (x, w, b) built from torch ops, as a plug-in.

The forward runs it on tensors made from the check's arrays; the backward runs it again with
inputs that require grad and takes dL/dX, dL/dF, dL/db from autograd, so a custom Function's
own backward is what gets checked. MODULE is a dotted module or a path to a .py file. With
`--order 2`, `second` differentiates that backward once more (autograd through the graph the
op's backward built, create_graph=True) for second.py to check.

    a Function:  NAME.apply(x, w, b, stride, padding[, dilation[, groups]])   as F.conv1d/2d/3d take them;
                 a transposed layer's NAME.apply(x, w, b, stride, padding[, output_padding[, groups[,
                 dilation]]]) as F.conv_transpose1d/2d/3d take them
    a function:  NAME(x, w, b, *, stride, padding)          plus dilation=, groups= when not 1, as the contract

A Function is called the way torch code calls `torch.nn.functional.conv2d`: stride, padding
and dilation as one int when the two axes agree, else an (h, w) pair; dilation and groups
positionally after padding, only when not 1 (dilation as 1 when only groups needs passing).
Padding that differs between the two sides of an axis has no such form: those layers are
skipped as not expressible. A function of torch ops gets the plug-in contract's keywords
(stride (s_h, s_w), padding (top, bottom, left, right)). torch is imported only here
(`pip install 'convcheck[torch]'`).
"""

from ..errors import ImplError, NotTwiceDifferentiable
from ..geometry import pairs
from .common import call_text, noting_call


def load(kind: str, target: str):
    """(forward, backward, folder, expressible, bind, second) for `--impl torch:MODULE:NAME`."""
    from . import load_named
    return adapt(*load_named(kind, target, "op", _torch))


def _torch(label: str):
    try:
        import torch
    except ImportError:
        raise ImplError(f"--impl {label}: needs PyTorch: pip install 'convcheck[torch]'") from None
    return torch


def adapt(op, folder: str | None, name: str | None = None):
    """(forward, backward, folder, expressible, bind, second) for the op itself: a Function subclass or a
    function of torch ops (`convcheck.check(MyConvFunction)` in a notebook)."""
    name = name or getattr(op, "__name__", "op")
    torch = _torch(name)
    is_function = isinstance(op, type) and issubclass(op, torch.autograd.Function)

    def run(x, w, b, stride, padding, conv):
        if is_function:
            args = functional_args(stride, padding, conv)
            return noting_call(lambda: op.apply(x, w, b, *args),
                               lambda: call_text(f"{name}.apply", [("x", x), ("w", w), ("b", b), *args]))
        return noting_call(lambda: op(x, w, b, stride=stride, padding=padding, **conv),
                           lambda: call_text(name, [("x", x), ("w", w), ("b", b)],
                                             {"stride": stride, "padding": padding, **conv}))

    def forward(x, w, b, *, stride, padding, **conv):
        with torch.no_grad():
            return _array(run(_tensor(torch, x), _tensor(torch, w), _tensor(torch, b), stride, padding, conv), x)

    def backward(dy, x, w, b, *, stride, padding, **conv):
        inputs = [_tensor(torch, a, grad=True) for a in (x, w, b)]
        y = run(*inputs, stride, padding, conv)
        wanted = [t for t in inputs if t is not None]
        grads = torch.autograd.grad(y, wanted, grad_outputs=_tensor(torch, dy), allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for t, g in zip(wanted, grads)]
        return tuple(_array(g, x) for g in grads) + ((None,) if b is None else ())

    def second(dy, x, w, b, u, *, stride, padding, **conv):
        """{x, w, b, y: the gradient of L2 = <U_X, dL/dX> + <U_F, dL/dF> + <U_b, dL/db> with respect to
        X, F, b and G = dy} by autograd through the op's backward; u: {x, w, b: U}. Raises
        NotTwiceDifferentiable where that backward leaves autograd."""
        inputs = [_tensor(torch, a, grad=True) for a in (x, w, b)]
        g = _tensor(torch, dy, grad=True)
        y = run(*inputs, stride, padding, conv)
        wanted = [t for t in inputs if t is not None]
        grads = torch.autograd.grad(y, wanted, grad_outputs=g, create_graph=True, allow_unused=True)
        left = [label for label, t in zip(("dL/dX", "dL/dF", "dL/db"), grads) if t is not None and not t.requires_grad]
        if left:
            raise NotTwiceDifferentiable(
                f"its backward returns {' and '.join(left)} outside autograd (no grad_fn: computed under no_grad, "
                "through .detach(), .numpy() or another library), so nothing can differentiate it; write the backward "
                "with differentiable torch ops, or as a Function of its own with a backward")
        if any(_delayed_error(t.grad_fn) for t in grads if t is not None):
            raise NotTwiceDifferentiable(ONCE)
        terms = [(t * _tensor(torch, u[name]).to(t.dtype)).sum() for name, t in zip("xwb", grads) if t is not None]
        if not terms:
            return {name: _array(torch.zeros_like(t), x) for name, t in zip("xwby", (*inputs, g)) if t is not None}
        try:
            second = torch.autograd.grad(sum(terms), [*wanted, g], allow_unused=True)
        except RuntimeError as e:
            if "once_differentiable" not in str(e) and "differentiate twice" not in str(e):
                raise
            raise NotTwiceDifferentiable(ONCE) from None
        if all(s is None for s in second):
            raise NotTwiceDifferentiable(
                "the graph its backward returns reaches none of X, F and G (its values were computed outside "
                "autograd and attached to a node of their own), so nothing can differentiate it; write the backward "
                "with differentiable torch ops")
        second = [torch.zeros_like(t) if s is None else s for t, s in zip([*wanted, g], second)]
        names = [name for name, t in zip("xwb", inputs) if t is not None] + ["y"]
        return {name: _array(s, x) for name, s in zip(names, second)}

    def expressible(spec, geom):
        if is_function and any(lo != hi for lo, hi in geom.pads):
            sides = "(top, bottom, left, right)" if spec.dims == 2 else "(before, after per axis)"
            call = f"F.conv_transpose{spec.dims}d" if spec.transposed else f"F.conv{spec.dims}d"
            return (f"not expressible in this API: padding {sides} = {geom.padding} differs between the two sides "
                    f"of an axis, and a Function is called as {call} is: one padding per axis")
        return None

    return forward, backward, folder, expressible, None, second


ONCE = ("its backward is marked @once_differentiable (torch.autograd.function.once_differentiable), which "
        "forbids differentiating it: drop the decorator and write the backward with differentiable torch ops")


def _delayed_error(node, most: int = 10_000) -> bool:
    """The graph below `node` holds the node @once_differentiable puts over a backward's outputs
    (autograd's DelayedError, named Error): what differentiating it would raise."""
    seen, todo = set(), [node]
    while todo and len(seen) < most:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if node.name().rsplit("::", 1)[-1] in ("Error", "DelayedError"):
            return True
        todo.extend(next_node for next_node, _ in node.next_functions)
    return False


def functional_args(stride, padding, conv) -> list:
    """(stride, padding, ...) as torch.nn.functional takes them positionally: conv1d/2d/3d's
    (stride, padding, dilation, groups), conv_transpose1d/2d/3d's (stride, padding, output_padding,
    groups, dilation); each an int where every axis agrees, else one per axis ((h, w) in 2-D);
    trailing ones only as far as the last that is not its default. Symmetric padding (before,
    after per axis) assumed."""
    dims = len(stride)
    dilation, groups = _one(tuple(conv.get("dilation", (1,) * dims))), conv.get("groups", 1)
    if conv.get("transposed"):
        extra, defaults = [_one(tuple(conv.get("output_padding", (0,) * dims))), groups, dilation], [0, 1, 1]
    else:
        extra, defaults = [dilation, groups], [1, 1]
    while extra and extra[-1] == defaults[len(extra) - 1]:
        extra.pop()
    return [_one(tuple(stride)), _one(tuple(lo for lo, _ in pairs(padding))), *extra]


def _one(values: tuple):
    return int(values[0]) if len(set(values)) == 1 else tuple(int(v) for v in values)


def _tensor(torch, a, grad=False):
    """A tensor with a's values (a copy: the op may write into it), on a's device; a NumPy
    bfloat16 array (ml_dtypes) becomes a torch.bfloat16 tensor of the same bits."""
    if a is None:
        return None
    module = type(a).__module__.split(".")[0]
    if module == "numpy" and a.dtype.name == "bfloat16":
        tensor = torch.from_numpy(a.view("int16").copy()).view(torch.bfloat16)
    else:
        tensor = torch.from_numpy(a.copy()) if module == "numpy" else torch.from_dlpack(a.copy())
    return tensor.requires_grad_(grad)


def _array(tensor, like):
    """Back to the backend of `like` (NumPy, or CuPy through DLPack); a torch.bfloat16 tensor
    to NumPy's bfloat16 (ml_dtypes), bit for bit."""
    tensor = tensor.detach()
    if type(like).__module__.split(".")[0] == "numpy":
        import torch

        from ..dtypes import numpy_dtype
        if tensor.dtype == torch.bfloat16:
            return tensor.cpu().view(torch.int16).numpy().view(numpy_dtype("bfloat16"))
        return tensor.cpu().numpy()
    from ..backend import array_module
    return array_module(like).from_dlpack(tensor)

