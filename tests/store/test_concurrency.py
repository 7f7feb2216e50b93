"""Several modelshelf processes at once: consistent registry, one transfer per locked key."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from pathlib import Path

from modelshelf.locks import lock_file_for
from modelshelf.store import Store
from modelshelf.testing.models import new_model, put_blob

_CTX = multiprocessing.get_context("fork")


def _add(home: str, index: int) -> str:
    store = Store(Path(home))
    unique = put_blob(store, f"model {index}".encode() * 1000)
    common = put_blob(store, b"tokenizer shared by all", "tokenizer.json")
    store.add_model(new_model(f"m{index}", unique, common, format="transformers", type="llm"))
    # Everyone also registers the same name with the same content: a no-op for all but one.
    store.add_model(new_model("common", common, type="other"))
    return store.get(f"m{index}").sha256


def test_eight_processes_adding_models(tmp_path: Path) -> None:
    home = tmp_path / "shared-store"
    with _CTX.Pool(8) as pool:
        digests = pool.starmap(_add, [(str(home), i) for i in range(8)])
    store = Store(home)
    assert sorted(m.name for m in store.list()) == ["common"] + [f"m{i}" for i in range(8)]
    assert sorted(digests) == sorted(
        hashlib.sha256(f"model {i}".encode() * 1000).hexdigest() for i in range(8))
    assert store.verify().all_ok
    assert len(list(store.blobs_dir.rglob("sha256/*/*"))) == 9
    for model in store.list():
        for f in model.files:
            view = store.view_path(model)
            entry = view if model.is_single_file else view / f.path
            assert entry.stat().st_ino == store.blob_path(f.sha256).stat().st_ino
    with sqlite3.connect(home / "registry.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 17
    assert list(store.staging_dir.iterdir()) == []


def _pull_once(home: str, log: str) -> None:
    """What two `pull`s of one URL do: take the lock, fetch only if nobody did."""
    store = Store(Path(home))
    with store.lock("url:http://127.0.0.1/model.bin"):
        marker = Path(home) / "fetched"
        if not marker.exists():
            with open(log, "a") as fh:
                fh.write("transfer\n")
            marker.write_text("done")


def test_lock_makes_one_transfer_across_processes(tmp_path: Path) -> None:
    home, log = tmp_path / "s", tmp_path / "log"
    Store(home)
    procs = [_CTX.Process(target=_pull_once, args=(str(home), str(log))) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert log.read_text() == "transfer\n"


def _hold(home: str, key: str, held: multiprocessing.synchronize.Event,
          release: multiprocessing.synchronize.Event) -> None:
    with Store(Path(home)).lock(key):
        held.set()
        release.wait(30)


def test_lock_excludes_other_processes_until_released(tmp_path: Path) -> None:
    home = tmp_path / "s"
    store = Store(home)
    held, release = _CTX.Event(), _CTX.Event()
    holder = _CTX.Process(target=_hold, args=(str(home), "k", held, release))
    holder.start()
    assert held.wait(30)
    lock_files = list(store.locks_dir.glob("k-*.lock"))
    from modelshelf.locks import is_locked

    assert len(lock_files) == 1 and is_locked(lock_files[0])
    release.set()
    holder.join(30)
    with store.lock("k"):  # free again (and the kernel would free it on kill -9 too)
        pass


def _use_inherited(store: Store, index: int) -> None:
    blob = put_blob(store, f"forked {index}".encode())
    store.add_model(new_model(f"forked{index}", blob))


def test_a_store_object_survives_fork(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    store.list()  # the parent has an open connection before forking
    procs = [_CTX.Process(target=_use_inherited, args=(store, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert [m.name for m in store.list()] == [f"forked{i}" for i in range(4)]


def test_lock_file_names_hold_no_url_secrets(tmp_path: Path) -> None:
    """Lock files are named after what they lock; a URL's password and query must not show."""
    url = "url:https://alice:s3cret@cdn.example/m.bin?token=abc123"
    name = lock_file_for(tmp_path, url).name
    assert "s3cret" not in name and "abc123" not in name and "alice" not in name
    assert "cdn.example" in name
    assert lock_file_for(tmp_path, url) != lock_file_for(tmp_path, url.replace("s3cret", "other"))
