#!/usr/bin/python3
# A character-level LSTM language model in PyTorch's style: the program of bench/char_lstm_torch.py (Embedding 128
# -> LSTM 256 -> Linear, Adam 2e-3, seq 64, batch 32, the fortunes corpus) with torch / torch.nn / torch.optim
# replaced by nerve / nerve.nn / nerve.optim, the training loop written out.
# Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/lstm_lm.py [--steps 200]   (NERVE_STEPS also sets it)
import argparse
import math
import os
import sys
import time

import numpy as np

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
import nerve.optim as optim


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


@nerve.no_grad()
def generate(model, prompt_ids, n, temperature, top_k, rng):
    """Feeds the prompt once, then one LSTM step per new character (the state is carried)."""
    model.eval()
    logits, state = model(nerve.tensor([prompt_ids]))
    logits = logits[0, -1]
    out = []
    for i in range(n):
        l = logits / temperature
        v, _ = nerve.topk(l, min(top_k, l.numel()))
        l = nerve.where(l < v[-1], nerve.full_like(l, -float("inf")), l)
        p = F.softmax(l, dim=-1).numpy().astype(np.float64)
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(nxt)
        if i + 1 < n:
            logits, state = model(nerve.tensor([[nxt]]), state)
            logits = logits[0, -1]
    model.train()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/games/fortunes")
    ap.add_argument("--steps", type=int, default=int(os.environ.get("NERVE_STEPS", 200)))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--gen", type=int, default=int(os.environ.get("NERVE_GEN", 200)), help="characters to generate at the end")
    a = ap.parse_args()
    nerve.set_num_threads(a.threads)
    nerve.manual_seed(a.seed)

    text = read_corpus(a.data)
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    ids = nerve.tensor([stoi[c] for c in text], dtype=nerve.long)
    # non-overlapping windows of seq+1 tokens: input = first seq, target = last seq
    n_win = (len(ids) - 1) // a.seq
    windows = ids[: n_win * a.seq + 1]
    model = LSTMModel(len(vocab))
    opt = optim.Adam(model.parameters(), lr=2e-3)
    print(f"corpus {len(text)} bytes, vocab {len(vocab)}, {n_win} windows, "
          f"{sum(p.numel() for p in model.parameters())} parameters", file=sys.stderr)

    step, loss_v, t_train, first = 0, float("nan"), 0.0, None
    while step < a.steps:
        perm = nerve.randperm(n_win)
        for b in range(0, n_win - a.batch + 1, a.batch):
            if step >= a.steps:
                break
            starts = perm[b : b + a.batch] * a.seq
            idx = starts[:, None] + nerve.arange(a.seq + 1)[None, :]
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
            first = loss_v if first is None else first
            if step % 50 == 0 or step == a.steps:
                print(f"step {step:5d}  loss {loss_v:.4f}  ppl {math.exp(loss_v):7.2f}  "
                      f"{step * a.batch * a.seq / t_train:8.0f} tok/s", file=sys.stderr)

    rng = np.random.default_rng(a.seed)
    prompt = [stoi.get(c, 0) for c in b"The "]
    out = generate(model, prompt, a.gen, 0.8, 10, rng)
    print(bytes(b"The " + bytes(vocab[i] for i in out)).decode("utf-8", "replace"))
    print(f"tokens/s {step * a.batch * a.seq / t_train:.0f}  loss {first:.4f} -> {loss_v:.4f}")
    # the check ctest relies on: the loss falls well below its start (log(vocab) ~ 4.6)
    assert loss_v < first - 1.0, f"the loss did not fall: {first:.4f} -> {loss_v:.4f}"


if __name__ == "__main__":
    main()
