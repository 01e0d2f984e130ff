"""Reads MNIST-format IDX files (optionally .gz) into numpy arrays, as Keras's load_data returns them."""
import gzip
import os

import numpy as np


def read_idx(path):
    """One IDX file as a uint8 numpy array of its shape; a clear error for a bad or truncated file."""
    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"idx: {path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    nd = raw[3]
    if len(raw) < 4 + 4 * nd:
        raise ValueError(f"idx: {path}: truncated header ({len(raw)} bytes)")
    dims = [int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(nd)]
    need = int(np.prod(dims)) if dims else 1
    if len(raw) - 4 - 4 * nd < need:
        raise ValueError(f"idx: {path}: truncated at byte {len(raw)}, the header promises {need} bytes of data")
    return np.frombuffer(raw, np.uint8, count=need, offset=4 + 4 * nd).reshape(dims)


def find(directory, base, what, hint):
    for name in (base, base + ".gz", base.replace("-idx", ".idx"), base.replace("-idx", ".idx") + ".gz"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{what}: {directory}: cannot find {base}[.gz]. {hint}")


def load(directory, what, hint):
    if not directory or not os.path.isdir(directory):
        raise FileNotFoundError(f"{what}: the directory {directory!r} does not exist. {hint}")
    x_train = read_idx(find(directory, "train-images-idx3-ubyte", what, hint))
    y_train = read_idx(find(directory, "train-labels-idx1-ubyte", what, hint))
    x_test = read_idx(find(directory, "t10k-images-idx3-ubyte", what, hint))
    y_test = read_idx(find(directory, "t10k-labels-idx1-ubyte", what, hint))
    return (x_train, y_train), (x_test, y_test)
