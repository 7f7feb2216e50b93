"""Blobs: one per digest, atomic commits, read-only, and the three ways to import a local file."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from modelshelf.errors import HashMismatch
from modelshelf.store import Store
from modelshelf.testing.models import AddBlob, new_model


def test_blob_layout_and_read_only(store: Store, add_blob: AddBlob) -> None:
    rec = add_blob(b"weights" * 100)
    blob = store.blob_path(rec.sha256)
    assert blob == store.home / "blobs" / "sha256" / rec.sha256[:2] / rec.sha256
    assert blob.read_bytes() == b"weights" * 100
    assert not blob.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert store.has_blob(rec.sha256)
    assert list(store.staging_dir.iterdir()) == []


def test_commit_of_existing_digest_drops_staged_copy(store: Store, add_blob: AddBlob) -> None:
    first = add_blob(b"same bytes")
    inode = store.blob_path(first.sha256).stat().st_ino
    again = add_blob(b"same bytes")
    assert again.sha256 == first.sha256
    assert store.blob_path(first.sha256).stat().st_ino == inode  # not replaced
    assert list(store.staging_dir.iterdir()) == []


def test_two_names_one_blob_and_du_shows_the_saving(store: Store, add_blob: AddBlob) -> None:
    data = os.urandom(10_000)
    rec = add_blob(data)
    store.add_model(new_model("alpha", rec))
    store.add_model(new_model("beta", rec, type="checkpoints"))
    assert len(list(store.blobs_dir.rglob("*/*"))) == 1 + 1  # shard dir + blob
    usage = store.du().to_json()
    assert usage["total_bytes"] == 20_000
    assert usage["unique_bytes"] == 10_000
    assert usage["saved_bytes"] == 10_000
    assert usage["by_type"] == {"checkpoints": 10_000, "loras": 10_000}
    assert usage["free_bytes"] > 0
    assert usage["by_model"] == {"alpha": 10_000, "beta": 10_000}


def test_import_copy_hashes_while_copying(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "my.safetensors"
    src.write_bytes(b"x" * 5000)
    rec = store.import_file(src)
    assert (rec.path, rec.size) == ("my.safetensors", 5000)
    assert rec.sha256 == hashlib.sha256(b"x" * 5000).hexdigest()
    assert src.stat().st_ino != store.blob_path(rec.sha256).stat().st_ino
    assert os.access(src, os.W_OK)  # the user's file is untouched
    assert list(store.staging_dir.iterdir()) == []


def test_import_link_shares_the_inode(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "big.gguf"
    src.write_bytes(b"gguf" * 1000)
    rec = store.import_file(src, mode="link")
    assert src.stat().st_ino == store.blob_path(rec.sha256).stat().st_ino


def test_import_link_falls_back_to_copy_across_filesystems(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "remote.bin"
    src.write_bytes(b"drive" * 100)
    _no_hard_links(monkeypatch)
    rec = store.import_file(src, mode="link")
    assert store.blob_path(rec.sha256).read_bytes() == b"drive" * 100
    assert src.stat().st_ino != store.blob_path(rec.sha256).stat().st_ino


def test_import_move_leaves_a_link_behind(store: Store, tmp_path: Path, add_blob: AddBlob) -> None:
    fresh = tmp_path / "fresh.safetensors"
    fresh.write_bytes(b"fresh")
    rec = store.import_file(fresh, mode="move")
    assert fresh.stat().st_ino == store.blob_path(rec.sha256).stat().st_ino
    # A second copy of bytes the store already has becomes a link to the existing blob.
    dup = tmp_path / "dup.safetensors"
    dup.write_bytes(b"fresh")
    store.import_file(dup, mode="move")
    assert dup.stat().st_ino == store.blob_path(rec.sha256).stat().st_ino
    assert dup.read_bytes() == b"fresh"


def test_import_move_across_filesystems_leaves_a_symlink(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "elsewhere.ckpt"
    src.write_bytes(b"ckpt" * 50)
    _no_hard_links(monkeypatch)
    rec = store.import_file(src, mode="move")
    assert src.is_symlink()
    assert src.resolve() == store.blob_path(rec.sha256)
    assert src.read_bytes() == b"ckpt" * 50


def test_import_with_wrong_expected_sha256_keeps_nothing(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "m.bin"
    src.write_bytes(b"abc")
    with pytest.raises(HashMismatch):
        store.import_file(src, expected_sha256="0" * 64)
    assert list(store.staging_dir.iterdir()) == []
    assert not list(store.blobs_dir.rglob("sha256/*/*"))


def _no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    def fail(*_args: object, **_kw: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", fail)


def test_concurrent_commits_of_one_digest_make_one_blob(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = os.urandom(50_000)
    sha = hashlib.sha256(data).hexdigest()
    staged = []
    for i in range(8):
        path = store.staging_dir / f"dl-{i}.part"
        path.write_bytes(data)
        staged.append(path)
    with ThreadPoolExecutor(8) as pool:
        blobs = set(pool.map(lambda p: store.commit_blob(p, sha), staged))
    assert blobs == {store.blob_path(sha)}
    assert store.blob_path(sha).read_bytes() == data
    assert store.blob_path(sha).stat().st_nlink == 1
    assert list(store.staging_dir.iterdir()) == []


def test_a_bad_digest_is_refused_before_anything_moves(store: Store) -> None:
    from modelshelf.errors import UsageError

    staged = store.staging_dir / "x.part"
    staged.write_bytes(b"x")
    with pytest.raises(UsageError):
        store.commit_blob(staged, "not-a-digest")
    assert staged.exists()
