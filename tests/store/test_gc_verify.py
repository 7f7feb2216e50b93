"""gc (plan, dry run, LRU eviction with pins/keeps/shared blobs, partials) and verify."""

from __future__ import annotations

import os
import stat
import time

from modelshelf.store import Store
from modelshelf.testing.models import AddBlob, new_model

KB = 1000


def _shelf(store: Store, add_blob: AddBlob) -> None:
    """Four 1 kB models used at t=1..4 (a oldest), plus 'shared' using a's blob (t=5)."""
    for t, name in enumerate("abcd", start=1):
        store.add_model(new_model(name, add_blob(name.encode() * KB)))
        store.touch(name, when=float(t))
    store.add_model(new_model("shared", store.get("a").files[0], type="checkpoints"))
    store.touch("shared", when=5.0)


def test_max_size_evicts_least_recently_used_first(store: Store, add_blob: AddBlob) -> None:
    _shelf(store, add_blob)
    plan = store.gc_plan(max_size=2 * KB)
    # 'a' frees nothing while 'shared' holds its blob; b and c free 1 kB each.
    assert [e.name for e in plan.evictions] == ["b", "c"]
    assert plan.unique_bytes_before == 4 * KB and plan.unique_bytes_after == 2 * KB
    assert plan.fits and plan.bytes_freed == 2 * KB
    assert plan.execute() == 2 * KB
    assert [m.name for m in store.list()] == ["a", "d", "shared"]
    assert store.du().unique_bytes == 2 * KB


def test_evictions_that_free_nothing_are_given_back(store: Store, add_blob: AddBlob) -> None:
    _shelf(store, add_blob)
    # LRU order reaches 'a' first, but its blob stays while 'shared' (newest) uses it.
    plan = store.gc_plan(max_size=1 * KB)
    assert [e.name for e in plan.evictions] == ["b", "c", "d"]
    plan.execute()
    assert [m.name for m in store.list()] == ["a", "shared"]


def test_shared_blob_is_freed_when_every_user_goes(store: Store, add_blob: AddBlob) -> None:
    _shelf(store, add_blob)
    plan = store.gc_plan(max_size=0)
    assert [e.name for e in plan.evictions] == ["a", "b", "c", "d", "shared"]
    assert [e.frees for e in plan.evictions] == [0, KB, KB, KB, KB]
    assert plan.execute() == 4 * KB
    assert store.list() == [] and store.du().unique_bytes == 0


def test_pinned_and_kept_models_survive(store: Store, add_blob: AddBlob) -> None:
    _shelf(store, add_blob)
    store.pin("b")
    plan = store.gc_plan(max_size=2 * KB, keep=["c*"])
    assert [e.name for e in plan.evictions] == ["a", "d", "shared"]
    assert plan.fits
    tight = store.gc_plan(max_size=1 * KB, keep=["c*"])
    assert [e.name for e in tight.evictions] == ["a", "d", "shared"]
    assert not tight.fits  # b (pinned) and c (kept) are 2 kB
    assert tight.to_json()["fits"] is False
    tight.execute()
    assert [m.name for m in store.list()] == ["b", "c"]


def test_dry_run_changes_nothing(store: Store, add_blob: AddBlob) -> None:
    _shelf(store, add_blob)
    orphan = add_blob(b"nobody's")
    before = sorted(p for p in store.home.rglob("*") if "registry" not in p.name)
    plan = store.gc_plan(max_size=0, grace=0)
    data = plan.to_json()
    assert data["unreferenced_blobs"] == [{"sha256": orphan.sha256, "size": len(b"nobody's")}]
    assert len(data["evict"]) == 5
    assert sorted(p for p in store.home.rglob("*") if "registry" not in p.name) == before
    assert len(store.list()) == 5


def test_unreferenced_blobs_respect_the_grace_period(store: Store, add_blob: AddBlob) -> None:
    orphan = add_blob(b"just committed, pull about to register it")
    assert store.gc_plan().orphan_blobs == ()
    plan = store.gc_plan(grace=0)
    assert [b.sha256 for b in plan.orphan_blobs] == [orphan.sha256]
    plan.execute()
    assert not store.has_blob(orphan.sha256)


def test_execute_spares_a_model_pinned_after_planning(store: Store, add_blob: AddBlob) -> None:
    _shelf(store, add_blob)
    plan = store.gc_plan(max_size=3 * KB)
    assert [e.name for e in plan.evictions] == ["b"]
    store.pin("b")
    assert plan.execute() == 0
    assert store.find("b") is not None


def test_stale_partials(store: Store) -> None:
    old = store.staging_dir / "abc123.part"
    old.write_bytes(b"x" * 100)
    day_ago = time.time() - 2 * 86400
    os.utime(old, (day_ago, day_ago))
    fresh = store.staging_dir / "def456.part"
    fresh.write_bytes(b"y")
    dead = store.staging_dir / "import-999999999-abcdef.part"  # no such pid
    dead.write_bytes(b"z" * 7)
    plan = store.gc_plan()
    reasons = {p.path.name: p.reason for p in plan.stale_partials}
    assert reasons == {"abc123.part": "older than a day",
                       "import-999999999-abcdef.part": "left by a dead process"}
    assert plan.execute() == 107
    assert [p.name for p in store.staging_dir.iterdir()] == ["def456.part"]


def test_a_transfer_in_progress_is_never_stale(store: Store) -> None:
    """The transfer engine's layout: <key>.part/.json beside a flocked <key>.lock."""
    import fcntl

    key = "0123abcd" * 5
    for ext, data in (("part", b"p" * 50), ("json", b"{}"), ("lock", b"")):
        path = store.staging_dir / f"{key}.{ext}"
        path.write_bytes(data)
        day_ago = time.time() - 2 * 86400
        os.utime(path, (day_ago, day_ago))
    with (store.staging_dir / f"{key}.lock").open("rb") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        plan = store.gc_plan()
        assert plan.stale_partials == ()
    plan = store.gc_plan()
    assert sorted(p.path.name for p in plan.stale_partials) == [f"{key}.json", f"{key}.part"]
    assert plan.execute() == 52
    assert [p.name for p in store.staging_dir.iterdir()] == [f"{key}.lock"]  # locks stay


def test_execute_skips_a_partial_resumed_after_planning(store: Store) -> None:
    import fcntl

    part = store.staging_dir / "feed.part"
    part.write_bytes(b"x")
    os.utime(part, (0, 0))
    plan = store.gc_plan()
    assert len(plan.stale_partials) == 1
    with (store.staging_dir / "feed.lock").open("wb") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        assert plan.execute() == 0
    assert part.exists()


def test_verify_detects_a_corrupted_blob(store: Store, add_blob: AddBlob) -> None:
    good = store.add_model(new_model("good", add_blob(b"fine")))
    bad = store.add_model(new_model("bad", add_blob(b"will rot"), add_blob(b"ok", "b.json"),
                                    format="diffusers"))
    report = store.verify()
    assert (report.checked, report.ok, report.failed) == (3, 3, ())
    blob = store.blob_path(bad.main_file.sha256)
    os.chmod(blob, stat.S_IRUSR | stat.S_IWUSR)
    blob.write_bytes(b"bit rot!")
    report = store.verify(["bad"])
    assert report.checked == 2 and report.ok == 1 and not report.all_ok
    failure = report.to_json()["failed"][0]
    assert failure["name"] == "bad" and failure["path"] == "model.safetensors"
    assert failure["expected"] == bad.main_file.sha256 and failure["actual"] != failure["expected"]
    store.blob_path(good.sha256).unlink()
    assert store.verify(["good"]).failed[0].actual == "missing"

