"""Digests users meet: sha256 (the store's key), Civitai's AutoV2 and AUTOMATIC1111's legacy hash.

hashlib releases the GIL on buffers larger than 2 KiB, so hashing in a background thread overlaps
with I/O; 256 KiB reads keep SHA-NI near its peak (~1.2 GB/s on one core here) without growing RSS.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from modelshelf.errors import UsageError

CHUNK = 256 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
# AUTOMATIC1111's "model hash" (before it switched to sha256): sha256 of 64 KiB at offset 1 MiB.
_A1111_OFFSET = 0x100000
_A1111_LENGTH = 0x10000


def parse_sha256(text: str) -> str:
    """Accept ``<hex>`` or ``sha256:<hex>`` (any case); return 64 lowercase hex digits."""
    value = text.strip().lower().removeprefix("sha256:")
    if not _HEX64.fullmatch(value):
        raise UsageError(f"sha256 {text!r}: expected 64 hex digits, optionally prefixed 'sha256:'")
    return value


def sha256_file(path: str | os.PathLike[str], chunk: int = CHUNK) -> str:
    """Hash a whole file with a fixed-size buffer (flat memory whatever the size)."""
    digest = hashlib.sha256()
    buf = bytearray(chunk)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def autov2(sha256_hex: str) -> str:
    """Civitai's AutoV2 short hash: the first 10 hex digits of the sha256, upper-case as shown."""
    return sha256_hex[:10].upper()


def a1111_legacy_hash(path: str | os.PathLike[str]) -> str | None:
    """The 8-hex 'model hash' old AUTOMATIC1111 builds print: sha256 of 64 KiB at 1 MiB, or
    ``None`` for a file of 1 MiB or less.

    A1111's ``model_hash`` (``modules/sd_models.py``) seeks to 0x100000 and hashes whatever
    ``read(0x10000)`` returns; past the end of a short file that is nothing, so every such file
    gets ``e3b0c442`` (the sha256 of no bytes). We compute exactly what A1111 computes, but a
    value shared by every small LoRA and embedding identifies nothing and would make unrelated
    files look like one, so we leave it out instead.
    """
    with Path(path).open("rb") as fh:
        if os.fstat(fh.fileno()).st_size <= _A1111_OFFSET:
            return None
        fh.seek(_A1111_OFFSET)
        return hashlib.sha256(fh.read(_A1111_LENGTH)).hexdigest()[:8]


def git_blob_sha1(path: str | os.PathLike[str], chunk: int = CHUNK) -> str:
    """Git's object id of a file: sha1 over ``blob <size>\\0`` + bytes.

    The Hub publishes no sha256 for small (non-LFS) files, only this id as their ETag, so it is
    what we can check them against.
    """
    size = os.path.getsize(path)
    digest = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as fh:
        while data := fh.read(chunk):
            digest.update(data)
    return digest.hexdigest()
