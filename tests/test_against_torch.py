"""Optional: shapes and gradients against PyTorch's conv2d (skipped when torch is absent).

torch is not a test dependency (it is large); install it to run these locally:
`python -m pip install torch==2.13.0`.
"""

import numpy as np
import pytest
from conftest import make_spec, specs
from hypothesis import HealthCheck, given, settings

from convcheck import geometry
from convcheck.explain import explain
from convcheck.impls import direct, im2col
from convcheck.report.shapes import explanation_dict

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_conv(spec, x, w, b):
    """conv2d with convcheck's resolved (top, bottom, left, right) padding applied by F.pad."""
    top, bottom, left, right = geometry(spec).padding
    return F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=spec.stride, dilation=spec.dilation,
                    groups=spec.groups)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(conv=True))
def test_json_shapes_and_builtin_gradients_match_torch(spec):
    """Random layers with dilation and groups as well: shapes, forwards and gradients."""
    data = explanation_dict(explain(geometry(spec)))
    rng = np.random.default_rng(spec.seed)
    x, w = rng.standard_normal(data["tensors"]["x"]), rng.standard_normal(data["tensors"]["w"])
    b = rng.standard_normal(spec.p) if spec.bias else None
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    y = torch_conv(spec, tx, tw, tb)
    assert list(y.shape) == data["tensors"]["y"] == data["tensors"]["dy"]
    dy = rng.standard_normal(tuple(y.shape))
    expected = torch.autograd.grad(y, [t for t in (tx, tw, tb) if t is not None], torch.tensor(dy))
    kwargs = {"stride": spec.stride, "padding": tuple(data["spec"]["padding"]), "dilation": spec.dilation,
              "groups": spec.groups}
    for impl in (direct, im2col):
        np.testing.assert_allclose(impl.forward(x, w, b, **kwargs), y.detach().numpy(), rtol=1e-10, atol=1e-10)
        grads = [g for g in impl.backward(dy, x, w, b, **kwargs) if g is not None]
        for name, ours, theirs in zip(("dx", "dw", "db"), grads, expected):
            assert list(ours.shape) == data["tensors"][name]
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)
    from convcheck.impls import reference
    np.testing.assert_allclose(reference.forward(x, w, b, **kwargs), y.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_same_padding_matches_torch_at_stride_1():
    """PyTorch's own padding='same' (stride 1 only) puts the odd pixel where convcheck does."""
    for n, m in [((7, 6), (4, 3)), ((5, 8), (2, 5)), ((6, 6), (3, 3))]:
        spec_geometry = geometry(make_spec(n=n, m=m, padding="same", k=1, p=1))
        x = torch.randn(1, 1, *n, dtype=torch.float64)
        w = torch.randn(1, 1, *m, dtype=torch.float64)
        top, bottom, left, right = spec_geometry.padding
        ours = F.conv2d(F.pad(x, (left, right, top, bottom)), w)
        np.testing.assert_allclose(ours.numpy(), F.conv2d(x, w, padding="same").numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(conv=True))
def test_network_table_parameter_counts_match_torch(spec):
    from convcheck.report.shapes import layer_summary
    layer = torch.nn.Conv2d(spec.k, spec.p, spec.m, stride=spec.stride, dilation=spec.dilation, groups=spec.groups,
                            bias=spec.bias)
    assert layer_summary(geometry(spec))["parameters"] == sum(p.numel() for p in layer.parameters())
