"""The common shape every format reader returns, so identification and reports never care which
file format they are looking at. Plain frozen dataclasses: cheap, hashable, printable."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

SafetyStatus = Literal["safe", "unsafe", "unknown"]


def contiguous_stride(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides (in elements): what a tensor's stride is when its bytes are one run."""
    stride, acc = [], 1
    for d in reversed(shape):
        stride.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(stride))


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as a header describes it; ``offset``/``nbytes`` are into ``file`` (if known)."""

    name: str
    dtype: str  # safetensors spelling: F32, F16, BF16, F8_E4M3, I64, BOOL, ... or a GGML type name
    shape: tuple[int, ...]
    nbytes: int
    offset: int | None = None  # absolute byte offset of the data in the file, when known
    file: str | None = None  # shard file name (relative) for sharded models / folders
    # Pickles: where the tensor lives inside its storage. ``storage`` is the zip entry (or legacy
    # storage key), ``storage_offset`` counts elements, ``stride`` is in elements. ``offset`` is
    # set only when the bytes can be streamed as-is (stored zip entry, contiguous tensor).
    stride: tuple[int, ...] | None = None
    storage: str | None = None
    storage_offset: int | None = None

    @cached_property
    def numel(self) -> int:
        """Element count. Cached in the instance (``cached_property`` writes the instance dict,
        which a frozen dataclass allows, and eq/hash/repr ignore): a scan asks it of every
        tensor, and the safetensors reader, which computes it while validating, fills it in."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class Safety:
    """Whether loading the file could run code. ``unknown`` unless a reader has looked: a file
    nobody analysed is never vouched for (a zip of pickles we do not recognise, a tar, ...)."""

    status: SafetyStatus = "unknown"
    findings: tuple[str, ...] = ()


# What readers of data-only formats (safetensors, GGUF, ONNX) say: nothing in them is code.
DATA_ONLY = Safety("safe")
NOT_ANALYSED = Safety("unknown", ("not in a format modelshelf analyses: contents not checked",))


@dataclass(frozen=True)
class ModelHeader:
    """What a reader learnt without loading tensor data.

    ``format`` uses SPEC.md's vocabulary: safetensors, gguf, pickle, onnx, diffusers, transformers,
    unknown. ``config`` holds a folder's parsed config.json / model_index.json (small, bounded).
    """

    format: str
    tensors: Mapping[str, TensorInfo] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    safety: Safety = NOT_ANALYSED
    shards: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    components: Mapping[str, ModelHeader] = field(default_factory=dict)  # diffusers folders
    # What the file itself states (GGUF general.architecture / transformers model_type), not
    # identification's verdict; GGUF's general.file_type name (Q4_K_M, F16, ...); context length.
    architecture: str | None = None
    quantization: str | None = None
    context_length: int | None = None
    byteorder: Literal["little", "big"] = "little"
    # Parts the model itself declares that are not on disk: a diffusers component listed in
    # model_index.json without its folder, the absent members of a ``-0000i-of-0000n`` set.
    missing: tuple[str, ...] = ()

    @property
    def parameters(self) -> int:
        return sum(t.numel for t in self.tensors.values())

    @property
    def memory_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors.values())

    def dtype_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.tensors.values():
            counts[t.dtype] = counts.get(t.dtype, 0) + t.numel
        return counts
