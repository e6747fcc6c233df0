#!/usr/bin/env python3
"""Writes the Fashion-MNIST subset that odl ships (crates/odl-data/data/fashion-mnist-subset/).

The subset is the first N_TRAIN training and the first N_TEST test examples of
the official files, as Debian's dataset-fashion-mnist installs them, in the
same IDX format, gzipped at level 9 with no timestamp (so the bytes do not
depend on when this ran). Usage:

    scripts/fashion_subset.py [SOURCE_DIR] [OUT_DIR]
"""
import gzip
import struct
import sys
from pathlib import Path

N_TRAIN, N_TEST = 10_000, 2_000
src = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
out = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parent.parent / "crates/odl-data/data/fashion-mnist-subset")


def head(name: str, n: int) -> None:
    raw = gzip.decompress((src / f"{name}.gz").read_bytes())
    assert raw[:2] == b"\0\0" and raw[2] == 8, f"{name}: not an IDX file of unsigned bytes"
    nd = raw[3]
    dims = list(struct.unpack(f">{nd}I", raw[4 : 4 + 4 * nd]))
    per = 1
    for d in dims[1:]:
        per *= d
    assert dims[0] >= n, f"{name}: {dims[0]} examples, {n} asked"
    body = raw[4 + 4 * nd : 4 + 4 * nd + n * per]
    header = raw[:4] + struct.pack(f">{nd}I", n, *dims[1:])
    (out / f"{name}.gz").write_bytes(gzip.compress(header + body, compresslevel=9, mtime=0))


out.mkdir(parents=True, exist_ok=True)
for stem, n in [("train", N_TRAIN), ("t10k", N_TEST)]:
    head(f"{stem}-images-idx3-ubyte", n)
    head(f"{stem}-labels-idx1-ubyte", n)
print(f"wrote {out}")
