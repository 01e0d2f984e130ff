#!/usr/bin/python3
"""Writes tests/golden/rnn_golden.txt: PyTorch (float64) outputs, final states and every gradient (input, states,
all parameters) of nn.LSTM / nn.GRU / nn.RNN, the cells and nn.Embedding, with fixed weights and inputs that are
written into the file too. Run with Debian's /usr/bin/python3 (python3-torch); the output is committed, so the C++
tests (tests/nn/test_rnn_golden.cpp) never need torch.

File format (the one golden format, read by tests/golden/golden_reader.h), one record per line:
  case NAME KIND key=value ...   KIND: lstm gru rnn_tanh rnn_relu (layers), lstm_cell gru_cell rnn_tanh_cell
                                 rnn_relu_cell, embedding; keys: layers bidir batch_first bias init (0/1), ...
  t KEY f64 NDIM D1 .. DN V1 .. VM   a tensor, row-major. Inputs: x, h0, c0, parameter names (weight_ih_l0, ...),
                                 gout ghn gcn (upstream gradients of output, h_n, c_n). Expected: out hn cn,
                                 grad.x grad.h0 grad.c0 grad.<parameter>. Embedding: weight idx gout out
                                 grad.weight weight_after (max_norm).
  end
The loss whose gradients are stored is sum(out * gout) + sum(hn * ghn) + sum(cn * gcn).
Inputs and weights are multiples of 1/128 (short, exact); expected values use repr() (round-trip exact).
"""
import os

import torch
import torch.nn as nn

torch.manual_seed(1234)
F64 = torch.float64
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn_golden.txt")
lines = []


def dyadic(*shape):
    """Values in [-0.5, 0.5] on a 1/128 grid: exact in f32 and f64, short in text."""
    return torch.randint(-64, 65, shape, dtype=F64) / 128.0


def put(key, t):
    t = t.detach().to(F64).contiguous()
    vals = " ".join(repr(float(v)) for v in t.reshape(-1).tolist())
    lines.append(f"t {key} f64 {t.dim()} " + " ".join(str(s) for s in t.shape) + (" " + vals if vals else ""))


def layer_case(name, kind, seq=4, batch=2, inp=3, hidden=3, layers=1, bidir=False, batch_first=False, bias=True,
               init=False):
    cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn_relu": nn.RNN}[kind]
    kw = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    m = cls(inp, hidden, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir, **kw).to(F64)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(dyadic(*p.shape))
    D = 2 if bidir else 1
    x = dyadic(*((batch, seq, inp) if batch_first else (seq, batch, inp))).requires_grad_()
    h0 = dyadic(layers * D, batch, hidden).requires_grad_() if init else None
    c0 = dyadic(layers * D, batch, hidden).requires_grad_() if init and kind == "lstm" else None
    if kind == "lstm":
        out, (hn, cn) = m(x, (h0, c0) if init else None)
    else:
        out, hn = m(x, h0)
        cn = None
    gout, ghn = dyadic(*out.shape), dyadic(*hn.shape)
    loss = (out * gout).sum() + (hn * ghn).sum()
    gcn = None
    if cn is not None:
        gcn = dyadic(*cn.shape)
        loss = loss + (cn * gcn).sum()
    loss.backward()
    lines.append(f"case {name} {kind} seq={seq} batch={batch} input={inp} hidden={hidden} layers={layers} "
                 f"bidir={int(bidir)} batch_first={int(batch_first)} bias={int(bias)} init={int(init)}")
    put("x", x)
    if init:
        put("h0", h0)
        if c0 is not None:
            put("c0", c0)
    for n, p in m.named_parameters():
        put(n, p)
    put("gout", gout)
    put("ghn", ghn)
    if gcn is not None:
        put("gcn", gcn)
    put("out", out)
    put("hn", hn)
    if cn is not None:
        put("cn", cn)
    put("grad.x", x.grad)
    if init:
        put("grad.h0", h0.grad)
        if c0 is not None:
            put("grad.c0", c0.grad)
    for n, p in m.named_parameters():
        put("grad." + n, p.grad)
    lines.append("end")


def cell_case(name, kind, batch=3, inp=3, hidden=4, bias=True, init=True):
    base = kind[: -len("_cell")]
    cls = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn_tanh": nn.RNNCell, "rnn_relu": nn.RNNCell}[base]
    kw = {"nonlinearity": base[4:]} if base.startswith("rnn") else {}
    m = cls(inp, hidden, bias=bias, **kw).to(F64)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(dyadic(*p.shape))
    x = dyadic(batch, inp).requires_grad_()
    h0 = dyadic(batch, hidden).requires_grad_() if init else None
    c0 = dyadic(batch, hidden).requires_grad_() if init and base == "lstm" else None
    if base == "lstm":
        hn, cn = m(x, (h0, c0) if init else None)
    else:
        hn, cn = m(x, h0), None
    ghn = dyadic(*hn.shape)
    loss = (hn * ghn).sum()
    gcn = None
    if cn is not None:
        gcn = dyadic(*cn.shape)
        loss = loss + (cn * gcn).sum()
    loss.backward()
    lines.append(f"case {name} {kind} batch={batch} input={inp} hidden={hidden} bias={int(bias)} init={int(init)}")
    put("x", x)
    if init:
        put("h0", h0)
        if c0 is not None:
            put("c0", c0)
    for n, p in m.named_parameters():
        put(n, p)
    put("ghn", ghn)
    if gcn is not None:
        put("gcn", gcn)
    put("hn", hn)
    if cn is not None:
        put("cn", cn)
    put("grad.x", x.grad)
    if init:
        put("grad.h0", h0.grad)
        if c0 is not None:
            put("grad.c0", c0.grad)
    for n, p in m.named_parameters():
        put("grad." + n, p.grad)
    lines.append("end")


def embedding_case(name, vocab=7, dim=3, idx_shape=(2, 4), padding_idx=None, max_norm=None):
    m = nn.Embedding(vocab, dim, padding_idx=padding_idx, max_norm=max_norm).to(F64)
    with torch.no_grad():
        m.weight.copy_(dyadic(vocab, dim) * 4)  # rows with norms above and below max_norm
        if padding_idx is not None:
            m.weight[padding_idx].zero_()
    w0 = m.weight.detach().clone()
    idx = torch.randint(0, vocab, idx_shape)
    idx.view(-1)[0] = idx.view(-1)[-1]  # a repeated id: its gradient rows add up
    if padding_idx is not None:
        idx.view(-1)[1] = padding_idx
    out = m(idx)
    gout = dyadic(*out.shape)
    (out * gout).sum().backward()
    extra = ""
    if padding_idx is not None:
        extra += f" padding_idx={padding_idx}"
    if max_norm is not None:
        extra += f" max_norm={max_norm}"
    lines.append(f"case {name} embedding vocab={vocab} dim={dim}{extra}")
    put("weight", w0)
    put("idx", idx)
    put("gout", gout)
    put("out", out)
    put("grad.weight", m.weight.grad)
    if max_norm is not None:
        put("weight_after", m.weight)
    lines.append("end")


# LSTM
layer_case("lstm_1layer", "lstm")
layer_case("lstm_1layer_bf_init", "lstm", batch_first=True, init=True)
layer_case("lstm_2layer_init", "lstm", layers=2, init=True)
layer_case("lstm_2layer_bidir_bf_init", "lstm", layers=2, bidir=True, batch_first=True, init=True)
layer_case("lstm_bidir_nobias", "lstm", bidir=True, bias=False, inp=2, hidden=4)
layer_case("lstm_2layer_bf", "lstm", layers=2, batch_first=True, seq=3, batch=3)
# GRU
layer_case("gru_1layer", "gru")
layer_case("gru_1layer_bf_init", "gru", batch_first=True, init=True)
layer_case("gru_2layer_bidir_init", "gru", layers=2, bidir=True, init=True)
layer_case("gru_2layer_bf_nobias", "gru", layers=2, batch_first=True, bias=False)
# RNN
layer_case("rnn_tanh_2layer_bidir_init", "rnn_tanh", layers=2, bidir=True, init=True)
layer_case("rnn_tanh_1layer_bf", "rnn_tanh", batch_first=True)
layer_case("rnn_relu_1layer_init", "rnn_relu", init=True)
layer_case("rnn_relu_2layer_bidir_bf", "rnn_relu", layers=2, bidir=True, batch_first=True)
# cells
cell_case("lstm_cell", "lstm_cell")
cell_case("lstm_cell_zero_state", "lstm_cell", init=False)
cell_case("gru_cell", "gru_cell")
cell_case("rnn_tanh_cell", "rnn_tanh_cell")
cell_case("rnn_relu_cell_nobias", "rnn_relu_cell", bias=False)
# Embedding
embedding_case("embedding_plain")
embedding_case("embedding_padding", padding_idx=2)
embedding_case("embedding_max_norm", idx_shape=(5,), max_norm=1.0)

with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"wrote {OUT}: {len(lines)} lines")
