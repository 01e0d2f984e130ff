#!/usr/bin/python3
# The PyTorch side of the GPT comparison: the same program as examples/gpt/main.cpp (character tokens, context 128,
# 4 layers x 4 heads x width 256, MLP 1024 with tanh GELU, pre-norm, final LayerNorm, learned positions, output
# layer tied to the token embedding, GPT-2 init, AdamW 3e-4 with weight decay 0.1 on every parameter, batch 32),
# the same training windows (splitmix64 offsets) and validation batches, timed the same way. Attention is written
# out as softmax(q k^T / sqrt(d) + causal mask) v, and generation carries its own KV cache.
#   /usr/bin/python3 bench/gpt_torch.py --steps 200 --threads 2 --json
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


def read_corpus(path):
    """All plain files of a directory (sorted; .dat and .u8 index files skipped), or one file, as bytes."""
    if os.path.isfile(path):
        return open(path, "rb").read()
    out = bytearray()
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        if name.startswith(".") or name.endswith(".dat") or name.endswith(".u8") or not os.path.isfile(p):
            continue
        out += open(p, "rb").read()
    return bytes(out)


def splitmix64(state):
    """(new state, value): the generator examples/gpt draws its training offsets with."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def attention(q, k, v, causal):
    """q (B, H, T, D), k and v (B, H, S, D): softmax(q k^T / sqrt(D) + mask) v."""
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))
    if causal:
        T, S = q.size(-2), k.size(-2)
        scores = scores + torch.triu(torch.full((T, S), float("-inf")), 1)
    return F.softmax(scores, dim=-1) @ v


class Block(nn.Module):
    def __init__(self, width, heads, ff):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(width)
        self.attn_qkv = nn.Linear(width, 3 * width)
        self.attn_proj = nn.Linear(width, width)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp_fc = nn.Linear(width, ff)
        self.mlp_proj = nn.Linear(ff, width)

    def forward(self, x, cache=None, layer=0):
        B, T, C = x.shape
        H, D = self.heads, C // self.heads
        q, k, v = self.attn_qkv(self.ln_1(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))
        if cache is not None:  # append this layer's keys and values; attend to every cached position
            n = cache["len"]
            if len(cache["k"]) <= layer:
                cache["k"].append(torch.zeros(B, H, cache["context"], D))
                cache["v"].append(torch.zeros(B, H, cache["context"], D))
            cache["k"][layer][:, :, n : n + T] = k
            cache["v"][layer][:, :, n : n + T] = v
            k, v = cache["k"][layer][:, :, : n + T], cache["v"][layer][:, :, : n + T]
        y = attention(q, k, v, T > 1).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.mlp_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, context=128, layers=4, heads=4, width=256, ff=1024):
        super().__init__()
        self.context = context
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, ff) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width)
        proj_std = 0.02 / math.sqrt(2 * layers)  # GPT-2's initialization
        with torch.no_grad():
            nn.init.normal_(self.wte.weight, 0.0, 0.02)
            nn.init.normal_(self.wpe.weight, 0.0, 0.02)
            for b in self.blocks:
                for lin in (b.attn_qkv, b.attn_proj, b.mlp_fc, b.mlp_proj):
                    nn.init.normal_(lin.weight, 0.0, proj_std if lin in (b.attn_proj, b.mlp_proj) else 0.02)
                    nn.init.zeros_(lin.bias)

    def forward(self, ids, cache=None):
        T = ids.size(1)
        start = cache["len"] if cache is not None else 0
        x = self.wte(ids) + self.wpe(torch.arange(start, start + T))
        for i, b in enumerate(self.blocks):
            x = b(x, cache, i)
        if cache is not None:
            cache["len"] += T
        return F.linear(self.ln_f(x), self.wte.weight)  # tied output layer


def batch_at(tokens, offsets, T):
    idx = torch.tensor(offsets)[:, None] + torch.arange(T + 1)[None, :]
    w = tokens[idx]
    return w[:, :-1], w[:, 1:]


@torch.no_grad()
def validation_loss(model, val, T, batch, batches):
    model.eval()
    stride = (len(val) - T - 1) // (batches * batch)
    total = 0.0
    for i in range(batches):
        x, y = batch_at(val, [(i * batch + b) * stride for b in range(batch)], T)
        total += F.cross_entropy(model(x).reshape(-1, model.wte.num_embeddings), y.reshape(-1)).item()
    model.train()
    return total / batches


@torch.no_grad()
def generate(model, prompt, n, temperature, top_k, gen):
    """The prompt fills the KV cache once, then one token per step."""
    model.eval()
    cache = {"k": [], "v": [], "len": 0, "context": model.context}
    history = list(prompt)
    logits = model(torch.tensor([history]), cache)[0, -1]
    out = []
    for i in range(n):
        if temperature <= 0:
            nxt = int(torch.argmax(logits))
        else:
            l = logits / temperature
            if top_k > 0:
                v, _ = torch.topk(l, min(top_k, l.numel()))
                l = torch.where(l < v[-1], torch.full_like(l, -float("inf")), l)
            nxt = int(torch.multinomial(F.softmax(l, dim=-1), 1, generator=gen))
        out.append(nxt)
        history.append(nxt)
        if i + 1 < n:
            if cache["len"] + 1 > model.context:  # full: restart the cache from the last half of the context
                history = history[-(model.context // 2):]
                cache = {"k": [], "v": [], "len": 0, "context": model.context}
                logits = model(torch.tensor([history]), cache)[0, -1]
            else:
                logits = model(torch.tensor([[nxt]]), cache)[0, -1]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/games/fortunes")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gen", type=int, default=200, help="tokens to generate at the end")
    ap.add_argument("--eval-batches", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    T, B = 128, a.batch_size

    text = read_corpus(a.data)
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    split = len(text) * 9 // 10
    train, val = ids[:split], ids[split:]
    model = GPT(len(vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    print(f"corpus {len(text)} bytes, vocab {len(vocab)}, {sum(p.numel() for p in model.parameters())} parameters",
          file=sys.stderr)

    state, positions = a.seed, len(train) - T
    loss_v, t_train = float("nan"), 0.0
    for step in range(a.steps):
        offsets = []
        for _ in range(B):
            state, r = splitmix64(state)
            offsets.append(r % positions)
        x, y = batch_at(train, offsets, T)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x).reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_v = loss.item()
        t_train += time.perf_counter() - t0
        if (step + 1) % 50 == 0 or step + 1 == a.steps:
            print(f"step {step + 1:5d}  train loss {loss_v:.4f}  {(step + 1) * B * T / t_train:8.0f} tok/s",
                  file=sys.stderr)
    tok_s = a.steps * B * T / t_train if t_train > 0 else 0.0
    val_loss = validation_loss(model, val, T, B, a.eval_batches)
    print(f"val loss {val_loss:.4f} after {a.steps} steps", file=sys.stderr)

    gen = torch.Generator().manual_seed(a.seed)
    prompt = [stoi.get(c, 0) for c in b"The "]
    t0 = time.perf_counter()
    out = generate(model, prompt, a.gen, 0.8, 0, gen)
    t_gen = time.perf_counter() - t0
    print("sample: The " + bytes(vocab[i] for i in out).decode("utf-8", "replace")[:300], file=sys.stderr)
    res = {
        "impl": "pytorch",
        "steps": a.steps,
        "vocab": len(vocab),
        "tokens_per_second": tok_s,
        "train_loss": loss_v,
        "val_loss": val_loss,
        "generate_tokens_per_second": a.gen / t_gen if a.gen > 0 else 0.0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if a.json:
        print(json.dumps(res))
    else:
        print(f"training {tok_s:.0f} tok/s  val loss {val_loss:.4f}  generation "
              f"{res['generate_tokens_per_second']:.0f} tok/s  peak RSS {res['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
