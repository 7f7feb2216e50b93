"""The Hub cache as a view of the store: huggingface_hub finds our files offline, same inode."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download, snapshot_download

from modelshelf.config import load_settings
from modelshelf.errors import BadContent
from modelshelf.sources.base import Ref, ResolveOptions
from modelshelf.sources.hf import resolve
from modelshelf.testing.hub import FakeHub
from modelshelf.views.hfcache import find_in_hf_cache, link_into_hf_cache, repo_folder


def fake_store(hub: FakeHub, repo: str, revision: str, store: Path) -> tuple[str, list]:
    """Resolve like a pull, put each file's bytes in a read-only blob: what the store would hold."""
    settings = load_settings({**os.environ, "HF_ENDPOINT": hub.url})
    res = resolve(Ref("hf", f"hf:{repo}@{revision}", repo, revision), settings, ResolveOptions())
    entries = []
    for f in res.files:
        data = hub.file(repo, f.path, res.revision or "").data
        assert isinstance(data, bytes)
        blob = store / hashlib.sha256(data).hexdigest()
        if not blob.exists():
            blob.write_bytes(data)
            blob.chmod(0o444)
        entries.append((f.path, f.etag, blob))
    return str(res.revision), entries


def test_linked_files_load_offline_with_the_store_inode(hub_server: FakeHub, tmp_path: Path):
    store, cache = tmp_path / "store", tmp_path / "hub"
    store.mkdir()
    commit, entries = fake_store(hub_server, "org/tiny", "v1.0", store)
    link = link_into_hf_cache(cache, "org/tiny", commit, "v1.0", entries)
    assert sorted(link.hard_linked) == sorted(p for p, _, _ in entries) and not link.symlinked
    hub_server.clear_log()
    for path_in_repo, _, blob in entries:
        found = hf_hub_download("org/tiny", path_in_repo, revision="v1.0", cache_dir=cache,
                                local_files_only=True)
        assert os.stat(found).st_ino == blob.stat().st_ino
        assert os.path.islink(found) and not os.path.isabs(os.readlink(found))
    folder = snapshot_download("org/tiny", revision="v1.0", cache_dir=cache,
                               local_files_only=True)
    assert Path(folder) == link.snapshot
    assert (Path(folder) / "unet" / "config.json").read_bytes() == b'{"sample_size": 64}'
    assert hub_server.log == []  # all of it offline
    assert (repo_folder(cache, "org/tiny") / "refs" / "v1.0").read_text() == commit


def test_layout_is_what_huggingface_hub_itself_writes(hub_server: FakeHub, tmp_path: Path):
    theirs, ours, store = tmp_path / "theirs", tmp_path / "ours", tmp_path / "store"
    store.mkdir()
    snapshot_download("org/tiny", endpoint=hub_server.url, cache_dir=theirs, token=False)
    commit, entries = fake_store(hub_server, "org/tiny", "main", store)
    link_into_hf_cache(ours, "org/tiny", commit, "main", entries)

    def layout(root: Path) -> dict[str, str]:
        repo = repo_folder(root, "org/tiny")
        found = {}
        for p in sorted(repo.rglob("*")):
            rel = str(p.relative_to(repo))
            if rel.startswith(("trees", ".no_exist")):
                continue  # huggingface_hub's own listing cache; optional
            found[rel] = os.readlink(p) if p.is_symlink() else (
                p.read_text() if rel.startswith("refs/") else "file" if p.is_file() else "dir")
        return found

    assert layout(ours) == layout(theirs)


def test_adopt_what_huggingface_hub_downloaded(hub_server: FakeHub, tmp_path: Path):
    cache, store = tmp_path / "hub", tmp_path / "store"
    store.mkdir()
    hf_hub_download("org/tiny", "model.safetensors", endpoint=hub_server.url, cache_dir=cache,
                    token=False)
    commit, entries = fake_store(hub_server, "org/tiny", "main", store)
    etags = {p: e for p, e, _ in entries}
    hub_file = hub_server.file("org/tiny", "model.safetensors")
    found = find_in_hf_cache(cache, "org/tiny", etags["model.safetensors"], size=hub_file.size)
    assert found is not None and found.read_bytes() == hub_file.data
    assert find_in_hf_cache(cache, "org/tiny", etags["config.json"]) is None
    assert find_in_hf_cache(cache, "org/tiny", etags["model.safetensors"], size=1) is None
    # The same LFS blob is found from another repo id: an LFS ETag is a content hash.
    assert find_in_hf_cache(cache, "other/repo", etags["model.safetensors"]) == found
    # Linking replaces huggingface_hub's own copy by the store's: one copy on disk.
    link_into_hf_cache(cache, "org/tiny", commit, "main", entries)
    store_blob = dict((p, b) for p, _, b in entries)["model.safetensors"]
    assert found.stat().st_ino == store_blob.stat().st_ino


def test_relinking_is_idempotent_and_moves_the_ref(hub_server: FakeHub, tmp_path: Path):
    cache, store = tmp_path / "hub", tmp_path / "store"
    store.mkdir()
    old, old_entries = fake_store(hub_server, "org/tiny", "v1.0", store)
    new, new_entries = fake_store(hub_server, "org/tiny", "main", store)
    link_into_hf_cache(cache, "org/tiny", old, "main", old_entries)
    link_into_hf_cache(cache, "org/tiny", old, "main", old_entries)
    link_into_hf_cache(cache, "org/tiny", new, "main", new_entries)
    refs = repo_folder(cache, "org/tiny") / "refs" / "main"
    assert refs.read_text() == new
    assert sorted(p.name for p in (repo_folder(cache, "org/tiny") / "snapshots").iterdir()) == \
        sorted([old, new])
    path = hf_hub_download("org/tiny", "config.json", cache_dir=cache, local_files_only=True)
    assert b'"v": 2' in Path(path).read_bytes()


def test_unsafe_paths_are_refused(tmp_path: Path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    with pytest.raises(BadContent, match="unsafe path"):
        link_into_hf_cache(tmp_path / "hub", "org/x", "a" * 40, "main",
                           [("../../escape", "b" * 40, blob)])
    assert not (tmp_path / "hub").exists()


def test_other_filesystem_falls_back_to_symlinks(hub_server: FakeHub, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    store, cache = tmp_path / "store", tmp_path / "hub"
    store.mkdir()
    commit, entries = fake_store(hub_server, "org/tiny", "main", store)

    def cross_device(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)  # what a Hub cache on another disk answers
    link = link_into_hf_cache(cache, "org/tiny", commit, "main", entries)
    assert not link.hard_linked and len(link.symlinked) == len(entries)
    path = hf_hub_download("org/tiny", "model.safetensors", cache_dir=cache, local_files_only=True)
    blob = dict((p, b) for p, _, b in entries)["model.safetensors"]
    assert os.path.samefile(path, blob)
