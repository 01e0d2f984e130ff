#!/usr/bin/python3
"""Writes tests/golden/transformer_golden.txt: PyTorch 1.13 reference values for nerve's transformer modules
(nn::MultiheadAttention, TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
TransformerDecoder, Transformer) and the position
helpers (sinusoidal encoding, rotary embeddings), all in f64 with dropout 0. Run with Debian's /usr/bin/python3:
  /usr/bin/python3 tests/golden/make_transformer_golden.py

Format: the golden format (tests/golden/golden_reader.h reads it), one tensor per line, `t NAME DTYPE NDIM DIMS...
VALUES...`. For a module case
PREFIX: PREFIX.nparams (the state-dict size), PREFIX.p.KEY (each state-dict entry, under torch's key), the inputs
PREFIX.in.NAME, the output PREFIX.out (and PREFIX.weights for need_weights), the upstream gradient PREFIX.up, and the
gradients PREFIX.g.KEY of every parameter and PREFIX.gin.NAME of every floating input.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
LINES = []


def put(name, t):
    t = torch.as_tensor(t).detach()
    if t.dtype in (torch.int64, torch.int32, torch.bool):
        dt, vals = "i64", [str(int(v)) for v in t.flatten().tolist()]
    else:
        dt, vals = "f64", ["%.17g" % v for v in t.double().flatten().tolist()]
    # a tensor record of the golden format (tests/golden/golden_reader.h): t NAME DTYPE NDIM DIMS... VALUES...
    LINES.append(" ".join(["t", name, dt, str(t.dim())] + [str(s) for s in t.shape] + vals))


def randomize(module):
    """Every parameter redrawn (biases and norms are not left at their 0 / 1 init, so their gradients matter)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape) * 0.5)


def module_case(prefix, module, inputs, call, need_weights_out=False):
    """inputs: dict name -> tensor (floating ones get gradients); call(module, inputs) -> output [, weights]."""
    module.eval()
    module.zero_grad(set_to_none=True)  # a module used by several cases starts each without gradients
    sd = module.state_dict()
    put(prefix + ".nparams", torch.tensor(len(sd)))
    for k, v in sd.items():
        put(prefix + ".p." + k, v)
    ins = {}
    for k, v in inputs.items():
        v = v.clone()
        if v.is_floating_point():
            v.requires_grad_(True)
        ins[k] = v
        put(prefix + ".in." + k, v)
    res = call(module, ins)
    out, weights = (res if isinstance(res, tuple) else (res, None))
    put(prefix + ".out", out)
    up = torch.randn(out.shape)
    put(prefix + ".up", up)
    loss = (out * up).sum()
    if weights is not None:
        put(prefix + ".weights", weights)
        upw = torch.randn(weights.shape)
        put(prefix + ".upw", upw)
        loss = loss + (weights * upw).sum()
    loss.backward()
    for k, p in module.named_parameters():
        put(prefix + ".g." + k, p.grad if p.grad is not None else torch.zeros_like(p))
    for k, v in ins.items():
        if v.requires_grad:
            put(prefix + ".gin." + k, v.grad)


def causal_mask(n):
    return torch.triu(torch.full((n, n), float("-inf")), diagonal=1)


def padding(n, s, lengths):
    m = torch.zeros(n, s, dtype=torch.bool)
    for i, l in enumerate(lengths):
        m[i, l:] = True  # True = ignore (torch's key_padding_mask)
    return m


E, H, L, S, N = 8, 2, 5, 6, 2

# ---------------------------------------------------------------- MultiheadAttention
mha = nn.MultiheadAttention(E, H)
randomize(mha)
module_case("mha_kpm_float_mask", mha,
            {"query": torch.randn(L, N, E), "key": torch.randn(S, N, E), "value": torch.randn(S, N, E),
             "kpm": padding(N, S, [6, 4]), "mask": torch.randn(L, S)},
            lambda m, x: m(x["query"], x["key"], x["value"], key_padding_mask=x["kpm"], need_weights=False,
                           attn_mask=x["mask"])[0])
module_case("mha_weights", mha,
            {"query": torch.randn(L, N, E), "key": torch.randn(S, N, E), "value": torch.randn(S, N, E),
             "kpm": padding(N, S, [3, 6])},
            lambda m, x: m(x["query"], x["key"], x["value"], key_padding_mask=x["kpm"], need_weights=True))
mha_bf = nn.MultiheadAttention(E, H, bias=False, batch_first=True)
randomize(mha_bf)
bool_mask = torch.rand(L, S) > 0.6
bool_mask[:, 0] = False  # True = not allowed; every query keeps key 0
module_case("mha_batch_first_bool_mask_nobias", mha_bf,
            {"query": torch.randn(N, L, E), "key": torch.randn(N, S, E), "value": torch.randn(N, S, E),
             "mask": bool_mask},
            lambda m, x: m(x["query"], x["key"], x["value"], need_weights=False, attn_mask=x["mask"])[0])
module_case("mha_unbatched_self", mha,
            {"x": torch.randn(L, E), "mask": causal_mask(L)},
            lambda m, x: m(x["x"], x["x"], x["x"], need_weights=False, attn_mask=x["mask"])[0])
mha4 = nn.MultiheadAttention(12, 4, batch_first=True)
randomize(mha4)
module_case("mha_weights_3d_mask", mha4,
            {"query": torch.randn(N, L, 12), "key": torch.randn(N, S, 12), "value": torch.randn(N, S, 12),
             "mask": torch.randn(N * 4, L, S)},
            lambda m, x: m(x["query"], x["key"], x["value"], need_weights=True, attn_mask=x["mask"]))

# ---------------------------------------------------------------- encoder and decoder layers
for norm_first in (False, True):
    for act in ("relu", "gelu"):
        layer = nn.TransformerEncoderLayer(E, H, dim_feedforward=16, dropout=0.0, activation=act,
                                           layer_norm_eps=1e-5, batch_first=norm_first, norm_first=norm_first)
        randomize(layer)
        shape = (N, L, E) if norm_first else (L, N, E)
        module_case("enc_%s_%s" % ("pre" if norm_first else "post", act), layer,
                    {"src": torch.randn(*shape), "mask": causal_mask(L), "kpm": padding(N, L, [5, 3])},
                    lambda m, x: m(x["src"], src_mask=x["mask"], src_key_padding_mask=x["kpm"]))

for norm_first in (False, True):
    layer = nn.TransformerDecoderLayer(E, H, dim_feedforward=16, dropout=0.0, activation="relu",
                                       batch_first=norm_first, norm_first=norm_first)
    randomize(layer)
    tshape, mshape = ((N, L, E), (N, S, E)) if norm_first else ((L, N, E), (S, N, E))
    module_case("dec_%s" % ("pre" if norm_first else "post"), layer,
                {"tgt": torch.randn(*tshape), "memory": torch.randn(*mshape), "tgt_mask": causal_mask(L),
                 "mkpm": padding(N, S, [4, 6])},
                lambda m, x: m(x["tgt"], x["memory"], tgt_mask=x["tgt_mask"], memory_key_padding_mask=x["mkpm"]))

layer = nn.TransformerEncoderLayer(E, H, dim_feedforward=16, dropout=0.0, activation="gelu", batch_first=True)
encoder = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(E), enable_nested_tensor=False)
randomize(encoder)
module_case("encoder_2_layers_norm", encoder, {"src": torch.randn(N, L, E), "mask": causal_mask(L)},
            lambda m, x: m(x["src"], mask=x["mask"]))

# ---------------------------------------------------------------- position helpers
T, D = 7, 6
pos = torch.arange(T).unsqueeze(1)
div = torch.exp(torch.arange(0, D, 2) * (-math.log(10000.0) / D))
pe = torch.zeros(T, D)
pe[:, 0::2] = torch.sin(pos * div)
pe[:, 1::2] = torch.cos(pos * div)
put("sinusoidal.T7_D6", pe)

# rotary embeddings, the rotate-half form (GPT-NeoX, LLaMA): x * cos + rotate_half(x) * sin
inv_freq = 1.0 / (10000.0 ** (torch.arange(0, D, 2) / D))
freqs = torch.outer(torch.arange(T).double(), inv_freq)
emb = torch.cat([freqs, freqs], -1)
cos, sin = emb.cos(), emb.sin()
put("rope.cos", cos)
put("rope.sin", sin)
x = torch.randn(2, 3, T, D, requires_grad=True)
put("rope.x", x)
x1, x2 = x[..., :D // 2], x[..., D // 2:]
y = x * cos + torch.cat([-x2, x1], -1) * sin
put("rope.out", y)
up = torch.randn(y.shape)
put("rope.up", up)
(y * up).sum().backward()
put("rope.gx", x.grad)

# ---------------------------------------------------------------- TransformerDecoder and Transformer
# (appended last, so that the random draws of the cases above do not change)
dlayer = nn.TransformerDecoderLayer(E, H, dim_feedforward=16, dropout=0.0, activation="gelu")
decoder = nn.TransformerDecoder(dlayer, num_layers=2, norm=nn.LayerNorm(E))
randomize(decoder)
module_case("decoder_2_layers_norm", decoder,
            {"tgt": torch.randn(L, N, E), "memory": torch.randn(S, N, E), "tgt_mask": causal_mask(L),
             "memory_mask": torch.randn(L, S), "tkpm": padding(N, L, [5, 2]), "mkpm": padding(N, S, [6, 3])},
            lambda m, x: m(x["tgt"], x["memory"], tgt_mask=x["tgt_mask"], memory_mask=x["memory_mask"],
                           tgt_key_padding_mask=x["tkpm"], memory_key_padding_mask=x["mkpm"]))

model = nn.Transformer(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16,
                       dropout=0.0)
randomize(model)
src_mask = torch.randn(S, S)
module_case("transformer_post_relu", model,
            {"src": torch.randn(S, N, E), "tgt": torch.randn(L, N, E), "src_mask": src_mask,
             "tgt_mask": nn.Transformer.generate_square_subsequent_mask(L), "memory_mask": torch.randn(L, S),
             "skpm": padding(N, S, [6, 4]), "tkpm": padding(N, L, [3, 5]), "mkpm": padding(N, S, [5, 6])},
            lambda m, x: m(x["src"], x["tgt"], src_mask=x["src_mask"], tgt_mask=x["tgt_mask"],
                           memory_mask=x["memory_mask"], src_key_padding_mask=x["skpm"],
                           tgt_key_padding_mask=x["tkpm"], memory_key_padding_mask=x["mkpm"]))

model = nn.Transformer(d_model=12, nhead=3, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=20,
                       dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
randomize(model)
module_case("transformer_pre_gelu_batch_first", model,
            {"src": torch.randn(N, S, 12), "tgt": torch.randn(N, L, 12),
             "tgt_mask": nn.Transformer.generate_square_subsequent_mask(L)},
            lambda m, x: m(x["src"], x["tgt"], tgt_mask=x["tgt_mask"]))
module_case("transformer_pre_gelu_unbatched", model,
            {"src": torch.randn(S, 12), "tgt": torch.randn(L, 12)},
            lambda m, x: m(x["src"], x["tgt"]))

# parameter counts and state-dict sizes of torch's default Transformer and of a small one
for name, m in (("default", nn.Transformer()),
                ("small", nn.Transformer(d_model=16, nhead=4, num_encoder_layers=3, num_decoder_layers=1,
                                         dim_feedforward=24))):
    put("transformer_count.%s.numel" % name, torch.tensor(sum(p.numel() for p in m.parameters())))
    put("transformer_count.%s.nparams" % name, torch.tensor(len(m.state_dict())))
    # torch's _reset_parameters: every matrix xavier-uniform, biases zero, norms one
    put("transformer_count.%s.max_abs_in_proj" % name,
        m.encoder.layers[0].self_attn.in_proj_weight.abs().max())

here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "transformer_golden.txt")
with open(path, "w") as f:
    f.write("# generated by tests/golden/make_transformer_golden.py with torch %s; do not edit\n" % torch.__version__)
    f.write("\n".join(LINES) + "\n")
print("%s: %d tensors, %d bytes" % (path, len(LINES), os.path.getsize(path)))
