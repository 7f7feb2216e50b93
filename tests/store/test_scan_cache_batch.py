"""The batched scan-cache API: many rows read with one query, written in one transaction."""

from __future__ import annotations

import pytest

from modelshelf.store import Store


def _row(i: int, info: object = None) -> tuple[str, int, int, int, str, object]:
    return (f"/m/{i:05d}.safetensors", 100 + i, 10**18 + i, 7000 + i, "",
            info if info is not None else {"format": "safetensors", "i": i})


def test_put_many_then_get_many_returns_every_row_with_its_key(store: Store) -> None:
    rows = [_row(i) for i in range(1200)]  # more than one IN (...) chunk
    store.scan_cache_put_many(rows)
    found = store.scan_cache_get_many([r[0] for r in rows] + ["/m/never-scanned.bin"])
    assert set(found) == {r[0] for r in rows}  # unknown paths are simply absent
    path, size, mtime_ns, inode, _, info = rows[777]
    assert found[path]["size"] == size and found[path]["mtime_ns"] == mtime_ns
    assert found[path]["inode"] == inode and found[path]["info"] == info
    assert found[path]["sha256"] == "" and found[path]["scanned_at"] > 0


def test_batch_and_single_row_methods_agree(store: Store) -> None:
    store.scan_cache_put("/a", 1, 2, 3, "ab" * 32, {"format": "gguf"})
    store.scan_cache_put_many([("/b", 4, 5, 6, "", {"format": "unknown", "v": 1})])
    assert store.scan_cache_get("/b", 4, 5, 6) == {
        "sha256": "", "info": {"format": "unknown", "v": 1},
        "scanned_at": store.scan_cache_get_many(["/b"])["/b"]["scanned_at"]}
    assert store.scan_cache_get_many(["/a"])["/a"]["sha256"] == "ab" * 32
    # a newer row for the same path replaces the old one (the file changed)
    store.scan_cache_put_many([("/a", 9, 9, 9, "", {"format": "onnx"})])
    assert store.scan_cache_get("/a", 1, 2, 3) is None
    assert store.scan_cache_get_many(["/a"])["/a"]["info"] == {"format": "onnx"}


def test_get_many_returns_rows_whatever_their_key(store: Store) -> None:
    """The caller compares the key with its own stat: a stale row is returned, not hidden."""
    store.scan_cache_put_many([_row(1)])
    assert store.scan_cache_get_many([_row(1)[0]])[_row(1)[0]]["size"] == 101


def test_put_many_is_all_or_nothing(store: Store) -> None:
    rows = [_row(0), _row(1), _row(2, info={"bad": object()}), _row(3)]  # not JSON-able
    with pytest.raises(TypeError):
        store.scan_cache_put_many(rows)
    assert store.scan_cache_get_many([r[0] for r in rows]) == {}


def test_empty_batches_are_no_ops(store: Store) -> None:
    store.scan_cache_put_many([])
    assert store.scan_cache_get_many([]) == {}
