"""nerve.optim: PyTorch's optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) over nerve's C++ updates, taking the
parameters of Python modules (an iterable of tensors, or of dicts with "params" and per-group options)."""
from .. import _C
from . import lr_scheduler


class Optimizer:
    """The Python face of a C++ optimizer: step(closure=None), zero_grad(set_to_none=True), param_groups."""
    _name = None
    _keys = {}  # PyTorch keyword -> nerve option

    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        c_groups = []
        for g in groups:
            opts = {k: v for k, v in g.items() if k != "params"}
            c_groups.append((list(g["params"]), self._options(opts)))
        self._c = _C.optim.make_optimizer(self._name, c_groups, self._options(defaults))
        self.defaults = defaults

    def _options(self, kw):
        out = {}
        for k, v in kw.items():
            if k == "betas":
                out["beta1"], out["beta2"] = float(v[0]), float(v[1])
            else:
                out[self._keys.get(k, k)] = float(v)
        return out

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with _C_enable_grad():
                loss = closure()
        self._c.step()
        return loss

    def zero_grad(self, set_to_none=True):
        self._c.zero_grad(set_to_none)

    @property
    def param_groups(self):
        """Views of the groups: reading gives the options, assigning group["lr"] = v sets the C++ option."""
        return [_Group(self._c, k) for k in range(self._c.num_groups())]

    def __repr__(self):
        return f"{self._name} ({self._c.group_options(0)})"


class _Group(dict):
    def __init__(self, c, k):
        super().__init__(c.group_options(k))
        super().__setitem__("params", c.group_params(k))
        self._c, self._k = c, k

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self._c.set_group_option(self._k, key, float(value))


class _C_enable_grad:
    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C.set_grad_enabled(True)

    def __exit__(self, *exc):
        _C.set_grad_enabled(self.prev)


class SGD(Optimizer):
    _name = "SGD"

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))


class Adam(Optimizer):
    _name = "Adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))


class AdamW(Optimizer):
    _name = "AdamW"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))


class RMSprop(Optimizer):
    _name = "RMSprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))


class Adagrad(Optimizer):
    _name = "Adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))
