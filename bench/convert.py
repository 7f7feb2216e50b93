"""Benchmark: fp32 -> fp16 of a generated safetensors file (~2 GB by default).

Compares, each in a fresh process (time and peak RSS):
  cp      cp --reflink=never without fsync: the page cache's read+write speed
  disk    cp --reflink=never + fsync: the disk's own read+write of the file (the anchor;
          modelshelf fsyncs its output before the atomic rename, so this is the fair floor)
  shelf   modelshelf.convert.convert (streaming, fsync, atomic rename)
  numpy   safetensors.numpy load_file / astype / save_file (the naive way)
  torch   safetensors.torch load_file / .half() / save_file (skipped if torch is absent)
and prints each time as a ratio to the disk anchor.

    python bench/convert.py [--size-gb 2] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TENSOR_ELEMS = 4096 * 4096  # 64 MiB fp32 tensors, like a large linear layer

RUNNERS = {
    "cp": """
import subprocess, sys
subprocess.run(["cp", "--reflink=never", sys.argv[1], sys.argv[2]], check=True)
""",
    "disk": """
import os, subprocess, sys
subprocess.run(["cp", "--reflink=never", sys.argv[1], sys.argv[2]], check=True)
fd = os.open(sys.argv[2], os.O_RDONLY); os.fsync(fd); os.close(fd)
""",
    "shelf": """
import sys
from pathlib import Path
from modelshelf.convert import convert
convert(Path(sys.argv[1]), Path(sys.argv[2]), dtype="fp16")
""",
    "numpy": """
import sys, numpy as np
from safetensors.numpy import load_file, save_file
t = load_file(sys.argv[1])
save_file({k: v.astype(np.float16) for k, v in t.items()}, sys.argv[2])
""",
    "torch": """
import sys
from safetensors.torch import load_file, save_file
t = load_file(sys.argv[1])
save_file({k: v.half() for k, v in t.items()}, sys.argv[2])
""",
}

# Wraps a runner: wall time of the work only (imports excluded) and the process's peak RSS.
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent, VmHWM is per image.
HARNESS = """
import sys, time
code = sys.stdin.read()
t0 = time.perf_counter()
exec(compile(code, "<bench>", "exec"))
dt = time.perf_counter() - t0
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(dt, int(hwm) * 1024)
"""


def generate(path: Path, size: int) -> None:
    """Random fp32 tensors (real bytes, not holes: sparse reads would flatter everyone)."""
    n_tensors = max(1, size // (TENSOR_ELEMS * 4))
    header, cursor = {}, 0
    for i in range(n_tensors):
        header[f"blocks.{i}.weight"] = {"dtype": "F32", "shape": [4096, 4096],
                                        "data_offsets": [cursor, cursor + TENSOR_ELEMS * 4]}
        cursor += TENSOR_ELEMS * 4
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        for _ in range(n_tensors):
            fh.write(rng.standard_normal(TENSOR_ELEMS, dtype=np.float32).tobytes())


def run(name: str, src: Path, dst: Path) -> tuple[float, int] | None:
    dst.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", HARNESS, str(src), str(dst)],
                          input=RUNNERS[name], capture_output=True, text=True)
    if proc.returncode != 0:
        if "No module named 'torch'" in proc.stderr:
            return None
        raise RuntimeError(f"{name} failed:\n{proc.stderr}")
    seconds, rss = proc.stdout.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--skip", action="append", default=[], choices=list(RUNNERS))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-convert-", dir=args.dir))
    src = work / "model-fp32.safetensors"
    try:
        t0 = time.perf_counter()
        generate(src, int(args.size_gb * 1e9))
        size = src.stat().st_size
        print(f"generated {size / 1e9:.2f} GB in {time.perf_counter() - t0:.1f} s ({src})")
        run("disk", src, work / "warmup")  # page cache warm for everyone alike
        results = {}
        for name in RUNNERS:
            if name in args.skip:
                continue
            got = run(name, src, work / f"out-{name}.safetensors")
            if got is None:
                print(f"{name:>6}: skipped (not installed)")
                continue
            results[name] = got
        anchor = results["disk"][0]
        for name, (seconds, rss) in results.items():
            print(f"{name:>6}: {seconds:6.2f} s  {seconds / anchor:5.2f}x disk  "
                  f"{size / seconds / 1e9:5.2f} GB/s in  peak RSS {rss / 2**20:7.0f} MiB")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
