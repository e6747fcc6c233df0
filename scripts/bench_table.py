#!/usr/bin/env python3
"""Reads JSON lines from peers.py and `odl bench` and prints a markdown table:
median time per framework, odl's ratio to the best peer, and whether the
`check` values agree (relative difference to torch's)."""
import json
import sys

ORDER = ["W1", "W2", "W2C", "W3", "W3C", "W4", "W4P", "W5", "W6", "W7", "W8", "W9", "W10", "G1024", "G256"]
# odl-only variants measured against another workload's peers (W2C, W3C:
# W2's and W3's steps compiled, the same computations)
PEERS_OF = {"W2C": "W2", "W3C": "W3"}
rows = {}
odl_gemm_rates = []  # every odl G1024 median rate in the input
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "median_s" in r:
                rows.setdefault(r["workload"], {})[r["framework"]] = r
                if r["framework"] == "odl" and r["workload"] == "G1024" and "gflops_median" in r:
                    odl_gemm_rates.append(r["gflops_median"])


def fmt(s):
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    return f"{s * 1e3:.3f} ms"


print("| workload | odl | PyTorch | JAX | best peer / odl | check odl vs torch (rel.) |")
print("|---|---|---|---|---|---|")
for w in ORDER:
    r = rows.get(w)
    if not r or "odl" not in r:
        continue
    odl = r["odl"]["median_s"]
    if w in PEERS_OF:
        r = {**rows.get(PEERS_OF[w], {}), "odl": r["odl"]}
    peers = [r[k]["median_s"] for k in ("torch", "jax", "numpy") if k in r]
    best = min(peers) if peers else None
    speed = f"{best / odl:.2f}×" if best else "–"
    chk = "–"
    if "torch" in r and r["torch"].get("check") is not None and not w.startswith("G"):
        a, b = r["odl"]["check"], r["torch"]["check"]
        chk = f"{abs(a - b) / max(abs(b), 1e-300):.1e}"
    torch = r.get("torch", {}).get("median_s")
    jax = r.get("jax", r.get("numpy", {})).get("median_s")
    name = w + (f" ({r['odl']['gflops_median']:.0f} GFLOP/s)" if "gflops_median" in r["odl"] else "")
    print(f"| {name} | {fmt(odl)} | {fmt(torch)} | {fmt(jax)} | {speed} | {chk} |")

# how close the GEMM-bound workloads come to the machine's GEMM peak: odl's
# own G1024 rate in the same run (the best of its measurements) is the peak;
# `time / (work / peak)` is how many times longer a step took than its
# matrix products alone would at peak
peak = max(odl_gemm_rates, default=None)
if peak:
    print()
    print(f"GEMM peak (odl G1024, best of {len(odl_gemm_rates)} in this run): {peak:.0f} GFLOP/s")
    print()
    print("| workload | GEMM work per step | achieved | of peak | time / peak time |")
    print("|---|---|---|---|---|")
    for w in ORDER:
        o = rows.get(w, {}).get("odl", {})
        if w.startswith("G") or "gemm_flops" not in o:
            continue
        rate = o["gflops_median"]
        print(f"| {w} | {o['gemm_flops'] / 1e6:.1f} MFLOP | {rate:.0f} GFLOP/s | {100 * rate / peak:.0f} % | "
              f"{peak / rate:.2f}× |")
