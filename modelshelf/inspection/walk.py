"""Find the model units under a folder: single files, and whole model folders (diffusers,
transformers), which count as one model and are not descended into.

Symbolic links to folders are followed, but every folder is entered at most once (keyed by device
and inode), so a link loop or two links to the same tree cannot make a scan run forever or report
a file twice. Hidden entries below the root (``.git``, our own ``.x.tmp`` link temps) are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

# Marker files that make a folder a candidate model folder; ``detect_format`` has the last word.
FOLDER_MARKERS = frozenset({"model_index.json", "config.json"})
FOLDER_FORMATS = frozenset({"diffusers", "transformers"})
_NAME = attrgetter("name")


class Unit(NamedTuple):
    """One thing to identify: a file, or a model folder.

    A NamedTuple rather than a frozen dataclass: a scan makes one per file, and a rescan of an
    unchanged tree does little else (a tuple is built in a fifth of the time).
    """

    path: str  # str, not Path: a rescan touches thousands of these and needs nothing else
    is_dir: bool
    stat: os.stat_result


def walk(
    root: str, detect_folder: Callable[[Path], str], skip: frozenset[str] = frozenset()
) -> Iterator[Unit]:
    """Yield model candidates under ``root`` (a file root yields itself)."""
    root_stat = os.stat(root)
    if not os.path.isdir(root):
        yield Unit(root, False, root_stat)
        return
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen or folder in skip:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=_NAME)
        except OSError:
            continue  # unreadable or vanished: nothing of ours to report there
        names = {e.name for e in entries}
        if names & FOLDER_MARKERS and detect_folder(Path(folder)) in FOLDER_FORMATS:
            yield Unit(folder, True, st)
            continue
        subdirs: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    subdirs.append(entry.path)
                elif entry.is_file():
                    yield Unit(entry.path, False, entry.stat())
            except OSError:
                continue  # dangling symlink, symlink loop (ELOOP), raced deletion
        stack.extend(reversed(subdirs))
