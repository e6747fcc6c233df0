#!/usr/bin/env bash
# Installs the peers odl is measured against (PyTorch eager, JAX jit) into a
# virtualenv, ~/.odl-peers by default (PEERS_VENV to change it): ~6 GB, about
# a minute. Then: $PEERS_VENV/bin/python scripts/peers.py --help
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${PEERS_VENV:-$HOME/.odl-peers}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -r "$here/requirements-peers.txt"
"$venv/bin/python" -c 'import torch, jax; print("torch", torch.__version__, "| jax", jax.__version__)'
