"""Small model files for the inspection tests (real formats, tiny tensors)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def write_st(path: Path, shapes: Mapping[str, tuple[int, ...]], dtype: type = np.float32,
             metadata: Mapping[str, str] | None = None, seed: int = 0) -> Path:
    """A safetensors file of random tensors (another seed gives other bytes)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}, path,
              metadata=dict(metadata) if metadata else None)
    return path


def write_gguf(path: Path, *, context_length: int = 4096, file_type: int = 1) -> Path:
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(context_length)
    w.add_file_type(file_type)
    w.add_tensor("token_embd.weight", np.ones((8, 16), np.float16))
    w.add_tensor("output_norm.weight", np.ones((16,), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_sharded(folder: Path) -> Path:
    """A transformers-style sharded safetensors model: 2 shards + index + config."""
    folder.mkdir(parents=True, exist_ok=True)
    write_st(folder / "model-00001-of-00002.safetensors", {"a.weight": (10, 10)}, seed=1)
    write_st(folder / "model-00002-of-00002.safetensors", {"b.weight": (5, 4)}, np.float16, seed=2)
    index = {"metadata": {"total_size": 440},
             "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                            "b.weight": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama",
                                                    "architectures": ["LlamaForCausalLM"]}))
    return folder
