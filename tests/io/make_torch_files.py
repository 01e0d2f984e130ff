#!/usr/bin/python3
"""Writes the PyTorch checkpoints that tests/io/test_torch.cpp loads, and the values nerve must reproduce.

Run with Debian's python3-torch: /usr/bin/python3 tests/io/make_torch_files.py  (writes tests/io/data/).
Expected values go to .safetensors files written by the small writer below (the safetensors package is not in
Debian), so the C++ test needs nothing but the files. Every file is small (a few KB).
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)

ST_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16",
             torch.int64: "I64", torch.int32: "I32", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def save_safetensors(tensors, path):
    """The safetensors layout: u64 header length, JSON header, raw little-endian data (contiguous, in order)."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype in (torch.bfloat16, torch.float16, torch.bool) \
            else t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def path(name):
    return os.path.join(OUT, name)


# 1. an MLP and its logits on a fixed input
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 4)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


mlp = MLP()
x = torch.randn(5, 8)
torch.save(mlp.state_dict(), path("mlp.pt"))
save_safetensors({"x": x, "logits": mlp(x).detach()}, path("mlp_expected.safetensors"))


# 2. the char LSTM model of examples/char_lstm (Embedding -> LSTM(batch_first) -> Linear), small sizes
class CharLSTM(nn.Module):
    def __init__(self, vocab=12, embed=6, hidden=10):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, vocab)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.fc(out)


lstm = CharLSTM()
tokens = torch.randint(0, 12, (3, 7))
torch.save(lstm.state_dict(), path("char_lstm.pt"))
save_safetensors({"tokens": tokens, "logits": lstm(tokens).detach()}, path("char_lstm_expected.safetensors"))

# 3. tied, shared and strided tensors: one storage behind several names and views
base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
tied = {
    "base": base,
    "same": base,                     # the same tensor under a second name
    "transposed": base.t(),           # strides (1, 6)
    "slice": base[1:3, 2:5],          # offset 8, strides (6, 1)
    "every_other": base[:, ::2],      # strides (6, 2)
    "row": base[3],                   # offset 18
    "expanded": base[0:1, 0:1].expand(3, 2),  # stride 0
    "other": torch.full((2,), 7.0),
}
torch.save(tied, path("tied.pt"))
save_safetensors({k: v.contiguous() for k, v in tied.items()}, path("tied_expected.safetensors"))

# a model whose output layer shares the embedding's weight (weight tying)
class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight


torch.save(Tied().state_dict(), path("tied_model.pt"))

# 4. every dtype nerve has, with special values
g = torch.Generator().manual_seed(1)
floats = torch.tensor([0.0, -0.0, 1.5, -2.25, 1e-3, 65504.0, float("inf"), float("-inf"), float("nan")])
dtypes = {
    "f64": torch.randn(2, 3, generator=g, dtype=torch.float64),
    "f32": floats,
    "f16": floats.to(torch.float16),
    "bf16": floats.to(torch.bfloat16),
    "i64": torch.tensor([0, 1, -1, 2**62, -(2**63)], dtype=torch.int64),
    "i32": torch.tensor([0, 1, -1, 2**31 - 1, -(2**31)], dtype=torch.int32),
    "i8": torch.tensor([0, 1, -1, 127, -128], dtype=torch.int8),
    "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True]),
    "scalar": torch.tensor(3.5),
    "empty": torch.zeros(0, 4),
}
torch.save(dtypes, path("dtypes.pt"))
save_safetensors(dtypes, path("dtypes_expected.safetensors"))

# 5. a training checkpoint: nested dicts and values that are not tensors
torch.save({"model": mlp.state_dict(), "epoch": 3, "lr": 0.001, "note": "hi", "flags": [1, 2]},
           path("checkpoint.pt"))


# 6. hostile and broken files
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


torch.save({"x": torch.zeros(1), "evil": Evil()}, path("evil_global.pt"))
torch.save({"x": torch.zeros(2)}, path("legacy.pt"), _use_new_zipfile_serialization=False)
torch.save({"s": torch.zeros(2, dtype=torch.int16)}, path("int16.pt"))


def rewrite(src, dst, drop=None, replace=None):
    """Copies the zip src to dst without the entry ending in `drop`, or with `replace` = (suffix, bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            name = info.filename
            data = zin.read(name)
            if drop and name.endswith(drop):
                continue
            if replace and name.endswith(replace[0]):
                data = replace[1]
            zout.writestr(name.replace(os.path.basename(src)[:-3], os.path.basename(dst)[:-3]), data)


rewrite(path("mlp.pt"), path("missing_entry.pt"), drop="data/1")
# an opcode outside the allowed set: INST (protocol 0 object creation) in place of the whole pickle
rewrite(path("mlp.pt"), path("bad_opcode.pt"), replace=("data.pkl", b"\x80\x02(ios\nsystem\n."))


class FakeStorage:
    pass


class View:
    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, (FakeStorage(),) + self.args + (False, collections.OrderedDict()))


def write_custom(dst, numel, view, data):
    """A checkpoint as torch writes it, with a storage of `numel` floats claimed and `data` as its bytes."""
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = lambda o: ("storage", torch.FloatStorage, "0", "cpu", numel) if isinstance(o, FakeStorage) else None
    p.dump(collections.OrderedDict([("w", view)]))
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/data/0", data)
        z.writestr("archive/version", "3\n")


write_custom(path("custom_ok.pt"), 4, View(1, (3,), (1,)), struct.pack("<4f", 1, 2, 3, 4))
write_custom(path("view_outside.pt"), 4, View(1, (2, 2), (2, 1)), struct.pack("<4f", 1, 2, 3, 4))
write_custom(path("storage_short.pt"), 6, View(0, (4,), (1,)), struct.pack("<4f", 1, 2, 3, 4))
print("wrote", sorted(os.listdir(OUT)))
