#!/usr/bin/env bash
# The fault-injection and fuzzing tests at many more points than CI runs:
# kills of `odl train` (ODL_FAULT_POINTS) and mutated npy/npz/IDX files
# (ODL_FUZZ_ROUNDS). Usage: scripts/fault-soak.sh [KILL_POINTS] [FUZZ_ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export ODL_FAULT_POINTS="${1:-200}" ODL_FUZZ_ROUNDS="${2:-100000}"
cargo test --release -p odl --test faults
cargo test --release -p odl-tensor --test npy mutated
cargo test --release -p odl-data --test data mutated
