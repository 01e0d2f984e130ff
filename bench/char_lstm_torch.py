#!/usr/bin/python3
# The PyTorch side of the char-LSTM comparison: the same program as examples/char_lstm/main.cpp
# (Embedding 128 -> LSTM 256 -> Linear, Adam 2e-3, seq 64, batch 32, fortunes corpus), timed the same way.
# Run with Debian's /usr/bin/python3 (python3-torch):  /usr/bin/python3 bench/char_lstm_torch.py --steps 200
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


class LSTMModel(nn.Module):
    def __init__(self, vocab, embed=128, hidden=256):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.fc(out), state


@torch.no_grad()
def generate(model, prompt_ids, n, temperature, top_k, gen):
    """Feeds the prompt once, then one LSTM step per new character (the state is carried)."""
    model.eval()
    logits, state = model(torch.tensor([prompt_ids]))
    logits = logits[0, -1]
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
        if i + 1 < n:  # one step per new character
            logits, state = model(torch.tensor([[nxt]]), state)
            logits = logits[0, -1]
    model.train()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/games/fortunes")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--gen", type=int, default=1000, help="characters to generate at the end")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    text = read_corpus(a.data)
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    # non-overlapping windows of seq+1 tokens: input = first seq, target = last seq
    n_win = (len(ids) - 1) // a.seq
    windows = ids[: n_win * a.seq + 1]
    model = LSTMModel(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    print(f"corpus {len(text)} bytes, vocab {len(vocab)}, {n_win} windows, "
          f"{sum(p.numel() for p in model.parameters())} parameters", file=sys.stderr)

    step, loss_v, t_train, recent = 0, float("nan"), 0.0, []
    while step < a.steps:
        perm = torch.randperm(n_win)
        for b in range(0, n_win - a.batch + 1, a.batch):
            if step >= a.steps:
                break
            starts = perm[b : b + a.batch] * a.seq
            idx = starts[:, None] + torch.arange(a.seq + 1)[None, :]
            chunk = windows[idx]
            x, y = chunk[:, :-1], chunk[:, 1:]
            t0 = time.perf_counter()
            logits, _ = model(x)
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            t_train += time.perf_counter() - t0
            step += 1
            loss_v = loss.item()
            recent = (recent + [loss_v])[-20:]
            if step % 50 == 0 or step == a.steps:
                print(f"step {step:5d}  loss {loss_v:.4f}  ppl {math.exp(loss_v):7.2f}  "
                      f"{step * a.batch * a.seq / t_train:8.0f} tok/s", file=sys.stderr)

    gen = torch.Generator().manual_seed(a.seed)
    prompt = [stoi.get(c, 0) for c in b"The "]
    t0 = time.perf_counter()
    out = generate(model, prompt, a.gen, 0.8, 10, gen)
    t_gen = time.perf_counter() - t0
    sample = bytes(vocab[i] for i in out).decode("utf-8", "replace")
    print("sample: The " + sample[:300], file=sys.stderr)
    res = {
        "impl": "pytorch",
        "steps": a.steps,
        "tokens_per_second": a.steps * a.batch * a.seq / t_train,
        "final_loss": loss_v,
        "mean_loss_last20": sum(recent) / len(recent),
        "generate_chars_per_second": a.gen / t_gen,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if a.json:
        print(json.dumps(res))
    else:
        print(f"tokens/s {res['tokens_per_second']:.0f}  final loss {loss_v:.4f}  "
              f"generate {res['generate_chars_per_second']:.0f} chars/s  peak RSS {res['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
