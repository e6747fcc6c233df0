#!/usr/bin/env python3
"""odl's peers: the benchmark workloads of docs/workloads.md in PyTorch (eager)
and JAX (jit) on the CPU, timed the way `odl bench` times odl, one JSON line per
workload, so the three can be put side by side (scripts/bench-compare.sh).

    python scripts/peers.py --framework torch --workload W2          # one workload
    python scripts/peers.py --framework jax --workload all --target 1
    python scripts/peers.py --dump DIR --workload all                 # inputs as DIR/<W>.npz

The inputs come from numpy's default_rng(seed), seed = the workload's number
(100 + n for the GEMMs); `--dump DIR` writes them in the layout `odl bench
--init DIR` reads, so odl can start from the very same numbers.
Install the peers with scripts/setup-peers.sh.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

WORKLOADS = ["W1", "W2", "W3", "W4", "W4P", "W5", "W6", "W7", "W8", "W9", "W10"]
GEMM = ["G1024", "G256"]
NAMES = {"W1": "chain1d", "W2": "mlp", "W3": "deepnarrow", "W4": "hvp", "W4P": "hvp_power20", "W5": "pgd",
         "W6": "cnn", "W7": "wgangp", "W8": "jacspec", "W9": "unrolled", "W10": "consensus", "G1024": "gemm1024", "G256": "gemm256"}
W2_SIZES = [784, 256, 256, 256, 10]
W3_SIZES = [64] * 33 + [10]


# ---------------------------------------------------------------- inputs

def linear(rng, n_in, n_out):
    """PyTorch's default init of a linear layer: weight [out, in], bias [out]."""
    b = 1.0 / math.sqrt(n_in)
    return (rng.uniform(-b, b, (n_out, n_in)).astype(np.float32), rng.uniform(-b, b, n_out).astype(np.float32))


def conv(rng, c_in, c_out):
    b = 1.0 / math.sqrt(9 * c_in)
    return (rng.uniform(-b, b, (c_out, c_in, 3, 3)).astype(np.float32), rng.uniform(-b, b, c_out).astype(np.float32))


def mlp_layers(rng, sizes):
    return [linear(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])]


def normal(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def inputs(wl):
    """The workload's inputs as a flat dict of numpy arrays (the dump's keys)."""
    d = {}

    def layers(prefix, ls):
        for i, (w, b) in enumerate(ls):
            d[f"{prefix}.{i}.0"], d[f"{prefix}.{i}.1"] = w, b

    if wl == "W1":
        rng = np.random.default_rng(1)
        d["w"] = 1.0 + 0.01 * rng.standard_normal(50)
        d["x"], d["y"] = np.array(1.0), np.array(2.0)
    elif wl in ("W2", "W4", "W4P"):
        rng = np.random.default_rng(2)
        ls = mlp_layers(rng, W2_SIZES)
        layers("params", ls)
        d["x"], d["y"] = normal(rng, (128, 784)), rng.integers(0, 10, 128)
        if wl != "W2":
            r4 = np.random.default_rng(4)
            for i, (w, b) in enumerate(ls):
                d[f"v.{i}.0"], d[f"v.{i}.1"] = normal(r4, w.shape), normal(r4, b.shape)
    elif wl == "W3":
        rng = np.random.default_rng(3)
        layers("params", mlp_layers(rng, W3_SIZES))
        d["x"], d["y"] = normal(rng, (64, 64)), rng.integers(0, 10, 64)
    elif wl == "W5":
        layers("params", mlp_layers(np.random.default_rng(2), W2_SIZES))
        r5 = np.random.default_rng(5)
        d["x"], d["y"] = r5.uniform(0, 1, (256, 784)).astype(np.float32), r5.integers(0, 10, 256)
    elif wl == "W6":
        rng = np.random.default_rng(6)
        layers("params", [conv(rng, 1, 32), conv(rng, 32, 64), linear(rng, 3136, 10)])
        d["x"], d["y"] = normal(rng, (64, 1, 28, 28)), rng.integers(0, 10, 64)
    elif wl == "W7":
        rng = np.random.default_rng(7)
        layers("G", mlp_layers(rng, [2, 128, 128, 2]))
        layers("D", mlp_layers(rng, [2, 128, 128, 1]))
        k = rng.integers(0, 8, 256)
        centres = np.stack([2 * np.cos(2 * np.pi * k / 8), 2 * np.sin(2 * np.pi * k / 8)], 1)
        d["x_real"] = (centres + 0.02 * rng.standard_normal((256, 2))).astype(np.float32)
        d["z"], d["eps"] = normal(rng, (256, 2)), rng.uniform(0, 1, (256, 1)).astype(np.float32)
    elif wl in ("W9", "W10"):
        rng = np.random.default_rng(int(wl[1:]))
        layers("G", mlp_layers(rng, [2, 128, 128, 2]))
        layers("D", mlp_layers(rng, [2, 128, 128, 1]))
        k = rng.integers(0, 8, 256)
        centres = np.stack([2 * np.cos(2 * np.pi * k / 8), 2 * np.sin(2 * np.pi * k / 8)], 1)
        d["x_real"] = (centres + 0.02 * rng.standard_normal((256, 2))).astype(np.float32)
        d["z"] = normal(rng, (256, 2))
    elif wl == "W8":
        rng = np.random.default_rng(8)
        for l in range(32):
            d[f"Ws.{l}"] = (rng.standard_normal((256, 256)) / 16.0).astype(np.float32)
        d["x"] = normal(rng, 256)
    elif wl in GEMM:
        n = int(wl[1:])
        rng = np.random.default_rng(100 + n)
        d["a"], d["b"] = normal(rng, (n, n)), normal(rng, (n, n))
    else:
        raise SystemExit(f"unknown workload {wl}")
    return d


def params(d, prefix="params"):
    """[(weight, bias), …] from the flat dict."""
    out, i = [], 0
    while f"{prefix}.{i}.0" in d:
        out.append((d[f"{prefix}.{i}.0"], d[f"{prefix}.{i}.1"]))
        i += 1
    return out


# ---------------------------------------------------------------- PyTorch

def torch_step(wl, d):
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy

    def mlp(ps, x, act):
        for i, (w, b) in enumerate(ps):
            x = F.linear(x, w, b)
            if i + 1 < len(ps):
                x = act(x)
        return x

    def leaf(ps):
        return [(t(w).clone().requires_grad_(), t(b).clone().requires_grad_()) for w, b in ps]

    if wl == "W1":
        ws = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for v in d["w"]]
        x, y = torch.tensor(1.0, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64)
        opt = torch.optim.SGD(ws, lr=1e-3)

        def step():
            opt.zero_grad()
            h = x
            for w in ws:
                h = w * h
            loss = 0.5 * (h - y) ** 2
            loss.backward()
            opt.step()
            return loss.item()
        return step
    if wl in ("W2", "W3"):
        ps = leaf(params(d))
        flat = [p for wb in ps for p in wb]
        act = torch.relu if wl == "W2" else torch.tanh
        opt = torch.optim.SGD(flat, lr=0.01, momentum=0.9 if wl == "W2" else 0.0)
        x, y = t(d["x"]), t(d["y"]).long()

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(mlp(ps, x, act), y)
            loss.backward()
            opt.step()
            return loss.item()
        return step
    if wl in ("W4", "W4P"):
        ps = leaf(params(d))
        flat = [p for wb in ps for p in wb]
        v = [t(d[f"v.{i}.{j}"]) for i in range(len(ps)) for j in (0, 1)]
        x, y = t(d["x"]), t(d["y"]).long()

        def grad_graph():
            loss = F.cross_entropy(mlp(ps, x, torch.relu), y)
            return torch.autograd.grad(loss, flat, create_graph=True)

        def dot(a, b):
            return sum((p * q).sum() for p, q in zip(a, b))

        if wl == "W4":
            def step():
                hv = torch.autograd.grad(grad_graph(), flat, grad_outputs=v)
                return dot(v, hv).item()
            return step

        def step():
            g = grad_graph()
            norm = torch.sqrt(dot(v, v))
            u = [a / norm for a in v]
            lam = None
            for _ in range(20):
                w = torch.autograd.grad(g, flat, grad_outputs=u, retain_graph=True)
                lam = dot(u, w)
                n = torch.sqrt(dot(w, w))
                u = [a / n for a in w]
            return lam.item()
        return step
    if wl == "W5":
        ps = [(t(w), t(b)) for w, b in params(d)]
        x0, y = t(d["x"]), t(d["y"]).long()

        def step():
            x = x0.clone()
            for _ in range(20):
                x.requires_grad_(True)
                g, = torch.autograd.grad(F.cross_entropy(mlp(ps, x, torch.relu), y), x)
                with torch.no_grad():
                    x = torch.clamp(torch.minimum(torch.maximum(x + 0.01 * torch.sign(g), x0 - 0.1), x0 + 0.1), 0, 1)
            return (x - x0).abs().mean().item()
        return step
    if wl == "W6":
        (c1w, c1b), (c2w, c2b), (fw, fb) = leaf(params(d))
        opt = torch.optim.SGD([c1w, c1b, c2w, c2b, fw, fb], lr=0.01)
        x, y = t(d["x"]), t(d["y"]).long()

        def step():
            opt.zero_grad()
            h = F.max_pool2d(torch.relu(F.conv2d(x, c1w, c1b, padding=1)), 2)
            h = F.max_pool2d(torch.relu(F.conv2d(h, c2w, c2b, padding=1)), 2)
            loss = F.cross_entropy(F.linear(h.flatten(1), fw, fb), y)
            loss.backward()
            opt.step()
            return loss.item()
        return step
    if wl == "W7":
        gp = [(t(w), t(b)) for w, b in params(d, "G")]
        dp = leaf(params(d, "D"))
        opt = torch.optim.Adam([p for wb in dp for p in wb], lr=1e-4, betas=(0.5, 0.9), eps=1e-8)
        xr, z, eps = t(d["x_real"]), t(d["z"]), t(d["eps"])

        def step():
            opt.zero_grad()
            with torch.no_grad():
                xf = mlp(gp, z, torch.relu)
            xh = (eps * xr + (1 - eps) * xf).requires_grad_(True)
            g, = torch.autograd.grad(mlp(dp, xh, torch.relu).sum(), xh, create_graph=True)
            gpen = ((g.norm(dim=1) - 1) ** 2).mean()
            loss = mlp(dp, xf, torch.relu).mean() - mlp(dp, xr, torch.relu).mean() + 10 * gpen
            loss.backward()
            opt.step()
            return loss.item()
        return step
    if wl in ("W9", "W10"):
        gp = [p for wb in leaf(params(d, "G")) for p in wb]
        dp = [p for wb in leaf(params(d, "D")) for p in wb]
        xr, z = t(d["x_real"]), t(d["z"])

        def net(ps, x):
            return mlp(list(zip(ps[0::2], ps[1::2])), x, torch.relu)

        def d_loss(dd, xf):
            return F.softplus(-net(dd, xr)).mean() + F.softplus(net(dd, xf)).mean()

        def g_loss(dd, xf):
            return F.softplus(-net(dd, xf)).mean()

        if wl == "W9":
            opt = torch.optim.Adam(gp, lr=1e-4, betas=(0.5, 0.999), eps=1e-8)

            def step():
                opt.zero_grad()
                xf = net(gp, z)
                dd = dp
                for _ in range(5):
                    gs = torch.autograd.grad(d_loss(dd, xf), dd, create_graph=True)
                    dd = [p - 0.01 * g for p, g in zip(dd, gs)]
                lg = g_loss(dd, xf)
                for p, g in zip(gp, torch.autograd.grad(lg, gp)):
                    p.grad = g
                opt.step()
                return lg.item()
            return step
        opt = torch.optim.SGD(gp + dp, lr=1e-4)

        def step():
            opt.zero_grad()
            xf = net(gp, z)
            xi = list(torch.autograd.grad(g_loss(dp, xf), gp, create_graph=True))
            xi += list(torch.autograd.grad(d_loss(dp, xf), dp, create_graph=True))
            h = 0.5 * sum((x * x).sum() for x in xi)
            jt = torch.autograd.grad(h, gp + dp)
            for p, x, j in zip(gp + dp, xi, jt):
                p.grad = x.detach() + 0.1 * j
            opt.step()
            return h.item()
        return step
    if wl == "W8":
        ws = [t(d[f"Ws.{l}"]) for l in range(32)]
        x = t(d["x"])

        def f(h):
            for w in ws:
                h = torch.tanh(w @ h)
            return h

        def step():
            return torch.linalg.svdvals(torch.func.jacrev(f)(x))[0].item()
        return step
    a, b = t(d["a"]), t(d["b"])
    c = torch.empty_like(a)

    def step():
        torch.mm(a, b, out=c)
        return float(c[0, 0])
    return step


# ---------------------------------------------------------------- JAX

def jax_step(wl, d):
    import jax
    import jax.numpy as jnp

    if wl == "W1":
        jax.config.update("jax_enable_x64", True)

    def mlp(ps, x, act):
        for i, (w, b) in enumerate(ps):
            x = x @ w.T + b
            if i + 1 < len(ps):
                x = act(x)
        return x

    def xent(z, y):
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.take_along_axis(z, y[:, None], 1)[:, 0])

    def tree(ps):
        return [(jnp.asarray(w), jnp.asarray(b)) for w, b in ps]

    def adam_steps(loss, p0, b1, b2, lr=1e-4, eps=1e-8):
        """A timed step of Adam (bias-corrected, jit-compiled) on `loss` from p0."""
        zeros = jax.tree_util.tree_map(jnp.zeros_like, p0)
        state = {"p": p0, "m": zeros, "s": zeros, "t": 0}

        @jax.jit
        def upd(p, m, s, t):
            l, g = jax.value_and_grad(loss)(p)
            m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
            s = jax.tree_util.tree_map(lambda s, g: b2 * s + (1 - b2) * g * g, s, g)
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            p = jax.tree_util.tree_map(lambda p, m, s: p - lr * (m / c1) / (jnp.sqrt(s / c2) + eps), p, m, s)
            return p, m, s, l

        def step():
            state["t"] += 1
            state["p"], state["m"], state["s"], l = upd(state["p"], state["m"], state["s"], state["t"])
            return float(l.block_until_ready())
        return step

    def dot(a, b):
        return sum(jnp.vdot(p, q) for p, q in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))

    if wl == "W1":
        state = {"w": jnp.asarray(d["w"], dtype=jnp.float64)}

        def loss(w):
            h = jnp.float64(1.0)
            for i in range(50):
                h = w[i] * h
            return 0.5 * (h - 2.0) ** 2

        @jax.jit
        def upd(w):
            l, g = jax.value_and_grad(loss)(w)
            return w - 1e-3 * g, l

        def step():
            state["w"], l = upd(state["w"])
            return float(l.block_until_ready())
        return step
    if wl in ("W2", "W3"):
        act = jax.nn.relu if wl == "W2" else jnp.tanh
        mu = 0.9 if wl == "W2" else 0.0
        ps = tree(params(d))
        state = {"p": ps, "v": jax.tree_util.tree_map(jnp.zeros_like, ps)}
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])

        @jax.jit
        def upd(p, v):
            l, g = jax.value_and_grad(lambda p: xent(mlp(p, x, act), y))(p)
            v = jax.tree_util.tree_map(lambda v, g: mu * v + g, v, g)
            return jax.tree_util.tree_map(lambda p, v: p - 0.01 * v, p, v), v, l

        def step():
            state["p"], state["v"], l = upd(state["p"], state["v"])
            return float(l.block_until_ready())
        return step
    if wl in ("W4", "W4P"):
        ps = tree(params(d))
        v = [(jnp.asarray(d[f"v.{i}.0"]), jnp.asarray(d[f"v.{i}.1"])) for i in range(len(ps))]
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
        g = jax.grad(lambda p: xent(mlp(p, x, jax.nn.relu), y))

        if wl == "W4":
            @jax.jit
            def f(p, v):
                return dot(v, jax.jvp(g, (p,), (v,))[1])
        else:
            @jax.jit
            def f(p, v):
                _, hvp = jax.linearize(g, p)
                u = jax.tree_util.tree_map(lambda a: a / jnp.sqrt(dot(v, v)), v)

                def body(_, carry):
                    u, _ = carry
                    w = hvp(u)
                    lam = dot(u, w)
                    return jax.tree_util.tree_map(lambda a: a / jnp.sqrt(dot(w, w)), w), lam
                return jax.lax.fori_loop(0, 20, body, (u, jnp.float32(0)))[1]

        def step():
            return float(f(ps, v).block_until_ready())
        return step
    if wl == "W5":
        ps = tree(params(d))
        x0, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
        gx = jax.grad(lambda x: xent(mlp(ps, x, jax.nn.relu), y))

        @jax.jit
        def attack(x0):
            def body(_, x):
                x = x + 0.01 * jnp.sign(gx(x))
                return jnp.clip(jnp.minimum(jnp.maximum(x, x0 - 0.1), x0 + 0.1), 0, 1)
            x = jax.lax.fori_loop(0, 20, body, x0)
            return jnp.mean(jnp.abs(x - x0))

        def step():
            return float(attack(x0).block_until_ready())
        return step
    if wl == "W6":
        state = {"p": tree(params(d))}
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])

        def block(h, w, b):
            h = jax.lax.conv_general_dilated(h, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
            h = jax.nn.relu(h + b[None, :, None, None])
            return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

        def loss(p):
            h = block(block(x, *p[0]), *p[1])
            return xent(h.reshape(h.shape[0], -1) @ p[2][0].T + p[2][1], y)

        @jax.jit
        def upd(p):
            l, g = jax.value_and_grad(loss)(p)
            return jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, p, g), l

        def step():
            state["p"], l = upd(state["p"])
            return float(l.block_until_ready())
        return step
    if wl == "W7":
        gp = tree(params(d, "G"))
        dp = tree(params(d, "D"))
        xr, z, eps = jnp.asarray(d["x_real"]), jnp.asarray(d["z"]), jnp.asarray(d["eps"])

        def critic_loss(p):
            xf = jax.lax.stop_gradient(mlp(gp, z, jax.nn.relu))
            xh = eps * xr + (1 - eps) * xf
            g = jax.grad(lambda xh: jnp.sum(mlp(p, xh, jax.nn.relu)))(xh)
            gpen = jnp.mean((jnp.sqrt(jnp.sum(g * g, axis=1)) - 1) ** 2)
            return jnp.mean(mlp(p, xf, jax.nn.relu)) - jnp.mean(mlp(p, xr, jax.nn.relu)) + 10 * gpen

        return adam_steps(critic_loss, dp, 0.5, 0.9)
    if wl in ("W9", "W10"):
        gp, dp = tree(params(d, "G")), tree(params(d, "D"))
        xr, z = jnp.asarray(d["x_real"]), jnp.asarray(d["z"])

        def d_loss(dd, xf):
            return jnp.mean(jax.nn.softplus(-mlp(dd, xr, jax.nn.relu))) + jnp.mean(jax.nn.softplus(mlp(dd, xf, jax.nn.relu)))

        def g_loss(dd, xf):
            return jnp.mean(jax.nn.softplus(-mlp(dd, xf, jax.nn.relu)))

        if wl == "W9":
            def unrolled(g):
                xf = mlp(g, z, jax.nn.relu)
                dd = dp
                for _ in range(5):
                    gd = jax.grad(d_loss)(dd, xf)
                    dd = jax.tree_util.tree_map(lambda p, q: p - 0.01 * q, dd, gd)
                return g_loss(dd, xf)

            return adam_steps(unrolled, gp, 0.5, 0.999)
        state = {"p": (gp, dp)}

        def field(p):
            g, dd = p
            xf = mlp(g, z, jax.nn.relu)
            return (jax.grad(lambda g: g_loss(dd, mlp(g, z, jax.nn.relu)))(g), jax.grad(lambda dd: d_loss(dd, xf))(dd))

        def ham(p):
            xi = field(p)
            return 0.5 * sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(xi)), xi

        @jax.jit
        def upd(p):
            (h, xi), jt = jax.value_and_grad(ham, has_aux=True)(p)
            return jax.tree_util.tree_map(lambda p, x, j: p - 1e-4 * (x + 0.1 * j), p, xi, jt), h

        def step():
            state["p"], h = upd(state["p"])
            return float(h.block_until_ready())
        return step
    if wl == "W8":
        ws = jnp.stack([jnp.asarray(d[f"Ws.{l}"]) for l in range(32)])
        x = jnp.asarray(d["x"])

        def f(h):
            for l in range(32):
                h = jnp.tanh(ws[l] @ h)
            return h

        @jax.jit
        def spec(x):
            return jnp.linalg.svd(jax.jacrev(f)(x), compute_uv=False)[0]

        def step():
            return float(spec(x).block_until_ready())
        return step
    a, b = jnp.asarray(d["a"]), jnp.asarray(d["b"])
    mm = jax.jit(jnp.matmul)

    def step():
        return float(mm(a, b).block_until_ready()[0, 0])
    return step


# ---------------------------------------------------------------- timing

def measure(step, repeat, target):
    """One call, warm-up (≥ 3 iterations and ≥ 0.5 s), then timed iterations."""
    t0 = time.perf_counter()
    check = step()
    first = time.perf_counter() - t0
    warm = []
    tw = time.perf_counter()
    while len(warm) < 3 or time.perf_counter() - tw < 0.5:
        t = time.perf_counter()
        step()
        warm.append(time.perf_counter() - t)
    if repeat is None:
        est = max(float(np.median(warm[-20:])), 1e-9)
        repeat = min(max(math.ceil(target / est), 10), 200_000)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t)
    return check, first, len(warm) + 1, ts


def run(framework, wl, repeat, target, threads):
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        version = torch.__version__
        step = torch_step(wl, inputs(wl))
    else:
        import jax
        version = jax.__version__
        step = jax_step(wl, inputs(wl))
    check, first, warm, ts = measure(step, repeat, target)
    rec = {"framework": framework, "workload": wl, "device": "cpu", "median_s": float(np.median(ts)),
           "min_s": min(ts), "max_s": max(ts), "iters": len(ts), "threads": threads, "name": NAMES[wl],
           "warmup_iters": warm, "first_call_s": first, "check": check, "version": version}
    if wl in GEMM:
        n = int(wl[1:])
        rec["gflops_median"] = 2 * n ** 3 / rec["median_s"] / 1e9
        rec["gflops_best"] = 2 * n ** 3 / rec["min_s"] / 1e9
    print(json.dumps(rec), flush=True)


def expand(spec):
    out = []
    for w in spec.split(","):
        w = w.strip().upper()
        if w == "ALL":
            out += WORKLOADS
        elif w == "GEMM":
            out += GEMM
        elif w in WORKLOADS or w in GEMM:
            out.append(w)
        elif w:
            raise SystemExit(f"unknown workload {w!r} (choose from {', '.join(WORKLOADS + GEMM)}, all, GEMM)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framework", choices=["torch", "jax"])
    ap.add_argument("--workload", default="all", help="W1,…,W8,W4P,G1024,G256, all or GEMM")
    ap.add_argument("--repeat", type=int, help="timed iterations (default: about --target seconds)")
    ap.add_argument("--target", type=float, default=3.0, help="seconds of timed iterations")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PEERS_THREADS", "2")))
    ap.add_argument("--dump", metavar="DIR", help="write each workload's inputs to DIR/<W>.npz and exit")
    ap.add_argument("--inproc", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    wls = expand(a.workload)
    if a.dump:
        os.makedirs(a.dump, exist_ok=True)
        for wl in wls:
            np.savez(os.path.join(a.dump, f"{wl}.npz"), **inputs(wl))
        print(f"wrote {len(wls)} files to {a.dump}", file=sys.stderr)
        return
    if not a.framework:
        ap.error("--framework torch|jax is required (or --dump DIR)")
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[v] = str(a.threads)
    if hasattr(os, "sched_setaffinity"):
        # JAX sizes its thread pool from the CPUs this process may use
        cpus = sorted(os.sched_getaffinity(0))[: a.threads]
        os.sched_setaffinity(0, cpus)
    if a.inproc or len(wls) == 1:
        for wl in wls:
            run(a.framework, wl, a.repeat, a.target, a.threads)
        return
    # one process per workload: no allocator or compilation-cache state carried over
    for wl in wls:
        cmd = [sys.executable, __file__, "--inproc", "--framework", a.framework, "--workload", wl,
               "--target", str(a.target), "--threads", str(a.threads)]
        if a.repeat:
            cmd += ["--repeat", str(a.repeat)]
        if subprocess.run(cmd).returncode != 0:
            print(json.dumps({"framework": a.framework, "workload": wl, "device": "cpu", "error": "failed"}), flush=True)


if __name__ == "__main__":
    main()
