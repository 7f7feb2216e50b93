"""The top-level API stays what the README says it is, however often it is used."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import modelshelf


def _tiny_safetensors(path: Path) -> Path:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    return path


def test_inspect_stays_callable_after_first_use(tmp_path: Path) -> None:
    """Importing the inspection subpackage must not replace ``modelshelf.inspect``."""
    model = _tiny_safetensors(tmp_path / "m.safetensors")
    first = modelshelf.inspect(str(model))
    second = modelshelf.inspect(str(model))
    assert first.format == second.format == "safetensors"
    assert first.parameters == 2
