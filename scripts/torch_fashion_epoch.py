#!/usr/bin/env python3
"""Seconds per epoch of PyTorch (eager, CPU, 2 threads) on the models of
specs/fashion-mnist-mlp.toml and specs/fashion-mnist-cnn.toml, for comparison
with odl's `s_per_epoch` in summary.json. Same data (Debian's
dataset-fashion-mnist), same architecture, Adam 1e-3, batch 128.

    ~/.odl-peers/bin/python scripts/torch_fashion_epoch.py [mlp|cnn|both]
"""
import gzip
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)
DIR = os.environ.get("ODL_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")


def idx(name):
    with gzip.open(os.path.join(DIR, name + ".gz")) as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)


def model(kind):
    nn = torch.nn
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3136, 10))


def epoch_seconds(kind):
    x = idx("train-images-idx3-ubyte").astype(np.float32) / 255.0
    y = idx("train-labels-idx1-ubyte").astype(np.int64)
    x = (x - x.mean()) / x.std()
    x = x.reshape(-1, 784) if kind == "mlp" else x.reshape(-1, 1, 28, 28)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)
    torch.manual_seed(0)
    net = model(kind)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    perm = torch.randperm(len(yt))
    t0 = time.perf_counter()
    for i in range(0, len(yt), 128):
        b = perm[i:i + 128]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt[b]), yt[b])
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "both"
    for kind in (["mlp", "cnn"] if which == "both" else [which]):
        print(json.dumps({"framework": "torch", "model": kind, "s_per_epoch": epoch_seconds(kind),
                          "version": torch.__version__}), flush=True)
