"""safetensors: an 8-byte little-endian header length, a JSON header, then the raw tensor bytes.

We read and validate the header only, nearly as strictly as the reference implementation: every
dtype known, shapes of non-negative integers whose byte size matches the declared range, ranges
in bounds and contiguous from the start of the data section (trailing padding is tolerated).
Sizes are Python integers, so a 2^60-element shape is just a number that fails the check —
nothing is ever allocated from it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from modelshelf.formats import jsonsafe
from modelshelf.formats.base import ModelHeader, TensorInfo
from modelshelf.formats.source import Budget

# The reference implementation's own cap on the JSON header.
MAX_HEADER = 100 * 1000 * 1000

# Every dtype safetensors defines, in bits per element (sub-byte types pack several per byte).
DTYPE_BITS: Mapping[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}


def looks_like(head: bytes, size: int) -> bool:
    """A plausible header length followed by ``{``: the file *claims* to be safetensors."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n < 1 << 40


def read(src: Budget, file: str | None = None) -> ModelHeader:
    """The header of one safetensors file; ``file`` is recorded on each tensor (for shards)."""
    if src.size < 8:
        raise src.error("safetensors file shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", src.read(0, 8, "header length"))
    if n > MAX_HEADER:
        raise src.error(f"safetensors header length {n} exceeds the {MAX_HEADER}-byte limit")
    if 8 + n > src.size:
        raise src.error(
            f"safetensors header length {n} runs past the end of the file ({src.size} bytes): "
            "truncated or not safetensors"
        )
    raw = jsonsafe.loads(src.read(8, n, "safetensors header"), src.error, "safetensors header")
    if not isinstance(raw, dict):
        raise src.error("safetensors header is not a JSON object")
    metadata = _metadata(src, raw.pop("__metadata__", None))
    data_start = 8 + n
    tensors = _tensors(src, raw, data_start, src.size - data_start, file)
    return ModelHeader(format="safetensors", tensors=tensors, metadata=metadata)


def _metadata(src: Budget, meta: Any) -> dict[str, str]:
    if meta is None:
        return {}
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise src.error("safetensors __metadata__ must map strings to strings")
    return meta


def _tensors(
    src: Budget, raw: dict[str, Any], data_start: int, data_len: int, file: str | None
) -> dict[str, TensorInfo]:
    spans: list[tuple[int, int, str]] = []
    infos: dict[str, TensorInfo] = {}
    for name, entry in raw.items():
        start, end, dtype, shape = _entry(src, name, entry)
        numel = 1
        for d in shape:
            numel *= d
        bits = numel * DTYPE_BITS[dtype]
        if bits % 8:
            raise src.error(f"tensor {name!r}: {numel} x {dtype} is not a whole number of bytes")
        if end - start != bits // 8:
            raise src.error(
                f"tensor {name!r}: shape {list(shape)} of {dtype} needs {bits // 8} bytes, "
                f"data_offsets give {end - start}"
            )
        spans.append((start, end, name))
        infos[name] = TensorInfo(name, dtype, shape, end - start, data_start + start, file)
    _check_layout(src, spans, data_len)
    return infos


def _entry(src: Budget, name: str, entry: Any) -> tuple[int, int, str, tuple[int, ...]]:
    if not isinstance(entry, dict):
        raise src.error(f"tensor {name!r}: entry is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BITS:
        raise src.error(f"tensor {name!r}: unknown dtype {dtype!r}")
    # ``type(x) is int`` rather than isinstance: JSON true/false are bools, which are ints
    if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape):
        raise src.error(f"tensor {name!r}: shape must be a list of non-negative integers")
    if type(offsets) is not list or len(offsets) != 2:
        raise src.error(f"tensor {name!r}: data_offsets must be [begin, end] with begin <= end")
    start, end = offsets
    if type(start) is not int or type(end) is not int or not 0 <= start <= end:
        raise src.error(f"tensor {name!r}: data_offsets must be [begin, end] with begin <= end")
    return start, end, dtype, tuple(shape)


def _check_layout(src: Budget, spans: list[tuple[int, int, str]], data_len: int) -> None:
    """Ranges must tile the data section from 0: no gap, no overlap, nothing past the end.
    Bytes after the last tensor are tolerated (padding some writers add; nothing reads them)."""
    spans.sort()
    pos = 0
    for start, end, name in spans:
        if start != pos:
            kind = "overlaps the previous tensor" if start < pos else "leaves a gap before it"
            raise src.error(f"tensor {name!r}: data_offsets {start}..{end} {kind}")
        pos = end
    if pos > data_len:
        raise src.error(
            f"tensor data ends at byte {pos} of the data section but the file holds only "
            f"{data_len}: truncated"
        )
