#!/usr/bin/env python3
"""odl attack --attack pgd against the same attack in PyTorch, side by side.

Loads a run folder's model (an MLP or CNN from specs/fashion-mnist-*.toml:
its checkpoint.npz holds the same tensors PyTorch's nn.Sequential names),
attacks the first N Fashion-MNIST test images with ℓ∞ PGD (random start,
STEPS steps of 2.5ε/STEPS, pixels kept in [0, 1], ε in pixel units, batches
of 250, 2 threads) in PyTorch, runs `odl attack` on the same run, and prints
both times, their ratio and both accuracies (same clean accuracy = same
model; the robust accuracies differ only by the random starts).

PyTorch runs twice: the plain loop (every example takes every step; the
verdict is the last iterate's, as torchattacks does) and the loop odl runs
(an example is broken at its first misclassified iterate and leaves the
batch then) — `speedup_early_exit` compares the same algorithm.

    ~/.odl-peers/bin/python scripts/pgd_compare.py RUN [--odl target/release/odl]
        [--eps 0.1] [--steps 20] [--examples 1000] [--repeats 3]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib

os.environ.setdefault("OMP_NUM_THREADS", "2")
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fashion_epoch import idx  # noqa: E402  (the IDX reader, threads set to 2 there)

CHUNK = 250


def build(spec):
    nn = torch.nn
    m = spec["model"]
    if m["kind"] == "mlp":
        widths = [784] + m.get("hidden", []) + [10]
        layers = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers), (784,)
    layers, c, side = [], 1, 28
    for ch in m["channels"]:
        layers += [nn.Conv2d(c, ch, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c, side = ch, side // 2
    layers += [nn.Flatten(), nn.Linear(c * side * side, 10)]
    return nn.Sequential(*layers), (1, 28, 28)


def pgd(model, x, y, eps, steps, mean, std, gen):
    alpha = 2.5 * eps / steps
    xa = (x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model((xa - mean) / std), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, xa)
        xa = torch.min(torch.max(xa.detach() + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
    with torch.no_grad():
        return (model((xa - mean) / std).argmax(1) == y).sum().item()


def pgd_early_exit(model, x, y, eps, steps, mean, std, gen):
    """PGD as odl runs it: an example is broken at its first misclassified
    iterate and leaves the batch then; the others take every step."""
    alpha = 2.5 * eps / steps
    xa = (x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
    live = torch.arange(len(y))
    for k in range(steps + 1):
        xl = xa[live].requires_grad_(k < steps)
        with torch.set_grad_enabled(k < steps):
            z = model((xl - mean) / std)
            hit = z.argmax(1) != y[live]
            if k == steps:
                live = live[~hit]
                break
            (g,) = torch.autograd.grad(torch.nn.functional.cross_entropy(z, y[live], reduction="sum"), xl)
        keep = ~hit
        live, g, xl = live[keep], g[keep], xl.detach()[keep]
        x0 = x[live]
        xa[live] = torch.min(torch.max(xl + alpha * g.sign(), x0 - eps), x0 + eps).clamp(0, 1)
    return len(live)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--odl", default="target/release/odl")
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--examples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with open(os.path.join(a.run, "spec.toml"), "rb") as f:
        spec = tomllib.load(f)
    model, shape = build(spec)
    ck = np.load(os.path.join(a.run, "checkpoint.npz"))
    model.load_state_dict({k[len("param."):]: torch.from_numpy(ck[k].astype(np.float32))
                           for k in ck.files if k.startswith("param.")})
    model.eval()
    train = idx("train-images-idx3-ubyte").astype(np.float32) / 255.0
    mean, std = float(train.mean(dtype=np.float64)), float(train.std(dtype=np.float64))
    x = torch.from_numpy(idx("t10k-images-idx3-ubyte")[: a.examples].astype(np.float32) / 255.0)
    x = x.reshape((a.examples,) + shape)
    y = torch.from_numpy(idx("t10k-labels-idx1-ubyte")[: a.examples].astype(np.int64))
    with torch.no_grad():
        clean = (model((x - mean) / std).argmax(1) == y).float().mean().item()
    best, robust = float("inf"), None
    for r in range(a.repeats):
        gen = torch.Generator().manual_seed(r)
        t = time.perf_counter()
        correct = sum(pgd(model, x[i:i + CHUNK], y[i:i + CHUNK], a.eps, a.steps, mean, std, gen)
                      for i in range(0, a.examples, CHUNK))
        best = min(best, time.perf_counter() - t)
        robust = correct / a.examples
    best_early, robust_early = float("inf"), None
    for r in range(a.repeats):
        gen = torch.Generator().manual_seed(r)
        t = time.perf_counter()
        correct = sum(pgd_early_exit(model, x[i:i + CHUNK], y[i:i + CHUNK], a.eps, a.steps, mean, std, gen)
                      for i in range(0, a.examples, CHUNK))
        best_early = min(best_early, time.perf_counter() - t)
        robust_early = correct / a.examples
    odl_s, odl = float("inf"), None
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            out = os.path.join(tmp, f"a{r}")
            subprocess.run([a.odl, "attack", a.run, "--attack", "pgd", "--eps", str(a.eps), "--steps", str(a.steps),
                            "--examples", str(a.examples), "--curve-points", "1", "--seed", str(r), "--out", out],
                           check=True, capture_output=True)
            with open(os.path.join(out, "attack.json")) as f:
                odl = json.load(f)
            odl_s = min(odl_s, odl["attack_s"])
    print(json.dumps({
        "run": a.run, "model": spec["model"]["kind"], "eps": a.eps, "steps": a.steps, "examples": a.examples,
        "torch_s": best, "torch_early_exit_s": best_early, "odl_s": odl_s,
        "speedup": best / odl_s, "speedup_early_exit": best_early / odl_s,
        "clean_torch": clean, "clean_odl": odl["clean_accuracy"],
        "robust_torch": robust, "robust_torch_early_exit": robust_early, "robust_odl": odl["robust_accuracy"],
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
