"""Benchmark: ``scan`` of 2,000 generated model files, cold and cached.

Prints, per file: the parsing a cold scan does (magic, header, validation, identification:
``read_facts``; goal <= 100 us), the whole cold scan with its cache writes, the cached rescan
(a stat and a cache lookup; goal >= 50x faster than cold), and the floor under any rescan that
notices a file changed in place: ``os.scandir`` plus one ``DirEntry.stat`` per file, nothing
else. ``ceiling`` is the speed-up a rescan costing only that floor would show.

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

from modelshelf.inspection import scan
from modelshelf.inspection.scanner import read_facts
from modelshelf.store import Store


def write_file(path: Path, n_tensors: int, salt: int) -> None:
    """A small but real safetensors file (header + zero data); trailing padding gives every file
    its own size, as in a real folder, where equal sizes are rare and only those are hashed."""
    header, cursor = {}, 0
    for t in range(n_tensors):
        rows = 8 + (salt + t) % 5
        nbytes = rows * 16 * 2
        header[f"model.layers.{t}.mlp.up_proj.weight"] = {
            "dtype": "F16", "shape": [rows, 16], "data_offsets": [cursor, cursor + nbytes]}
        cursor += nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(cursor) + bytes(salt * 2))


def generate(root: Path, files: int, tensors: int) -> None:
    for i in range(files):
        folder = root / f"dir{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        write_file(folder / f"model-{i}.safetensors", tensors, i)
        if i % 10 == 0:
            (folder / f"notes-{i}.txt").write_text("not a model\n")


def stat_walk(root: Path) -> int:
    """What any rescan must do at least: list every folder and stat every file."""
    count, stack = 0, [str(root)]
    while stack:
        for entry in os.scandir(stack.pop()):
            if entry.is_dir():
                stack.append(entry.path)
            else:
                entry.stat()
                count += 1
    return count


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
        walk = min(timed(lambda: stat_walk(root)) for _ in range(3))
        cold = timed(lambda: scan(root, store=store))
        warm = min(timed(lambda: scan(root, store=store)) for _ in range(3))
        paths = [Path(d) / f for d, _, fs in os.walk(root) for f in fs if f.endswith(".safetensors")]
        parse = min(timed(lambda: [read_facts(p) for p in paths]) for _ in range(3))
        result = scan(root, store=store)
        assert result.cached == n, (result.cached, n)
        print(f"{args.files} model files + {args.files // 10} other files, "
              f"{args.tensors} tensors each")
        print(f"parsing per model file : {parse * 1e6 / len(paths):8.1f} us  (goal <= 100)")
        print(f"cold scan, cache writes: {cold * 1e6 / n:8.1f} us/file  ({cold:.2f} s)")
        print(f"cached rescan          : {warm * 1e6 / n:8.1f} us/file  ({warm * 1e3:.1f} ms)")
        print(f"scandir+stat floor     : {walk * 1e6 / n:8.1f} us/file")
        print(f"rescan speed-up        : {cold / warm:8.1f}x (goal >= 50x)")
        print(f"ceiling (cold / floor) : {cold / walk:8.1f}x (a rescan that only walks and stats)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
