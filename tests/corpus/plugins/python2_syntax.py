"""Python 2 code: does not import."""
import numpy as np

print "convolution"


def forward(x, w, b, stride, padding):
    return np.zeros(1)
