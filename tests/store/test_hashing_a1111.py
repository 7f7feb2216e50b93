"""AUTOMATIC1111's legacy "model hash": exactly A1111's value, never the constant of no bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from modelshelf.hashing import a1111_legacy_hash
from modelshelf.inspection.info import inspect_path
from modelshelf.testing.factories.files import write_safetensors

EMPTY_SHA256_PREFIX = hashlib.sha256(b"").hexdigest()[:8]  # e3b0c442


def _a1111_model_hash(path: Path) -> str:
    """A1111's modules/sd_models.py ``model_hash``, as it is written there."""
    with open(path, "rb") as file:
        m = hashlib.sha256()
        file.seek(0x100000)
        m.update(file.read(0x10000))
        return m.hexdigest()[0:8]


def test_small_files_get_no_legacy_hash_instead_of_the_hash_of_nothing(tmp_path: Path) -> None:
    small = write_safetensors(tmp_path / "lora.safetensors", {"w": (16, 16)})
    exactly = tmp_path / "one-mib.bin"
    exactly.write_bytes(b"\1" * 0x100000)
    for path in (small, exactly):
        assert _a1111_model_hash(path) == EMPTY_SHA256_PREFIX  # what A1111 would print
        assert a1111_legacy_hash(path) is None
    assert inspect_path(small).fingerprints["a1111_legacy"] is None


def test_files_past_one_mib_match_a1111(tmp_path: Path) -> None:
    short_tail = tmp_path / "short-tail.bin"  # 1 MiB + 10 bytes: A1111 hashes those 10
    short_tail.write_bytes(bytes(range(256)) * 4096 + b"0123456789")
    big = write_safetensors(tmp_path / "m.safetensors", {"w": (300, 1000)}, dtype="F32",
                            fill="random")
    for path in (short_tail, big):
        assert a1111_legacy_hash(path) == _a1111_model_hash(path) != EMPTY_SHA256_PREFIX
