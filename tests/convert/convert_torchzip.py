"""Write PyTorch zip checkpoints without torch, opcode by opcode, for the converter's tests.

The layout is what ``torch.save`` produces: ``archive/data.pkl`` (protocol 2, tensors rebuilt by
``torch._utils._rebuild_tensor_v2`` from persistent storage ids) and one stored (uncompressed)
``archive/data/<key>`` entry per storage.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STORAGE_CLASS = {np.float32: "FloatStorage", np.float16: "HalfStorage", np.int64: "LongStorage",
                 np.float64: "DoubleStorage"}


@dataclass(frozen=True)
class View:
    """A tensor as a view into a storage: ``storage`` key, element offset, shape, stride."""

    storage: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...] | None = None


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _unicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(v: int) -> bytes:
    return b"J" + struct.pack("<i", v)


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return tuple(reversed(out))


def pickle_bytes(views: dict[str, View], storages: dict[str, np.ndarray]) -> bytes:
    od = _global("collections", "OrderedDict") + b")R"
    body = [b"\x80\x02", od, b"("]
    for name, v in views.items():
        arr = storages[v.storage]
        cls = STORAGE_CLASS[arr.dtype.type]
        pid = _tuple([_unicode("storage"), _global("torch", cls), _unicode(v.storage),
                      _unicode("cpu"), _int(arr.size)]) + b"Q"
        stride = v.stride or _contiguous(v.shape)
        args = _tuple([pid, _int(v.offset), _tuple([_int(d) for d in v.shape]),
                       _tuple([_int(s) for s in stride]), b"\x89", od])
        body += [_unicode(name), _global("torch._utils", "_rebuild_tensor_v2"), args, b"R"]
    body += [b"u", b"."]
    return b"".join(body)


def write_torch_zip(path: Path, views: dict[str, View], storages: dict[str, np.ndarray],
                    *, compress: bool = False) -> Path:
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pickle_bytes(views, storages))
        for key, arr in storages.items():
            zf.writestr(f"archive/data/{key}", arr.tobytes(), compress_type=mode)
        zf.writestr("archive/version", "3\n")
    return path


def simple_state_dict(path: Path, tensors: dict[str, np.ndarray]) -> Path:
    """One storage per tensor, contiguous: the common case."""
    views = {name: View(str(i), 0, arr.shape) for i, (name, arr) in enumerate(tensors.items())}
    storages = {str(i): arr.reshape(-1) for i, arr in enumerate(tensors.values())}
    return write_torch_zip(path, views, storages)
