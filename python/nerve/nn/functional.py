"""nerve.nn.functional: PyTorch's torch.nn.functional names and keyword arguments over nerve's ops."""
from .. import _C
from .._C.functional import (linear, linear_relu, embedding, cross_entropy, nll_loss, mse_loss, l1_loss, huber_loss,
                             binary_cross_entropy, binary_cross_entropy_with_logits, one_hot, conv2d, max_pool2d,
                             avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d, layer_norm, batch_norm, group_norm,
                             pad, interpolate)
from .._C.functional import dropout as _dropout
from .._C import (relu, sigmoid, tanh, softplus, elu, leaky_relu, hardtanh, softmax as _softmax,
                  log_softmax as _log_softmax, gelu)

for _n in ("silu", "selu", "mish", "hardsigmoid", "hardswish", "relu6", "logsigmoid", "softsign", "tanhshrink"):
    if hasattr(_C, _n):
        globals()[_n] = getattr(_C, _n)


def dropout(input, p=0.5, training=True, inplace=False):
    return _dropout(input, p, training)


def softmax(input, dim=-1, dtype=None):
    return _softmax(input if dtype is None else input.to(dtype), dim)


def log_softmax(input, dim=-1, dtype=None):
    return _log_softmax(input if dtype is None else input.to(dtype), dim)
