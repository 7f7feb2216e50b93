"""`link` pointed at the wrong thing: one clear usage error, not an OS error about a ledger."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("app", ["flat", "invokeai", "comfyui"])
def test_link_into_a_file_is_a_usage_error(cli, tmp_path: Path, app: str) -> None:
    target = tmp_path / "not-a-folder"
    target.write_text("mine")
    result = cli("link", app, str(target))
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert f"link {app}: {target} is not a folder" in line
    assert target.read_text() == "mine"


def test_forget_blob_removes_symlinked_cache_entries_and_keeps_the_rest(tmp_path: Path) -> None:
    import os

    from modelshelf.views.hfcache import forget_blob, repo_folder

    store_blob, other = tmp_path / "store" / "blob", tmp_path / "store" / "other"
    store_blob.parent.mkdir()
    store_blob.write_bytes(b"weights")
    other.write_bytes(b"config")
    repo = repo_folder(tmp_path / "hub", "org/m")
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "c0ffee" / "sub"
    snapshot.mkdir(parents=True)
    # A cache on another filesystem holds symlinks to the store's blobs, not hard links.
    for name, target in (("sha-weights", store_blob), ("sha-config", other)):
        os.symlink(target, repo / "blobs" / name)
    os.symlink("../../../blobs/sha-weights", snapshot / "model.safetensors")
    os.symlink("../../blobs/sha-config", snapshot.parent / "config.json")

    assert forget_blob(tmp_path / "hub", store_blob) == 1
    assert not os.path.lexists(repo / "blobs" / "sha-weights")
    assert not snapshot.exists()  # emptied, so removed
    assert (snapshot.parent / "config.json").read_bytes() == b"config"
    assert store_blob.exists()  # the store deletes its own blob; the cache only lets go
