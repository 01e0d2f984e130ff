"""nerve: a small, fast deep-learning framework in C++20, with PyTorch- and Keras-style Python front doors.

    import nerve
    x = nerve.randn(32, 784)
    y = nerve.relu(x @ w.T + b)          # PyTorch names and keyword arguments
    import nerve as tf                   # and Keras: tf.keras.models.Sequential([...]).fit(x, y)
"""
import builtins as _builtins

import numpy as _np

from . import _C
from ._C import Tensor, dtype, Error, from_numpy, registry
from ._C import (zeros, ones, empty, full, randn, rand, randint, arange, linspace, eye, zeros_like, ones_like,
                 empty_like, randn_like, rand_like, full_like, scalar_tensor)
from ._C import manual_seed, set_num_threads, get_num_threads, is_grad_enabled, set_grad_enabled

float32 = float = dtype.float32
float64 = double = dtype.float64
int64 = long = dtype.int64
int32 = int = dtype.int32
uint8 = dtype.uint8
bool = dtype.bool
float16 = half = dtype.float16
bfloat16 = dtype.bfloat16
int8 = dtype.int8

_DTYPE_NAMES = {dtype.float32: "float32", dtype.float64: "float64", dtype.int64: "int64", dtype.int32: "int32",
                dtype.uint8: "uint8", dtype.bool: "bool", dtype.float16: "float16", dtype.bfloat16: "bfloat16",
                dtype.int8: "int8"}
dtype.__repr__ = dtype.__str__ = lambda self: "nerve." + _DTYPE_NAMES[self]

_NP_DTYPES = {dtype.float32: _np.float32, dtype.float64: _np.float64, dtype.int64: _np.int64,
              dtype.int32: _np.int32, dtype.uint8: _np.uint8, dtype.bool: _np.bool_, dtype.int8: _np.int8,
              dtype.float16: _np.float16}


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of data (a number, nested lists, a numpy array or a tensor), PyTorch's
    torch.tensor: Python floats give float32, ints int64, bools bool; numpy arrays keep their dtype."""
    if isinstance(data, Tensor):
        t = data.detach().clone()
    else:
        t = _C._as_tensor(data)
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None):
    """Shares memory with a numpy array when it can (like torch.as_tensor), else copies."""
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else data.to(dtype)
    if isinstance(data, _np.ndarray):
        t = from_numpy(data)
        return t if dtype is None or t.dtype == dtype else t.to(dtype)
    return tensor(data, dtype=dtype)


def randperm(n, dtype=None):
    """A random permutation of 0..n-1 (int64) from nerve's seeded generator (nerve.manual_seed)."""
    p = _C.topk(rand(n, dtype=float64), n)[1] if n > 0 else zeros(0, dtype=int64)
    return p if dtype is None else p.to(dtype)


def save(obj, f):
    """Writes a state dict (a mapping of names to tensors, e.g. model.state_dict()) to a safetensors file."""
    if not hasattr(obj, "items"):
        raise TypeError(f"nerve.save: expected a state dict (names to tensors), got {type(obj).__name__}")
    _C.save_safetensors([(k, v.detach().contiguous()) for k, v in obj.items()], str(f))


def load(f):
    """Reads a state dict saved by nerve.save (safetensors) or by torch.save (PyTorch's zip checkpoint)."""
    import collections
    path = str(f)
    with open(path, "rb") as fh:
        zip_magic = fh.read(2) == b"PK"
    items = _C.load_torch(path) if zip_magic else _C.load_safetensors(path)
    return collections.OrderedDict(items)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


class no_grad:
    """Context manager (and decorator) that turns gradient recording off: `with nerve.no_grad(): ...`."""

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(False)

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class enable_grad(no_grad):
    """Turns gradient recording back on inside a no_grad block."""

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(True)


# every op of the C++ registry that has no binding of its own is reachable by name: nerve.ops.<name>(*tensors, **attrs)
class _Ops:
    def __getattr__(self, name):
        names = {o["name"] for o in registry()}
        if name not in names:
            raise AttributeError(f"nerve.ops: no op named {name!r} ({len(names)} ops are registered)")

        def op(*tensors, **attrs):
            return _C.call_op(name, *tensors, **attrs)
        op.__name__ = name
        return op

    def __dir__(self):
        return sorted(o["name"] for o in registry())


ops = _Ops()


def _bind_registry():
    """nerve.<name> for each registry op that has no hand-written binding (e.g. sum_to, embedding_rnn_layer)."""
    g = globals()
    for o in registry():
        n = o["name"]
        if n not in g and not hasattr(_C, n):
            g[n] = getattr(ops, n)
        elif n not in g:
            g[n] = getattr(_C, n)


_bind_registry()
for _n in dir(_C):
    if not _n.startswith("_") and _n not in globals() and _n not in ("nn", "optim", "keras", "functional"):
        globals()[_n] = getattr(_C, _n)


# ---------------------------------------------------------------- Tensor methods written in Python
def _tolist(self):
    return self.detach().numpy().tolist() if self.dim() else self.item()


def _iter(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    for k in range(self.shape[0]):
        yield self[k]


def _array(self, dtype=None, copy=None):
    a = self.detach().numpy()
    return a if dtype is None else a.astype(dtype)


def _type_as(self, other):
    return self.to(other.dtype)


def _new_tensor(self, data, dtype=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)


def _view_as(self, other):
    return self.view(other.shape)


def _expand_as(self, other):
    return self.expand(other.shape)


def _apply_(self, fn):
    self.copy_(tensor(_np.vectorize(fn)(self.numpy())))
    return self


from ._repr import tensor_repr as _tensor_repr  # noqa: E402

Tensor._cpp_repr = Tensor.__repr__
Tensor.__repr__ = _tensor_repr
Tensor.__str__ = _tensor_repr
Tensor.tolist = _tolist
Tensor.__iter__ = _iter
Tensor.__array__ = _array
Tensor.type_as = _type_as
Tensor.new_tensor = _new_tensor
Tensor.view_as = _view_as
Tensor.expand_as = _expand_as
Tensor.__array_priority__ = 1000  # numpy_array + tensor defers to Tensor.__radd__

from . import nn  # noqa: E402
from . import optim  # noqa: E402
from . import utils  # noqa: E402
from . import keras  # noqa: E402

__version__ = "0.1.0"
del _builtins
