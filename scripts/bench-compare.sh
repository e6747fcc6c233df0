#!/usr/bin/env bash
# Side-by-side benchmark: odl vs PyTorch (eager) vs JAX (jit) on the workloads
# of docs/workloads.md, in one run, on the same starting values.
#
#   scripts/bench-compare.sh [OUT_DIR] [TARGET_SECONDS]
#
# Installs the peers on first use (scripts/setup-peers.sh, ~6 GB), dumps the
# exact inputs with scripts/peers.py --dump, then for each workload runs
# torch, jax and odl one after the other (so drift hits all three alike), and
# prints the markdown table (scripts/bench_table.py) that the README shows.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/bench-out}"
target="${2:-3}"
venv="${PEERS_VENV:-$HOME/.odl-peers}"
peers="$root/scripts/peers.py"
[ -x "$venv/bin/python" ] || bash "$root/scripts/setup-peers.sh"
mkdir -p "$out"
"$venv/bin/python" "$peers" --workload all --dump "$out/init"
cargo build --release -q --manifest-path "$root/Cargo.toml"
odl="$root/target/release/odl"
runs="$out/runs.jsonl"
: > "$runs"
# the GEMM peak at the start as well as at the end: the efficiency table
# takes the better of the two (this machine's speed drifts within a run)
"$odl" bench --workload G1024 --target "$target" >> "$runs"
for w in W1 W2 W3 W4 W4P W5 W6 W7 W8 W9 W10; do
  for fw in torch jax; do
    "$venv/bin/python" "$peers" --framework "$fw" --workload "$w" --inproc --target "$target" >> "$runs" || true
  done
  "$odl" bench --workload "$w" --init "$out/init" --target "$target" >> "$runs"
  # W2's and W3's steps compiled (odl only; the table sets them against W2's and W3's peers)
  if [ "$w" = W2 ] || [ "$w" = W3 ]; then
    "$odl" bench --workload "${w}C" --init "$out/init" --target "$target" >> "$runs"
  fi
done
for fw in torch jax; do
  for g in G1024 G256; do
    "$venv/bin/python" "$peers" --framework "$fw" --workload "$g" --inproc --target "$target" >> "$runs" || true
  done
done
"$odl" bench --workload GEMM --target "$target" >> "$runs"
python3 "$root/scripts/bench_table.py" "$runs" | tee "$out/table.md"
