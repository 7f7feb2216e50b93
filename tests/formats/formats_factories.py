"""Small model files built from scratch, so format tests need neither torch nor downloads.

The torch checkpoint writers emit pickle opcodes by hand (:class:`Emitter`): the globals torch
would write (``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``...) are just strings.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_OF = {
    np.dtype("float32"): "FloatStorage", np.dtype("float16"): "HalfStorage",
    np.dtype("float64"): "DoubleStorage", np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage", np.dtype("uint8"): "ByteStorage",
    np.dtype("bool"): "BoolStorage", np.dtype("int8"): "CharStorage",
}

# -- safetensors ---------------------------------------------------------------------------


def safetensors_bytes(
    tensors: dict[str, tuple[str, list[int], int]],
    metadata: dict[str, str] | None = None,
    header: dict[str, Any] | None = None,
    raw_header: bytes | None = None,
    data: bytes | None = None,
) -> bytes:
    """Hand-written safetensors: ``tensors`` maps name -> (dtype, shape, nbytes), laid out in
    order. ``header``/``raw_header``/``data`` override parts to build broken files."""
    if header is None:
        header, pos = {}, 0
        for name, (dtype, shape, nbytes) in tensors.items():
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + nbytes]}
            pos += nbytes
        if metadata is not None:
            header["__metadata__"] = metadata
    body = raw_header if raw_header is not None else json.dumps(header).encode()
    body += b" " * (-len(body) % 8)
    if data is None:
        data = bytes(range(256)) * (sum(t[2] for t in tensors.values()) // 256 + 1)
        data = data[: sum(t[2] for t in tensors.values())]
    return struct.pack("<Q", len(body)) + body + data


# -- pickles (torch formats, by hand) ------------------------------------------------------


@dataclass(frozen=True)
class G:
    """A global the pickle imports."""

    module: str
    name: str


@dataclass(frozen=True)
class R:
    """``func(*args)`` as the pickle would call it (REDUCE)."""

    func: Any
    args: tuple[Any, ...]


@dataclass(frozen=True)
class P:
    """A persistent id (torch storages)."""

    pid: tuple[Any, ...]


class OD(dict):
    """A dict written as collections.OrderedDict, as torch state dicts are."""


class Emitter:
    """Writes pickle protocol 2 opcodes for plain values and the G/R/P placeholders."""

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")

    def dump(self, obj: Any) -> bytes:
        self.emit(obj)
        self.out += b"."
        return bytes(self.out)

    def emit(self, obj: Any) -> None:
        o = self.out
        if obj is None:
            o += b"N"
        elif obj is True or obj is False:
            o += b"\x88" if obj else b"\x89"
        elif isinstance(obj, int):
            o += pickle.dumps(obj, 2)[2:-1]
        elif isinstance(obj, float):
            o += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, str):
            b = obj.encode()
            o += b"X" + struct.pack("<I", len(b)) + b
        elif isinstance(obj, G):
            o += f"c{obj.module}\n{obj.name}\n".encode()
        elif isinstance(obj, R):
            self.emit(obj.func)
            self.emit(tuple(obj.args))
            o += b"R"
        elif isinstance(obj, P):
            self.emit(tuple(obj.pid))
            o += b"Q"
        elif isinstance(obj, tuple):
            o += b"("
            for x in obj:
                self.emit(x)
            o += b"t"
        elif isinstance(obj, list):
            o += b"]("
            for x in obj:
                self.emit(x)
            o += b"e"
        elif isinstance(obj, dict):
            if isinstance(obj, OD):
                self.emit(G("collections", "OrderedDict"))
                o += b")R"
            else:
                o += b"}"
            o += b"("
            for k, v in obj.items():
                self.emit(k)
                self.emit(v)
            o += b"u"
        else:
            raise TypeError(type(obj))


def tensor(key: str, arr: np.ndarray, offset: int = 0, shape: tuple[int, ...] | None = None,
           stride: tuple[int, ...] | None = None, legacy: bool = False) -> R:
    """``_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``."""
    shape = arr.shape if shape is None else shape
    if stride is None:
        stride = tuple(s // arr.itemsize for s in np.empty(shape, arr.dtype).strides)
    pid = ("storage", G("torch", STORAGE_OF[arr.dtype]), key, "cpu", arr.size)
    if legacy:
        pid = (*pid, None)
    return R(G("torch._utils", "_rebuild_tensor_v2"),
             (P(pid), offset, tuple(shape), tuple(stride), False, OD()))


def state_dict(arrays: dict[str, np.ndarray], legacy: bool = False) -> tuple[OD, dict[str, bytes]]:
    sd, storages = OD(), {}
    for i, (name, arr) in enumerate(arrays.items()):
        sd[name] = tensor(str(i), arr, legacy=legacy)
        storages[str(i)] = np.ascontiguousarray(arr).tobytes()
    return sd, storages


def torch_zip(path: Path, obj: Any, storages: dict[str, bytes], root: str = "archive",
              data_pkl: bytes | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{root}/data.pkl", data_pkl if data_pkl is not None else Emitter().dump(obj))
        zf.writestr(f"{root}/byteorder", "little")
        for key, data in storages.items():
            zf.writestr(f"{root}/data/{key}", data)
        zf.writestr(f"{root}/version", "3\n")
    return path


def torch_legacy(path: Path, obj: Any, storages: dict[str, bytes], itemsize: dict[str, int],
                 main_pkl: bytes | None = None) -> Path:
    parts = [
        pickle.dumps(LEGACY_MAGIC, 2), pickle.dumps(1001, 2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True,
                      "type_sizes": {"short": 2, "int": 4, "long": 4}}, 2),
        main_pkl if main_pkl is not None else Emitter().dump(obj),
        pickle.dumps(list(storages), 2),
    ]
    for key, data in storages.items():
        parts.append(struct.pack("<q", len(data) // itemsize[key]) + data)
    path.write_bytes(b"".join(parts))
    return path


# -- GGUF ----------------------------------------------------------------------------------


def gguf_file(path: Path, arch: str = "llama", n_tokens: int = 1000, big_endian: bool = False,
              tensors: dict[str, np.ndarray] | None = None) -> Path:
    import gguf

    endian = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    w = gguf.GGUFWriter(str(path), arch, endianess=endian)
    w.add_context_length(4096)
    w.add_block_count(2)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_name("tiny test model")
    w.add_token_list([f"tok{i}" for i in range(n_tokens)])
    w.add_array("test.small", [1, 2, 3])
    if tensors is None:
        tensors = {
            "token_embd.weight": np.arange(64 * 8, dtype=np.float32).reshape(8, 64),
            "output_norm.weight": np.ones(64, dtype=np.float16),
        }
    for name, arr in tensors.items():
        w.add_tensor(name, arr)
    q8 = np.zeros((4, 2 * 34), dtype=np.uint8)  # 4 rows of 64 Q8_0 values
    w.add_tensor("blk.0.attn_q.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def gguf_raw(version: int = 3, n_tensors: int = 0, n_kv: int = 0, body: bytes = b"") -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv) + body


def gguf_string(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


# -- ONNX ----------------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(num << 3) + _varint(payload)
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def onnx_bytes(graph: bytes = b"\x0a\x04node" * 10) -> bytes:
    """A minimal ModelProto: ir_version, producer, graph, opset_import."""
    return (
        _field(1, 8) + _field(2, b"modelshelf-tests") + _field(3, b"1.0")
        + _field(7, graph) + _field(8, _field(1, b"") + _field(2, 17))
    )
