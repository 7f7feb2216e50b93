"""The registry: add/get/list/remove, name collisions, pins, migrations, scan cache, views."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from modelshelf.errors import ModelNotFound, NameConflict, NotFoundError, UsageError
from modelshelf.store import FileRecord, Store
from modelshelf.store.migrations import MIGRATIONS, SCHEMA_VERSION
from modelshelf.testing.models import AddBlob, new_model


def test_add_get_list_remove(store: Store, add_blob: AddBlob) -> None:
    lora = store.add_model(new_model("detail", add_blob(b"lora bytes")))
    ckpt = store.add_model(new_model("base", add_blob(b"ckpt bytes" * 9), type="checkpoints"))
    assert store.get("detail") == lora
    assert lora.metadata == {"note": "detail"} and lora.size == len(b"lora bytes")
    assert lora.created > 0 and lora.last_used == lora.created and not lora.pinned
    assert [m.name for m in store.list()] == ["base", "detail"]
    assert [m.name for m in store.list(type="checkpoints")] == ["base"]
    assert store.list(architecture="sd15") == []
    assert store.find_by_source("https://example.test/base") == ckpt
    freed = store.remove("base")
    assert freed == len(b"ckpt bytes" * 9)
    assert not store.has_blob(ckpt.sha256)
    assert store.find("base") is None
    with pytest.raises(ModelNotFound):
        store.get("base")
    with pytest.raises(ModelNotFound):
        store.remove("base")


def test_remove_keeps_blobs_other_names_use(store: Store, add_blob: AddBlob) -> None:
    rec = add_blob(b"shared")
    store.add_model(new_model("one", rec))
    store.add_model(new_model("two", rec))
    assert store.remove("one") == 0
    assert store.has_blob(rec.sha256)
    assert store.view_path(store.get("two")).read_bytes() == b"shared"


def test_name_conflict_and_force(store: Store, add_blob: AddBlob) -> None:
    old = add_blob(b"old")
    first = store.add_model(new_model("m", old))
    store.pin("m")
    again = store.add_model(new_model("m", old))  # same content: no-op
    assert again.created == first.created
    with pytest.raises(NameConflict, match="model m exists with other content; use --force"):
        store.add_model(new_model("m", add_blob(b"new")))
    assert store.get("m").sha256 == old.sha256
    replaced = store.add_model(new_model("m", add_blob(b"new")), force=True)
    assert replaced.pinned  # the pin belongs to the name
    assert store.view_path(replaced).read_bytes() == b"new"
    assert not store.has_blob(old.sha256)  # only the old version used it


def test_views_are_hard_links_and_follow_the_registry(store: Store, add_blob: AddBlob) -> None:
    single = store.add_model(new_model("tiny", add_blob(b"one file")))
    view = store.view_path(single)
    assert view == store.views_dir / "loras" / "tiny.safetensors"
    assert view.stat().st_ino == store.blob_path(single.sha256).stat().st_ino
    multi = store.add_model(new_model(
        "pipe", add_blob(b"unet", "unet/diffusion.safetensors"),
        add_blob(b"{}", "model_index.json"), type="checkpoints", format="diffusers"))
    folder = store.view_path(multi)
    assert folder == store.views_dir / "checkpoints" / "pipe"
    assert (folder / "unet" / "diffusion.safetensors").read_bytes() == b"unet"
    assert (folder / "model_index.json").read_bytes() == b"{}"
    store.remove("pipe")
    store.remove("tiny")
    assert not folder.exists() and not view.exists()
    assert (store.views_dir / "loras").is_dir()  # type folders stay for app links


def test_views_fall_back_to_symlinks(store: Store, add_blob: AddBlob,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    rec = add_blob(b"across devices")

    def exdev(*_a: object, **_k: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", exdev)
    model = store.add_model(new_model("far", rec))
    view = store.view_path(model)
    assert view.is_symlink()
    assert view.resolve() == store.blob_path(rec.sha256)
    assert view.read_bytes() == b"across devices"


def test_repeated_add_repairs_a_deleted_view(store: Store, add_blob: AddBlob) -> None:
    model = store.add_model(new_model("fixme", add_blob(b"data")))
    store.view_path(model).unlink()
    store.add_model(new_model("fixme", model.files[0]))
    assert store.view_path(model).read_bytes() == b"data"


def test_refuses_missing_blob_and_bad_values(store: Store, add_blob: AddBlob) -> None:
    ghost = FileRecord("x.safetensors", "ab" * 32, 3)
    with pytest.raises(NotFoundError):
        store.add_model(new_model("ghost", ghost))
    rec = add_blob(b"ok")
    for bad in ("", "../up", "a/b", ".hidden"):
        with pytest.raises(UsageError):
            store.add_model(new_model(bad, rec))
    with pytest.raises(UsageError):
        store.add_model(new_model("t", rec, type="weights"))
    with pytest.raises(UsageError):
        store.add_model(new_model("p", FileRecord("../evil", rec.sha256, rec.size)))
    assert store.list() == []


def test_view_clash_between_names_is_a_conflict(store: Store, add_blob: AddBlob) -> None:
    store.add_model(new_model("a", add_blob(b"1")))
    with pytest.raises(NameConflict):
        store.add_model(new_model("a.safetensors", add_blob(b"2")))


def test_pin_unpin_touch(store: Store, add_blob: AddBlob) -> None:
    store.add_model(new_model("m", add_blob(b"m")))
    store.pin("m")
    assert store.get("m").pinned
    store.pin("m", False)
    assert not store.get("m").pinned
    store.touch("m", when=123.0)
    assert store.get("m").last_used == 123.0
    with pytest.raises(ModelNotFound):
        store.pin("nope")


def test_meta_and_scan_cache(store: Store, add_blob: AddBlob) -> None:
    store.add_model(new_model("m", add_blob(b"m")))
    path = store.save_meta("m", "civitai.json", b'{"id": 1}')
    assert path == store.meta_dir / "m" / "civitai.json" and path.read_bytes() == b'{"id": 1}'
    assert store.scan_cache_get("/x/a.bin", 10, 99, 7) is None
    store.scan_cache_put("/x/a.bin", 10, 99, 7, "cd" * 32, {"format": "gguf"})
    hit = store.scan_cache_get("/x/a.bin", 10, 99, 7)
    assert hit is not None and hit["sha256"] == "cd" * 32 and hit["info"] == {"format": "gguf"}
    assert store.scan_cache_get("/x/a.bin", 10, 100, 7) is None  # changed mtime: re-read
    store.remove("m")
    assert not (store.meta_dir / "m").exists()


def test_migrates_an_older_registry(tmp_path: Path) -> None:
    home = tmp_path / "old-store"
    home.mkdir()
    conn = sqlite3.connect(home / "registry.sqlite3")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO models (name, type, architecture, format, source, source_ref, "
                 "created, last_used) VALUES ('legacy', 'vae', 'sd15', 'safetensors', 'url', "
                 "'https://x/vae', 1.0, 2.0)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store(home)
    assert store.get("legacy").last_used == 2.0
    store.scan_cache_put("/a", 1, 1, 1, "ef" * 32, {})  # a table version 2 added
    with sqlite3.connect(home / "registry.sqlite3") as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_refuses_a_registry_from_the_future(tmp_path: Path) -> None:
    home = tmp_path / "future"
    Store(home)
    with sqlite3.connect(home / "registry.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(Exception, match="newer than this modelshelf"):
        Store(home)


def test_an_architecture_family_lists_its_releases(store: Store, add_blob: AddBlob) -> None:
    """`ls --arch sd3` finds SD3 medium and SD3.5 large; `flux` is not `flux2`."""
    for name, arch in (("m", "sd3-medium"), ("l", "sd3.5-large"), ("s", "sd3"),
                       ("d", "flux-dev"), ("f2", "flux2"), ("x", "sdxl")):
        store.add_model(new_model(name, add_blob(name.encode() * 3), architecture=arch))
    assert [m.name for m in store.list(architecture="sd3")] == ["l", "m", "s"]
    assert [m.name for m in store.list(architecture="sd3.5-large")] == ["l"]
    assert [m.name for m in store.list(architecture="flux")] == ["d"]
    assert [m.name for m in store.list(architecture="sd%")] == []
