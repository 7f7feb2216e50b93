"""``[gc] max_size`` kept by ``pull``: make room by evicting, or refuse before any byte moves.

The limit is the user's budget for the store. A pull that would break it first asks the gc
planner (least recently used unpinned models first, the same choice ``gc --max-size`` makes)
whether evicting can make room. If it cannot — the new model alone is too big, or pinned models
are in the way — the pull is refused before transferring, naming what would have to go. The
evictions themselves run only after the new model is registered: a failed download must not
have cost the user models.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import replace

from modelshelf.config import format_size
from modelshelf.errors import InsufficientSpace
from modelshelf.store import Store
from modelshelf.store.gc import plan_evictions


def plan_room(store: Store, limit: int, needed: int, ref: str, *,
              replaced: str | None = None, fetched: bool = False) -> None:
    """Refuse (:class:`InsufficientSpace`) a pull of ``needed`` new bytes that evicting
    unpinned models cannot fit within ``limit``. ``replaced``: the model this pull updates
    (its bytes go when the new version is registered). ``fetched``: checked again once the
    bytes are here, for files whose size no source announced (a plain URL)."""
    outcome = ("the downloaded bytes are kept until `modelshelf gc`" if fetched
               else "nothing was downloaded")
    if needed > limit:
        raise InsufficientSpace(f"{ref}: needs {format_size(needed)}, more than the store may "
                                f"hold ([gc] max_size {format_size(limit)}); {outcome}")
    models = [m for m in store.list() if m.name != replaced]
    _, _, after = plan_evictions(models, limit - needed, ())
    if after <= limit - needed:
        return
    # What it would take if pins did not count: name those models, pinned ones marked.
    unpinned = [replace(m, pinned=False) for m in models]
    pinned = {m.name for m in models if m.pinned}
    would_go = [e.name + (" (pinned)" if e.name in pinned else "")
                for e in plan_evictions(unpinned, limit - needed, ())[0]]
    raise InsufficientSpace(
        f"{ref}: needs {format_size(needed)}; to stay within [gc] max_size "
        f"{format_size(limit)} the store would have to evict {', '.join(would_go)} "
        f"(unpin models or raise max_size); {outcome}")


def evict_to_fit(store: Store, limit: int, keep: Sequence[str]) -> list[str]:
    """Evict least recently used unpinned models (never those named in ``keep``) until it fits
    ``limit``; returns the names evicted. Only evictions: unreferenced blobs and partials are
    ``gc``'s business (a concurrent pull may be about to claim them)."""
    # gc's keep list holds globs: a name such as "lora[v2]" must match only itself.
    plan = store.gc_plan(max_size=limit, keep=[glob.escape(name) for name in keep])
    if not plan.evictions:
        return []
    replace(plan, orphan_blobs=(), stale_partials=()).execute()
    return [e.name for e in plan.evictions]
