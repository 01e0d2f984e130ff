"""nerve.nn: PyTorch's torch.nn. Module is subclassable in Python (forward in Python; parameters and submodules
registered by attribute assignment); the layers with weights run nerve's C++ modules, sharing their tensors."""
from collections import OrderedDict

from .. import _C
from .._C import Tensor
from . import functional
from . import utils
from .._C.nn import init

F = functional


class Parameter(Tensor):
    """A tensor that a Module registers as a parameter when assigned as an attribute (requires grad)."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = _C.zeros(0)
        # the same tensor (not a copy): a C++ module's weight and its Parameter share values and gradient
        Tensor.__init__(self, data if data.is_leaf else data.detach())
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)


class Module:
    """Base class of every layer and model, as torch.nn.Module:

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
            def forward(self, x):
                return self.fc(nerve.relu(x))
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration by attribute assignment
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign before Module.__init__() call (call super().__init__() first)")
        if name in self._buffers and (value is None or isinstance(value, Tensor)) and not isinstance(value, Parameter):
            self._buffers[name] = value  # a registered buffer stays one (torch)
            return
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        self._buffers[name] = tensor

    def add_module(self, name, module):
        self._modules[name] = module

    register_module = add_module

    # ---- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(prefix + ("." if prefix else "") + name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        yield from self._modules.items()

    def children(self):
        yield from self._modules.values()

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for n, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (mp + "." if mp else "") + n, p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for n, b in m._buffers.items():
                if b is not None:
                    yield (mp + "." if mp else "") + n, b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and state
    def train(self, mode=True):
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def _apply(self, fn):
        """Converts every parameter, its gradient and every buffer with fn, in place: each keeps its Python object
        (torch's `param.data = fn(param)`), and a C++ layer holding the same tensor sees the new values."""
        with _C_no_grad():
            for t in list(self.parameters()) + list(self.buffers()):
                new = fn(t)
                if new is not t:
                    t.data = new
                g = t.grad if t.is_leaf else None
                if g is not None:
                    new_g = fn(g)
                    if new_g is not g:
                        g.data = new_g
        return self

    def to(self, *args, **kwargs):
        """torch 1.13's Module.to: .to(dtype), .to(device), .to(device, dtype), .to(tensor), keywords device=,
        dtype=, non_blocking=. A dtype converts the floating parameters, gradients and buffers in place (integer
        buffers keep theirs); nerve runs on the cpu, so "cpu" changes nothing and "meta" drops the values."""
        device, dtype = _parse_to(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            f"dtype={dtype}")

        def convert(t):
            if dtype is not None and t.is_floating_point():
                return t.to(device, dtype) if device is not None else t.to(dtype)
            return t.to(device) if device is not None else t
        return self._apply(convert)

    def double(self):
        """Floating parameters and buffers to float64, in place; returns self."""
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def float(self):
        """Floating parameters and buffers to float32, in place; returns self."""
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def half(self):
        return self._apply(lambda t: t.to(_C.dtype.float16) if t.is_floating_point() else t)

    def bfloat16(self):
        return self._apply(lambda t: t.to(_C.dtype.bfloat16) if t.is_floating_point() else t)

    def type(self, dst_type):
        """Every parameter and buffer to dst_type (integer ones too, as torch)."""
        return self._apply(lambda t: t.to(dst_type))

    def cpu(self):
        return self

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def state_dict(self):
        out = OrderedDict()
        for n, p in self.named_parameters():
            out[n] = p.detach()
        for n, b in self.named_buffers():
            out[n] = b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        own = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        bad = [f"{k}: {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}" for k in own
               if k in state_dict and tuple(_C._as_tensor(state_dict[k]).shape) != tuple(own[k].shape)]
        if bad or (strict and (missing or unexpected)):
            raise _C.Error(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}, "
                           f"shape mismatches {bad}")
        with _C_no_grad():
            for k, t in own.items():
                if k in state_dict:
                    t.copy_(state_dict[k])
        return missing, unexpected

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


def _parse_to(args, kwargs):
    """(device, dtype) from Module.to's arguments, as torch._C._nn._parse_to: (dtype), (device[, dtype]), (tensor),
    keywords device= and dtype= (non_blocking= and memory_format= accepted and ignored on the cpu)."""
    device = dtype = None
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        other = rest.pop(0)
        device, dtype = other.device, other.dtype
    elif rest and _dtype(rest[0]) is not None:
        dtype = _dtype(rest.pop(0))
    elif rest and not isinstance(rest[0], bool):
        device = rest.pop(0)
        if rest and _dtype(rest[0]) is not None:
            dtype = _dtype(rest.pop(0))
    if rest and isinstance(rest[0], bool):
        rest.pop(0)  # non_blocking
    if rest:
        raise TypeError(f"to() received an invalid combination of arguments: {args!r}")
    for k, v in kwargs.items():
        if k == "device":
            device = v if v is not None else device
        elif k == "dtype":
            if v is not None:
                dtype = _dtype(v)
                if dtype is None:
                    raise TypeError(f"to(): dtype= must be a dtype, got {v!r}")
        elif k not in ("non_blocking", "memory_format"):
            raise TypeError(f"to() got an unexpected keyword argument '{k}'")
    if device is not None:
        name = str(device)
        if name not in ("cpu", "cpu:0", "meta"):
            raise _C.Error(f"Module.to: unknown device '{name}' (nerve runs on the cpu; meta for shapes alone)")
        device = "meta" if name == "meta" else "cpu"
    return device, dtype


def _dtype(a):
    """nerve's dtype for a nerve dtype or one of torch's (str(torch.float64) == "torch.float64"); None otherwise."""
    if isinstance(a, _C.dtype):
        return a
    if isinstance(a, (str, Tensor, bool)):
        return None
    s = str(a)
    if s.startswith("torch."):
        member = _C.dtype.__members__.get(s[len("torch."):])
        if member is None:
            raise TypeError(f"to(): nerve has no dtype for {s}")
        return member
    return None


class _C_no_grad:
    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C.set_grad_enabled(False)

    def __exit__(self, *exc):
        _C.set_grad_enabled(self.prev)


class _Native(Module):
    """A Python Module around a C++ nerve::nn module: its parameters and buffers are the C++ tensors (shared, so
    optimizers, state_dict and the C++ forward see the same values)."""

    def __init__(self, native):
        super().__init__()
        object.__setattr__(self, "_native", native)
        for n, t in native.named_parameters():
            self._parameters[n] = Parameter(t, t.requires_grad)
        for n, t in native.named_buffers():
            self._buffers[n] = t

    def __getattr__(self, name):
        try:
            return Module.__getattr__(self, name)
        except AttributeError:
            return getattr(self.__dict__["_native"], name)

    def forward(self, *args, **kwargs):
        return self._native.forward(*args, **kwargs)

    def train(self, mode=True):
        self._native.train(mode)
        return Module.train(self, mode)

    def extra_repr(self):
        return self._native.extra_repr()


def _native(cls_name, native_cls):
    def __init__(self, *args, **kwargs):
        _Native.__init__(self, native_cls(*args, **kwargs))
    return type(cls_name, (_Native,), {"__init__": __init__, "__doc__": f"PyTorch's nn.{cls_name} (nerve C++)."})


Linear = _native("Linear", _C.nn.Linear)
Embedding = _native("Embedding", _C.nn.Embedding)
LSTM = _native("LSTM", _C.nn.LSTM)
GRU = _native("GRU", _C.nn.GRU)
RNN = _native("RNN", _C.nn.RNN)
Conv2d = _native("Conv2d", _C.nn.Conv2d)
BatchNorm1d = _native("BatchNorm1d", _C.nn.BatchNorm1d)
BatchNorm2d = _native("BatchNorm2d", _C.nn.BatchNorm2d)
LayerNorm = _native("LayerNorm", _C.nn.LayerNorm)


# ---------------------------------------------------------------- modules without weights, in Python
class _Fn(Module):
    """A module that applies a function with fixed keyword arguments."""
    fn = None

    def __init__(self, **kwargs):
        super().__init__()
        object.__setattr__(self, "kwargs", kwargs)

    def forward(self, x):
        return type(self).fn(x, **self.kwargs)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.kwargs.items())


def _fn_module(name, fn, params=()):
    def __init__(self, *args, **kwargs):
        kw = dict(zip(params, args))
        kw.update(kwargs)
        _Fn.__init__(self, **kw)
    return type(name, (_Fn,), {"fn": staticmethod(fn), "__init__": __init__})


ReLU = _fn_module("ReLU", lambda x, inplace=False: _C.relu(x), ("inplace",))
Sigmoid = _fn_module("Sigmoid", _C.sigmoid)
Tanh = _fn_module("Tanh", _C.tanh)
GELU = _fn_module("GELU", lambda x, approximate="none": _C.gelu(x, approximate=approximate), ("approximate",))
LeakyReLU = _fn_module("LeakyReLU", lambda x, negative_slope=0.01, inplace=False: _C.leaky_relu(x, negative_slope),
                       ("negative_slope", "inplace"))
ELU = _fn_module("ELU", lambda x, alpha=1.0, inplace=False: _C.elu(x, alpha), ("alpha", "inplace"))
Softplus = _fn_module("Softplus", lambda x, beta=1.0, threshold=20.0: _C.softplus(x, beta, threshold),
                      ("beta", "threshold"))
SiLU = _fn_module("SiLU", lambda x, inplace=False: _C.silu(x), ("inplace",))
Softmax = _fn_module("Softmax", lambda x, dim=-1: _C.softmax(x, dim), ("dim",))
LogSoftmax = _fn_module("LogSoftmax", lambda x, dim=-1: _C.log_softmax(x, dim), ("dim",))
Flatten = _fn_module("Flatten", lambda x, start_dim=1, end_dim=-1: _C.flatten(x, start_dim, end_dim),
                     ("start_dim", "end_dim"))
MaxPool2d = _fn_module("MaxPool2d", lambda x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False:
                       F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode),
                       ("kernel_size", "stride", "padding", "dilation", "ceil_mode"))
AvgPool2d = _fn_module("AvgPool2d", lambda x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True: F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode,
                                                            count_include_pad),
                       ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"))
AdaptiveAvgPool2d = _fn_module("AdaptiveAvgPool2d", lambda x, output_size: F.adaptive_avg_pool2d(x, output_size),
                               ("output_size",))
Identity = _fn_module("Identity", lambda x: x)


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class _Loss(Module):
    def __init__(self, reduction="mean", **kwargs):
        super().__init__()
        self.reduction = reduction
        self.kwargs = kwargs


class CrossEntropyLoss(_Loss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


# ---------------------------------------------------------------- containers
class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for n, m in modules[0].items():
                self.add_module(n, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self


class ModuleList(Module):
    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


def softmax(logits, axis=-1):
    """tf.nn.softmax, for TensorFlow programs run with `import nerve as tf` (PyTorch's is nn.functional.softmax)."""
    return _C.softmax(logits if isinstance(logits, Tensor) else _C._as_tensor(logits), axis)
