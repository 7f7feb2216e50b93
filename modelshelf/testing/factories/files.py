"""Writing model files and headers without real weights, and reading the shared key-list corpus.

``write_safetensors`` writes the header, then extends the file with ``truncate`` (a sparse hole
reading as zeros) or streams random bytes: an SDXL-sized key set costs no RAM and, on any file
system with sparse files, almost no disk. ``header_from_shapes`` skips the file altogether.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from modelshelf.formats.base import ModelHeader, TensorInfo
from modelshelf.testing.factories.keys import Shape
from modelshelf.testing.factories.llm import llama_gguf_tensors

TensorSpec = Mapping[str, Shape] | Mapping[str, tuple[Shape, str]]

ITEMSIZE: dict[str, int] = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}
_CHUNK = 1 << 20


def _numel(shape: Iterable[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _normalise(tensors: TensorSpec, dtype: str) -> dict[str, tuple[Shape, str]]:
    """Accept ``{name: shape}`` or ``{name: (shape, dtype)}``."""
    out: dict[str, tuple[Shape, str]] = {}
    for name, spec in tensors.items():
        if len(spec) == 2 and isinstance(spec[1], str):
            shape, dt = spec  # type: ignore[misc]
        else:
            shape, dt = spec, dtype
        if dt not in ITEMSIZE:
            raise ValueError(f"unknown safetensors dtype {dt!r} for {name}")
        out[name] = (tuple(int(d) for d in shape), dt)  # type: ignore[union-attr]
    return out


def write_safetensors(
    path: str | os.PathLike[str], tensors: TensorSpec, *, dtype: str = "F16",
    metadata: Mapping[str, str] | None = None, fill: Literal["zeros", "random"] = "zeros",
    seed: int = 0,
) -> Path:
    """Write a valid safetensors file with these tensors; data are zeros (sparse) or random."""
    path = Path(path)
    specs = _normalise(tensors, dtype)
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, (shape, dt) in specs.items():
        size = _numel(shape) * ITEMSIZE[dt]
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format recommends 8-byte alignment of the data
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        if fill == "random":
            rng = random.Random(seed)
            left = offset
            while left:
                n = min(left, _CHUNK)
                f.write(rng.randbytes(n))
                left -= n
        else:
            f.truncate(8 + len(raw) + offset)
    return path


def header_from_shapes(
    tensors: TensorSpec, *, dtype: str = "F16", metadata: Mapping[str, Any] | None = None,
    format: str = "safetensors", config: Mapping[str, Any] | None = None,
    components: Mapping[str, ModelHeader] | None = None,
) -> ModelHeader:
    """A ModelHeader as a reader would return it, without any file."""
    infos = {
        name: TensorInfo(name, dt, shape, _numel(shape) * ITEMSIZE[dt])
        for name, (shape, dt) in _normalise(tensors, dtype).items()
    }
    return ModelHeader(format=format, tensors=infos, metadata=dict(metadata or {}),
                       config=dict(config or {}), components=dict(components or {}))


def write_gguf(path: str | os.PathLike[str], metadata: Mapping[str, Any],
               tensors: Mapping[str, Shape] | None = None) -> Path:
    """A small, valid GGUF file (gguf package's writer; F32 zero tensors, so keep them tiny).

    ``metadata`` must hold ``general.architecture``; ints are written as uint32 (int32 when
    negative), floats as float32, strings, bools and lists of strings as such.
    """
    import gguf  # a core dependency, imported here so importing factories stays cheap
    import numpy as np

    path = Path(path)
    writer = gguf.GGUFWriter(str(path), str(metadata["general.architecture"]))
    for key, value in metadata.items():
        if key in ("general.architecture", "GGUF.version"):
            continue
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            (writer.add_uint32 if value >= 0 else writer.add_int32)(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, list):
            writer.add_array(key, value)
        else:
            writer.add_string(key, str(value))
    for name, shape in (tensors if tensors is not None else llama_gguf_tensors()).items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --- the corpus of real key layouts (InvokeAI's) -----------------------------------------------------

def corpus_dir() -> Path:
    """``$MODELSHELF_CORPUS``, else the copy under ``tests/identify/corpus`` (absent from an
    installed package, where tests that need it skip)."""
    env = os.environ.get("MODELSHELF_CORPUS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "tests" / "identify" / "corpus"


def corpus_names() -> list[str]:
    """Names (file stems) of the corpus key lists, sorted; empty when the corpus is absent."""
    folder = corpus_dir() / "keylists"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def load_corpus(name: str) -> tuple[dict[str, Shape], dict[str, Any]]:
    """``(tensors {name: shape}, expected {"model_type", "architecture"})`` of one key list."""
    data = json.loads((corpus_dir() / "keylists" / f"{name}.json").read_text())
    tensors = {k: tuple(int(d) for d in v) for k, v in data["tensors"].items()}
    return tensors, dict(data["expected"])
