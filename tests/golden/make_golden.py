#!/usr/bin/python3
"""Writes tests/golden/ops_golden.txt: PyTorch forward outputs and input gradients for every op in
include/nerve/ops/ops.h. Run with Debian's /usr/bin/python3 (python3-torch); the output is committed, so the C++
tests (tests/ops/test_golden.cpp) never need torch.

File format (the one golden format, read by tests/golden/golden_reader.h), one record per line:
  case NAME OP f32=F [layout.NAME=L ...]
                            F = 1 when the case is also run in f32 (looser tolerance); layout.NAME: the
                            layout of input NAME when it is not c (see LAYOUT below)
  param KEY N V1 .. VN      N values (ints, floats, or dtype names); N may be 0. nograd 1: no input requires
                            grad (conversions into and out of the storage dtypes bf16, f16, i8)
  in NAME DTYPE NDIM D1 .. DN V1 .. VM
                            an input; floating inputs require grad. LAYOUT: c contiguous, t built as the
                            transpose of a contiguous tensor (last two dims), s every other element of a wider
                            tensor along the last dim, starting at offset 1 (the gaps hold NaN, or 77 for
                            integer and bool tensors)
  out I DTYPE NDIM D.. V..  output I of the op (multi-output ops: chunk, split, max/min along a dim)
  gout I DTYPE NDIM D.. V.. the upstream gradient for output I (only for outputs that require grad)
  grad NAME DTYPE NDIM D.. V..  expected gradient of sum_i(out_i * gout_i) w.r.t. input NAME
  end
Values are row-major over the logical shape; floats use repr() (round-trips f64 exactly); bools are 0/1.
"""
import math
import os
import sys
import zlib

import torch
import torch.nn.functional as F

torch.manual_seed(20240501)
F64 = torch.float64
DTYPE_NAMES = {torch.float32: "f32", torch.float64: "f64", torch.int64: "i64", torch.int32: "i32",
               torch.uint8: "u8", torch.bool: "bool", torch.bfloat16: "bf16", torch.float16: "f16", torch.int8: "i8"}
DTYPES = {v: k for k, v in DTYPE_NAMES.items()}

lines = []
case_names = set()


# ------------------------------------------------------------------ input helpers
def randn(*shape):
    return torch.randn(shape, dtype=F64)


def away(*shape, lo=0.2):
    """randn values pushed at least `lo` away from 0 (safe divisors, no kinks at 0)."""
    x = randn(*shape)
    return x + torch.where(x >= 0, torch.full_like(x, lo), torch.full_like(x, -lo))


def positive(*shape, lo=0.3, hi=2.0):
    return lo + (hi - lo) * torch.rand(shape, dtype=F64)


def own_stream(fn):
    """Runs a group of cases on a random stream of its own (seeded from the group's name) and leaves the global
    stream as it was: adding such a group changes no other case's inputs."""
    def run():
        with torch.random.fork_rng():
            torch.manual_seed(zlib.crc32(fn.__name__.encode()))
            fn()
    return run


def idx(values, shape=None):
    t = torch.tensor(values, dtype=torch.int64)
    return t.reshape(shape) if shape is not None else t


def mask(values, shape=None):
    t = torch.tensor(values, dtype=torch.bool)
    return t.reshape(shape) if shape is not None else t


def with_layout(t, layout):
    if layout == "c":
        return t.clone()
    if layout == "t":
        assert t.dim() >= 2
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    if layout == "s":
        assert t.dim() >= 1
        shape = list(t.shape)
        shape[-1] = 2 * shape[-1] + 1
        base = torch.full(shape, float("nan") if t.is_floating_point() else 77, dtype=t.dtype)
        base[..., 1::2] = t
        v = base[..., 1::2]
        assert not v.is_contiguous() or v.numel() <= 1
        return v
    raise ValueError(layout)


def adam_reference(x, p):
    """torch.optim's single-tensor Adam/AdamW update `step` of copies of (param, exp_avg, exp_avg_sq[, v_max])."""
    import torch.optim._functional as Fo
    param, grad, m, v = [t.detach().clone() for t in x[:4]]
    vmax = [x[4].detach().clone()] if p.get("amsgrad") else []
    fn = Fo.adamw if p.get("decoupled") else Fo.adam
    fn([param], [grad], [m], [v], vmax, [torch.tensor(float(p["step"] - 1))], amsgrad=bool(p.get("amsgrad")),
       beta1=p.get("beta1", 0.9), beta2=p.get("beta2", 0.999), lr=p["lr"], weight_decay=p.get("weight_decay", 0.0),
       eps=p.get("eps", 1e-8), maximize=False)
    return tuple([param, m, v] + vmax)


def sgd_reference(x, p):
    """torch.optim's single-tensor SGD update of copies of (param[, momentum_buffer]); first: no buffer yet."""
    import torch.optim._functional as Fo
    param, grad = x[0].detach().clone(), x[1].detach().clone()
    bufs = [None if p.get("first") else x[2].detach().clone()] if len(x) > 2 else [None]
    Fo.sgd([param], [grad], bufs, weight_decay=p.get("weight_decay", 0.0), momentum=p.get("momentum", 0.0),
           lr=p["lr"], dampening=p.get("dampening", 0.0), nesterov=bool(p.get("nesterov")), maximize=False)
    return (param, bufs[0]) if len(x) > 2 else (param,)


def rnn_reference(inp, x, k, p):
    """nerve's rnn_layer through torch's: one layer and direction; x[k:] = [h0] [c0] w_ih w_hh [b_ih b_hh] by the
    flags h0, c0, bias; reverse runs the flipped sequence; h_n and c_n without the layer dim."""
    mode, bf, rev = p["mode"], bool(p.get("batch_first", 0)), bool(p.get("reverse", 0))
    h0 = x[k] if p.get("h0") else None
    k += 1 if p.get("h0") else 0
    c0 = x[k] if p.get("c0") else None
    k += 1 if p.get("c0") else 0
    params = list(x[k:k + 4]) if p.get("bias") else list(x[k:k + 2])
    t = 1 if bf else 0
    if rev:
        inp = inp.flip(t)
    batch, hidden = inp.shape[1 - t], params[1].shape[1]
    zero = torch.zeros(1, batch, hidden, dtype=inp.dtype)
    h = h0.unsqueeze(0) if h0 is not None else zero
    if mode == "lstm":
        c = c0.unsqueeze(0) if c0 is not None else zero
        out, hn, cn = torch._VF.lstm(inp, (h, c), params, bool(p.get("bias")), 1, 0.0, False, False, bf)
        res = [out, hn[0], cn[0]]
    else:
        fn = {"gru": torch._VF.gru, "rnn_tanh": torch._VF.rnn_tanh, "rnn_relu": torch._VF.rnn_relu}[mode]
        out, hn = fn(inp, h, params, bool(p.get("bias")), 1, 0.0, False, False, bf)
        res = [out, hn[0]]
    if rev:
        res[0] = res[0].flip(t)
    return tuple(res)


# ------------------------------------------------------------------ the reference ops (the registry's names and attributes: src/ops/registry.cpp)
def dims_or_all(x, p):
    d = p.get("dims", [])
    return list(d) if d else list(range(x.dim()))


def binary(fn):
    def run(x, p):
        if "scalar" in p:
            s = p["scalar"]
            return fn(s, x[0]) if p.get("left", 0) else fn(x[0], s)
        return fn(x[0], x[1])
    return run


def slice_op(x, p):
    t = x[0]
    sl = [slice(None)] * t.dim()
    sl[p["dim"]] = slice(p["start"], p["end"], p.get("step", 1))
    return t[tuple(sl)]


def batch_norm_op(x, p):
    """y and the running stats after the op's update (the registry's batch_norm works on copies of them)."""
    rm, rv = x[1].detach().clone(), x[2].detach().clone()
    y = F.batch_norm(x[0], rm, rv, x[3] if len(x) > 3 else None, x[4] if len(x) > 4 else None,
                     bool(p.get("training", 0)), p.get("momentum", 0.1), p.get("eps", 1e-5))
    return y, rm, rv


def sdpa_reference(x, p):
    """softmax(q k^T / sqrt(E) + mask) v written out (torch 1.13 has no F.scaled_dot_product_attention); the
    causal mask is top-left aligned (tril of ones(L, S)), a bool mask is True where attention is allowed."""
    q, k, v = x[:3]
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if p.get("is_causal"):
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        s = s.masked_fill(~keep, float("-inf"))
    if len(x) > 3:
        m = x[3]
        s = s.masked_fill(~m, float("-inf")) if m.dtype == torch.bool else s + m
    return torch.softmax(s, -1) @ v


def rms_norm_reference(x, p):
    """x * rsqrt(mean(x^2 over the normalized dims) + eps) [* weight]; eps absent: the dtype's epsilon (torch 2.4)."""
    dims = list(range(x[0].dim() - len(p["normalized_shape"]), x[0].dim()))
    eps = p.get("eps", torch.finfo(x[0].dtype).eps)
    y = x[0] * torch.rsqrt(x[0].pow(2).mean(dims, keepdim=True) + eps)
    return y * x[1] if len(x) > 1 else y


OPS = {
    "scaled_dot_product_attention": sdpa_reference,
    "rms_norm": rms_norm_reference,
    "reshape": lambda x, p: torch.reshape(x[0], p["shape"]),
    "view": lambda x, p: x[0].view(p["shape"]),
    "permute": lambda x, p: x[0].permute(p["dims"]),
    "transpose": lambda x, p: torch.transpose(x[0], p["d0"], p["d1"]),
    "narrow": lambda x, p: torch.narrow(x[0], p["dim"], p["start"], p["length"]),
    "slice": slice_op,
    "select": lambda x, p: torch.select(x[0], p["dim"], p["index"]),
    "expand": lambda x, p: x[0].expand(p["shape"]),
    "squeeze": lambda x, p: torch.squeeze(x[0], p["dim"]) if "dim" in p else torch.squeeze(x[0]),
    "unsqueeze": lambda x, p: torch.unsqueeze(x[0], p["dim"]),
    "flatten": lambda x, p: torch.flatten(x[0], p.get("start_dim", 0), p.get("end_dim", -1)),
    "contiguous": lambda x, p: x[0].contiguous(),
    "clone": lambda x, p: x[0].clone(),
    "to_dtype": lambda x, p: x[0].to(DTYPES[p["dtype"]]),
    "cat": lambda x, p: torch.cat(x, p.get("dim", 0)),
    "stack": lambda x, p: torch.stack(x, p.get("dim", 0)),
    "chunk": lambda x, p: torch.chunk(x[0], p["chunks"], p.get("dim", 0)),
    "split": lambda x, p: torch.split(x[0], p["split_size"], p.get("dim", 0)),
    "sum_to": lambda x, p: x[0].sum_to_size(p["shape"]),
    "add": lambda x, p: (x[0] + p["scalar"] if not p.get("left") else p["scalar"] + x[0]) if "scalar" in p
    else torch.add(x[0], x[1], alpha=p.get("alpha", 1)),
    "sub": lambda x, p: (x[0] - p["scalar"] if not p.get("left") else p["scalar"] - x[0]) if "scalar" in p
    else torch.sub(x[0], x[1], alpha=p.get("alpha", 1)),
    "mul": binary(lambda a, b: a * b),
    "div": binary(lambda a, b: a / b),
    "pow": lambda x, p: torch.pow(x[0], p["exponent"]) if "exponent" in p else torch.pow(x[0], x[1]),
    "maximum": lambda x, p: torch.maximum(x[0], x[1]),
    "minimum": lambda x, p: torch.minimum(x[0], x[1]),
    "eq": lambda x, p: torch.eq(x[0], x[1]),
    "ne": lambda x, p: torch.ne(x[0], x[1]),
    "lt": lambda x, p: torch.lt(x[0], x[1]),
    "le": lambda x, p: torch.le(x[0], x[1]),
    "gt": lambda x, p: torch.gt(x[0], x[1]),
    "ge": lambda x, p: torch.ge(x[0], x[1]),
    "logical_and": lambda x, p: torch.logical_and(x[0], x[1]),
    "logical_or": lambda x, p: torch.logical_or(x[0], x[1]),
    "logical_not": lambda x, p: torch.logical_not(x[0]),
    "clamp": lambda x, p: torch.clamp(x[0], p.get("min"), p.get("max")),
    "sum": lambda x, p: torch.sum(x[0], dims_or_all(x[0], p), keepdim=bool(p.get("keepdim", 0)))
    if x[0].dim() or p.get("dims") else torch.sum(x[0]),
    "mean": lambda x, p: torch.mean(x[0], dims_or_all(x[0], p), keepdim=bool(p.get("keepdim", 0)))
    if x[0].dim() else torch.mean(x[0]),
    "var": lambda x, p: torch.var(x[0], dims_or_all(x[0], p), correction=p.get("correction", 1),
                                  keepdim=bool(p.get("keepdim", 0))),
    "std": lambda x, p: torch.std(x[0], dims_or_all(x[0], p), correction=p.get("correction", 1),
                                  keepdim=bool(p.get("keepdim", 0))),
    "max": lambda x, p: torch.max(x[0], p["dim"], bool(p.get("keepdim", 0))) if "dim" in p else torch.max(x[0]),
    "min": lambda x, p: torch.min(x[0], p["dim"], bool(p.get("keepdim", 0))) if "dim" in p else torch.min(x[0]),
    "amax": lambda x, p: torch.amax(x[0], p["dims"], bool(p.get("keepdim", 0))),
    "amin": lambda x, p: torch.amin(x[0], p["dims"], bool(p.get("keepdim", 0))),
    "logsumexp": lambda x, p: torch.logsumexp(x[0], dims_or_all(x[0], p), bool(p.get("keepdim", 0))),
    "cumsum": lambda x, p: torch.cumsum(x[0], p["dim"]),
    "topk": lambda x, p: torch.topk(x[0], p["k"], p.get("dim", -1), bool(p.get("largest", 1)),
                                    bool(p.get("sorted", 1))),
    "norm": lambda x, p: torch.norm(x[0], p["p"], dims_or_all(x[0], p), bool(p.get("keepdim", 0))),
    "argmax": lambda x, p: torch.argmax(x[0], p["dim"], bool(p.get("keepdim", 0))),
    "argmin": lambda x, p: torch.argmin(x[0], p["dim"], bool(p.get("keepdim", 0))),
    "softmax": lambda x, p: torch.softmax(x[0], p["dim"]),
    "log_softmax": lambda x, p: torch.log_softmax(x[0], p["dim"]),
    "matmul": lambda x, p: torch.matmul(x[0], x[1]),
    "bmm": lambda x, p: torch.bmm(x[0], x[1]),
    "baddbmm": lambda x, p: torch.baddbmm(x[0], x[1], x[2], beta=p.get("beta", 1.0), alpha=p.get("alpha", 1.0)),
    "tril": lambda x, p: torch.tril(x[0], p.get("diagonal", 0)),
    "triu": lambda x, p: torch.triu(x[0], p.get("diagonal", 0)),
    "linear": lambda x, p: F.linear(x[0], x[1], x[2] if len(x) > 2 else None),
    "linear_relu": lambda x, p: torch.relu(F.linear(x[0], x[1], x[2] if len(x) > 2 else None)),
    "linear_u8": lambda x, p: (torch.relu if p.get("relu", False) else (lambda t: t))(
        F.linear(x[0].to(x[1].dtype) * p["scale"] + p["offset"], x[1], x[2] if len(x) > 2 else None)),
    "where": lambda x, p: torch.where(x[0], x[1], x[2]),
    "masked_fill": lambda x, p: torch.masked_fill(x[0], x[1], p["value"]),
    "masked_select": lambda x, p: torch.masked_select(x[0], x[1]),
    "gather": lambda x, p: torch.gather(x[0], p["dim"], x[1]),
    "index_select": lambda x, p: torch.index_select(x[0], p["dim"], x[1]),
    "scatter_add": lambda x, p: torch.scatter_add(x[0], p["dim"], x[1], x[2]),
    "index_add": lambda x, p: torch.index_add(x[0], p["dim"], x[1], x[2], alpha=p.get("alpha", 1.0)),
    "scatter": lambda x, p: torch.scatter(x[0], p["dim"], x[1], x[2]),
    "one_hot": lambda x, p: F.one_hot(x[0], p.get("num_classes", -1)),
    "rescale": lambda x, p: (x[0] if x[0].is_floating_point() else x[0].float()) * p["scale"] + p.get("offset", 0.0),
    "adam_step_": lambda x, p: adam_reference(x, p),
    "sgd_step_": lambda x, p: sgd_reference(x, p),
    "embedding": lambda x, p: F.embedding(x[0], x[1], padding_idx=p.get("padding_idx")),
    "rnn_layer": lambda x, p: rnn_reference(x[0], x, 1, p),
    "embedding_rnn_layer": lambda x, p: rnn_reference(F.embedding(x[0], x[1]), x, 2, p),
    # losses: input, target, then the optional weight (flag weight=1) and pos_weight (flag pos_weight=1)
    "mse_loss": lambda x, p: F.mse_loss(x[0], x[1], reduction=p.get("reduction", "mean")),
    "l1_loss": lambda x, p: F.l1_loss(x[0], x[1], reduction=p.get("reduction", "mean")),
    "huber_loss": lambda x, p: F.huber_loss(x[0], x[1], reduction=p.get("reduction", "mean"), delta=p.get("delta", 1.0)),
    "nll_loss": lambda x, p: F.nll_loss(x[0], x[1], weight=x[2] if p.get("weight") else None,
                                        ignore_index=p.get("ignore_index", -100), reduction=p.get("reduction", "mean")),
    # (nerve also takes i32 class indices; torch 1.13 wants i64: the expected values are i64's)
    "cross_entropy": lambda x, p: F.cross_entropy(x[0], x[1].long() if x[1].dtype == torch.int32 else x[1], weight=x[2] if p.get("weight") else None,
                                                  ignore_index=p.get("ignore_index", -100),
                                                  reduction=p.get("reduction", "mean"),
                                                  label_smoothing=p.get("label_smoothing", 0.0)),
    "binary_cross_entropy": lambda x, p: F.binary_cross_entropy(x[0], x[1], weight=x[2] if p.get("weight") else None,
                                                                reduction=p.get("reduction", "mean")),
    "binary_cross_entropy_with_logits": lambda x, p: F.binary_cross_entropy_with_logits(
        x[0], x[1], weight=x[2] if p.get("weight") else None, reduction=p.get("reduction", "mean"),
        pos_weight=x[-1] if p.get("pos_weight") else None),
    "conv2d": lambda x, p: F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, p.get("stride", 1),
                                    p.get("padding", 0), p.get("dilation", 1), p.get("groups", 1)),
    "conv2d_relu_max_pool2x2": lambda x, p: F.max_pool2d(torch.relu(F.conv2d(
        x[0], x[1], x[2] if len(x) > 2 else None, p.get("stride", 1), p.get("padding", 0), p.get("dilation", 1),
        p.get("groups", 1))), 2),
    "max_pool2d": lambda x, p: F.max_pool2d(x[0], p["kernel_size"], p.get("stride", None), p.get("padding", 0),
                                            p.get("dilation", 1), bool(p.get("ceil_mode", 0))),
    "max_pool2d_with_indices": lambda x, p: F.max_pool2d(x[0], p["kernel_size"], p.get("stride", None),
                                                         p.get("padding", 0), p.get("dilation", 1),
                                                         bool(p.get("ceil_mode", 0)), return_indices=True),
    "avg_pool2d": lambda x, p: F.avg_pool2d(x[0], p["kernel_size"], p.get("stride", None), p.get("padding", 0),
                                            bool(p.get("ceil_mode", 0)), bool(p.get("count_include_pad", 1))),
    "adaptive_avg_pool2d": lambda x, p: F.adaptive_avg_pool2d(x[0], p["output_size"] * (3 - len(p["output_size"]))),
    "batch_norm": lambda x, p: batch_norm_op(x, p),
    "layer_norm": lambda x, p: F.layer_norm(x[0], p["normalized_shape"], x[1] if len(x) > 1 else None,
                                            x[2] if len(x) > 2 else None, p.get("eps", 1e-5)),
    "conv_transpose2d": lambda x, p: F.conv_transpose2d(x[0], x[1], x[2] if len(x) > 2 else None, p.get("stride", 1),
                                                        p.get("padding", 0), p.get("output_padding", 0),
                                                        p.get("groups", 1), p.get("dilation", 1)),
    "instance_norm": lambda x, p: F.instance_norm(x[0], None, None, x[1] if len(x) > 1 else None,
                                                  x[2] if len(x) > 2 else None, eps=p.get("eps", 1e-5)),
    "conv1d": lambda x, p: F.conv1d(x[0], x[1], x[2] if len(x) > 2 else None, p.get("stride", 1),
                                    p.get("padding", 0), p.get("dilation", 1), p.get("groups", 1)),
    "adaptive_max_pool2d": lambda x, p: F.adaptive_max_pool2d(x[0], p["output_size"] * (3 - len(p["output_size"]))),
    "pad": lambda x, p: F.pad(x[0], p["pad"], p.get("mode", "constant"), p.get("value", 0.0)),
    "interpolate": lambda x, p: F.interpolate(x[0], p.get("size"), p.get("scale_factor"), p.get("mode", "nearest"),
                                              True if p.get("align_corners") else None),
    "group_norm": lambda x, p: F.group_norm(x[0], p["num_groups"], x[1] if len(x) > 1 else None,
                                            x[2] if len(x) > 2 else None, p.get("eps", 1e-5)),
}

# The elementwise unary ops of include/nerve/core/unary_ops.def, one line each: the torch function (called with the
# op's parameters as keyword arguments) and where its standard cases sample x (real, nonzero: |x| >= 0.2,
# positive: [0.3, 2]). elementwise_unary() writes the standard cases of each, special values included.
UNARY = {
    "neg": (torch.neg, "real"),
    "exp": (torch.exp, "real"),
    "log": (torch.log, "positive"),
    "sqrt": (torch.sqrt, "positive"),
    "abs": (torch.abs, "nonzero"),
    "relu": (torch.relu, "nonzero"),
    "leaky_relu": (F.leaky_relu, "nonzero"),
    "sigmoid": (torch.sigmoid, "real"),
    "tanh": (torch.tanh, "real"),
    "gelu": (F.gelu, "real"),
    "silu": (F.silu, "real"),
    "softplus": (F.softplus, "real"),
    "mish": (F.mish, "real"),
    "elu": (F.elu, "real"),
    "selu": (F.selu, "real"),
    "hardswish": (F.hardswish, "real"),
    "hardsigmoid": (F.hardsigmoid, "real"),
    "hardtanh": (F.hardtanh, "real"),
    "erf": (torch.erf, "real"),
    "rsqrt": (torch.rsqrt, "positive"),
    "reciprocal": (torch.reciprocal, "nonzero"),
    "sign": (torch.sign, "nonzero"),
    "floor": (torch.floor, "real"),
    "ceil": (torch.ceil, "real"),
    "round": (torch.round, "real"),
    "log1p": (torch.log1p, "positive"),
}
for _name, (_fn, _domain) in UNARY.items():
    OPS[_name] = (lambda fn: lambda x, p: fn(x[0], **p))(_fn)


# ------------------------------------------------------------------ writing
def fmt_value(v, dtype):
    if dtype == torch.bool:
        return "1" if v else "0"
    if dtype.is_floating_point:
        return repr(float(v))
    return str(int(v))


def fmt_tensor(t):
    t = t.detach()
    vals = " ".join(fmt_value(v, t.dtype) for v in t.reshape(-1).tolist())
    dims = " ".join(str(d) for d in t.shape)
    return " ".join(s for s in [DTYPE_NAMES[t.dtype], str(t.dim()), dims, vals] if s)


def fmt_param(k, v):
    vs = v if isinstance(v, (list, tuple)) else [v]
    out = []
    for x in vs:
        if isinstance(x, bool):
            out.append("1" if x else "0")
        elif isinstance(x, float):
            out.append(repr(x))
        else:
            out.append(str(x))
    return " ".join(["param", k, str(len(vs))] + out)


def case(name, op, inputs, f32=True, **params):
    """inputs: list of tensors or (tensor, layout) pairs; they are named x0, x1, ..."""
    assert name not in case_names, name
    case_names.add(name)
    params = {k: v for k, v in params.items() if v is not None}
    ins = []
    for i, item in enumerate(inputs):
        t, layout = item if isinstance(item, tuple) else (item, "c")
        x = with_layout(t, layout)
        if x.is_floating_point() and not params.get("nograd") and i not in params.get("const", []):
            x.requires_grad_(True)
        ins.append((f"x{i}", x, layout))
    xs = [x for _, x, _ in ins]
    out = OPS[op](xs, params)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    layouts = "".join(f" layout.{nm}={layout}" for nm, _, layout in ins if layout != "c")
    lines.append(f"case {name} {op} f32={1 if f32 else 0}{layouts}")
    for k, v in params.items():
        lines.append(fmt_param(k, v))
    for nm, x, layout in ins:
        lines.append(f"in {nm} {fmt_tensor(x)}")
    loss, gouts = None, {}
    for i, o in enumerate(outs):
        lines.append(f"out {i} {fmt_tensor(o)}")
        if o.requires_grad:
            g = torch.randn(o.shape, dtype=o.dtype)
            gouts[i] = g
            lines.append(f"gout {i} {fmt_tensor(g)}")
            term = (o * g).sum()
            loss = term if loss is None else loss + term
    leaves = [(nm, x) for nm, x, _ in ins if x.requires_grad]
    if leaves:
        if loss is not None:
            grads = torch.autograd.grad(loss, [x for _, x in leaves], allow_unused=True)
        else:
            grads = [None] * len(leaves)
        for (nm, x), g in zip(leaves, grads):
            g = torch.zeros_like(x) if g is None else g
            lines.append(f"grad {nm} {fmt_tensor(g)}")
    lines.append("end")


# ------------------------------------------------------------------ the cases
def views_and_copies():
    x234 = randn(2, 3, 4)
    case("reshape_2d", "reshape", [x234], shape=[4, 6])
    case("reshape_infer", "reshape", [x234], shape=[6, -1])
    case("reshape_noncontig_copy", "reshape", [(randn(3, 4), "t")], shape=[12])
    case("reshape_strided_view", "reshape", [(randn(3, 4), "s")], shape=[3, 2, 2])
    case("reshape_0d_to_1", "reshape", [randn()], shape=[1])
    case("reshape_1_to_0d", "reshape", [randn(1)], shape=[])
    case("reshape_empty", "reshape", [randn(0, 3)], shape=[3, 0])
    case("reshape_same_shape", "reshape", [randn(2, 3)], shape=[2, 3])
    case("reshape_size1_transposed", "reshape", [(randn(4, 1), "t")], shape=[2, 2])
    case("reshape_transposed_3d", "reshape", [(randn(2, 3, 4), "t")], shape=[2, 12])

    case("view_split_dim", "view", [x234], shape=[6, 4])
    case("view_strided", "view", [(randn(3, 4), "s")], shape=[3, 2, 2])
    case("view_transposed_unsqueeze", "view", [(randn(3, 4), "t")], shape=[3, 1, 4])
    case("view_0d", "view", [randn()], shape=[1, 1])
    case("view_size1_transposed", "view", [(randn(4, 1), "t")], shape=[4])
    case("view_unit_dims_strided", "view", [(randn(3, 4), "s")], shape=[3, 1, 4, 1])
    case("view_empty", "view", [randn(0, 3)], shape=[3, 0, 1])

    case("permute_3d", "permute", [x234], dims=[2, 0, 1])
    case("permute_negative", "permute", [x234], dims=[-1, 0, 1])
    case("permute_transposed_input", "permute", [(randn(3, 4), "t")], dims=[1, 0])

    case("transpose_3d", "transpose", [x234], d0=0, d1=2)
    case("transpose_negative_noncontig", "transpose", [(randn(2, 3, 4), "t")], d0=-1, d1=-3)
    case("transpose_0d", "transpose", [randn()], d0=0, d1=-1)

    case("narrow_dim0", "narrow", [randn(5, 4)], dim=0, start=1, length=3)
    case("narrow_negative_start", "narrow", [randn(5, 4)], dim=-1, start=-3, length=2)
    case("narrow_empty", "narrow", [randn(5, 4)], dim=1, start=2, length=0)
    case("narrow_strided", "narrow", [(randn(3, 5), "s")], dim=1, start=1, length=3)

    case("slice_step2", "slice", [randn(6, 5)], dim=1, start=1, end=5, step=2)
    case("slice_negative", "slice", [randn(6, 5)], dim=0, start=-4, end=-1, step=1)
    case("slice_clamped_end", "slice", [randn(6, 5)], dim=0, start=2, end=100, step=3)
    case("slice_empty", "slice", [randn(6, 5)], dim=1, start=4, end=2, step=1)
    case("slice_transposed", "slice", [(randn(4, 6), "t")], dim=-1, start=0, end=6, step=4)

    case("select_middle", "select", [randn(3, 4, 5)], dim=1, index=2)
    case("select_negative", "select", [randn(3, 4, 5)], dim=-1, index=-1)
    case("select_to_0d", "select", [randn(4)], dim=0, index=1)
    case("select_transposed", "select", [(randn(3, 4), "t")], dim=0, index=2)

    case("expand_new_dims", "expand", [randn(3, 1)], shape=[2, 3, 4])
    case("expand_keep_dim", "expand", [randn(1, 4)], shape=[3, -1])
    case("expand_0d", "expand", [randn()], shape=[2, 3])
    case("expand_same", "expand", [randn(2, 3)], shape=[2, 3])
    case("expand_strided", "expand", [(randn(1, 3), "s")], shape=[4, 3])
    case("expand_to_empty", "expand", [randn(1, 3)], shape=[0, 3])

    case("squeeze_all", "squeeze", [randn(1, 3, 1, 2)])
    case("squeeze_dim", "squeeze", [randn(1, 3, 1, 2)], dim=2)
    case("squeeze_dim_noop", "squeeze", [randn(1, 3, 1, 2)], dim=1)
    case("squeeze_0d", "squeeze", [randn()])
    case("squeeze_transposed", "squeeze", [(randn(1, 3, 1), "t")], dim=-2)

    case("unsqueeze_front", "unsqueeze", [randn(2, 3)], dim=0)
    case("unsqueeze_back", "unsqueeze", [randn(2, 3)], dim=-1)
    case("unsqueeze_transposed", "unsqueeze", [(randn(2, 3), "t")], dim=1)
    case("unsqueeze_0d", "unsqueeze", [randn()], dim=0)

    case("flatten_all", "flatten", [x234])
    case("flatten_from1", "flatten", [x234], start_dim=1)
    case("flatten_range", "flatten", [x234], start_dim=0, end_dim=1)
    case("flatten_0d", "flatten", [randn()])
    case("flatten_transposed", "flatten", [(randn(2, 3, 4), "t")], start_dim=1)

    case("contiguous_transposed", "contiguous", [(randn(3, 4), "t")])
    case("contiguous_strided", "contiguous", [(randn(2, 3), "s")])
    case("contiguous_already", "contiguous", [randn(2, 3)])

    case("clone_transposed", "clone", [(randn(3, 4), "t")])
    case("clone_0d", "clone", [randn()])
    case("clone_empty", "clone", [randn(2, 0)])

    case("to_f32", "to_dtype", [randn(2, 3)], f32=False, dtype="f32")
    case("to_i64_truncates", "to_dtype", [3 * randn(2, 3)], f32=False, dtype="i64")
    case("to_bool", "to_dtype", [torch.tensor([0.0, -1.5, 2.0, 0.0], dtype=F64)], f32=False, dtype="bool")
    case("i64_to_f64", "to_dtype", [idx([3, -2, 7])], f32=False, dtype="f64")
    case("bool_to_f64", "to_dtype", [mask([True, False, True])], f32=False, dtype="f64")
    case("to_f32_transposed", "to_dtype", [(randn(2, 3), "t")], f32=False, dtype="f32")

    case("cat_dim0_three", "cat", [randn(2, 3), randn(1, 3), randn(4, 3)], dim=0)
    case("cat_dim1", "cat", [randn(2, 1), randn(2, 3)], dim=1)
    case("cat_negative_noncontig", "cat", [(randn(3, 2), "t"), (randn(3, 4), "s")], dim=-1)
    case("cat_with_empty", "cat", [randn(2, 3), randn(0, 3), randn(1, 3)], dim=0)
    case("cat_single", "cat", [randn(2, 2)], dim=1)

    case("stack_dim0", "stack", [randn(2, 3), randn(2, 3)], dim=0)
    case("stack_last", "stack", [randn(2, 3), (randn(2, 3), "t"), randn(2, 3)], dim=2)
    case("stack_negative", "stack", [randn(4), randn(4)], dim=-1)
    case("stack_0d", "stack", [randn(), randn(), randn()], dim=0)

    case("chunk_uneven", "chunk", [randn(7, 2)], chunks=3, dim=0)
    case("chunk_fewer", "chunk", [randn(4, 6)], chunks=4, dim=1)
    case("chunk_exact", "chunk", [(randn(3, 5), "t")], chunks=5, dim=0)
    case("chunk_empty_dim", "chunk", [randn(0, 3)], chunks=2, dim=0)

    case("split_uneven", "split", [randn(7, 3)], split_size=3, dim=0)
    case("split_dim1", "split", [randn(2, 5)], split_size=2, dim=-1)
    case("split_larger", "split", [randn(2, 3)], split_size=10, dim=1)
    case("split_empty_dim", "split", [randn(0, 3)], split_size=2, dim=0)

    case("sum_to_keep_dims", "sum_to", [randn(2, 3, 4)], shape=[3, 1])
    case("sum_to_leading", "sum_to", [randn(2, 3, 4)], shape=[1, 4])
    case("sum_to_same", "sum_to", [randn(2, 3)], shape=[2, 3])
    case("sum_to_0d", "sum_to", [randn(2, 3)], shape=[])
    case("sum_to_drop_lead", "sum_to", [(randn(3, 4), "t")], shape=[4])


def elementwise_binary():
    for op in ["add", "sub"]:
        case(f"{op}_same", op, [randn(2, 3), randn(2, 3)])
        case(f"{op}_broadcast", op, [randn(3, 1), randn(4)])
        case(f"{op}_0d", op, [randn(), randn(2, 3)])
        case(f"{op}_both_0d", op, [randn(), randn()])
        case(f"{op}_alpha", op, [randn(2, 3), randn(3)], alpha=2.5)
        case(f"{op}_transposed", op, [(randn(3, 4), "t"), (randn(3, 4), "s")])
        case(f"{op}_empty", op, [randn(0, 3), randn(3)])
        case(f"{op}_scalar", op, [randn(2, 3)], scalar=1.75)
        case(f"{op}_scalar_left", op, [randn(2, 3)], scalar=-0.5, left=1)
        case(f"{op}_int_float", op, [idx([1, -2, 3]), randn(2, 3)])
    case("mul_broadcast_both", "mul", [randn(2, 1, 3), randn(4, 1)])
    case("mul_0d", "mul", [randn(3), randn()])
    case("mul_strided", "mul", [(randn(2, 3), "s"), (randn(2, 3), "t")])
    case("mul_scalar", "mul", [randn(2, 2)], scalar=-3.0)
    case("mul_int_scalar_float", "mul", [idx([1, 2, -3])], scalar=2.5)
    case("mul_empty", "mul", [randn(2, 0), randn(2, 1)])
    case("mul_bool", "mul", [mask([True, False, True]), mask([True, True, False])])
    case("div_same", "div", [randn(2, 3), away(2, 3)])
    case("div_broadcast", "div", [randn(4, 1), away(3)])
    case("div_scalar", "div", [randn(3)], scalar=4.0)
    case("div_scalar_left", "div", [away(3)], scalar=2.0, left=1)
    case("div_transposed", "div", [(randn(3, 2), "t"), (away(3, 2), "s")])
    case("div_int_int", "div", [idx([7, -3, 4]), idx([2, 2, -3])])
    case("pow_tensor", "pow", [positive(2, 3), randn(2, 3)])
    case("pow_tensor_broadcast", "pow", [positive(3, 1), randn(4)])
    case("pow_tensor_0d_exponent", "pow", [positive(2, 2), randn()])
    case("pow_zero_base", "pow", [torch.tensor([0.0, 0.0, 0.0, 2.0], dtype=F64),
                                  torch.tensor([0.0, 1.0, 2.0, 0.0], dtype=F64)], f32=False)
    case("pow_scalar_2", "pow", [randn(2, 3)], exponent=2.0)
    case("pow_scalar_3_transposed", "pow", [(randn(2, 3), "t")], exponent=3.0)
    case("pow_scalar_half", "pow", [positive(4)], exponent=0.5)
    case("pow_scalar_negative", "pow", [positive(4)], exponent=-1.5)
    case("pow_scalar_zero", "pow", [torch.tensor([0.0, 1.5, -2.0], dtype=F64)], exponent=0.0)
    for op in ["maximum", "minimum"]:
        a, b = randn(3, 4), randn(3, 4)
        b[0, 1], b[2, 3] = a[0, 1], a[2, 3]  # ties split the gradient in half
        case(f"{op}_ties", op, [a, b])
        a, b = randn(3, 1), randn(4)
        b[2] = a[1, 0]
        case(f"{op}_broadcast", op, [a, b])
        case(f"{op}_0d", op, [randn(2, 3), randn()])
        case(f"{op}_transposed", op, [(randn(2, 3), "t"), randn(2, 3)])
    for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
        a = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=F64)
        b = torch.tensor([1.0, 0.5, 4.0], dtype=F64)
        case(f"{op}_broadcast", op, [a, b])
        case(f"{op}_0d", op, [a, torch.tensor(2.0, dtype=F64)])
        case(f"{op}_int_float", op, [idx([1, 2, 3]), torch.tensor([1.0, 2.5, 2.0], dtype=F64)])
        case(f"{op}_transposed", op, [(a.t().contiguous(), "t"), b.reshape(3, 1)])
    case("eq_bool", "eq", [mask([True, False, True]), (mask([True, True, False]), "s")])
    case("logical_and_bool", "logical_and", [mask([True, False, True, True]), mask([True, True, False, True])])
    case("logical_and_broadcast", "logical_and", [mask([True, False], [2, 1]), mask([True, False, True])])
    case("logical_and_float", "logical_and", [torch.tensor([0.0, 1.5, -2.0], dtype=F64), mask([True, True, False])])


def sample(domain, *shape):
    return {"real": randn, "nonzero": away, "positive": positive}[domain](*shape)


SPECIAL = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0,
           30.0, -30.0, 100.0, -100.0]


# torch 1.13 computes some gradients at NaN differently on its scalar path (tensors of < 8 f64 values) and on its
# vector path (elu, selu, hardswish, hardtanh): the special cases hold 17 values, so they pin the vector path, which
# is what real tensors take; nerve gives those values on every layout.
def elementwise_unary():
    for op, (_, domain) in UNARY.items():
        torch.manual_seed(zlib.crc32(op.encode()))  # each op's inputs from its own name: adding one moves no other
        case(f"{op}_2d", op, [sample(domain, 3, 4)])
        case(f"{op}_transposed", op, [(sample(domain, 3, 4), "t")])
        case(f"{op}_strided", op, [(sample(domain, 2, 3), "s")])
        case(f"{op}_0d", op, [sample(domain)])
        case(f"{op}_empty", op, [sample(domain, 0, 2)])
        # NaN, infinities, signed zeros, tiny, kinks and saturation: values and gradients as torch's, f64 only
        case(f"{op}_special", op, [torch.tensor(SPECIAL, dtype=F64)], f32=False)
    torch.manual_seed(20240502)
    case("tanh_large", "tanh", [torch.tensor([-30.0, -5.0, 5.0, 30.0], dtype=F64)])
    case("sigmoid_large", "sigmoid", [torch.tensor([-40.0, -8.0, 8.0, 40.0], dtype=F64)])
    case("exp_wide", "exp", [torch.tensor([-100.0, -87.0, -20.0, 20.0, 80.0], dtype=F64)])
    for op in ["neg", "exp", "abs", "relu"]:
        case(f"{op}_int", op, [idx([-3, 0, 4])])
    case("log_edge", "log", [torch.tensor([0.0, -1.0, 1.0], dtype=F64)], f32=False)
    case("sqrt_zero", "sqrt", [torch.tensor([0.0, 4.0], dtype=F64)], f32=False)
    with_zero = torch.tensor([[-1.5, 0.0, 2.0], [0.3, -0.2, 0.0]], dtype=F64)
    for op in ["abs", "relu", "leaky_relu"]:
        case(f"{op}_with_zero", op, [with_zero])
    case("leaky_relu_slope", "leaky_relu", [(randn(3, 4), "t")], negative_slope=0.2)
    case("leaky_relu_0d_slope", "leaky_relu", [torch.tensor(-2.0, dtype=F64)], negative_slope=0.1)
    on_bounds = torch.tensor([-2.0, -0.5, 0.0, 0.5, 0.7, 3.0], dtype=F64)
    case("clamp_both", "clamp", [on_bounds], min=-0.5, max=0.5)
    case("clamp_min_only", "clamp", [(randn(3, 4), "t")], min=0.1)
    case("clamp_max_only", "clamp", [randn(2, 3)], max=-0.2)
    case("clamp_0d", "clamp", [torch.tensor(1.5, dtype=F64)], min=-1.0, max=1.0)
    case("clamp_min_above_max", "clamp", [randn(5)], min=0.5, max=-0.5)
    case("clamp_nan", "clamp", [torch.tensor([float("nan"), -2.0, 2.0, 0.1], dtype=F64)], min=-1.0, max=1.0)
    case("clamp_int", "clamp", [idx([-5, 0, 7])], min=-2, max=3)
    for approximate in ["none", "tanh"]:
        case(f"gelu_{approximate}_special", "gelu", [torch.tensor(SPECIAL, dtype=F64)], f32=False,
             approximate=approximate)


def reductions():
    x = randn(2, 3, 4)
    case("sum_all", "sum", [x])
    case("sum_dim1", "sum", [x], dims=[1])
    case("sum_dims_keepdim", "sum", [x], dims=[0, 2], keepdim=1)
    case("sum_negative_dim", "sum", [x], dims=[-1])
    case("sum_all_keepdim", "sum", [x], keepdim=1)
    case("sum_0d", "sum", [randn()])
    case("sum_0d_dim_keepdim", "sum", [randn()], dims=[0], keepdim=1)
    case("sum_empty", "sum", [randn(0, 3)], dims=[0])
    case("sum_empty_all", "sum", [randn(0, 3)])
    case("sum_transposed", "sum", [(randn(3, 4), "t")], dims=[0])
    case("sum_strided", "sum", [(randn(3, 4), "s")], dims=[1])
    case("sum_int", "sum", [idx([[1, 2, 3], [4, 5, 6]])], dims=[1])
    case("sum_bool", "sum", [mask([True, False, True, True])])

    case("mean_all", "mean", [x])
    case("mean_dim_keepdim", "mean", [x], dims=[1], keepdim=1)
    case("mean_negative", "mean", [(randn(3, 4), "t")], dims=[-1])
    case("mean_0d", "mean", [randn()])
    case("mean_empty_dim", "mean", [randn(0, 3)], dims=[0])

    case("var_all", "var", [x])
    case("var_dim_unbiased", "var", [x], dims=[1])
    case("var_dims_population_keepdim", "var", [x], dims=[0, 2], correction=0, keepdim=1)
    case("var_transposed", "var", [(randn(3, 5), "t")], dims=[0])
    case("var_single_element", "var", [randn(1, 3)], dims=[0])

    m = torch.tensor([[1.0, 3.0, 3.0, -1.0], [0.5, 0.25, 2.0, 2.0], [-1.0, -2.0, 0.0, 0.0]], dtype=F64)
    for op in ["max", "min"]:
        case(f"{op}_all", op, [randn(3, 4)])
        case(f"{op}_all_ties", op, [m])
        case(f"{op}_all_0d", op, [randn()])
        case(f"{op}_dim", op, [randn(3, 4)], dim=1)
        case(f"{op}_dim_keepdim", op, [randn(3, 4)], dim=0, keepdim=1)
        case(f"{op}_dim_transposed", op, [(randn(3, 4), "t")], dim=-1)
        case(f"{op}_dim_3d", op, [randn(2, 3, 4)], dim=1)
        case(f"{op}_dim_0d", op, [randn()], dim=0)
    case("amax_dim", "amax", [randn(3, 4)], dims=[1])
    case("amax_dims_keepdim", "amax", [x], dims=[0, 2], keepdim=1)
    case("amax_ties", "amax", [m], dims=[1])
    case("amax_all_ties", "amax", [m], dims=[])
    case("amax_transposed", "amax", [(randn(3, 4), "t")], dims=[-1])
    case("amax_0d", "amax", [randn()], dims=[0])
    nan = float("nan")
    with_nan = torch.tensor([[1.0, nan, 3.0], [0.5, 2.0, nan]], dtype=F64)
    # amax gives NaN gradients where the result is NaN (as PyTorch's amax); max() over all elements sends its
    # gradient to the NaN elements (cases max_all_nan, min_all_nan in parity())
    case("max_dim_nan", "max", [with_nan], dim=1, f32=False)
    case("amax_nan", "amax", [with_nan], dims=[0], f32=False)
    for op in ["argmax", "argmin"]:
        case(f"{op}_dim", op, [randn(3, 4)], dim=1)
        case(f"{op}_keepdim", op, [randn(3, 4)], dim=0, keepdim=1)
        case(f"{op}_ties_first", op, [m], dim=1)
        case(f"{op}_transposed", op, [(randn(3, 4), "t")], dim=-1)
        case(f"{op}_int", op, [idx([[3, 1, 3], [0, 5, 5]])], dim=1)
        case(f"{op}_0d", op, [randn()], dim=0)
    for op in ["softmax", "log_softmax"]:
        case(f"{op}_last", op, [randn(3, 5)], dim=-1)
        case(f"{op}_dim0", op, [randn(3, 5)], dim=0)
        case(f"{op}_3d_middle", op, [randn(2, 3, 4)], dim=1)
        case(f"{op}_transposed", op, [(randn(4, 3), "t")], dim=1)
        case(f"{op}_large", op, [torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]],
                                               dtype=F64)], dim=1)
        case(f"{op}_0d", op, [randn()], dim=0)
        case(f"{op}_empty", op, [randn(0, 3)], dim=1)
        case(f"{op}_size1_dim", op, [randn(3, 1)], dim=1)
    case("softmax_strided", "softmax", [(randn(2, 4), "s")], dim=1)
    case("log_softmax_strided", "log_softmax", [(randn(3, 2), "s")], dim=0)
    case("softmax_neg_inf", "softmax", [torch.tensor([[0.5, float("-inf"), 1.0], [2.0, 0.0, float("-inf")]],
                                                     dtype=F64)], dim=1)


@own_stream
def std_and_amin():
    x = randn(2, 3, 4)
    case("std_all", "std", [x])
    case("std_dim", "std", [x], dims=[1])
    case("std_negative_dims_keepdim", "std", [x], dims=[-1, 0], keepdim=1)
    case("std_population", "std", [x], dims=[2], correction=0)
    case("std_transposed", "std", [(randn(3, 5), "t")], dims=[0])
    case("std_strided", "std", [(randn(3, 4), "s")], dims=[1], keepdim=1)
    case("std_0d", "std", [randn()], dims=[0], correction=0)
    case("std_single_element", "std", [randn(1, 3)], dims=[0])  # 0 / 0: NaN values and gradients, as torch
    case("std_empty", "std", [randn(0, 3)], dims=[0])
    # a constant row: std 0, where torch's gradient is 0 (not sqrt's inf times 0)
    case("std_constant_row", "std", [torch.tensor([[1.5, 1.5, 1.5], [1.0, 2.0, 4.0]], dtype=F64)], dims=[1])

    m = torch.tensor([[1.0, 3.0, 3.0, -1.0], [0.5, 0.25, 0.25, 2.0], [-1.0, -2.0, -2.0, 0.0]], dtype=F64)
    case("amin_dim", "amin", [randn(3, 4)], dims=[1])
    case("amin_dims_keepdim", "amin", [x], dims=[0, 2], keepdim=1)
    case("amin_negative_dim", "amin", [x], dims=[-2])
    case("amin_ties", "amin", [m], dims=[1])
    case("amin_all_ties", "amin", [m], dims=[])
    case("amin_transposed", "amin", [(randn(3, 4), "t")], dims=[-1])
    case("amin_strided", "amin", [(randn(3, 4), "s")], dims=[0], keepdim=1)
    case("amin_0d", "amin", [randn()], dims=[0])
    case("amin_nan", "amin", [torch.tensor([[1.0, float("nan"), 3.0], [0.5, 2.0, -1.0]], dtype=F64)], dims=[1],
         f32=False)


@own_stream
def logsumexp_cases():
    x = randn(2, 3, 4)
    case("logsumexp_dim", "logsumexp", [x], dims=[1])
    case("logsumexp_all", "logsumexp", [x], dims=[])
    case("logsumexp_negative_dims_keepdim", "logsumexp", [x], dims=[-1, 0], keepdim=1)
    case("logsumexp_transposed", "logsumexp", [(randn(3, 4), "t")], dims=[0])
    case("logsumexp_strided", "logsumexp", [(randn(3, 4), "s")], dims=[-1], keepdim=1)
    case("logsumexp_0d", "logsumexp", [randn()], dims=[0])
    case("logsumexp_empty", "logsumexp", [randn(0, 3)], dims=[0])
    case("logsumexp_empty_rows", "logsumexp", [randn(0, 3)], dims=[1])
    case("logsumexp_large", "logsumexp", [torch.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -1001.0]],
                                                       dtype=F64)], dims=[1])
    # -inf rows give -inf, a +inf gives +inf, NaN stays NaN; gradients NaN there as torch's exp(x - result)
    inf, nan = float("inf"), float("nan")
    case("logsumexp_infinities", "logsumexp", [torch.tensor([[-inf, -inf, -inf], [inf, 1.0, -inf], [nan, 1.0, 2.0],
                                                             [-inf, 0.5, 2.0]], dtype=F64)], dims=[1], f32=False)


@own_stream
def cumsum_cases():
    case("cumsum_dim0", "cumsum", [randn(4, 3)], dim=0)
    case("cumsum_last_negative", "cumsum", [randn(3, 5)], dim=-1)
    case("cumsum_3d_middle", "cumsum", [randn(2, 3, 4)], dim=1)
    case("cumsum_transposed", "cumsum", [(randn(3, 4), "t")], dim=1)
    case("cumsum_strided", "cumsum", [(randn(2, 4), "s")], dim=-1)
    case("cumsum_0d", "cumsum", [randn()], dim=-1)
    case("cumsum_empty", "cumsum", [randn(0, 3)], dim=0)
    case("cumsum_size1", "cumsum", [randn(3, 1)], dim=1)
    case("cumsum_int", "cumsum", [idx([[1, -2, 3], [4, 5, -6]])], dim=1)
    case("cumsum_bool", "cumsum", [mask([True, False, True, True])], dim=0)
    case("cumsum_inf_nan", "cumsum", [torch.tensor([1.0, float("inf"), 2.0, float("nan"), 3.0], dtype=F64)], dim=0,
         f32=False)


@own_stream
def norm_cases():
    inf = float("inf")
    x = randn(2, 3, 4)
    case("norm_2_all", "norm", [x], p=2.0)
    case("norm_2_dim_keepdim", "norm", [x], p=2.0, dims=[1], keepdim=1)
    case("norm_2_negative_dims", "norm", [x], p=2.0, dims=[-1, 0])
    case("norm_2_transposed", "norm", [(randn(3, 4), "t")], p=2.0, dims=[0])
    case("norm_2_strided", "norm", [(randn(3, 4), "s")], p=2.0, dims=[1])
    case("norm_2_0d", "norm", [randn()], p=2.0)
    case("norm_2_empty", "norm", [randn(0, 3)], p=2.0, dims=[0])
    case("norm_inf_empty", "norm", [randn(0, 3)], p=inf, dims=[0])
    # zero rows and zero entries: the gradient is 0 there for every p, as torch's
    z = torch.tensor([[0.0, 0.0, 0.0], [0.0, -2.0, 3.0], [1.5, -0.5, 0.25]], dtype=F64)
    for name, p in [("2", 2.0), ("1", 1.0), ("3", 3.0), ("1_5", 1.5), ("0_5", 0.5), ("0", 0.0), ("inf", inf),
                    ("neg_inf", -inf), ("neg_1", -1.0)]:
        case(f"norm_{name}_zeros", "norm", [z], p=p, dims=[1])
    case("norm_1_all_transposed", "norm", [(randn(3, 4), "t")], p=1.0)
    case("norm_inf_ties", "norm", [torch.tensor([[1.0, -3.0, 3.0], [2.0, -2.0, 0.5]], dtype=F64)], p=inf, dims=[1])
    case("norm_3_keepdim", "norm", [randn(3, 4)], p=3.0, dims=[0], keepdim=1)
    case("norm_0_5_all", "norm", [away(2, 3)], p=0.5)
    case("norm_0_strided", "norm", [(torch.tensor([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]], dtype=F64), "s")], p=0.0,
         dims=[-1])


@own_stream
def topk_cases():
    # no ties (the order of tied values is the sort's), so the indices can be compared as they are
    case("topk_last", "topk", [randn(3, 5)], k=2)
    case("topk_dim0", "topk", [randn(5, 3)], k=3, dim=0)
    case("topk_smallest", "topk", [randn(3, 6)], k=2, largest=0)
    case("topk_unsorted", "topk", [randn(2, 8)], k=3, sorted=0)
    case("topk_unsorted_smallest", "topk", [randn(2, 9)], k=5, largest=0, sorted=0)
    case("topk_partial_sort", "topk", [randn(2, 130)], k=2)  # k * 64 <= n: torch's partial sort
    case("topk_partial_sort_smallest_unsorted", "topk", [randn(130)], k=2, largest=0, sorted=0)
    case("topk_k0", "topk", [randn(3, 4)], k=0)
    case("topk_k_all", "topk", [randn(2, 4)], k=4, dim=1)
    case("topk_3d_negative_dim", "topk", [randn(2, 5, 3)], k=2, dim=-2)
    case("topk_transposed", "topk", [(randn(4, 3), "t")], k=2, dim=0)
    case("topk_strided", "topk", [(randn(3, 5), "s")], k=3, dim=1)
    case("topk_0d", "topk", [randn()], k=1)
    case("topk_empty_rows", "topk", [randn(0, 4)], k=2)
    case("topk_int", "topk", [idx([[5, -2, 9, 0], [1, 7, -3, 4]])], k=2)
    case("topk_nan", "topk", [torch.tensor([[1.0, float("nan"), 3.0, 2.0], [0.5, -1.0, 4.0, float("nan")]],
                                           dtype=F64)], k=2, f32=False)
    case("topk_nan_smallest", "topk", [torch.tensor([1.0, float("nan"), 3.0, 2.0], dtype=F64)], k=3, largest=0,
         f32=False)


def linalg():
    case("matmul_dot", "matmul", [randn(4), randn(4)])
    case("matmul_dot_empty", "matmul", [randn(0), randn(0)])
    case("matmul_vec_mat", "matmul", [randn(3), randn(3, 4)])
    case("matmul_mat_vec", "matmul", [randn(3, 4), randn(4)])
    case("matmul_mm", "matmul", [randn(3, 4), randn(4, 2)])
    case("matmul_mm_transposed", "matmul", [(randn(3, 4), "t"), (randn(4, 5), "t")])
    case("matmul_mm_strided", "matmul", [(randn(2, 3), "s"), randn(3, 2)])
    case("matmul_bmm", "matmul", [randn(2, 3, 4), randn(2, 4, 5)])
    case("matmul_bmm_transposed", "matmul", [(randn(2, 3, 4), "t"), (randn(2, 4, 2), "t")])
    case("matmul_broadcast_batch", "matmul", [randn(2, 1, 3, 4), randn(5, 4, 2)])
    case("matmul_2d_nd", "matmul", [randn(3, 4), randn(2, 4, 5)])
    case("matmul_nd_2d", "matmul", [randn(2, 2, 3, 4), randn(4, 5)])
    case("matmul_vec_batched", "matmul", [randn(4), randn(2, 4, 3)])
    case("matmul_batched_vec", "matmul", [randn(2, 3, 4), randn(4)])
    case("matmul_k0", "matmul", [randn(2, 0), randn(0, 3)])
    case("matmul_m0", "matmul", [randn(0, 3), randn(3, 2)])

    case("linear_bias", "linear", [randn(4, 3), randn(5, 3), randn(5)])
    case("linear_no_bias", "linear", [randn(4, 3), randn(5, 3)])
    case("linear_3d_input", "linear", [randn(2, 3, 4), randn(2, 4), randn(2)])
    case("linear_1d_input", "linear", [randn(3), randn(2, 3), randn(2)])
    case("linear_transposed", "linear", [(randn(4, 3), "t"), (randn(2, 3), "t"), (randn(2), "s")])
    case("linear_empty_batch", "linear", [randn(0, 3), randn(2, 3), randn(2)])


@own_stream
def bmm_baddbmm():
    case("bmm_basic", "bmm", [randn(2, 3, 4), randn(2, 4, 5)])
    case("bmm_transposed", "bmm", [(randn(2, 3, 4), "t"), (randn(2, 4, 2), "t")])
    case("bmm_strided", "bmm", [(randn(2, 3, 2), "s"), randn(2, 2, 3)])
    case("bmm_batch1", "bmm", [randn(1, 2, 3), (randn(1, 3, 3), "t")])
    case("bmm_empty_batch", "bmm", [randn(0, 3, 4), randn(0, 4, 2)])
    case("bmm_k0", "bmm", [randn(2, 3, 0), randn(2, 0, 4)])
    case("bmm_m0", "bmm", [randn(2, 0, 3), randn(2, 3, 4)])
    case("baddbmm_full_input", "baddbmm", [randn(2, 3, 5), randn(2, 3, 4), randn(2, 4, 5)])
    case("baddbmm_broadcast_input", "baddbmm", [randn(3, 1), randn(2, 3, 4), randn(2, 4, 5)], beta=0.5, alpha=2.0)
    case("baddbmm_0d_input", "baddbmm", [randn(), randn(2, 2, 3), (randn(2, 3, 2), "t")], alpha=-1.5)
    case("baddbmm_row_input_transposed", "baddbmm", [randn(4), (randn(3, 4, 2), "t"), randn(3, 2, 4)], beta=2.0)
    # beta = 0: input ignored, NaN and inf in it included
    case("baddbmm_beta0_nan", "baddbmm", [torch.tensor([[float("nan"), float("inf")]], dtype=F64), randn(2, 3, 2),
                                          randn(2, 2, 2)], beta=0.0, alpha=0.5)
    case("baddbmm_k0", "baddbmm", [randn(2, 1, 3), randn(2, 1, 0), randn(2, 0, 3)], beta=3.0)


@own_stream
def tril_triu():
    for op in ["tril", "triu"]:
        case(f"{op}_square", op, [randn(4, 4)])
        case(f"{op}_wide_diag1", op, [randn(3, 5)], diagonal=1)
        case(f"{op}_tall_diag_neg", op, [randn(5, 3)], diagonal=-2)
        case(f"{op}_batched", op, [randn(2, 3, 3, 4)], diagonal=-1)
        case(f"{op}_transposed", op, [(randn(3, 4), "t")])
        case(f"{op}_strided", op, [(randn(3, 4), "s")], diagonal=2)
        case(f"{op}_diag_beyond", op, [randn(3, 3)], diagonal=5)
        case(f"{op}_diag_below", op, [randn(3, 3)], diagonal=-5)
        case(f"{op}_empty", op, [randn(0, 3)])
        case(f"{op}_int", op, [idx([[1, 2, 3], [4, 5, 6], [7, 8, 9]])], diagonal=0)
        case(f"{op}_bool", op, [mask([[True, True], [True, False]])], diagonal=0)


def indexing():
    cond = mask([[True, False, True, False], [False, False, True, True], [True, True, True, False]])
    case("where_same", "where", [cond, randn(3, 4), randn(3, 4)])
    case("where_broadcast", "where", [mask([True, False, True], [3, 1]), randn(3, 4), randn()])
    case("where_transposed", "where", [cond, (randn(3, 4), "t"), (randn(3, 4), "s")])
    case("where_int_float", "where", [mask([True, False]), idx([1, 2]), randn(2)])
    case("where_cond_transposed", "where", [(cond.t().contiguous(), "t"), randn(4, 1), randn(3, 1, 1)])
    case("masked_fill_broadcast", "masked_fill", [randn(3, 4), mask([True, False, False, True])], value=2.5)
    case("masked_fill_same", "masked_fill", [(randn(3, 4), "t"), cond], value=-1.0)
    case("masked_fill_strided_mask", "masked_fill", [randn(2, 3), (mask([[True, False, True], [False, False, True]]),
                                                                   "s")], value=0.25)
    case("masked_fill_neg_inf", "masked_fill", [randn(2, 3), mask([[False, True, False], [True, False, False]])],
         value=float("-inf"))

    case("gather_dim0", "gather", [randn(3, 4), idx([[0, 2, 1, 0], [2, 2, 0, 1]])], dim=0)
    case("gather_dim1_repeats", "gather", [randn(3, 4), idx([[3, 3], [0, 1], [1, 1]])], dim=1)
    case("gather_smaller_index", "gather", [randn(4, 5), idx([[1], [4]])], dim=-1)
    case("gather_transposed", "gather", [(randn(3, 4), "t"), idx([[0, 1, 2, 0]])], dim=0)
    case("gather_index_transposed", "gather", [randn(3, 4), (idx([[0, 2, 1], [3, 3, 0]]), "t")], dim=1)
    case("gather_3d", "gather", [randn(2, 3, 4), idx([[[0, 2], [1, 1]], [[2, 0], [0, 0]]])], dim=1)

    case("index_select_dim0_repeats", "index_select", [randn(4, 3), idx([2, 0, 2])], dim=0)
    case("index_select_dim1", "index_select", [randn(2, 5), idx([4, 1])], dim=1)
    case("index_select_0d_index", "index_select", [randn(3, 2), idx(1)], dim=0)
    case("index_select_empty", "index_select", [randn(3, 2), idx([], [0])], dim=0)
    case("index_select_transposed", "index_select", [(randn(3, 4), "t"), idx([3, 0])], dim=-1)
    case("index_select_strided_index", "index_select", [randn(4, 2), (idx([3, 0, 3]), "s")], dim=0)
    case("index_select_3d", "index_select", [randn(2, 3, 4), idx([1, 1, 0])], dim=1)

    case("scatter_add_dim0", "scatter_add", [randn(3, 5), idx([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]]),
                                             randn(2, 5)], dim=0)
    case("scatter_add_dim1_repeats", "scatter_add", [randn(2, 4), idx([[1, 1, 3], [0, 0, 0]]), randn(2, 3)],
         dim=1)
    case("scatter_add_index_smaller", "scatter_add", [randn(3, 3), idx([[2], [0]]), randn(2, 1)], dim=-1)
    case("scatter_add_transposed", "scatter_add", [(randn(3, 4), "t"), idx([[0, 2, 2, 1]]), (randn(1, 4), "s")],
         dim=0)

    case("one_hot_infer", "one_hot", [idx([0, 3, 1, 3])])
    case("one_hot_classes_2d", "one_hot", [idx([[1, 0, 4], [2, 2, 0]])], num_classes=5)
    case("one_hot_strided", "one_hot", [(idx([[2, 0], [1, 1]]), "t")], num_classes=4)
    case("one_hot_empty", "one_hot", [idx([], [0])], num_classes=3)


@own_stream
def scatter_cases():
    # no index repeats where it writes (which of several values lands is the loop's order)
    case("scatter_dim0", "scatter", [randn(3, 5), idx([[0, 1, 2, 0, 1], [2, 0, 1, 1, 0]]), randn(2, 5)], dim=0)
    # src of the index's shape: torch 1.13's backward fails for a larger src (test_gradcheck.cpp checks that one)
    case("scatter_dim1", "scatter", [randn(2, 4), idx([[3, 0], [1, 2]]), randn(2, 2)], dim=1)
    case("scatter_index_smaller", "scatter", [randn(3, 3), idx([[2], [0]]), randn(2, 1)], dim=-1)
    case("scatter_transposed", "scatter", [(randn(3, 4), "t"), idx([[0, 2, 1, 1]]), (randn(1, 4), "s")], dim=0)
    case("scatter_index_transposed", "scatter", [randn(3, 4), (idx([[0, 3, 1], [2, 1, 0]]), "t"), randn(2, 3)],
         dim=1)
    case("scatter_3d", "scatter", [randn(2, 3, 2), idx([[[2, 0], [0, 1]], [[1, 2], [0, 0]]]), randn(2, 2, 2)], dim=1)
    case("scatter_0d", "scatter", [randn(), idx(0), randn()], dim=0)
    case("scatter_empty_index", "scatter", [randn(2, 3), idx([], [0, 3]), randn(0, 3)], dim=0)
    case("scatter_int", "scatter", [idx([[1, 2, 3], [4, 5, 6]]), idx([[1, 0, 1]]), idx([[7, 8, 9]])], dim=0)


@own_stream
def index_add_cases():
    case("index_add_dim0_repeats", "index_add", [randn(4, 3), idx([2, 0, 2]), randn(3, 3)], dim=0)
    case("index_add_dim1_alpha", "index_add", [randn(2, 5), idx([4, 1]), randn(2, 2)], dim=1, alpha=-2.5)
    case("index_add_negative_dim_3d", "index_add", [randn(2, 3, 4), idx([3, 0, 3, 1, 2]), randn(2, 3, 5)], dim=-1)
    case("index_add_transposed", "index_add", [(randn(3, 4), "t"), idx([1, 1]), (randn(2, 4), "s")], dim=0)
    case("index_add_index_strided", "index_add", [randn(4, 2), (idx([3, 0, 3]), "s"), (randn(3, 2), "t")], dim=0)
    case("index_add_int32_index", "index_add", [randn(3, 2), torch.tensor([2, 2], dtype=torch.int32), randn(2, 2)],
         dim=0)
    case("index_add_0d", "index_add", [randn(), idx([0]), randn()], dim=0)
    case("index_add_0d_source", "index_add", [randn(5), idx([3]), randn()], dim=0)
    case("index_add_empty_index", "index_add", [randn(3, 2), idx([], [0]), randn(0, 2)], dim=0)
    case("index_add_int", "index_add", [idx([[1, 2], [3, 4]]), idx([1, 1, 0]), idx([[5, 6], [7, 8], [9, 10]])], dim=0)


@own_stream
def masked_select_cases():
    m = mask([[True, False, True, False], [False, False, True, True], [True, True, True, False]])
    case("masked_select_same", "masked_select", [randn(3, 4), m])
    case("masked_select_mask_broadcast", "masked_select", [randn(3, 4), mask([True, False, False, True])])
    case("masked_select_x_broadcast", "masked_select", [randn(4), m])
    case("masked_select_both_broadcast", "masked_select", [randn(3, 1), mask([[True, False], [False, True]], [2, 1, 2])])
    # not a transposed x: torch 1.13 scatters its gradient in memory order (wrong); test_gradcheck.cpp checks it
    case("masked_select_strided_x_transposed_mask", "masked_select", [(randn(3, 4), "s"), (m, "t")])
    case("masked_select_strided_mask", "masked_select", [randn(3, 4), (m, "s")])
    case("masked_select_0d_x", "masked_select", [randn(), mask([True, False, True])])
    case("masked_select_0d_both", "masked_select", [randn(), mask(True)])
    case("masked_select_none", "masked_select", [randn(2, 3), mask([False, False, False])])
    case("masked_select_empty", "masked_select", [randn(0, 3), mask([True, False, True])])
    case("masked_select_int", "masked_select", [idx([[1, 2], [3, 4]]), mask([[False, True], [True, True]])])


def fused():
    # added after the others so that their random inputs stay what they were
    case("linear_relu_bias", "linear_relu", [randn(5, 3), randn(4, 3), randn(4)])
    case("linear_relu_no_bias", "linear_relu", [randn(4, 3), randn(5, 3)])
    case("linear_relu_3d_input", "linear_relu", [randn(2, 3, 4), randn(3, 4), randn(3)])
    case("linear_relu_transposed", "linear_relu", [(randn(4, 3), "t"), (randn(2, 3), "t"), (randn(2), "s")])
    case("gelu_tanh_2d", "gelu", [randn(3, 4) * 3], approximate="tanh")
    case("gelu_tanh_transposed", "gelu", [(randn(3, 4), "t")], approximate="tanh")
    # linear_u8: raw bytes scaled inside the product (Keras's Rescaling fused into Dense)
    def u8(*shape):
        return torch.randint(0, 256, shape, dtype=torch.uint8)
    case("linear_u8_relu", "linear_u8", [u8(5, 7), randn(4, 7), randn(4)], scale=1 / 255, offset=-0.5, relu=True)
    case("linear_u8_no_bias_3d", "linear_u8", [u8(2, 3, 6), randn(4, 6)], scale=0.02, offset=0.0, relu=False)
    case("linear_u8_transposed_weight", "linear_u8", [u8(4, 5), (randn(3, 5), "t"), randn(3)], scale=1 / 127.5,
         offset=-1.0, relu=True)


def parity():
    # PyTorch-parity fixes, added last so that the random inputs above stay what they were
    nan = float("nan")
    for op in ["maximum", "minimum"]:
        # NaN in a, in b, in both, and a tie: where either is NaN, both operands get the whole gradient
        a = torch.tensor([nan, 1.0, 2.0, nan, 3.0, -1.0], dtype=F64)
        b = torch.tensor([1.0, nan, 1.0, nan, 3.0, 4.0], dtype=F64)
        case(f"{op}_nan", op, [a, b])
    m = torch.tensor([[1.0, nan, 3.0], [nan, 2.0, 0.5]], dtype=F64)
    for op in ["max", "min"]:
        case(f"{op}_all_nan", op, [m])  # the gradient split between the two NaN elements
    # correction >= N: PyTorch's gradient 2 / (N - correction) * g * (x - mean) is +-inf (NaN where x == mean) at
    # N - correction == 0, finite below
    v = torch.tensor([[1.0, 2.5], [3.0, 3.0]], dtype=F64)
    case("var_correction_n", "var", [v], dims=[1], correction=2)
    case("var_correction_above_n", "var", [v], dims=[1], correction=3)
    # max/min over a non-empty dim of an empty tensor: an empty result (reducing an empty dim is an error)
    case("amax_empty_rows", "amax", [randn(0, 3)], dims=[1])
    case("amax_empty_keepdim", "amax", [randn(2, 0, 3)], dims=[0, 2], keepdim=1)
    case("max_dim_empty_rows", "max", [randn(0, 3)], dim=1)
    case("min_dim_empty_keepdim", "min", [randn(3, 0)], dim=0, keepdim=1)
    case("argmax_empty_rows", "argmax", [randn(0, 3)], dim=-1)
    case("argmin_empty_cols", "argmin", [randn(2, 0, 3)], dim=0)
    # a double scalar is a floating scalar (a Python float) even when whole: integer and bool tensors give f32
    case("add_bool_scalar_whole", "add", [mask([True, False, True])], scalar=1.0)
    case("mul_int_scalar_whole", "mul", [idx([1, 2, -3])], scalar=2.0)
    case("sub_int_scalar_whole_left", "sub", [(idx([[4, 0], [-2, 7]]), "t")], scalar=3.0, left=1)
    case("div_int_scalar_whole", "div", [idx([7, -3, 4])], scalar=2.0)
    case("pow_int_scalar_whole", "pow", [idx([3, -2, 0])], exponent=2.0)
    case("add_f64_scalar_whole", "add", [randn(2, 2)], scalar=2.0)
    # cat promotes to the result type of all inputs; each gets its gradient in its own dtype
    case("cat_f32_f64", "cat", [randn(2, 2).float(), (randn(2, 3), "t")], dim=1)
    case("cat_int_float", "cat", [idx([[1, -2]]), randn(2, 2), mask([[True, False]])], dim=0)
    case("cat_bool_u8_i32", "cat", [mask([True, False]), torch.tensor([7, 200], dtype=torch.uint8),
                                    torch.tensor([-1], dtype=torch.int32)], dim=0)
    # logical_or, logical_not: nonzero (NaN too) is true
    case("logical_or_bool", "logical_or", [mask([True, False, True, False]), mask([True, True, False, False])])
    case("logical_or_broadcast", "logical_or", [mask([True, False], [2, 1]), (mask([False, True, False]), "s")])
    case("logical_or_float_int", "logical_or", [torch.tensor([0.0, nan, -2.0, 0.0], dtype=F64), idx([0, 0, 0, 3])])
    case("logical_not_bool", "logical_not", [(mask([[True, False], [False, False]]), "t")])
    case("logical_not_float", "logical_not", [torch.tensor([0.0, -0.0, nan, 1.5, float("inf")], dtype=F64)])
    case("logical_not_int", "logical_not", [(idx([[0, 2], [-1, 0]]), "s")])
    case("logical_not_empty", "logical_not", [randn(0, 2)])


def promotion():
    """torch.result_type for every pair of nerve's dtypes, through add and mul (values and result dtype), and a 0-d
    operand of a higher category (a 0-d f64 does not raise an f32 tensor; a 0-d float raises an integer one)."""
    # powers of two: the f32 products in the gradients are exact, whatever order torch and nerve round in
    vals = {torch.float32: [1.5, -2.25], torch.float64: [0.5, 3.0], torch.int64: [4, -2], torch.int32: [8, 2],
            torch.uint8: [128, 4], torch.bool: [True, False]}
    names = {torch.float32: "f32", torch.float64: "f64", torch.int64: "i64", torch.int32: "i32",
             torch.uint8: "u8", torch.bool: "bool"}
    for da in vals:
        for db in vals:
            a, b = torch.tensor(vals[da], dtype=da), torch.tensor(vals[db], dtype=db)
            case(f"promote_mul_{names[da]}_{names[db]}", "mul", [a, b], f32=False)
            if da != torch.bool or db != torch.bool:
                case(f"promote_add_{names[da]}_{names[db]}", "add", [a, b], f32=False)
            case(f"promote_mul_{names[da]}_0d_{names[db]}", "mul", [a, torch.tensor(vals[db][0], dtype=db)],
                 f32=False)


def storage_dtypes():
    """Conversions into and out of bf16, f16 and i8 (storage dtypes in nerve for now): round to nearest even,
    ties, overflow to inf, subnormals, NaN, integer wrap-around."""
    e = 2.0 ** -8
    vals = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1.0, -2.5, 1 + e, 1 + 3 * e, 1 + e / 2, 1 + 1.5 * e,
            65504.0, 65519.0, 65520.0, 70000.0, -65536.0, 6.1e-5, 1e-7, 2.98e-8, 5.96e-8, 8.9e-8, 1e-40, 3.0e38,
            3.4028234663852886e38, 0.1, -1.0 / 3]
    for src in [torch.float64, torch.float32]:
        for dst in [torch.bfloat16, torch.float16]:
            case(f"to_{DTYPE_NAMES[dst]}_from_{DTYPE_NAMES[src]}", "to_dtype", [torch.tensor(vals, dtype=src)],
                 f32=False, dtype=DTYPE_NAMES[dst], nograd=1)
    halfs = torch.tensor(vals, dtype=torch.float32)
    for src in [torch.bfloat16, torch.float16]:
        for dst in [torch.float32, torch.float64, torch.int64, torch.bfloat16 if src == torch.float16 else torch.float16]:
            x = halfs.to(src)
            if dst == torch.int64:
                x = torch.tensor([0.0, 1.5, -2.5, 100.0, -7.0], dtype=src)
            case(f"to_{DTYPE_NAMES[dst]}_from_{DTYPE_NAMES[src]}", "to_dtype", [x], f32=False,
                 dtype=DTYPE_NAMES[dst], nograd=1)
    case("to_i8_from_i64", "to_dtype", [idx([0, 127, 128, 200, -129, -1])], f32=False, dtype="i8", nograd=1)
    case("to_i8_from_u8", "to_dtype", [torch.tensor([0, 5, 255], dtype=torch.uint8)], f32=False, dtype="i8",
         nograd=1)
    case("to_f32_from_i8", "to_dtype", [torch.tensor([-128, -1, 0, 127], dtype=torch.int8)], f32=False,
         dtype="f32", nograd=1)
    case("to_bf16_from_bool", "to_dtype", [mask([True, False])], f32=False, dtype="bf16", nograd=1)
    # views and copies of storage tensors keep their bits
    b = torch.tensor([[1.0, -2.0, 3.5], [0.25, 7.0, -0.5]], dtype=torch.bfloat16)
    case("transpose_bf16", "transpose", [b], f32=False, d0=0, d1=1, nograd=1)
    case("contiguous_f16_transposed", "contiguous", [(b.to(torch.float16), "t")], f32=False, nograd=1)
    case("clone_i8_strided", "clone", [(torch.tensor([[1, -2, 3], [4, 5, -6]], dtype=torch.int8), "s")], f32=False,
         nograd=1)


@own_stream
def losses():
    """The loss ops over their reductions and options; weights (and pos_weight) are constants (const=[...]), as
    torch does not differentiate them."""
    probs = lambda *shape: 0.05 + 0.9 * torch.rand(shape, dtype=F64)  # noqa: E731  (away from 0 and 1)
    for red in ["mean", "sum", "none"]:
        case(f"mse_loss_{red}", "mse_loss", [randn(3, 4), randn(3, 4)], reduction=red)
        case(f"l1_loss_{red}", "l1_loss", [away(3, 4), randn(3, 4) * 0.01], reduction=red)
        case(f"huber_loss_{red}", "huber_loss", [randn(3, 4) * 2, randn(3, 4)], reduction=red, delta=0.7)
        case(f"bce_{red}", "binary_cross_entropy", [probs(3, 4), probs(3, 4)], reduction=red)
        case(f"bce_logits_{red}", "binary_cross_entropy_with_logits", [randn(3, 4), probs(3, 4)], reduction=red)
        case(f"nll_loss_{red}", "nll_loss", [torch.log_softmax(randn(4, 5), 1), idx([0, 4, 2, 2])], reduction=red)
        case(f"cross_entropy_{red}", "cross_entropy", [randn(4, 5), idx([1, 0, 4, 1])], reduction=red)
    case("mse_loss_transposed", "mse_loss", [(randn(3, 4), "t"), (randn(3, 4), "s")])
    case("mse_loss_0d", "mse_loss", [randn(), randn()])
    case("mse_loss_empty_sum", "mse_loss", [randn(0, 3), randn(0, 3)], reduction="sum")
    case("huber_loss_default_delta", "huber_loss", [randn(5) * 2, randn(5)])
    case("bce_weight", "binary_cross_entropy", [probs(3, 4), probs(3, 4), positive(3, 4)], weight=1, const=[2])
    case("bce_logits_weight", "binary_cross_entropy_with_logits", [randn(3, 4), probs(3, 4), positive(4)],
         weight=1, const=[2])
    case("bce_logits_pos_weight", "binary_cross_entropy_with_logits", [randn(3, 4), probs(3, 4), positive(4)],
         pos_weight=1, const=[2])
    case("bce_logits_both_weights", "binary_cross_entropy_with_logits",
         [randn(3, 4), probs(3, 4), positive(3, 1), positive(4)], weight=1, pos_weight=1, const=[2, 3],
         reduction="sum")
    case("bce_logits_zero_logit_pos_weight", "binary_cross_entropy_with_logits",
         [torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64), torch.full((1,), 2.0, dtype=F64)], pos_weight=1,
         const=[2], reduction="sum")
    case("nll_loss_weight_ignore", "nll_loss", [torch.log_softmax(randn(5, 4), 1), idx([1, -100, 3, 0, 1]),
                                                positive(4)], weight=1, const=[2])
    case("nll_loss_ignore_index", "nll_loss", [torch.log_softmax(randn(4, 3), 1), idx([1, 2, 1, 0])], ignore_index=1)
    case("nll_loss_4d", "nll_loss", [torch.log_softmax(randn(2, 3, 2, 2), 1), idx([0, 2, 1, 1, 2, 0, 0, 1], [2, 2, 2])])
    case("nll_loss_1d", "nll_loss", [torch.log_softmax(randn(4), 0), idx(2, [])])
    case("cross_entropy_weight_ignore", "cross_entropy", [randn(5, 4), idx([1, -100, 3, 0, 1]), positive(4)],
         weight=1, const=[2])
    case("cross_entropy_smoothing", "cross_entropy", [randn(4, 5), idx([1, 0, 4, 1])], label_smoothing=0.1)
    case("cross_entropy_smoothing_weight_sum", "cross_entropy", [randn(4, 5), idx([1, 0, 4, 3]), positive(5)],
         weight=1, const=[2], label_smoothing=0.2, reduction="sum")
    case("cross_entropy_4d", "cross_entropy", [randn(2, 3, 2, 2), idx([0, 2, 1, 1, 2, 0, 0, 1], [2, 2, 2])],
         label_smoothing=0.1)
    case("cross_entropy_1d", "cross_entropy", [randn(5), idx(3, [])])
    case("cross_entropy_transposed", "cross_entropy", [(randn(4, 3), "t"), idx([2, 0, 1, 1])])
    case("cross_entropy_probs", "cross_entropy", [randn(3, 4), torch.softmax(randn(3, 4), 1)], label_smoothing=0.2)
    case("cross_entropy_probs_weight_none", "cross_entropy", [randn(3, 4), torch.softmax(randn(3, 4), 1),
                                                              positive(4)], weight=1, const=[2], reduction="none")
    case("cross_entropy_i32_target", "cross_entropy", [randn(3, 4), idx([3, 0, 1]).to(torch.int32)])
    case("cross_entropy_empty_batch_sum", "cross_entropy", [randn(0, 4), idx([], [0])], reduction="sum")


@own_stream
def sequence_ops():
    case("embedding_2d_ids", "embedding", [idx([[1, 0, 3], [3, 3, 2]]), randn(4, 5)])
    case("embedding_padding", "embedding", [idx([2, 0, 2, 1]), randn(3, 4)], padding_idx=2)
    case("embedding_negative_padding", "embedding", [idx([2, 0, 2, 1]), randn(3, 4)], padding_idx=-1)
    case("embedding_0d_id", "embedding", [idx(1, []), randn(3, 2)])
    case("embedding_transposed_table", "embedding", [idx([0, 2]), (randn(3, 4), "t")])
    case("embedding_i32_ids", "embedding", [idx([1, 1, 0]).to(torch.int32), randn(2, 3)])
    T, B, I, H = 5, 3, 4, 6
    for mode, g in [("lstm", 4), ("gru", 3), ("rnn_tanh", 1), ("rnn_relu", 1)]:
        w = lambda: [randn(g * H, I) * 0.4, randn(g * H, H) * 0.4]  # noqa: E731
        b = lambda: [randn(g * H) * 0.2, randn(g * H) * 0.2]  # noqa: E731
        case(f"rnn_layer_{mode}", "rnn_layer", [randn(T, B, I)] + w() + b(), f32=False, mode=mode, bias=1)
        states = [randn(B, H), randn(B, H)] if mode == "lstm" else [randn(B, H)]
        flags = dict(h0=1, c0=1) if mode == "lstm" else dict(h0=1)
        case(f"rnn_layer_{mode}_state_batch_first_reverse", "rnn_layer", [randn(B, T, I)] + states + w() + b(),
             f32=False, mode=mode, bias=1, batch_first=1, reverse=1, **flags)
        case(f"rnn_layer_{mode}_no_bias", "rnn_layer", [(randn(T, B, I), "s")] + w(), f32=False, mode=mode)
    # the Embedding-fed layer: 5 ids over 24 tokens, so the layer projects the table (the char-LSTM path)
    ids = idx([[(3 * i + 2 * j) % 5 for j in range(6)] for i in range(4)])
    for mode, g in [("lstm", 4), ("gru", 3)]:
        case(f"embedding_rnn_layer_{mode}", "embedding_rnn_layer",
             [ids, randn(5, I), randn(g * H, I) * 0.4, randn(g * H, H) * 0.4, randn(g * H) * 0.2, randn(g * H) * 0.2],
             f32=False, mode=mode, bias=1, batch_first=1)
    case("embedding_rnn_layer_lstm_time_major_state", "embedding_rnn_layer",
         [ids.t().contiguous(), randn(5, I), randn(4, H), randn(4, H), randn(4 * H, I) * 0.4, randn(4 * H, H) * 0.4],
         f32=False, mode="lstm", h0=1, c0=1)


@own_stream
def optim_steps():
    sq = lambda *shape: torch.rand(shape, dtype=F64) * 0.1  # noqa: E731  (second moments are >= 0)
    case("adam_step_first", "adam_step_", [randn(3, 4), randn(3, 4), torch.zeros(3, 4, dtype=F64),
                                           torch.zeros(3, 4, dtype=F64)], nograd=1, step=1, lr=0.01)
    case("adam_step_later_wd", "adam_step_", [randn(5), randn(5), randn(5) * 0.1, sq(5)], nograd=1, step=7, lr=0.003,
         beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)
    case("adamw_step_wd", "adam_step_", [randn(2, 3), randn(2, 3), randn(2, 3) * 0.1, sq(2, 3)], nograd=1, step=3,
         lr=0.01, weight_decay=0.05, decoupled=1)
    case("adam_step_amsgrad", "adam_step_", [randn(6), randn(6), randn(6) * 0.1, sq(6), sq(6)], nograd=1, step=4,
         lr=0.02, amsgrad=1)
    case("adamw_step_amsgrad_wd", "adam_step_", [randn(6), randn(6), randn(6) * 0.1, sq(6), sq(6)], nograd=1, step=2,
         lr=0.02, amsgrad=1, weight_decay=0.01, decoupled=1)
    case("adam_step_long_vector", "adam_step_", [randn(37), randn(37), randn(37) * 0.1, sq(37)], nograd=1, step=2,
         lr=0.001)
    case("sgd_step_plain", "sgd_step_", [randn(3, 4), randn(3, 4)], nograd=1, lr=0.1)
    case("sgd_step_wd", "sgd_step_", [randn(5), randn(5)], nograd=1, lr=0.05, weight_decay=0.01)
    case("sgd_step_momentum_first", "sgd_step_", [randn(5), randn(5), torch.zeros(5, dtype=F64)], nograd=1, lr=0.1,
         momentum=0.9, first=1)
    case("sgd_step_momentum_dampening", "sgd_step_", [randn(5), randn(5), randn(5)], nograd=1, lr=0.1, momentum=0.9,
         dampening=0.3, weight_decay=0.01)
    case("sgd_step_nesterov", "sgd_step_", [randn(37), randn(37), randn(37)], nograd=1, lr=0.1, momentum=0.9,
         nesterov=1)


@own_stream
def rescale_cases():
    u8 = torch.randint(0, 256, (3, 70), dtype=torch.uint8)
    case("rescale_u8_images", "rescale", [u8], scale=1.0 / 255, offset=0.0)
    case("rescale_u8_offset_transposed", "rescale", [(torch.randint(0, 256, (4, 5), dtype=torch.uint8), "t")],
         scale=2.0 / 255, offset=-1.0)
    case("rescale_u8_long_row", "rescale", [torch.randint(0, 256, (9000,), dtype=torch.uint8)], scale=0.1,
         offset=0.3)
    case("rescale_i64", "rescale", [idx([3, -2, 7])], scale=0.5, offset=1.0)
    case("rescale_float", "rescale", [randn(2, 3)], scale=-1.5, offset=0.25)
    case("rescale_float_no_offset", "rescale", [(randn(3, 2), "s")], scale=3.0)


@own_stream
def vision():
    x = randn(2, 3, 7, 6)
    w = randn(4, 3, 3, 3)
    b = randn(4)
    case("conv2d_plain", "conv2d", [x, w, b])
    case("conv2d_no_bias", "conv2d", [x, w])
    case("conv2d_stride_pad", "conv2d", [x, w, b], stride=[2], padding=[1])
    case("conv2d_asym_stride_pad", "conv2d", [randn(1, 3, 8, 7), randn(2, 3, 2, 3), randn(2)], stride=[3, 2],
         padding=[0, 2])
    case("conv2d_dilation", "conv2d", [x, w, b], dilation=[2, 1], padding=[2, 1])
    case("conv2d_same_odd", "conv2d", [x, w, b], padding="same")
    case("conv2d_same_even_kernel_dilated", "conv2d", [randn(1, 2, 5, 6), randn(3, 2, 2, 4)], padding="same",
         dilation=[1, 3])
    case("conv2d_valid", "conv2d", [x, w, b], padding="valid")
    case("conv2d_groups", "conv2d", [randn(2, 4, 5, 5), randn(6, 2, 3, 3), randn(6)], groups=2, padding=[1])
    case("conv2d_depthwise", "conv2d", [randn(1, 3, 6, 5), randn(6, 1, 3, 3), randn(3 * 2)], groups=3, stride=[2])
    case("conv2d_1x1", "conv2d", [randn(2, 5, 4, 3), randn(3, 5, 1, 1), randn(3)])
    case("conv2d_1x1_stride2", "conv2d", [randn(1, 2, 5, 5), randn(3, 2, 1, 1)], stride=[2])
    case("conv2d_kernel_equals_input", "conv2d", [randn(2, 2, 3, 3), randn(4, 2, 3, 3), randn(4)])
    case("conv2d_noncontig", "conv2d", [(randn(1, 2, 5, 4), "t"), (randn(3, 2, 3, 2), "s")], padding=[1])

    case("max_pool2d_2x2", "max_pool2d", [randn(2, 3, 6, 6)], kernel_size=[2])
    case("max_pool2d_odd_ceil", "max_pool2d", [randn(1, 2, 7, 5)], kernel_size=[3], stride=[2], ceil_mode=1)
    case("max_pool2d_pad_dilation", "max_pool2d", [randn(1, 2, 7, 8)], kernel_size=[3, 2], stride=[2, 1],
         padding=[1, 1], dilation=[2, 3])
    case("max_pool2d_ceil_pad", "max_pool2d", [randn(2, 1, 6, 5)], kernel_size=[3], stride=[2], padding=[1],
         ceil_mode=1)
    case("max_pool2d_overlap_noncontig", "max_pool2d", [(randn(1, 2, 5, 6), "t")], kernel_size=[3], stride=[1])
    case("max_pool2d_with_indices_plain", "max_pool2d_with_indices", [randn(2, 2, 5, 5)], kernel_size=[2],
         stride=[2], ceil_mode=1)
    case("max_pool2d_with_indices_pad", "max_pool2d_with_indices", [randn(1, 3, 4, 6)], kernel_size=[3],
         stride=[2], padding=[1], dilation=[1, 2])

    case("avg_pool2d_2x2", "avg_pool2d", [randn(2, 3, 6, 4)], kernel_size=[2])
    case("avg_pool2d_pad_include", "avg_pool2d", [randn(1, 2, 5, 5)], kernel_size=[3], stride=[2], padding=[1])
    case("avg_pool2d_pad_exclude", "avg_pool2d", [randn(1, 2, 5, 5)], kernel_size=[3], stride=[2], padding=[1],
         count_include_pad=0)
    case("avg_pool2d_ceil_include", "avg_pool2d", [randn(2, 1, 6, 7)], kernel_size=[3, 2], stride=[2, 3],
         padding=[1, 1], ceil_mode=1)
    case("avg_pool2d_ceil_exclude_noncontig", "avg_pool2d", [(randn(1, 2, 7, 5), "t")], kernel_size=[2],
         stride=[2], padding=[1], ceil_mode=1, count_include_pad=0)

    case("adaptive_avg_pool2d_global", "adaptive_avg_pool2d", [randn(2, 3, 5, 4)], output_size=[1])
    case("adaptive_avg_pool2d_uneven", "adaptive_avg_pool2d", [randn(1, 2, 7, 5)], output_size=[3, 2])
    case("adaptive_avg_pool2d_upsample", "adaptive_avg_pool2d", [(randn(1, 1, 3, 2), "t")], output_size=[4, 5])

    c = 3
    rm, rv = randn(c), positive(c)
    case("batch_norm_train_affine", "batch_norm", [randn(4, c, 3, 2), rm, rv, randn(c), randn(c)], training=1)
    case("batch_norm_train_momentum", "batch_norm", [randn(2, c, 2, 3), rm, rv, randn(c), randn(c)], training=1,
         momentum=0.3, eps=1e-3)
    case("batch_norm_train_2d_no_affine", "batch_norm", [randn(5, c), rm, rv], training=1)
    case("batch_norm_train_batch1", "batch_norm", [randn(1, c, 2, 2), rm, rv, randn(c), randn(c)], training=1)
    case("batch_norm_eval", "batch_norm", [randn(2, c, 3, 3), rm, rv, randn(c), randn(c)], training=0)
    case("batch_norm_eval_3d_noncontig", "batch_norm", [(randn(2, c, 4), "t"), rm, rv], training=0, eps=0.1)

    case("layer_norm_last", "layer_norm", [randn(3, 5), randn(5), randn(5)], normalized_shape=[5])
    case("layer_norm_two_dims", "layer_norm", [randn(2, 3, 4), randn(3, 4), randn(3, 4)], normalized_shape=[3, 4],
         eps=1e-3)
    case("layer_norm_no_affine_noncontig", "layer_norm", [(randn(2, 4, 3), "t")], normalized_shape=[3])

    case("group_norm_affine", "group_norm", [randn(2, 6, 3, 2), randn(6), randn(6)], num_groups=3)
    case("group_norm_one_group", "group_norm", [randn(3, 4, 5), randn(4), randn(4)], num_groups=1, eps=1e-3)
    case("group_norm_per_channel_no_affine", "group_norm", [randn(1, 4, 2, 3)], num_groups=4)

    # max_pool2d with rows of 20 outputs: the vectorized 2x2 path (backend/cpu/conv_kernels.cpp) and its remainder,
    # with ties, NaN (one and two in a window: the last wins), a window of -inf alone and one with -inf first. Last
    # in the group and drawn from a generator of its own, so that it moves no other case's values.
    wide = torch.randn((1, 2, 4, 40), dtype=F64, generator=torch.Generator().manual_seed(40))
    wide[0, 0, 0:2, 0:4] = 1.0
    wide[0, 0, 0, 6] = wide[0, 0, 1, 7] = 2.5
    wide[0, 1, 2, 5] = float("nan")
    wide[0, 1, 0, 10] = wide[0, 1, 1, 11] = float("nan")
    wide[0, 1, 2:4, 36:38] = -float("inf")
    wide[0, 0, 2, 38] = -float("inf")
    wide[0, 1, 0, 33] = wide[0, 1, 0, 32]
    case("max_pool2d_2x2_wide_special", "max_pool2d_with_indices", [wide], kernel_size=[2], stride=[2])



@own_stream
def vision_more():
    case("instance_norm_affine", "instance_norm", [randn(2, 3, 4, 3), randn(3), randn(3)])
    case("instance_norm_1d_no_affine", "instance_norm", [(randn(2, 2, 5), "t")], eps=1e-3)

    case("conv1d_plain", "conv1d", [randn(2, 3, 9), randn(4, 3, 3), randn(4)])
    case("conv1d_stride_pad_dilation", "conv1d", [randn(1, 2, 10), randn(3, 2, 2)], stride=[2], padding=[2],
         dilation=[3])
    case("conv1d_same_groups", "conv1d", [randn(2, 4, 7), randn(4, 2, 4), randn(4)], padding="same", groups=2)

    case("adaptive_max_pool2d_global", "adaptive_max_pool2d", [randn(2, 3, 5, 4)], output_size=[1])
    case("adaptive_max_pool2d_uneven", "adaptive_max_pool2d", [(randn(1, 2, 7, 5), "t")], output_size=[3, 2])

    case("pad_constant_2d", "pad", [randn(1, 2, 3, 4)], pad=[1, 2, 0, 1], value=1.5)
    case("pad_constant_last", "pad", [(randn(2, 3), "t")], pad=[2, 0])
    case("pad_reflect", "pad", [randn(1, 2, 4, 5)], pad=[2, 1, 3, 1], mode="reflect")
    case("pad_reflect_1d", "pad", [randn(2, 3, 4)], pad=[3, 2], mode="reflect")
    case("pad_replicate", "pad", [randn(1, 2, 3, 4)], pad=[2, 3, 1, 4], mode="replicate")

    x = randn(1, 2, 4, 5)
    case("interpolate_nearest_up", "interpolate", [x], size=[7, 8])
    case("interpolate_nearest_down", "interpolate", [x], size=[3, 2])
    case("interpolate_nearest_scale", "interpolate", [x], scale_factor=2.0)
    case("interpolate_bilinear_up", "interpolate", [x], size=[7, 9], mode="bilinear")
    case("interpolate_bilinear_down", "interpolate", [(randn(2, 1, 6, 7), "t")], size=[4, 3], mode="bilinear")
    case("interpolate_bilinear_align", "interpolate", [x], size=[6, 3], mode="bilinear", align_corners=1)
    case("interpolate_bilinear_scale", "interpolate", [x], scale_factor=1.5, mode="bilinear")
    case("interpolate_linear_1d", "interpolate", [randn(2, 3, 5)], size=[8], mode="linear")



@own_stream
def conv_transpose_cases():
    case("conv_transpose2d_plain", "conv_transpose2d", [randn(2, 3, 4, 3), randn(3, 2, 3, 3), randn(2)])
    case("conv_transpose2d_stride_pad_outpad", "conv_transpose2d", [randn(1, 2, 3, 4), randn(2, 3, 3, 2)],
         stride=[2, 3], padding=[1, 0], output_padding=[1, 2])
    case("conv_transpose2d_groups_dilation", "conv_transpose2d", [randn(2, 4, 3, 3), randn(4, 1, 2, 3), randn(2)],
         groups=2, dilation=[2, 1], padding=[1])
    case("conv_transpose2d_noncontig", "conv_transpose2d", [(randn(1, 2, 3, 3), "t"), randn(2, 2, 1, 1)], stride=[2])


@own_stream
def transformer_cases():
    """The fused attention against the explicit formula: L != S, Ev != E, several key tiles of 64 (L, S not
    multiples of it), causal (L < S and L > S), bool, float (its gradient too) and key padding masks, 2-d and
    3-d operands, non-contiguous ones; and rms_norm."""
    def bool_mask(*shape):
        m = torch.rand(shape) > 0.4
        m[..., 0] = True  # no row fully masked (torch gives NaN there; nerve 0, tested in tests/ops/test_attention.cpp)
        return m
    sdpa = "scaled_dot_product_attention"
    case("sdpa_basic_l_ne_s", sdpa, [randn(2, 3, 5, 4), randn(2, 3, 7, 4), randn(2, 3, 7, 6)])
    case("sdpa_causal_square", sdpa, [randn(1, 2, 6, 4), randn(1, 2, 6, 4), randn(1, 2, 6, 3)], is_causal=True)
    case("sdpa_causal_l_lt_s", sdpa, [randn(2, 4, 3), randn(2, 9, 3), randn(2, 9, 2)], is_causal=True)
    case("sdpa_causal_l_gt_s", sdpa, [randn(2, 9, 3), randn(2, 4, 3), randn(2, 4, 2)], is_causal=True)
    case("sdpa_causal_tiles", sdpa, [randn(1, 2, 70, 4), randn(1, 2, 70, 4), randn(1, 2, 70, 3)], is_causal=True)
    case("sdpa_bool_mask", sdpa, [randn(2, 2, 5, 3), randn(2, 2, 6, 3), randn(2, 2, 6, 3), bool_mask(5, 6)])
    case("sdpa_float_mask_per_batch", sdpa, [randn(2, 2, 4, 3), randn(2, 2, 5, 3), randn(2, 2, 5, 2),
                                             randn(2, 1, 4, 5)])
    case("sdpa_float_mask_causal", sdpa, [randn(3, 5, 4), randn(3, 5, 4), randn(3, 5, 4), randn(5, 5)],
         is_causal=True)
    case("sdpa_key_padding_tiles", sdpa, [randn(2, 1, 130, 3), randn(2, 1, 100, 3), randn(2, 1, 100, 2),
                                          bool_mask(2, 1, 1, 100)])
    case("sdpa_2d", sdpa, [randn(3, 2), randn(4, 2), randn(4, 5)])
    case("sdpa_noncontig", sdpa, [(randn(2, 5, 4), "t"), (randn(2, 6, 4), "s"), (randn(2, 6, 3), "t"),
                                  (bool_mask(5, 6), "t")], is_causal=True)
    case("rms_norm_weight", "rms_norm", [randn(3, 4), randn(4)], normalized_shape=[4], eps=1e-6)
    case("rms_norm_two_dims_default_eps", "rms_norm", [randn(2, 3, 2)], normalized_shape=[3, 2])
    case("rms_norm_noncontig", "rms_norm", [(randn(4, 3), "t"), randn(3)], normalized_shape=[3], eps=1e-5)


def main():
    views_and_copies()
    elementwise_binary()
    elementwise_unary()
    reductions()
    std_and_amin()
    logsumexp_cases()
    cumsum_cases()
    norm_cases()
    topk_cases()
    linalg()
    bmm_baddbmm()
    tril_triu()
    indexing()
    scatter_cases()
    index_add_cases()
    masked_select_cases()
    fused()
    parity()
    promotion()
    storage_dtypes()
    losses()
    sequence_ops()
    optim_steps()
    rescale_cases()
    vision()
    vision_more()
    conv_transpose_cases()
    transformer_cases()
    conv_relu_pool_cases()
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "ops_golden.txt")
    with open(path, "w") as f:
        f.write(f"# generated by tests/golden/make_golden.py with torch {torch.__version__}; do not edit\n")
        f.write("\n".join(lines) + "\n")
    print(f"{path}: {len(case_names)} cases, {os.path.getsize(path)} bytes", file=sys.stderr)


@own_stream
def conv_relu_pool_cases():
    # the fused Conv2d -> ReLU -> MaxPool2d(2) (in f32 through oneDNN, the pooling on its blocked layout): odd
    # output sizes (the last row and column not pooled), channels not a multiple of the block of 8, one input
    # channel (its weight gradient in plain layouts), groups, stride, no bias, a batch cut in uneven pieces
    case("conv_relu_pool_plain", "conv2d_relu_max_pool2x2", [randn(2, 3, 8, 8), randn(8, 3, 3, 3), randn(8)],
         padding=[1])
    case("conv_relu_pool_odd_out", "conv2d_relu_max_pool2x2", [randn(3, 2, 7, 9), randn(5, 2, 2, 2), randn(5)])
    case("conv_relu_pool_one_channel_same", "conv2d_relu_max_pool2x2", [randn(2, 1, 6, 6), randn(12, 1, 3, 3),
                                                                       randn(12)], padding="same")
    case("conv_relu_pool_groups_stride_no_bias", "conv2d_relu_max_pool2x2", [randn(1, 4, 9, 9), randn(6, 2, 3, 3)],
         groups=2, stride=[2], padding=[1])
    case("conv_relu_pool_batch_pieces", "conv2d_relu_max_pool2x2", [randn(11, 16, 6, 6), randn(16, 16, 3, 3),
                                                                   randn(16)], padding=[1])


if __name__ == "__main__":
    main()
