"""GGUF, header only: magic, version, metadata key/values, tensor infos — never the tensor data.

``gguf.GGUFReader`` memory-maps the file and builds numpy views of every field and tensor
(seconds on a multi-GB file); we walk the same structure with a buffered cursor and keep Python
values, using the ``gguf`` package for every table (value types, quantisation types and block
sizes, file types, key names). Every count read from the file is checked against the bytes left
before anything is built from it, so a corrupt count is an error, never a huge allocation.
Shapes are reported outermost-first (PyTorch/safetensors order), i.e. GGUF's ``ne`` reversed.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import struct
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from modelshelf.formats.base import DATA_ONLY, ModelHeader, TensorInfo
from modelshelf.formats.source import Budget

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
CHUNK = 256 * 1024
KEEP_ARRAY = 256  # longer arrays (token lists, merges) are summarised by their length
KEEP_STRING = 1024 * 1024  # longer string values are skipped (kept as None)
MAX_NAME = 64 * 1024
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_TENSORS = 250_000  # real models have hundreds to a few thousand; beyond this, an attack
MAX_KV = 65_536  # real files have a few dozen keys
MAX_ARRAY = 1 << 24  # elements; the longest real arrays are vocabularies of ~260k tokens
MAX_ARRAY_NESTING = 4
MAX_ARRAY_OF_ARRAYS = 65_536  # no real file nests arrays; each inner one costs a Python call
# Smallest possible encodings, used to bound counts by the bytes left in the file.
MIN_KV = 8 + 4 + 1  # key length, value type, 1-byte value
MIN_TENSOR_INFO = 8 + 4 + 4 + 8  # name length, n_dims, type, offset


# struct codes of GGUF's fixed-size value types, by GGUFValueType member name (gguf-py keeps
# this in its writer and reader classes, which cannot be imported without numpy).
_PACKING = {
    "UINT8": "B", "INT8": "b", "UINT16": "H", "INT16": "h", "UINT32": "I", "INT32": "i",
    "FLOAT32": "f", "UINT64": "Q", "INT64": "q", "FLOAT64": "d", "BOOL": "?",
}


def _load_constants() -> ModuleType:
    """``gguf/constants.py`` alone: it needs only the standard library, whereas ``import gguf``
    runs the package's __init__, which imports numpy and the reader/writer (~0.1 s a process)."""
    if "gguf" in sys.modules:
        import gguf.constants

        return gguf.constants
    spec = importlib.util.find_spec("gguf")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the gguf package is required to read GGUF files")
    path = Path(spec.origin).with_name("constants.py")
    cspec = importlib.util.spec_from_file_location("_modelshelf_gguf_constants", path)
    if cspec is None or cspec.loader is None:
        raise ModuleNotFoundError(f"cannot load {path}")
    module = importlib.util.module_from_spec(cspec)
    cspec.loader.exec_module(module)
    return module


@functools.cache
def _tables() -> SimpleNamespace:
    """The ``gguf`` package's tables (types, quant block sizes, file types, key names)."""
    c = _load_constants()
    packing = {c.GGUFValueType[name]: code for name, code in _PACKING.items()}
    return SimpleNamespace(
        quant_sizes=c.GGML_QUANT_SIZES,
        quant_type=c.GGMLQuantizationType,
        value_type=c.GGUFValueType,
        packing=packing,
        value_sizes={vt: struct.calcsize(code) for vt, code in packing.items()},
        file_type=c.LlamaFileType,
        keys=c.Keys,
        default_alignment=c.GGUF_DEFAULT_ALIGNMENT,
    )


def bits_per_weight(ggml_type: str) -> float:
    """Bits each weight takes in a ggml type (``Q4_K`` -> 4.5), from the gguf package's block
    sizes: what a quantised file's size is estimated from before it exists."""
    block, type_size = _tables().quant_sizes[_tables().quant_type[ggml_type]]
    return float(type_size * 8 / block)


def looks_like(head: bytes, size: int) -> bool:
    return head[:4] == MAGIC


class _Cursor:
    """Sequential reads through a chunked buffer, so thousands of small fields cost few reads."""

    def __init__(self, src: Budget, endian: str) -> None:
        self.src = src
        self.e = endian
        self.pos = 0
        self._buf = b""
        self._buf_start = 0

    @property
    def left(self) -> int:
        return self.src.size - self.pos

    def take(self, n: int, what: str) -> bytes:
        rel = self.pos - self._buf_start
        if rel + n > len(self._buf):
            if n > self.left:
                raise self.src.error(f"GGUF {what} runs past the end of the file: truncated")
            self._buf = self.src.read(self.pos, max(n, min(CHUNK, self.left)), f"GGUF {what}")
            self._buf_start, rel = self.pos, 0
        self.pos += n
        return self._buf[rel : rel + n]

    def skip(self, n: int, what: str) -> None:
        if n > self.left:
            raise self.src.error(f"GGUF {what} runs past the end of the file: truncated")
        self.pos += n

    def unpack(self, fmt: str, what: str) -> Any:
        return struct.unpack(self.e + fmt, self.take(struct.calcsize(fmt), what))[0]

    def count(self, what: str, min_each: int, limit: int | None = None) -> int:
        n = self.unpack("Q", f"{what} count")
        if n * min_each > self.left:
            raise self.src.error(f"GGUF {what} count {n} is larger than the file could hold")
        if limit is not None and n > limit:
            raise self.src.error(f"GGUF {what} count {n} is more than the limit ({limit})")
        return n

    def string(self, what: str, keep: int = KEEP_STRING) -> str | None:
        n = self.count(f"{what} length", 1)
        if n > keep:
            self.skip(n, what)
            return None
        return self.take(n, what).decode("utf-8", errors="replace")

    def skip_strings(self, n: int, what: str) -> None:
        """Step over ``n`` strings (a 150k-token vocabulary) with one tight loop over the buffer;
        the slow path (``take``) only runs when a length straddles the buffer's end."""
        length_fmt = struct.Struct(self.e + "Q")
        unpack_from, size = length_fmt.unpack_from, self.src.size
        for _ in range(n):
            rel = self.pos - self._buf_start
            if 0 <= rel <= len(self._buf) - 8:
                (length,) = unpack_from(self._buf, rel)
                self.pos += 8 + length
            else:
                (length,) = length_fmt.unpack(self.take(8, what))
                self.pos += length
            if self.pos > size:
                raise self.src.error(f"GGUF {what} runs past the end of the file: truncated")

    def name(self, what: str) -> str:
        """Keys and tensor names: short by nature, so a long one is corruption."""
        s = self.string(what, keep=MAX_NAME)
        if s is None:
            raise self.src.error(f"GGUF {what} longer than {MAX_NAME} bytes")
        return s


def read(src: Budget) -> ModelHeader:
    t = _tables()
    head = src.read(0, 8, "GGUF magic and version") if src.size >= 8 else b""
    if head[:4] != MAGIC:
        raise src.error("not a GGUF file (bad magic or truncated before the version)")
    endian, version = _endianness(src, head[4:8])
    cur = _Cursor(src, endian)
    cur.pos = 8
    n_tensors = cur.count("tensor", MIN_TENSOR_INFO)
    n_kv = cur.count("metadata key/value", MIN_KV)
    if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
        raise src.error(f"GGUF declares {n_tensors} tensors and {n_kv} keys: more than the "
                        f"limits ({MAX_TENSORS} tensors, {MAX_KV} keys)")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.name("metadata key")
        metadata[key] = _value(cur, cur.unpack("I", "value type"), key, 0)
    alignment = metadata.get(t.keys.General.ALIGNMENT, t.default_alignment)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise src.error(f"GGUF general.alignment {alignment!r} is not a power of two")
    infos = [_tensor_info(cur) for _ in range(n_tensors)]
    data_start = -(-cur.pos // alignment) * alignment
    tensors = _place(src, infos, data_start, alignment)
    arch = metadata.get(t.keys.General.ARCHITECTURE)
    arch = arch if isinstance(arch, str) else None
    ctx = metadata.get(t.keys.LLM.CONTEXT_LENGTH.format(arch=arch)) if arch else None
    metadata["GGUF.version"] = version
    return ModelHeader(
        format="gguf",
        tensors=tensors,
        metadata=metadata,
        architecture=arch,
        quantization=_quantization(metadata.get(t.keys.General.FILE_TYPE)),
        context_length=ctx if isinstance(ctx, int) else None,
        byteorder="little" if endian == "<" else "big",
        safety=DATA_ONLY,
    )


def _endianness(src: Budget, raw: bytes) -> tuple[str, int]:
    """GGUF has no byte-order mark: a big-endian file shows its version byte-swapped."""
    for endian in "<>":
        (version,) = struct.unpack(endian + "I", raw)
        if version in SUPPORTED_VERSIONS:
            return endian, version
    (version,) = struct.unpack("<I", raw)
    raise src.error(f"unsupported GGUF version {version} (supported: 2, 3)")


def _value(cur: _Cursor, vtype: int, key: str, depth: int) -> Any:
    t = _tables()
    vt = t.value_type
    if vtype in t.packing:
        return cur.unpack(t.packing[vtype], key)
    if vtype == vt.STRING:
        return cur.string(key)
    if vtype != vt.ARRAY:
        raise cur.src.error(f"GGUF key {key!r}: unknown value type {vtype}")
    if depth >= MAX_ARRAY_NESTING:
        raise cur.src.error(f"GGUF key {key!r}: arrays nested too deeply")
    etype = cur.unpack("I", "array type")
    if etype in t.packing:
        return _number_array(cur, etype, key)
    min_each = {vt.STRING: 8, vt.ARRAY: 12}.get(etype)
    if min_each is None:
        raise cur.src.error(f"GGUF key {key!r}: unknown array element type {etype}")
    n = cur.count(f"key {key!r} array", min_each,
                  MAX_ARRAY_OF_ARRAYS if etype == vt.ARRAY else MAX_ARRAY)
    if n > KEEP_ARRAY and etype == vt.STRING:
        cur.skip_strings(n, key)
        return _stub(vt(etype).name, n)
    if n > KEEP_ARRAY:  # walked to find its end, nothing kept: bounded memory
        for _ in range(n):
            _value(cur, etype, key, depth + 1)
        return _stub(vt(etype).name, n)
    return [_value(cur, etype, key, depth + 1) for _ in range(n)]


def _number_array(cur: _Cursor, etype: int, key: str) -> Any:
    t = _tables()
    size = t.value_sizes[etype]
    n = cur.count(f"key {key!r} array", size, MAX_ARRAY)
    if n > KEEP_ARRAY:
        cur.skip(n * size, key)
        return _stub(t.value_type(etype).name, n)
    return list(struct.unpack(f"{cur.e}{n}{t.packing[etype]}", cur.take(n * size, key)))


def _stub(element_type: str, length: int) -> dict[str, Any]:
    """What ``metadata`` holds in place of a long array (e.g. tokenizer.ggml.tokens)."""
    return {"type": "array", "element_type": element_type, "length": length}


def _tensor_info(cur: _Cursor) -> tuple[str, tuple[int, ...], int, int]:
    name = cur.name("tensor name")
    n_dims = cur.unpack("I", "tensor dimension count")
    if n_dims > MAX_DIMS:
        raise cur.src.error(f"GGUF tensor {name!r} has {n_dims} dimensions (at most {MAX_DIMS})")
    ne = struct.unpack(f"{cur.e}{n_dims}Q", cur.take(8 * n_dims, "tensor dimensions"))
    ggml_type = cur.unpack("I", "tensor type")
    offset = cur.unpack("Q", "tensor offset")
    return name, ne, ggml_type, offset


def _place(
    src: Budget, infos: list[tuple[str, tuple[int, ...], int, int]], data_start: int, align: int
) -> dict[str, TensorInfo]:
    t = _tables()
    tensors: dict[str, TensorInfo] = {}
    spans: list[tuple[int, int, str]] = []
    for name, ne, ggml_type, offset in infos:
        if ggml_type not in t.quant_sizes:
            raise src.error(f"GGUF tensor {name!r}: unknown ggml type {ggml_type}")
        block, type_size = t.quant_sizes[ggml_type]
        if ne and ne[0] % block:
            raise src.error(f"GGUF tensor {name!r}: row of {ne[0]} is not a multiple of {block}")
        numel = 1
        for d in ne:
            numel *= d
        nbytes = numel // block * type_size
        if offset % align:
            raise src.error(f"GGUF tensor {name!r}: offset {offset} is not {align}-aligned")
        if data_start + offset + nbytes > src.size:
            raise src.error(f"GGUF tensor {name!r} data runs past the end of the file: truncated")
        if name in tensors:
            raise src.error(f"GGUF tensor {name!r} appears twice")
        dtype = t.quant_type(ggml_type).name
        tensors[name] = TensorInfo(name, dtype, tuple(reversed(ne)), nbytes, data_start + offset)
        spans.append((offset, offset + nbytes, name))
    spans.sort()
    for (_, end, prev), (start, _, name) in itertools.pairwise(spans):
        if start < end:
            raise src.error(f"GGUF tensors {prev!r} and {name!r} overlap")
    return tensors


def _quantization(file_type: Any) -> str | None:
    """``general.file_type`` as llama.cpp names it: MOSTLY_Q4_K_M -> Q4_K_M, ALL_F32 -> F32."""
    if not isinstance(file_type, int):
        return None
    try:
        name = _tables().file_type(file_type).name
    except ValueError:
        return None
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")
