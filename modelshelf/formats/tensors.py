"""Tensor *data* of safetensors and GGUF files as numpy arrays: memory-mapped, read when touched.

Why our own reader rather than ``safetensors.safe_open``: safe_open needs the target framework
installed to hand out tensors (``framework="pt"`` needs torch), and its numpy flavour cannot
express bfloat16 — numpy has no such dtype — so half of today's checkpoints would fail to load
without torch. Here the header comes from the validated parser of :mod:`.safetensors_fmt` (or
:mod:`.gguf_fmt`), and each tensor is a zero-copy ``numpy.frombuffer`` view of an ``mmap`` of
its file: opening a 10 GB model reads its header only; a tensor's pages come in from disk when
it is first touched, and the kernel can drop them again under memory pressure (they are clean
file pages), so resident memory follows what was used, not the file's size.

Dtypes numpy lacks are handed out as their raw bits, never silently converted: ``BF16`` as
``uint16`` (the caller, :mod:`modelshelf.api.frameworks`, upcasts to float32 when asked or views
them as ``torch.bfloat16``), the float8 types as ``uint8``, the packed sub-byte types (F4/F6)
as a flat ``uint8`` run. GGUF's quantized tensors are :class:`QuantizedTensor`: their blocks as
``uint8`` rows plus the ggml type and logical shape — what dequantizing code needs.

Offsets and sizes come from headers that were checked against the file's size, so every view
lies inside the mapping. This module never imports torch.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelshelf.errors import FormatError
from modelshelf.formats.base import TensorInfo
from modelshelf.formats.source import FileSource

# Header dtype (safetensors spelling; GGUF's unquantized type names are the same words) -> the
# little-endian numpy dtype of its elements, or of its raw bits where numpy has no such type.
NUMPY_DTYPES: Mapping[str, str] = {
    "BOOL": "?", "U8": "u1", "I8": "i1", "U16": "<u2", "I16": "<i2", "U32": "<u4",
    "I32": "<i4", "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8",
    "C64": "<c8", "BF16": "<u2", "F8_E5M2": "u1", "F8_E4M3": "u1", "F8_E8M0": "u1",
}
# Elements smaller than a byte: no numpy dtype can view them, so they come as their packed bytes.
PACKED = frozenset({"F4", "F6_E2M3", "F6_E3M2"})
# What a numpy view of these holds is bits, not values (see the module docstring).
RAW_BITS = frozenset({"BF16", "F8_E5M2", "F8_E4M3", "F8_E8M0"}) | PACKED
# Formats whose tensor bytes lie in the file as-is, so they can be mapped.
MAPPABLE = frozenset({"safetensors", "gguf"})


@dataclass(frozen=True)
class QuantizedTensor:
    """A GGUF tensor in a block-quantized ggml type (Q4_K, Q8_0, ...), not dequantized.

    ``data`` holds the raw blocks, one row of bytes per row of the tensor (gguf-py's layout:
    ``shape[:-1] + (bytes per row,)``); ``shape`` is the logical shape, outermost first.
    """

    data: Any
    ggml_type: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


def numpy_dtype(dtype: str) -> np.dtype[Any] | None:
    """The numpy dtype of a header dtype's elements (raw bits for BF16/F8), ``None`` if blocks."""
    name = NUMPY_DTYPES.get(dtype)
    return np.dtype(name) if name else None


def array_from(buffer: Any, info: TensorInfo, offset: int,
               byteorder: str = "little") -> np.ndarray | QuantizedTensor:
    """The tensor ``info`` describes, viewed (not copied) from ``buffer`` at byte ``offset``;
    ``byteorder="big"`` for big-endian GGUF files (their values are big-endian too)."""
    dtype = numpy_dtype(info.dtype)
    if dtype is not None:
        if byteorder == "big":
            dtype = dtype.newbyteorder(">")
        if info.nbytes == 0:
            return np.empty(info.shape, dtype)
        flat = np.frombuffer(buffer, dtype=dtype, count=info.numel, offset=offset)
        return flat.reshape(info.shape)
    data = (np.frombuffer(buffer, dtype=np.uint8, count=info.nbytes, offset=offset)
            if info.nbytes else np.empty(0, np.uint8))
    if info.dtype in PACKED:
        return data
    rows = info.numel // info.shape[-1] if info.shape and info.shape[-1] else 1
    row_bytes = info.nbytes // rows if rows else 0
    return QuantizedTensor(data.reshape((*info.shape[:-1], row_bytes)), info.dtype, info.shape)


class MappedFiles:
    """One ``mmap`` per file, opened when its first tensor is asked for and shared after.

    ``writable`` maps copy-on-write (``ACCESS_COPY``): the arrays are writable, writes stay in
    this process (the store's read-only blobs are never changed). torch wants writable buffers
    (``torch.from_numpy`` warns on read-only ones); numpy callers get read-only views, so an
    in-place edit fails loudly instead of silently forking pages.
    """

    def __init__(self, writable: bool = False, byteorder: str = "little") -> None:
        self._access = mmap.ACCESS_COPY if writable else mmap.ACCESS_READ
        self._byteorder = byteorder
        self._maps: dict[Path, mmap.mmap] = {}
        self._lock = threading.Lock()

    def buffer(self, path: Path) -> mmap.mmap:
        with self._lock:
            mapped = self._maps.get(path)
            if mapped is None:
                # the header was read from this path already: a regular file, not a FIFO
                with open(path, "rb") as fh:
                    mapped = mmap.mmap(fh.fileno(), 0, access=self._access)
                self._maps[path] = mapped
            return mapped

    def view(self, path: Path, info: TensorInfo) -> np.ndarray | QuantizedTensor:
        if info.offset is None:
            raise FormatError(f"{path}: tensor {info.name!r} has no known data offset")
        if info.nbytes == 0:
            return array_from(b"", info, 0)
        return array_from(self.buffer(path), info, info.offset, self._byteorder)


def read_one(path: Path, info: TensorInfo,
             byteorder: str = "little") -> np.ndarray | QuantizedTensor:
    """One tensor's bytes read with ``pread`` into memory of its own: nothing stays mapped or
    open, and no other tensor's bytes are read."""
    if info.offset is None:
        raise FormatError(f"{path}: tensor {info.name!r} has no known data offset")
    data = bytearray(info.nbytes)
    view = memoryview(data)
    with FileSource(path) as fs:
        done = 0
        while done < info.nbytes:  # pread returns at most ~2 GiB per call on Linux
            chunk = fs.read_at(info.offset + done, min(info.nbytes - done, 1 << 30))
            if not chunk:
                raise FormatError(f"{path}: tensor {info.name!r} is cut short (file truncated)")
            view[done:done + len(chunk)] = chunk
            done += len(chunk)
    return array_from(data, info, 0, byteorder)


def file_of(path: Path, info: TensorInfo) -> Path:
    """Which file holds ``info``'s bytes: a folder's or shard set's readers record the file
    relative to the folder (or to the shard's own folder); a single file records none."""
    if info.file is None:
        return path
    root = path if path.is_dir() else path.parent
    return root / info.file


class TensorMap(Mapping[str, Any]):
    """A read-only mapping ``name -> tensor`` whose values are built on first access.

    ``load(name)`` makes one value; it runs at most once per name (under a lock, so threads
    sharing the mapping get the same object). ``infos`` are the header's records (shape, dtype,
    bytes) for every name, available without touching any data; ``touched`` says which values
    were built so far.
    """

    def __init__(self, names: Iterator[str] | list[str], load: Callable[[str], Any], *,
                 infos: Mapping[str, TensorInfo] | None = None,
                 metadata: Mapping[str, Any] | None = None, path: Path | None = None) -> None:
        self._names = list(names)
        self._known = set(self._names)
        self._load = load
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.infos: Mapping[str, TensorInfo] = infos or {}
        self.metadata: Mapping[str, Any] = metadata or {}
        self.path = path

    def __getitem__(self, name: str) -> Any:
        if name not in self._known:
            raise KeyError(name)
        with self._lock:
            if name not in self._values:
                self._values[name] = self._load(name)
            return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._known

    @property
    def touched(self) -> frozenset[str]:
        return frozenset(self._values)

    @property
    def nbytes(self) -> int:
        """Bytes of tensor data as stored (what a full load would bring into memory)."""
        return sum(t.nbytes for t in self.infos.values())

    def __repr__(self) -> str:
        where = f" of {self.path}" if self.path else ""
        return f"<TensorMap{where}: {len(self)} tensors, {len(self._values)} loaded>"


__all__ = ["MAPPABLE", "NUMPY_DTYPES", "RAW_BITS", "MappedFiles", "QuantizedTensor",
           "TensorMap", "array_from", "file_of", "numpy_dtype", "read_one"]
