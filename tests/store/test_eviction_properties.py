"""Properties of the eviction planner on random shelves (shared blobs, pins, keeps)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.store import FileRecord, ModelRecord
from modelshelf.store.gc import plan_evictions

_BLOBS = [FileRecord(f"f{i}", f"{i:064x}", size) for i, size in enumerate((10, 20, 40, 80, 160))]

shelves = st.lists(
    st.tuples(st.sets(st.integers(0, len(_BLOBS) - 1), min_size=1, max_size=3),
              st.booleans(), st.integers(0, 50)),
    min_size=1, max_size=8)


def _records(shelf: list[tuple[set[int], bool, int]]) -> list[ModelRecord]:
    return [ModelRecord(name=f"m{i}", type="loras", architecture="sdxl", format="diffusers",
                        source="url", source_ref=f"u{i}", source_url=None, revision=None,
                        files=tuple(_BLOBS[b] for b in sorted(blobs)), pinned=pinned,
                        last_used=float(used), created=float(i))
            for i, (blobs, pinned, used) in enumerate(shelf)]


def _unique(models: list[ModelRecord]) -> int:
    return sum({f.sha256: f.size for m in models for f in m.files}.values())


@settings(max_examples=200, deadline=None)
@given(shelves, st.integers(0, 320))
def test_plan_is_sound(shelf: list[tuple[set[int], bool, int]], max_size: int) -> None:
    models = _records(shelf)
    evictions, before, after = plan_evictions(models, max_size, keep=["m0"])
    evicted = {e.name for e in evictions}
    remaining = [m for m in models if m.name not in evicted]
    assert before == _unique(models)
    assert after == _unique(remaining)  # shared blobs counted once, freed only when unused
    assert sum(e.frees for e in evictions) == before - after
    assert not any(m.pinned or m.name == "m0" for m in models if m.name in evicted)
    if before <= max_size:
        assert evictions == []
    evictable = [m for m in models if not m.pinned and m.name != "m0"]
    if _unique([m for m in models if m not in evictable]) <= max_size:
        assert after <= max_size  # whenever fitting is possible, the plan fits
    for e in evictions:  # every eviction was needed: giving one back would not fit
        kept_back = remaining + [m for m in models if m.name == e.name]
        assert _unique(kept_back) > max_size
