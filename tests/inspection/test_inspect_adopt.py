"""scan --adopt: files move into the store, links stay, duplicates collapse, nothing is lost."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from inspect_models import write_sharded, write_st

import modelshelf.store.blobs as blobs_mod
from modelshelf.inspection import plan_adopt, scan
from modelshelf.store import Store


def _snapshot(paths: list[Path]) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


def _setup(root: Path) -> list[Path]:
    a = write_st(root / "loras" / "style.safetensors", {"w": (32, 32)}, seed=1)
    a2 = root / "downloads" / "style (1).safetensors"
    a2.parent.mkdir(parents=True)
    a2.write_bytes(a.read_bytes())
    b = write_st(root / "other" / "style.safetensors", {"w": (16, 16)}, seed=2)  # same stem
    c = write_st(root / "vae.safetensors", {"x": (8,)}, seed=3)
    return [a, a2, b, c]


def test_dry_run_plan_changes_nothing(tmp_path: Path, store: Store) -> None:
    paths = _setup(tmp_path / "m")
    before = _snapshot(paths)
    result = scan(tmp_path / "m", store=store, hash_all=True)
    plan = plan_adopt(result, store)
    names = sorted(i.name for i in plan.items)
    assert names == ["style", "style-2", "vae"]
    assert sum(len(i.paths) for i in plan.items) == 4  # the copy rides with its original
    assert _snapshot(paths) == before and store.list() == []
    assert plan.to_json()["adopt"]

    dry = scan(tmp_path / "m", store=store, adopt=True, dry_run=True)
    assert dry.adopted == () and dry.adopt_plan == plan
    assert [i["name"] for i in dry.to_json()["adopt_plan"]["adopt"]] == [i.name for i in plan.items]
    assert _snapshot(paths) == before and store.list() == []
    assert all(p.stat().st_nlink == 1 for p in paths)


def test_adopt_moves_links_and_collapses_duplicates(tmp_path: Path, store: Store) -> None:
    paths = _setup(tmp_path / "m")
    before = _snapshot(paths)
    result = scan(tmp_path / "m", store=store, adopt=True)
    assert sorted(result.adopted) == ["style", "style-2", "vae"] and not result.adopt_failed
    assert _snapshot(paths) == before  # apps still read the same bytes at the same paths
    models = {m.name: m for m in store.list()}
    assert set(models) == {"style", "style-2", "vae"}
    for p in paths:
        blob = store.blob_path(_digest_of(p, models))
        assert os.path.samefile(p, blob)  # a link to the blob, not a second copy
    a, a2 = paths[0], paths[1]
    assert os.stat(a).st_ino == os.stat(a2).st_ino  # the duplicate collapsed into one blob
    assert len(list(store.blobs_dir.rglob("*"))) - _dirs(store) == 3
    assert all(m.source == "local" for m in models.values())

    # A second adopt finds everything already in place and registers nothing new.
    again = scan(tmp_path / "m", store=store, adopt=True)
    assert again.adopted == () and len(store.list()) == 3


def _dirs(store: Store) -> int:
    return sum(1 for p in store.blobs_dir.rglob("*") if p.is_dir())


def _digest_of(path: Path, models: dict) -> str:
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert any(f.sha256 == digest for m in models.values() for f in m.files)
    return digest


def test_adopt_a_model_folder(tmp_path: Path, store: Store) -> None:
    folder = write_sharded(tmp_path / "m" / "my-llm")
    before = _snapshot(sorted(folder.iterdir()))
    result = scan(tmp_path / "m", store=store, adopt=True)
    assert result.adopted == ("my-llm",)
    (model,) = store.list()
    assert {f.path for f in model.files} == {p.name for p in before}
    assert _snapshot(sorted(folder.iterdir())) == before


def test_crash_mid_adopt_loses_nothing_and_a_rerun_finishes(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _setup(tmp_path / "m")
    before = _snapshot(paths)
    real_link, real_add = blobs_mod.place_link, Store.add_model

    def crash(*args: object, **kw: object) -> None:
        raise OSError(5, "simulated crash")

    # Relinking the first file fails after its blob exists; registering another model fails
    # after its file was imported: the two windows where a crash could lose a file.
    links = {"n": 0}

    def link_once_then_crash(*args: object, **kw: object) -> object:
        links["n"] += 1
        if links["n"] == 1:
            crash()
        return real_link(*args, **kw)

    monkeypatch.setattr(blobs_mod, "place_link", link_once_then_crash)
    calls = {"n": 0}

    def add_then_crash(self: Store, new: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            crash()
        return real_add(self, new, **kw)

    monkeypatch.setattr(Store, "add_model", add_then_crash)
    result = scan(tmp_path / "m", store=store, adopt=True)
    assert len(result.adopt_failed) == 2  # reported, not raised
    assert _snapshot(paths) == before  # every file still there with its bytes

    monkeypatch.setattr(blobs_mod, "place_link", real_link)
    monkeypatch.setattr(Store, "add_model", real_add)
    scan(tmp_path / "m", store=store, adopt=True)
    assert sorted(m.name for m in store.list()) == ["style", "style-2", "vae"]
    assert _snapshot(paths) == before
    assert os.stat(paths[0]).st_ino == os.stat(paths[1]).st_ino


def test_broken_files_and_symlinks_are_left_alone(tmp_path: Path, store: Store) -> None:
    bad = write_st(tmp_path / "m" / "bad.safetensors", {"w": (100, 100)})
    bad.write_bytes(bad.read_bytes()[:300])
    outside = write_st(tmp_path / "elsewhere" / "x.safetensors", {"w": (4, 4)})
    (tmp_path / "m" / "x-link.safetensors").symlink_to(outside)
    result = scan(tmp_path / "m", store=store, adopt=True)
    assert result.adopted == () and store.list() == []
    assert bad.stat().st_nlink == 1 and outside.stat().st_nlink == 1
    assert (tmp_path / "m" / "x-link.safetensors").is_symlink()


def test_a_copy_of_a_registered_model_is_linked_not_registered_again(
    tmp_path: Path, store: Store
) -> None:
    a = write_st(tmp_path / "first" / "a.safetensors", {"w": (16, 16)})
    scan(tmp_path / "first", store=store, adopt=True)
    copy = tmp_path / "second" / "again.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(a.read_bytes())
    result = scan(tmp_path / "second", store=store, adopt=True)
    assert result.adopted == () and not result.adopt_failed
    assert [m.name for m in store.list()] == ["a"]
    assert os.path.samefile(copy, a)  # both paths now show the one blob


def test_nothing_outside_the_scanned_folder_is_touched(tmp_path: Path, store: Store) -> None:
    """A symlinked directory leading out, and a hard link whose other name is outside."""
    elsewhere = write_st(tmp_path / "elsewhere" / "far.safetensors", {"w": (8, 8)}, seed=4)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "shortcut").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    twin_outside = write_st(tmp_path / "elsewhere2" / "twin.safetensors", {"w": (4, 4)}, seed=5)
    twin_inside = tmp_path / "m" / "twin.safetensors"
    os.link(twin_outside, twin_inside)
    before = {p: (os.lstat(p).st_ino, os.lstat(p).st_mode) for p in (elsewhere, twin_outside)}
    result = scan(tmp_path / "m", store=store, adopt=True)
    assert not result.adopt_failed
    assert result.adopt_plan is not None
    assert result.adopt_plan.outside == (str(tmp_path / "m" / "shortcut" / "far.safetensors"),)
    assert [m.name for m in store.list()] == ["twin"]
    assert {p: (os.lstat(p).st_ino, os.lstat(p).st_mode) for p in before} == before
    assert twin_inside.is_symlink() and twin_inside.read_bytes() == twin_outside.read_bytes()


def test_adopted_files_keep_what_the_user_sees(tmp_path: Path, store: Store) -> None:
    """A link in place whose reads work as before, never a file turned read-only under the
    user, and a private file's bytes never made readable by others through the store."""
    private = write_st(tmp_path / "m" / "private.safetensors", {"w": (8, 8)}, seed=6)
    os.chmod(private, 0o640)
    data = private.read_bytes()
    scan(tmp_path / "m", store=store, adopt=True)
    (model,) = store.list()
    blob = store.blob_path(model.sha256)
    assert private.is_symlink() and os.path.samefile(private, blob)
    assert private.read_bytes() == data
    assert stat.S_IMODE(os.stat(blob).st_mode) == 0o440  # the file's read bits, no write bits
    # The user's path is not the store's inode: it has no read-only bits of its own to show.
    assert os.lstat(private).st_ino != os.stat(blob).st_ino
