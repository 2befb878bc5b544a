"""forward hard-codes the batch size of one: right on the spec's batch, wrong on a batch of
perturbed inputs, so the gradients cannot be checked by finite differences."""
from convcheck.impls import direct
from convcheck.impls.direct import backward  # noqa: F401


def forward(x, w, b, *, stride, padding):
    return direct.forward(x[:1], w, b, stride=stride, padding=padding)
