"""Benchmark: ``scan`` of 2,000 generated model files, cold and cached.

Prints the cold per-file cost (walk + magic + header + identification + cache write), the cached
rescan per-file cost (a stat and a cache lookup) and their ratio (goal: >= 50x), plus the cost
of the bare ``os.stat`` walk as the floor.

    python bench/scan.py [--files 2000] [--tensors 40]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

from modelshelf.inspect import scan
from modelshelf.store import Store


def write_file(path: Path, n_tensors: int, salt: int) -> None:
    """A small but real safetensors file (header + zero data) with distinct sizes per file."""
    header, cursor = {}, 0
    for t in range(n_tensors):
        rows = 8 + (salt + t) % 5
        nbytes = rows * 16 * 2
        header[f"model.layers.{t}.mlp.up_proj.weight"] = {
            "dtype": "F16", "shape": [rows, 16], "data_offsets": [cursor, cursor + nbytes]}
        cursor += nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(cursor) + bytes(salt % 997 * 2))


def generate(root: Path, files: int, tensors: int) -> None:
    for i in range(files):
        folder = root / f"dir{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        write_file(folder / f"model-{i}.safetensors", tensors, i)
        if i % 10 == 0:
            (folder / f"notes-{i}.txt").write_text("not a model\n")


def timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--tensors", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    try:
        root = work / "models"
        generate(root, args.files, args.tensors)
        store = Store(work / "shelf")
        n = args.files + args.files // 10
        walk = timed(lambda: [os.stat(os.path.join(d, f))
                              for d, _, fs in os.walk(root) for f in fs])
        cold = timed(lambda: scan(root, store=store))
        warm = min(timed(lambda: scan(root, store=store)) for _ in range(3))
        nocache = timed(lambda: scan(root))
        result = scan(root, store=store)
        assert result.cached == n, (result.cached, n)
        print(f"{args.files} model files + {args.files // 10} other files, "
              f"{args.tensors} tensors each")
        print(f"os.walk+stat floor : {walk * 1e6 / n:8.1f} us/file")
        print(f"cold scan (cache)  : {cold * 1e6 / n:8.1f} us/file  ({cold:.2f} s)")
        print(f"cold scan (no store): {nocache * 1e6 / n:8.1f} us/file  (parsing, no cache writes)")
        print(f"cached rescan      : {warm * 1e6 / n:8.1f} us/file  ({warm:.3f} s)")
        print(f"rescan speed-up    : {cold / warm:8.1f}x (goal >= 50x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
