"""safetensors: an 8-byte little-endian header length, a JSON header, then the raw tensor bytes.

We read and validate the header only, nearly as strictly as the reference implementation: every
dtype known, shapes of non-negative integers below 2**64 whose byte size matches the declared range, ranges
in bounds and contiguous from the start of the data section (trailing padding is tolerated).
Sizes are Python integers, so a 2^60-element shape is just a number that fails the check —
nothing is ever allocated from it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from itertools import repeat
from operator import add, sub
from typing import Any

from modelshelf.errors import FormatError
from modelshelf.formats import jsonsafe
from modelshelf.formats.base import DATA_ONLY, ModelHeader, TensorTable
from modelshelf.formats.source import Budget

# The reference implementation's own cap on the JSON header: a file safetensors loads is never
# refused for its size. What parsing costs is bounded by counts taken before it (below and in
# :mod:`jsonsafe`), so a 100 MB header of tiny entries is refused in a fraction of a second.
MAX_HEADER = 100 * 1000 * 1000
# The reference implementation reads each dim as a u64 and multiplies them out in u64, refusing
# an overflow; so do we, as the product grows: a header of 40,000 dims of 2**60 took 4.6 s
# (every multiply costs the digits so far) and then failed on printing its 700,000-digit size.
MAX_ELEMENTS = (1 << 64) - 1
# The largest real files hold ~2,500 (SDXL) to ~100k tensors (a consolidated MoE checkpoint).
MAX_TENSORS = 250_000

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
    text = src.read(8, n, "safetensors header")
    # every tensor entry is one JSON object: more objects than the cap, more tensors than it
    if text.count(b"{") > MAX_TENSORS + 2:
        raise src.error(f"safetensors header holds more than {MAX_TENSORS} tensors (the limit)")
    raw = jsonsafe.loads(text, src.error, "safetensors header")
    if not isinstance(raw, dict):
        raise src.error("safetensors header is not a JSON object")
    metadata = _metadata(src, raw.pop("__metadata__", None))
    if len(raw) > MAX_TENSORS:  # the count above is an upper bound; this is the exact one
        raise src.error(f"safetensors header holds more than {MAX_TENSORS} tensors (the limit)")
    data_start = 8 + n
    tensors = _tensors(src, raw, data_start, src.size - data_start, file)
    return ModelHeader(format="safetensors", tensors=tensors, metadata=metadata,
                       safety=DATA_ONLY)


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
) -> TensorTable:
    """Validate every entry and gather the columns of its :class:`TensorTable`.

    This loop runs once per tensor of every file a scan meets, so the checks are inlined (no
    helper call, no generator per shape) and the element count is computed while the shape is
    checked. The checks and their order — hence which error a broken file reports — are those
    of the format description above: entry, dtype, shape, offsets, byte count, then layout.
    Writers list tensors in data order, so the layout is checked on the way (each range starts
    where the last ended); only a header in another order pays for sorting the ranges.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: list[str] = []
    numels: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0  # where the data ranges seen so far end, while they come in data order
    in_order = True
    for name, entry in raw.items():
        if type(entry) is not dict:
            raise src.error(f"tensor {name!r}: entry is not an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        # str first: a list or object "dtype" is unhashable, and is as unknown as any other
        if type(dtype) is not str or (bits := DTYPE_BITS.get(dtype)) is None:
            raise src.error(f"tensor {name!r}: unknown dtype {dtype!r}")
        if type(shape) is not list:
            raise _bad_shape(src, name)
        numel = 1
        for d in shape:
            # ``type(d) is int`` rather than isinstance: JSON true/false are bools, which are ints
            if type(d) is not int or not 0 <= d <= MAX_ELEMENTS:
                raise _bad_shape(src, name)
            numel *= d
            if numel > MAX_ELEMENTS:  # the reference multiplies in u64 and refuses an overflow
                raise src.error(f"tensor {name!r}: shape has 2**64 or more elements")
        if type(offsets) is not list or len(offsets) != 2:
            raise _bad_offsets(src, name)
        start, end = offsets
        if type(start) is not int or type(end) is not int or not 0 <= start <= end:
            raise _bad_offsets(src, name)
        bits *= numel
        if bits % 8:
            raise src.error(f"tensor {name!r}: {numel} x {dtype} is not a whole number of bytes")
        if end - start != bits // 8:
            raise src.error(
                f"tensor {name!r}: shape {_brief(shape)} of {dtype} needs {bits // 8} bytes, "
                f"data_offsets give {end - start}"
            )
        if start != pos:
            in_order = False
        pos = end
        shapes[name] = tuple(shape)
        dtypes.append(dtype)
        numels.append(numel)
        starts.append(start)
        ends.append(end)
    if not in_order:
        pos = _sorted_end(src, sorted(zip(starts, ends, shapes, strict=True)))
    if pos > data_len:
        raise src.error(
            f"tensor data ends at byte {pos} of the data section but the file holds only "
            f"{data_len}: truncated"
        )
    # columns in C: ``map`` over the lists (a Python line per tensor costs a scan per file)
    return TensorTable(shapes, dtypes, numels, list(map(sub, ends, starts)),
                       list(map(add, starts, repeat(data_start))), [file] * len(shapes))


def _brief(shape: list[int]) -> str:
    """A shape for an error message: a hostile one can be 10,000 dims of 4,000 digits."""
    text = str(shape[:8])
    return text if len(shape) <= 8 else text[:-1] + f", ... ({len(shape)} dims)]"


def _bad_shape(src: Budget, name: str) -> FormatError:
    return src.error(f"tensor {name!r}: shape must be a list of non-negative integers below "
                     "2**64")


def _bad_offsets(src: Budget, name: str) -> FormatError:
    return src.error(f"tensor {name!r}: data_offsets must be [begin, end] with begin <= end")


def _sorted_end(src: Budget, spans: list[tuple[int, int, str]]) -> int:
    """Where the data ranges (sorted by the caller) end; they must tile the data section from
    0: no gap, no overlap. Bytes after the last tensor are tolerated (padding some writers add;
    nothing reads them); ranges past the end of the file are the caller's check."""
    pos = 0
    for start, end, name in spans:
        if start != pos:
            kind = "overlaps the previous tensor" if start < pos else "leaves a gap before it"
            raise src.error(f"tensor {name!r}: data_offsets {start}..{end} {kind}")
        pos = end
    return pos
