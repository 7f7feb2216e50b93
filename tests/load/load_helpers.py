"""Small model files for the load tests (tests/load): a mixed-dtype safetensors file, a sharded
set with its index, a GGUF file with a quantized tensor, and pickles safe and malicious."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from modelshelf.testing.factories.files import write_safetensors

MIXED = {"w": ((3, 4), "F32"), "h": ((5,), "F16"), "b": ((2, 3), "BF16"), "i": ((3,), "I64")}


def mixed(path: Path) -> Path:
    return write_safetensors(path, MIXED, fill="random", seed=7)


def sharded(folder: Path) -> Path:
    """Two shards and the index that maps tensors to them (the Hub's layout); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"model-00001-of-00002.safetensors": {"a.weight": ((4, 4), "F32")},
             "model-00002-of-00002.safetensors": {"b.weight": ((2, 2), "F16"),
                                                  "b.bias": ((2,), "F16")}}
    weight_map = {}
    for i, (name, tensors) in enumerate(parts.items()):
        write_safetensors(folder / name, tensors, fill="random", seed=i)
        weight_map.update(dict.fromkeys(tensors, name))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def quantized_gguf(path: Path, big_endian: bool = False) -> Path:
    import gguf

    endian = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    writer = gguf.GGUFWriter(str(path), "llama", endianess=endian)
    blocks = np.arange(4 * 34, dtype=np.uint8).reshape(4, 34)  # 4 rows of one Q8_0 block each
    writer.add_tensor("blk.0.q", blocks, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("norm", np.arange(6, dtype=np.float32).reshape(2, 3))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


def malicious_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"w": _System(f"touch {marker}")}, protocol=2))
    return path


def bf16_as_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)
