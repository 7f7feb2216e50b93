"""Which format a single file is in, decided by its bytes — never by its name.

Each format offers a cheap test on the first bytes; the first that matches wins. The order
matters only where signatures could overlap: strong magics (GGUF, zip) first, the weak ones
(ONNX's protobuf shape, protocol-0 pickles that merely parse) last.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable

from modelshelf.formats import gguf_fmt, onnx_fmt, pickle_fmt, safetensors_fmt
from modelshelf.formats.source import Budget

HEAD = 64
OLD_PICKLE_PROBE = 64 * 1024


def _torch_zip(head: bytes, src: Budget) -> bool:
    """A zip whose first entry is ``<dir>/*.pkl`` (torch writes data.pkl first), or whose
    central directory holds one ``<dir>/data.pkl``; other zips (.npz, .keras) are not ours."""
    if not head.startswith(pickle_fmt.ZIP_MAGIC) or len(head) < 30:
        return False
    (name_len,) = struct.unpack("<H", head[26:28])
    first = src.peek(30, min(name_len, 1024))
    if first.count(b"/") == 1 and first.endswith(b".pkl"):
        return True
    try:
        with zipfile.ZipFile(pickle_fmt._ZipView(src)) as zf:
            return pickle_fmt.torch_zip_root(zf.namelist()) is not None
    except Exception:  # a broken zip that does not say "torch" is just not ours
        return False


def _old_pickle(head: bytes, src: Budget) -> bool:
    return pickle_fmt.parses_as_pickle(src.peek(0, OLD_PICKLE_PROBE))


SIGNATURES: tuple[tuple[str, Callable[[bytes, Budget], bool]], ...] = (
    ("gguf", lambda head, src: gguf_fmt.looks_like(head, src.size)),
    ("safetensors", lambda head, src: safetensors_fmt.looks_like(head, src.size)),
    ("pickle", _torch_zip),
    ("pickle", lambda head, src: pickle_fmt.looks_like_pickle(head)),
    ("onnx", lambda head, src: onnx_fmt.looks_like(head, src.size)),
    ("pickle", _old_pickle),
)


def detect_source(src: Budget) -> str:
    head = src.peek(0, HEAD)
    for fmt, test in SIGNATURES:
        if test(head, src):
            return fmt
    return "unknown"
