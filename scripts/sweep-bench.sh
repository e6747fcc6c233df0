#!/usr/bin/env bash
# The sweep machinery's own costs (numbers for the docs, not a test):
#  1. driver overhead per point: 1000 trivial points (two-moons, one epoch)
#     on the local backend, wall time per point against the points' own time;
#  2. the report for 10 000 finished runs (made up, 100 groups × 100 seeds);
#  3. with a Slurm cluster up (scripts/slurm-local.sh up): the round trip of a
#     20-task array of trivial points.
# Usage: scripts/sweep-bench.sh [N_POINTS] (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
odl="${ODL:-target/release/odl}"
[ -x "$odl" ] || cargo build --release -q
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat > "$work/trivial.toml" <<SPEC
seed = 0
[data]
name = "two-moons"
[model]
kind = "mlp"
hidden = [8]
activation = "tanh"
[optim]
name = "sgd"
lr = 0.1
[train]
epochs = 1
batch_size = 64
eval_every = 1000
SPEC
cat > "$work/local.toml" <<SWEEP
spec = "trivial.toml"
[random]
samples = $n
seed = 0
ranges = { "optim.lr" = { low = 0.001, high = 1.0, log = true } }
SWEEP
echo "== 1. $n trivial points, local backend, --jobs 2"
t0=$(date +%s.%N)
"$odl" sweep "$work/local.toml" --out "$work/local" --jobs 2 >/dev/null 2>&1 || true
t1=$(date +%s.%N)
python3 - "$work/local/results.csv" "$t0" "$t1" "$n" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
wall = float(sys.argv[3]) - float(sys.argv[2]); n = int(sys.argv[4])
own = sum(float(r["wall_s"]) for r in rows) / len(rows)
n = len(rows)
print(f"{n} points in {wall:.1f} s: {wall / n * 1000:.1f} ms of wall time per point with 2 at a time "
      f"({2 * wall / n * 1000:.1f} ms per worker slot); the point's own work {own * 1000:.1f} ms; "
      f"overhead (process start, plan lookup, atomic write) ≈ {(2 * wall / n - own) * 1000:.1f} ms per point")
PY
echo "== 2. the report of 10 000 finished runs"
python3 - "$work/big" <<'PY'
import json, os, sys, random
d = sys.argv[1]; os.makedirs(f"{d}/points"); os.makedirs(f"{d}/logs")
random.seed(0)
points = []
for g in range(100):
    for s in range(100):
        pid = f"{g:08x}{s:08x}"
        sets = {"optim.lr": str(round(10 ** (-3 + 3 * g / 99), 6))}
        points.append({"id": pid, "target": {"kind": "experiment", "id": "shamir-depth", "scale": "tiny"}, "sets": sets, "seed": s})
        os.makedirs(f"{d}/points/{pid}")
        r = {"id": pid, "ok": True, "target": "shamir-depth (tiny)", "sets": sets, "seed": s,
             "metrics": {f"m{k}": random.gauss(g * 0.01 * (k + 1), 1.0) for k in range(10)},
             "claims": [{"id": f"c{k}", "statement": "a claim", "holds": random.random() < 0.9} for k in range(3)],
             "wall_s": 0.1, "code_version": "bench"}
        json.dump(r, open(f"{d}/points/{pid}/result.json", "w"))
json.dump({"name": "sweep of shamir-depth (tiny)", "axes": ["optim.lr"], "points": points}, open(f"{d}/sweep.json", "w"))
PY
t0=$(date +%s.%N)
"$odl" sweep report "$work/big" >/dev/null
t1=$(date +%s.%N)
echo "report of 10 000 runs (100 groups × 100 seeds, 10 metrics, 3 claims): $(python3 -c "print(f'{$t1 - $t0:.2f}')") s; page $(du -h "$work/big/index.html" | cut -f1), results.csv $(du -h "$work/big/results.csv" | cut -f1)"
if sinfo -h >/dev/null 2>&1; then
  echo "== 3. Slurm round trip: 20 trivial points as one array"
  cat > "$work/slurm.toml" <<SWEEP
spec = "trivial.toml"
seeds = "0..20"
SWEEP
  t0=$(date +%s.%N)
  ODL_SLURM_POLL_MS=200 "$odl" sweep "$work/slurm.toml" --out "$work/slurm" --backend slurm >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "20 tasks submitted, run and tracked to the end, report written: $(python3 -c "print(f'{$t1 - $t0:.1f}')") s"
else
  echo "== 3. skipped: no Slurm cluster (scripts/slurm-local.sh up)"
fi
