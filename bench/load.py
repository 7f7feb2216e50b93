"""Benchmark: time to first tensor and peak RSS of ``Shelf.load`` against the usual loaders.

One generated safetensors file (~2 GB of fp32 by default; the same file as bench/convert.py),
each loader in a fresh process, side by side in one run:
  shelf-np     modelshelf Shelf.load(path)                    (numpy, memory-mapped, lazy)
  st-np        safetensors.numpy.load_file(path)              (reads every tensor)
  shelf-torch  modelshelf Shelf.load(path, framework="torch") (skipped without torch)
  st-torch     safetensors.torch.load_file(path)              (skipped without torch)
  torch.load   torch.load(path.pt) of the same tensors         (skipped without torch)
  torch.mmap   torch.load(path.pt, mmap=True, weights_only=True)
"Time to first tensor" is from the call that opens the model until the first tensor's values
have been summed (so its pages were really read), imports (and opening the store) excluded;
the best of ``--repeat`` runs, as the machine may be busy; "peak RSS" is the process's
high-water mark (VmHWM) after that, less its resident size once the imports were done (what the
load itself added). Ratios are each loader's figure over modelshelf's (numpy
row for numpy loaders, torch row for torch ones). The page cache is warm for everyone alike.

    python bench/load.py [--size-gb 2.2] [--dir DIR] [--keep] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from convert import generate

# Shelf imports its load module (numpy, the format readers) on first use: imported here, like
# every other loader's module, so that only the work is timed.
SHELF_SETUP = ("from modelshelf import Shelf\nimport modelshelf.api.load\n"
               "shelf = Shelf(home=sys.argv[3])")
# name -> (imports, the timed work); argv: [model.safetensors, model.pt, scratch dir]
RUNNERS: dict[str, tuple[str, str]] = {
    "shelf-np": (SHELF_SETUP,
                 "t = shelf.load(sys.argv[1])\nx = t[next(iter(t))]"),
    "st-np": ("from safetensors.numpy import load_file",
              "t = load_file(sys.argv[1])\nx = t[next(iter(t))]"),
    "shelf-torch": (f"{SHELF_SETUP}\nimport torch",
                    "t = shelf.load(sys.argv[1], framework='torch')\nx = t[next(iter(t))]"),
    "st-torch": ("from safetensors.torch import load_file",
                 "t = load_file(sys.argv[1])\nx = t[next(iter(t))]"),
    "torch.load": ("import torch", "t = torch.load(sys.argv[2])\nx = t[next(iter(t))]"),
    "torch.mmap": ("import torch",
                   "t = torch.load(sys.argv[2], mmap=True, weights_only=True)\n"
                   "x = t[next(iter(t))]"),
}
BASELINE = {"st-np": "shelf-np", "st-torch": "shelf-torch", "torch.load": "shelf-torch",
            "torch.mmap": "shelf-torch"}

# Imports first (untimed), then the work and a sum over the first tensor (its pages read).
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent. The figure is the
# peak less the RSS after the imports: torch alone is ~280 MiB, the same for every torch row.
HARNESS = """
import json, sys, time
setup, work = sys.stdin.read().split("\\n#---\\n")
try:
    exec(setup)
except ModuleNotFoundError as exc:
    sys.exit(3 if exc.name == "torch" else 1)
def status(key):
    return int([l for l in open("/proc/self/status") if l.startswith(key)][0].split()[1]) * 1024
before = status("VmRSS:")
t0 = time.perf_counter()
exec(work)
float(x.sum())
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "rss": status("VmHWM:") - before}))
"""


def best(name: str, paths: list[Path], repeat: int) -> tuple[float, int] | None:
    """The shortest time and the largest RSS of ``repeat`` fresh processes."""
    runs = [run(name, paths) for _ in range(repeat)]
    done = [r for r in runs if r is not None]
    return (min(t for t, _ in done), max(m for _, m in done)) if done else None


def run(name: str, paths: list[Path]) -> tuple[float, int] | None:
    """One fresh process: (seconds, RSS added), or ``None`` when torch is missing (exit 3)."""
    setup, work = RUNNERS[name]
    proc = subprocess.run([sys.executable, "-c", HARNESS, *map(str, paths)],
                          input=f"{setup}\n#---\n{work}", capture_output=True, text=True)
    if proc.returncode == 3:
        return None
    if proc.returncode:
        raise RuntimeError(f"{name} failed:\n{proc.stderr}")
    figures = json.loads(proc.stdout)
    return figures["seconds"], figures["rss"]


def torch_copy(src: Path, dst: Path) -> bool:
    """The same tensors as a torch checkpoint, for torch.load (False without torch)."""
    code = ("import sys, torch\nfrom safetensors.torch import load_file\n"
            "torch.save(load_file(sys.argv[1]), sys.argv[2])")
    return subprocess.run([sys.executable, "-c", code, str(src), str(dst)],
                          capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.2)  # 32 tensors of 64 MiB: 2.15 GB
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--repeat", type=int, default=3, help="runs per loader (best is shown)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-", dir=args.dir))
    src, pt, scratch = work / "model.safetensors", work / "model.pt", work / "home"
    try:
        t0 = time.perf_counter()
        generate(src, int(args.size_gb * 1e9))
        has_torch = torch_copy(src, pt)
        size = src.stat().st_size
        print(f"generated {size / 1e9:.2f} GB in {time.perf_counter() - t0:.1f} s ({src})")
        for path in (src, pt):  # page cache warm for everyone alike
            if path.exists():
                subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
        results: dict[str, tuple[float, int]] = {}
        for name in RUNNERS:
            got = (best(name, [src, pt, scratch], args.repeat)
                   if has_torch or "torch" not in name else None)
            if got is None:
                print(f"{name:>12}: skipped (torch not installed)")
                continue
            results[name] = got
        for name, (seconds, rss) in results.items():
            line = f"{name:>12}: first tensor {seconds * 1000:9.1f} ms  RSS added {rss / 2**20:7.0f} MiB"
            base = results.get(BASELINE.get(name, ""))
            if base is not None:
                line += f"  ({seconds / base[0]:7.1f}x the time, {rss / base[1]:5.1f}x the RSS " \
                        f"of {BASELINE[name]})"
            print(line)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
