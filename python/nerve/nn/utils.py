"""nerve.nn.utils: gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_)."""
from .. import _C


def _params(parameters):
    return [parameters] if isinstance(parameters, _C.Tensor) else list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scales the gradients so that their joint norm is at most max_norm; returns the norm before clipping."""
    return _C.scalar_tensor(_C.clip_grad_norm_(_params(parameters), max_norm, norm_type))


def clip_grad_value_(parameters, clip_value):
    _C.clip_grad_value_(_params(parameters), clip_value)
