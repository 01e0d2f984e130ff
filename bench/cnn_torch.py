# The small CNN in PyTorch, the peer of examples/cnn_fashion: Conv2d(1,32,3,padding 1) -> ReLU -> MaxPool(2) ->
# Conv2d(32,64,3,padding 1) -> ReLU -> MaxPool(2) -> Flatten -> Linear(3136,128) -> ReLU -> Linear(128,10),
# cross-entropy on logits, Adam (lr 1e-3, Keras's epsilon as nerve's "adam"), batch 64 shuffled, images kept uint8
# and scaled per batch. Prints one JSON line like cnn_fashion --json.
# Usage: /usr/bin/python3 bench/cnn_torch.py [--epochs 1] [--batch-size 64] [--train-limit N] [--threads 2]
import argparse, gzip, json, os, resource, struct, time
import numpy as np
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--batch-size", type=int, default=64)
p.add_argument("--train-limit", type=int, default=0)
p.add_argument("--data", default=os.environ.get("NERVE_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=42)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

def idx(name):
    for n in (name, name + ".gz"):
        path = os.path.join(a.data, n)
        if os.path.exists(path):
            raw = (gzip.open if n.endswith(".gz") else open)(path, "rb").read()
            nd = raw[3]
            dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
            return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims).copy())
    raise FileNotFoundError(os.path.join(a.data, name))

x_train, y_train = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte").long()
x_test, y_test = idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte").long()
if a.train_limit > 0:
    x_train, y_train = x_train[:a.train_limit], y_train[:a.train_limit]

model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
loss_fn = nn.CrossEntropyLoss()

t0 = time.perf_counter()
n = x_train.shape[0]
for epoch in range(a.epochs):
    perm = torch.randperm(n)
    for b in range(0, n, a.batch_size):
        i = perm[b:b + a.batch_size]
        x = x_train[i].unsqueeze(1).float() / 255.0
        loss = loss_fn(model(x), y_train[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
train_s = time.perf_counter() - t0

model.eval()
with torch.no_grad():
    correct, total_loss = 0, 0.0
    for b in range(0, x_test.shape[0], 32):
        x, y = x_test[b:b + 32].unsqueeze(1).float() / 255.0, y_test[b:b + 32]
        out = model(x)
        total_loss += loss_fn(out, y).item() * x.shape[0]
        correct += (out.argmax(1) == y).sum().item()
    passes = []
    for _ in range(5):  # inference: the 10,000 test images in batches of 500, median of 5 passes
        t = time.perf_counter()
        for b in range(0, x_test.shape[0], 500):
            model(x_test[b:b + 500].unsqueeze(1).float() / 255.0)
        passes.append(time.perf_counter() - t)
    passes.sort()
    one = x_test[:1].unsqueeze(1)
    for _ in range(200):
        model(one.float() / 255.0)
    ts = []
    for _ in range(2000):
        t = time.perf_counter()
        model(one.float() / 255.0).argmax(1)
        ts.append(time.perf_counter() - t)
    ts.sort()
print(json.dumps({"test_accuracy": correct / x_test.shape[0], "test_loss": total_loss / x_test.shape[0],
                  "train_seconds": train_s, "images_per_second": n * a.epochs / train_s,
                  "eval_images_per_second": x_test.shape[0] / passes[len(passes) // 2],
                  "infer_latency_us": ts[len(ts) // 2] * 1e6,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
