"""The loaded-model cache behind :meth:`Shelf.loaded` / :meth:`Shelf.unload` and the
``[load] max_memory`` budget: light on purpose (no numpy, no torch at import), since every
:class:`Shelf` makes one.

It keeps what was loaded (tensor mappings and framework objects) keyed by model and options, so
a second ``load`` is free. ``[load] max_memory`` caps the bytes kept per device: before something
new comes in, the least recently used entries on its device are dropped (and torch's CUDA cache
emptied) until it fits. Sizes are the tensors' declared bytes (after a requested cast): a lazily
mapped model may occupy less, but a budget that counts only touched pages would change under
the caller's feet.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.config import format_size
from modelshelf.errors import InsufficientSpace


@dataclass(frozen=True)
class LoadedModel:
    """One entry of :meth:`Shelf.loaded`: what is held, on which device, counted as how many bytes."""

    name: str
    kind: str  # "tensors" or "model"
    framework: str
    device: str
    nbytes: int
    path: Path


class LoadedCache:
    """Loaded tensor mappings and models, least recently used first, within a per-device budget.

    Thread-safe: the table is guarded by one lock; a load runs outside it under a lock of its
    own key, so two threads asking for the same model load it once and others are not held up.
    """

    def __init__(self, budgets: Mapping[str, int]) -> None:
        self._budgets = dict(budgets)
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, LoadedModel]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[Any, ...], threading.Lock] = {}

    def budget(self, device: str) -> int | None:
        return self._budgets.get(device, self._budgets.get("*"))

    def get(self, key: tuple[Any, ...], make: Callable[[], tuple[Any, LoadedModel]]) -> Any:
        with self._lock:
            hit = self._hit(key)
            if hit is not None:
                return hit
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._hit(key)
                if hit is not None:
                    return hit
            value, entry = make()
            self._admit(key, value, entry)
            with self._lock:
                self._loading.pop(key, None)
            return value

    def _hit(self, key: tuple[Any, ...]) -> Any:
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key][0]

    def _admit(self, key: tuple[Any, ...], value: Any, entry: LoadedModel) -> None:
        budget = self.budget(entry.device)
        if budget is not None and entry.nbytes > budget:
            raise InsufficientSpace(
                f"{entry.name}: needs {format_size(entry.nbytes)} on {entry.device}, more than "
                f"[load] max_memory allows there ({format_size(budget)})")
        evicted: list[LoadedModel] = []
        with self._lock:
            if budget is not None:
                used = sum(e.nbytes for _, e in self._entries.values() if e.device == entry.device)
                for old_key in list(self._entries):
                    if used + entry.nbytes <= budget:
                        break
                    old = self._entries[old_key][1]
                    if old.device == entry.device:
                        del self._entries[old_key]
                        used -= old.nbytes
                        evicted.append(old)
            self._entries[key] = (value, entry)
        for old in evicted:
            release_device_memory(old.device)

    def unload(self, name: str) -> list[LoadedModel]:
        with self._lock:
            gone = [k for k, (_, e) in self._entries.items() if e.name == name]
            entries = [self._entries.pop(k)[1] for k in gone]
        for device in {e.device for e in entries}:
            release_device_memory(device)
        return entries

    def loaded(self) -> list[LoadedModel]:
        """Least recently used first."""
        with self._lock:
            return [entry for _, entry in self._entries.values()]


def release_device_memory(device: str) -> None:
    """Give the CUDA caching allocator's free blocks back once a model on ``device`` is gone.

    Only if torch is already imported: a process that never loaded torch has nothing cached.
    """
    torch = sys.modules.get("torch")
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        import gc

        gc.collect()  # drop the evicted tensors' last references before emptying the cache
        torch.cuda.empty_cache()
