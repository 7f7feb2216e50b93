"""Benchmark: header inspection, ours against the reference readers, as ratios.

1. Listing a 1,000-tensor safetensors header: ``read_header`` vs ``safetensors.safe_open``.
2. A generated ~500 MB GGUF (32k-token vocabulary): ``read_header`` vs ``gguf.GGUFReader``
   (goal: >= 50x faster).
3. ``modelshelf info FILE`` as a whole process (goal: <= 0.3 s, no torch import), against
   ``python -c pass`` and, if torch is installed, ``python -c "import torch"``.

    python bench/inspection.py [--gguf-mb 500] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from modelshelf.formats import read_header


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_safetensors(path: Path, n: int) -> None:
    header, pos = {}, 0
    for i in range(n):
        name = f"model.layers.{i // 10}.block.{i % 10}.weight"
        header[name] = {"dtype": "F16", "shape": [4, 8], "data_offsets": [pos, pos + 64]}
        pos += 64
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(pos))


def write_gguf(path: Path, megabytes: int) -> None:
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(4096)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_token_list([f"<tok{i}>" for i in range(32000)])
    w.add_token_scores([0.0] * 32000)
    n_layers = 32
    per_layer = megabytes * 1024 * 1024 // n_layers // 2 // 4  # F16 elements per tensor (x4)
    cols = 1024
    rows = max(1, per_layer // cols)
    block = np.zeros((rows, cols), dtype=np.float16)
    for layer in range(n_layers):
        for part in ("attn_q", "attn_k", "attn_v", "ffn_up"):
            w.add_tensor(f"blk.{layer}.{part}.weight", block)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def process_time(cmd: list[str], repeat: int) -> float:
    return best_of(lambda: subprocess.run(cmd, check=True, capture_output=True), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf-mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-inspect-"))
    try:
        st_path = work / "1000.safetensors"
        write_safetensors(st_path, 1000)
        from safetensors import safe_open

        def reference_listing() -> None:
            with safe_open(str(st_path), framework="numpy") as f:
                for k in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                    s = f.get_slice(k)
                    s.get_shape()
                    s.get_dtype()

        ours = best_of(lambda: read_header(st_path), args.repeat)
        ref = best_of(reference_listing, args.repeat)
        print(f"safetensors 1,000 tensors: ours {ours * 1e3:.2f} ms, safe_open {ref * 1e3:.2f} ms"
              f" -> {ref / ours:.2f}x")

        gguf_path = work / "big.gguf"
        t0 = time.perf_counter()
        write_gguf(gguf_path, args.gguf_mb)
        size_mb = gguf_path.stat().st_size / 2**20
        print(f"(generated {size_mb:.0f} MB GGUF in {time.perf_counter() - t0:.1f} s)")
        import gguf

        ours = best_of(lambda: read_header(gguf_path), args.repeat)
        ref = best_of(lambda: gguf.GGUFReader(str(gguf_path)), max(3, args.repeat // 5))
        print(f"GGUF header ({size_mb:.0f} MB, 128 tensors, 32k vocab): ours {ours * 1e3:.1f} ms, "
              f"GGUFReader {ref * 1e3:.0f} ms -> {ref / ours:.0f}x (goal >= 50x)")

        modelshelf = shutil.which("modelshelf")
        target = str(gguf_path)
        if modelshelf:
            cmd, label = [modelshelf, "info", target, "--json"], "modelshelf info"
        else:
            code = f"from modelshelf.formats import read_header; read_header({target!r})"
            cmd, label = [sys.executable, "-c", code], "python -c read_header"
        n = max(3, args.repeat // 4)
        info = process_time(cmd, n)
        bare = process_time([sys.executable, "-c", "pass"], n)
        print(f"{label} (GGUF) whole process: {info:.3f} s (goal <= 0.3 s); "
              f"bare python {bare:.3f} s")
        has_torch = subprocess.run([sys.executable, "-c", "import torch"],
                                   capture_output=True).returncode == 0
        if has_torch:
            torch_t = process_time([sys.executable, "-c", "import torch"], n)
            print(f"python -c 'import torch': {torch_t:.3f} s -> info is {torch_t / info:.1f}x "
                  "faster than importing torch alone")
        else:
            print("torch not installed: 'import torch' comparison skipped")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
