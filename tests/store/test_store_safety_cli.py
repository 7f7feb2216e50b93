"""What `rm`, `verify` and `gc` do when the user's data is at stake: pinned models, view files
apps read, a registry that is gone."""

from __future__ import annotations

import functools
import gc
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from modelshelf.store import ModelRecord, Store
from modelshelf.store.repair import read_snapshot
from modelshelf.testing.models import new_model, put_blob


def _stocked(home: Path) -> Store:
    store = Store(home)
    store.add_model(new_model("one", put_blob(store, b"one" * 1000)))
    store.add_model(new_model("two", put_blob(store, b"two" * 1000, "w.safetensors"),
                              put_blob(store, b"{}", "config.json"), type="checkpoints"))
    return store


def test_rm_of_a_pinned_model_needs_force(isolated_env: Path, cli: Callable[..., object]) -> None:
    store = _stocked(isolated_env)
    store.pin("one")
    refused = cli("rm", "two", "one")
    assert refused.code == 1
    assert refused.err.count("\n") == 1 and "one: pinned" in refused.err and "--force" in refused.err
    assert [m.name for m in store.list()] == ["one", "two"]  # nothing was changed
    forced = cli("rm", "-f", "one", "--json")
    assert forced.code == 0 and forced.json["removed"] == ["one"]
    assert [m.name for m in store.list()] == ["two"]


def test_verify_reports_view_files_that_no_longer_show_the_blob(
        isolated_env: Path, cli: Callable[..., object]) -> None:
    store = _stocked(isolated_env)
    assert cli("verify", "--json").json["views_failed"] == []
    single = store.view_path(store.get("one"))
    single.unlink()
    single.write_bytes(b"something else")  # an app or a user put another file there
    (store.view_path(store.get("two")) / "config.json").unlink()
    result = cli("verify", "--json")
    assert result.code == 1
    assert result.json["failed"] == []  # the blobs themselves are fine
    problems = {(v["name"], Path(v["path"]).name, v["problem"])
                for v in result.json["views_failed"]}
    assert problems == {("one", single.name, "replaced by another file"),
                        ("two", "config.json", "missing")}
    human = cli("verify")
    assert human.code == 1 and "modelshelf repair" in human.out


def _blob_count(home: Path) -> int:
    return sum(1 for _ in (home / "blobs").rglob("*") if _.is_file())


def _in_thread(work: Callable[[], object]) -> None:
    """Run ``work`` in a thread that ends: its SQLite connection (one per thread) closes with it,
    as it would in a process that exits, before the test damages the file under it."""
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    gc.collect()


@pytest.mark.parametrize("damage", ["truncate", "delete", "garbage"])
def test_a_lost_registry_is_an_error_naming_repair_and_repair_restores_it(
        isolated_env: Path, cli: Callable[..., object], damage: str) -> None:
    before: dict[str, ModelRecord] = {}

    def stock() -> None:
        store = _stocked(isolated_env)
        store.pin("one")
        before.update((m.name, m) for m in store.list())

    _in_thread(stock)
    registry = isolated_env / "registry.sqlite3"
    for extra in ("-wal", "-shm"):
        Path(f"{registry}{extra}").unlink(missing_ok=True)
    if damage == "delete":
        registry.unlink()
    else:
        registry.write_bytes(b"" if damage == "truncate" else b"not a database" * 100)
    for command in (("ls",), ("verify",), ("gc", "--dry-run")):
        result = cli(*command)
        assert result.code == 1, command
        assert result.err.count("\n") == 1 and "modelshelf repair" in result.err
    assert _blob_count(isolated_env) == 3
    repaired = cli("repair", "--json")
    assert repaired.code == 0 and repaired.json["registry_rebuilt"] is True
    assert sorted(repaired.json["from_snapshots"]) == ["one", "two"]
    after = {m.name: m for m in Store(isolated_env).list()}
    for name, model in before.items():  # source, revision, files and pin exactly as before
        got = after[name]
        assert (got.files, got.source_ref, got.revision, got.type, got.pinned) == (
            model.files, model.source_ref, model.revision, model.type, model.pinned)
    assert cli("verify").code == 0


def test_repair_reads_models_back_from_views_without_snapshots(
        isolated_env: Path, cli: Callable[..., object]) -> None:
    store = _stocked(isolated_env)
    files = {m.name: m.files for m in store.list()}
    for snapshot in (isolated_env / "meta").rglob("registry.json"):
        snapshot.unlink()
    (isolated_env / "registry.sqlite3").unlink()
    result = cli("repair", "--json")
    assert result.code == 0 and sorted(result.json["from_views"]) == ["one", "two"]
    restored = {m.name: m for m in Store(isolated_env).list()}
    assert restored["two"].type == "checkpoints" and restored["two"].files == files["two"]
    assert [f.sha256 for f in restored["one"].files] == [f.sha256 for f in files["one"]]


def test_a_fresh_home_is_fine(isolated_env: Path, cli: Callable[..., object]) -> None:
    assert cli("ls", "--json").json == {"models": []}


def test_gc_keeps_blobs_views_still_show_unless_forced(
        isolated_env: Path, cli: Callable[..., object], monkeypatch: pytest.MonkeyPatch) -> None:
    _stocked(isolated_env)
    with sqlite3.connect(isolated_env / "registry.sqlite3") as conn:  # rows lost, file intact
        conn.execute("DELETE FROM files")
        conn.execute("DELETE FROM models")
    # No grace period for young unreferenced blobs (it would keep these anyway).
    monkeypatch.setattr(Store, "gc_plan", functools.partialmethod(Store.gc_plan, grace=0))
    kept = cli("gc", "--json")
    assert kept.code == 0 and kept.json["freed_bytes"] == 0
    assert len(kept.json["kept_unaccounted_blobs"]) == 3 and kept.json["kept_bytes"] > 0
    assert "modelshelf repair" in kept.err and "--force" in kept.err
    assert _blob_count(isolated_env) == 3
    forced = cli("gc", "--force", "--json")
    assert forced.code == 0 and forced.json["freed_bytes"] == 6002  # the views' links went too
    assert _blob_count(isolated_env) == 0
    assert not (isolated_env / "views" / "checkpoints" / "two").exists()
    assert (isolated_env / "views" / "checkpoints").is_dir()  # type folders always stay


def test_repair_rebuilds_a_registry_with_damaged_pages(
        isolated_env: Path, cli: Callable[..., object]) -> None:
    """A registry that still opens, but whose pages are garbage: SQLite's quick_check says so."""

    def stock() -> None:
        store = _stocked(isolated_env)
        for i in range(60):  # enough rows for the tables to span several pages
            store.add_model(new_model(f"extra-{i:02d}", store.get("one").files[0]))

    _in_thread(stock)
    registry = isolated_env / "registry.sqlite3"
    assert not Path(f"{registry}-wal").exists()  # checkpointed: every row is in the file
    data = bytearray(registry.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page:len(data)] = os.urandom(len(data) - 2 * page)  # keep header and schema page
    registry.write_bytes(bytes(data))
    repaired = cli("repair", "--json")
    assert repaired.code == 0 and repaired.json["registry_rebuilt"] is True
    assert len(repaired.json["from_snapshots"]) == 62
    assert len(Store(isolated_env).list()) == 62


def test_a_model_kept_out_of_views_stays_out_through_verify_and_repair(
        isolated_env: Path, cli: Callable[..., object]) -> None:
    """An untrusted (unsafe/unknown) model has no view entries: verify must not call them
    missing, and a rebuilt registry must not link it into the folders apps read."""

    def stock() -> None:
        store = _stocked(isolated_env)
        blob = put_blob(store, b"pretend pickle" * 100, "evil.ckpt")
        store.add_model(replace(new_model("evil", blob, type="checkpoints"), linked=False))

    _in_thread(stock)
    assert cli("verify", "--json").json["views_failed"] == []
    (isolated_env / "registry.sqlite3").unlink()
    for extra in ("-wal", "-shm"):
        Path(f"{isolated_env / 'registry.sqlite3'}{extra}").unlink(missing_ok=True)
    assert cli("repair").code == 0
    store = Store(isolated_env)
    assert store.get("evil").linked is False
    assert not list((isolated_env / "views" / "checkpoints").glob("evil*"))
    assert cli("verify").code == 0
    store.set_linked("evil")  # trusted later: a later repair remembers that too
    assert read_snapshot(isolated_env / "meta" / "evil" / "registry.json").linked is True
