"""Peak memory of a conversion does not grow with the file: measured in a fresh process."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelshelf.convert.casts import ITEMSIZE

# VmHWM (this image's peak RSS), not ru_maxrss, which Linux inherits from the forking parent.
CHILD = """
import sys
from pathlib import Path
from modelshelf.convert import convert
def hwm():
    line = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    return int(line.split()[1]) * 1024
base = hwm()  # what importing costs, before any conversion
convert(Path(sys.argv[1]), Path(sys.argv[2]), dtype=sys.argv[3])
print(base, hwm())
"""


def write_sparse_safetensors(path: Path, shapes: dict[str, tuple[int, ...]],
                             dtype: str = "F32") -> Path:
    """A valid safetensors file whose data is a hole: big on paper, nothing on disk."""
    header, cursor = {}, 0
    for name, shape in shapes.items():
        n = ITEMSIZE[dtype] * int(np.prod(shape))
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [cursor, cursor + n]}
        cursor += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + cursor)
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_peak_rss_stays_far_below_the_file_size(tmp_path: Path) -> None:
    shapes = {f"layer{i}.weight": (1024, 4096) for i in range(12)}  # 12 x 16 MiB = 192 MiB
    src = write_sparse_safetensors(tmp_path / "big.safetensors", shapes)
    dst = tmp_path / "out.safetensors"
    out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(dst), "fp16"],
                         capture_output=True, text=True, check=True)
    base, peak = map(int, out.stdout.split())
    size = src.stat().st_size
    assert dst.stat().st_size > size // 2
    # The whole 192 MiB would show as >= 192 MiB of growth; streaming needs a few chunks.
    assert peak - base < 64 * 2**20, (base, peak, size)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_peak_rss_of_a_gigabyte_file_is_the_same_as_of_a_small_one(tmp_path: Path) -> None:
    shapes = {f"blocks.{i}.weight": (4096, 4096) for i in range(16)}  # 16 x 64 MiB = 1 GiB
    src = write_sparse_safetensors(tmp_path / "huge.safetensors", shapes)
    dst = tmp_path / "out.safetensors"
    out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(dst), "bf16"],
                         capture_output=True, text=True, check=True)
    base, peak = map(int, out.stdout.split())
    assert peak < 150 * 2**20, peak  # the target, for any file size
    assert peak - base < 64 * 2**20
