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


class Listing(NamedTuple):
    """The plain files of one folder (model folders and subfolders aside), sorted by name: the
    unit the scan cache summarises, so an unchanged folder costs one look-up, not one per file.
    """

    folder: str
    # Entries whose ``stat()`` the walk has called: it is cached on them, so no tuple per file.
    files: list[os.DirEntry[str]]


def walk_listings(
    root: str, detect_folder: Callable[[Path], str], skip: frozenset[str] = frozenset()
) -> Iterator[Unit | Listing]:
    """Model folders (and a root that is a file) as :class:`Unit`; every other folder as the
    :class:`Listing` of its files: a folder's files first (by name), then its subfolders."""
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
        if not FOLDER_MARKERS.isdisjoint(map(_NAME, entries)) and \
                detect_folder(Path(folder)) in FOLDER_FORMATS:
            yield Unit(folder, True, st)
            continue
        subdirs: list[str] = []
        files: list[os.DirEntry[str]] = []
        for entry in entries:
            if entry.name[0] == ".":
                continue
            try:
                if entry.is_dir():
                    subdirs.append(entry.path)
                elif entry.is_file():
                    entry.stat()
                    files.append(entry)
            except OSError:
                continue  # dangling symlink, symlink loop (ELOOP), raced deletion
        if files:
            yield Listing(folder, files)
        stack.extend(reversed(subdirs))

