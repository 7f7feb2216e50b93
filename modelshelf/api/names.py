"""Model names at pull time: a clash is found before any byte moves, and told as the user can
act on it — with a name that is free, never ``--force`` (which would delete the other model).
"""

from __future__ import annotations

from collections.abc import Set

from modelshelf.errors import NameConflict
from modelshelf.store import ModelRecord, NewModel, Store


def free_name(store: Store, name: str) -> str:
    """``name-2``, ``name-3``, ...: the first such name no model has."""
    n = 2
    while store.find(f"{name}-{n}") is not None:
        n += 1
    return f"{name}-{n}"


def check_name_free(store: Store, name: str, key: str, ref: str,
                    content: Set[tuple[str, str | None, int | None]]) -> None:
    """Refuse ``name`` if another model holds it, unless that model came from the same
    reference ``key`` (an update) or has exactly ``content`` (then nothing clashes)."""
    other = store.find(name)
    if other is None or other.source_ref == key or content == other.content():
        return
    raise NameConflict(f"{ref}: model {name} exists (from {other.source_ref})",
                       f"choose another --name, e.g. {free_name(store, name)}")


def register(store: Store, new: NewModel, *, force: bool, ref: str) -> ModelRecord:
    """``add_model``, with a clash found only now (a name the server gave, a race) told the
    same way. The verified bytes stay in the store whatever happens to the name."""
    try:
        return store.add_model(new, force=force)
    except NameConflict as exc:  # not the store's advice: --force deletes the other model
        raise NameConflict(f"{ref}: {exc.clash}", f"choose another --name, e.g. "
                           f"{free_name(store, new.name)} (the verified bytes are kept in the "
                           "store)") from None
