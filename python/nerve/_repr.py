"""Tensor.__repr__ as PyTorch prints: elements right-aligned to one width, 4 decimals (or scientific notation for a
wide range), "1." for integral floats, rows on their own lines, "..." past 1000 elements, and the dtype (when not
float32 / int64 / bool), requires_grad and grad_fn suffixes."""
import numpy as np

_SHOWN = {"float32", "int64", "bool"}
_EDGE, _THRESHOLD = 3, 1000


def _formatter(a):
    if a.dtype == np.bool_:
        return lambda v: "True" if v else "False"
    if a.dtype.kind in "iu":
        return lambda v: str(int(v))
    finite = a[np.isfinite(a)] if a.size else a
    nz = np.abs(finite[finite != 0]) if finite.size else finite
    if finite.size and np.all(finite == np.round(finite)):
        if nz.size and (nz.max() / nz.min() > 1000 or nz.max() > 1e8):
            return lambda v: f"{v:.4e}"
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    if nz.size and (nz.max() / nz.min() > 1000 or nz.max() >= 1e8 or nz.min() < 1e-4):
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}" if np.isfinite(v) else str(v)


def _edges(a, summarize):
    """The rows of a's first dim to show (None marks "...")."""
    n = a.shape[0]
    if summarize and n > 2 * _EDGE:
        return list(range(_EDGE)) + [None] + list(range(n - _EDGE, n))
    return list(range(n))


def _body(a, fmt, width, indent, summarize):
    if a.ndim == 0:
        return fmt(a.item()).rjust(width)
    if a.ndim == 1:  # torch's _vector_str: as many elements per line as fit in 80 columns
        items = [" ..." if i is None else fmt(a[i]).rjust(width) for i in _edges(a, summarize)]
        per_line = max(1, (80 - indent) // (width + 2))
        lines = [", ".join(items[k:k + per_line]) for k in range(0, len(items), per_line)]
        return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    parts = ["..." if i is None else _body(a[i], fmt, width, indent + 1, summarize) for i in _edges(a, summarize)]
    return "[" + sep.join(parts) + "]"


def tensor_repr(t):
    if t.is_meta:
        return t._cpp_repr()
    a = t.detach().to(_f32_if_storage(t)).numpy() if t.dtype.name in ("bfloat16", "float16", "int8") else t.detach().numpy()
    suffix = []
    name = str(t.dtype).split(".")[-1]
    summarize = a.size > _THRESHOLD
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            suffix.append(f"size={tuple(a.shape)}")
    else:
        shown = a
        if summarize:  # the format is chosen from the elements shown, as torch
            idx = tuple(np.r_[0:min(_EDGE, s), max(s - _EDGE, min(_EDGE, s)):s] for s in a.shape)
            shown = a[np.ix_(*idx)]
        fmt = _formatter(shown)
        width = max(len(fmt(v)) for v in shown.reshape(-1))
        body = _body(a, fmt, width, len("tensor("), summarize)
    if name not in _SHOWN:
        suffix.append(f"dtype=nerve.{name}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn}>")
    elif t.requires_grad:
        suffix.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + s for s in suffix) + ")"


def _f32_if_storage(t):
    from . import float32
    return float32
