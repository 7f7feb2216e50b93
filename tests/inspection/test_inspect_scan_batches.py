"""scan's cache traffic: a rescan opens no file at all, and rows move in batches, not per file."""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from inspect_models import write_st

import modelshelf.inspection.scanner as scan_mod
from modelshelf.inspection import scan
from modelshelf.store import Store


def _tree(root: Path, models: int = 7) -> None:
    for i in range(models):
        write_st(root / f"d{i % 3}" / f"m{i}.safetensors", {"w": (4, 4 + i)}, seed=i)
    (root / "README.md").write_text("# models\n")


def _count_opens(monkeypatch: pytest.MonkeyPatch, root: Path) -> list[str]:
    """Record every file under ``root`` opened by any means Python offers (the readers'
    ``os.open``, ``open``, ``Path.open``): a file never opened is a file never read. Folders
    are opened to be listed (the walk ``stat``-s through their descriptors): not counted."""
    opened: list[str] = []

    def counting(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(file: Any, *args: Any, **kwargs: Any) -> Any:
            if str(file).startswith(str(root)) and not os.path.isdir(file):
                opened.append(str(file))
            return real(file, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(os, "open", counting(os.open))
    monkeypatch.setattr(builtins, "open", counting(builtins.open))
    monkeypatch.setattr(io, "open", counting(io.open))
    return opened


def test_a_rescan_opens_no_file(tmp_path: Path, store: Store,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "models"
    _tree(root)
    write_st(root / "dup.safetensors", {"w": (4, 4)}, seed=0)  # same bytes as m0: hashed
    first = scan(root, store=store)
    assert first.duplicates  # the cold scan hashed the duplicate candidates and cached that
    opened = _count_opens(monkeypatch, root)
    second = scan(root, store=store)
    assert opened == []
    assert second.to_json() == {**first.to_json(), "cached": second.cached}
    assert second.cached == len(first.files) + first.skipped

    # the counter does see reads: a touched file is opened again, and only that one
    st = os.stat(root / "d1" / "m1.safetensors")
    os.utime(root / "d1" / "m1.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    scan(root, store=store)
    assert set(opened) == {str(root / "d1" / "m1.safetensors")}


def test_cache_rows_are_read_and_written_per_batch(tmp_path: Path, store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "models"
    _tree(root)  # 7 models + 1 README = 8 units
    monkeypatch.setattr(scan_mod, "BATCH", 3)
    reads: list[int] = []
    writes: list[int] = []
    get_many, put_many = store.scan_cache_get_many, store.scan_cache_put_many

    def counted_get(paths: Any) -> Any:
        reads.append(len(paths))
        return get_many(paths)

    def counted_put(rows: Any) -> None:
        rows = list(rows)
        writes.append(len(rows))
        put_many(rows)

    def per_file(*args: Any) -> None:
        raise AssertionError("scan must not write the cache one row per transaction")

    monkeypatch.setattr(store, "scan_cache_get_many", counted_get)
    monkeypatch.setattr(store, "scan_cache_put_many", counted_put)
    monkeypatch.setattr(store, "scan_cache_put", per_file)
    monkeypatch.setattr(store, "scan_cache_get", per_file)

    # 4 folders (the root's README, d0, d1, d2): batches of 3 folders and then 1. Per batch, a
    # cold scan asks for the folders' summaries, then for their files' rows, and writes the
    # file rows and then the summaries: never a query or a transaction per file.
    first = scan(root, store=store)
    assert reads == [3, 6, 1, 2] and writes == [6, 3, 2, 1]
    reads.clear()
    writes.clear()
    second = scan(root, store=store)
    assert reads == [3, 1] and writes == []  # unchanged: one summary per folder, nothing else
    assert second.cached == 8 and second.files == first.files


def test_progress_still_counts_every_unit_across_batches(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "models"
    _tree(root)
    monkeypatch.setattr(scan_mod, "BATCH", 2)
    seen: list[int] = []
    result = scan(root, progress=lambda done, total: seen.append(done))
    assert seen == list(range(1, len(result.files) + result.skipped + 1)) == list(range(1, 9))


def test_an_interrupted_hashing_pass_keeps_the_digests_it_paid_for(
        tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "models"
    for i in range(4):  # four copies of one model: all duplicate candidates
        write_st(root / f"copy{i}.safetensors", {"w": (8, 8)}, seed=0)
    monkeypatch.setattr(scan_mod, "HASH_FLUSH_BYTES", 1)  # "big files": cache every digest
    real, hashed = scan_mod.sha256_file, []

    def hash_two_then_stop(path: Any) -> str:
        if len(hashed) == 2:
            raise KeyboardInterrupt
        hashed.append(str(path))
        return real(path)

    monkeypatch.setattr(scan_mod, "sha256_file", hash_two_then_stop)
    with pytest.raises(KeyboardInterrupt):
        scan(root, store=store)
    rows = store.scan_cache_get_many([str(root / f"copy{i}.safetensors") for i in range(4)])
    assert {p for p, row in rows.items() if row["sha256"]} == set(hashed)
    assert len(rows) == 4  # what the first pass learnt was cached before hashing began


def test_listing_by_path_finds_what_listing_by_descriptor_does(tmp_path: Path, store: Store,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ``scandir`` takes no folder descriptor (Windows) the walk lists by path: the same
    models, sizes and duplicates, cold and cached."""
    import modelshelf.inspection.walk as walk_mod

    root = tmp_path / "models"
    _tree(root)
    (root / "d0" / "deeper").mkdir()
    write_st(root / "d0" / "deeper" / "dup.safetensors", {"w": (4, 4)}, seed=0)
    by_fd = scan(root, store=store)
    monkeypatch.setattr(walk_mod, "_BY_FD", False)
    by_path = scan(root, store=Store(tmp_path / "other-store"))
    assert by_path.to_json() == by_fd.to_json()
    assert by_fd.duplicates and len(by_fd.files) == 8
    cached = len(by_fd.files) + by_fd.skipped
    assert scan(root, store=store).to_json() == {**by_fd.to_json(), "cached": cached}
