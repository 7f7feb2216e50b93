"""``link APP DIR``: plan which links to make in an app's folders, show the plan, apply it.

The one promise: a user's own file or folder is never replaced or deleted. Only two kinds of
entries are ever changed: directory symlinks that point at a modelshelf ``views/<type>``
folder, and file links listed (with their inode) in ``DIR/.modelshelf-links.json``, the ledger
of what an earlier ``link`` made. Anything else in the way is reported as a conflict.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelshelf.errors import UsageError
from modelshelf.store.linking import place_link, prune_empty_dirs, shows, write_atomic
from modelshelf.views.actions import LinkAction, LinkConflict
from modelshelf.views.apps import APPS, AppLayout
from modelshelf.views.comfyui import check_root

LEDGER = ".modelshelf-links.json"


@dataclass(frozen=True)
class LinkPlan:
    app: str
    dest: Path
    style: str
    actions: tuple[LinkAction, ...]
    conflicts: tuple[LinkConflict, ...]
    unchanged: int
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    _ledger: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "dest": str(self.dest), "style": self.style,
                "actions": [a.to_json() for a in self.actions],
                "conflicts": [c.to_json() for c in self.conflicts],
                "unchanged": self.unchanged, "notes": list(self.notes),
                "warnings": list(self.warnings)}

    def execute(self) -> int:
        """Apply the actions (each re-checked first); returns how many were applied.

        Conflicts are left alone; the caller reports them (and exits 1).
        """
        applied = 0
        ledger = dict(self._ledger)
        for action in self.actions:
            rel = _rel(action.path, self.dest)
            if action.op == "remove":
                if _ours(action.path, ledger.get(rel), self.style):
                    action.path.unlink()
                    if self.style == "files":
                        # Empty model folders go; the type folder stays (apps scan it).
                        prune_empty_dirs(action.path.parent, self.dest / rel.split("/")[0])
                    applied += 1
                ledger.pop(rel, None)
                continue
            assert action.target is not None
            if action.op == "replace" and not _ours(action.path, ledger.get(rel), self.style):
                continue  # changed hands since the plan
            if action.op == "create" and os.path.lexists(action.path):
                continue  # something appeared there since the plan: never clobber it
            # Made beside the path and renamed over it (a link replaced is never missing).
            place_link(action.target, action.path, relative_symlink=False,
                       symlink=self.style == "dir")
            if self.style == "files":
                ledger[rel] = _ledger_entry(action.path)
            applied += 1
        if self.style == "files":
            _write_ledger(self.dest, ledger)
        return applied


def plan_app_links(store_views_dir: Path, app: str, dest: Path, *,
                   force: bool = False) -> LinkPlan:
    """What ``link APP DEST`` would do; nothing on disk changes until ``.execute()``.

    ``comfyui`` insists on a ComfyUI root (``force`` accepts any folder): links made in its
    ``models/`` folder by mistake would sit where ComfyUI never looks.
    """
    layout = _layout(app, "link")
    dest = Path(dest).absolute()
    views = Path(store_views_dir).absolute()
    warnings = []
    if os.path.lexists(dest) and not dest.is_dir():
        raise UsageError(f"link {app}: {dest} is not a folder")
    if app == "comfyui":
        check_root(dest, force=force)
    elif layout.marker is not None:
        if not dest.is_dir():
            raise UsageError(f"link {app}: {dest} is not a folder (give the app's install folder)")
        if not (dest / layout.marker).is_dir():
            warnings.append(f"{dest} has no {layout.marker}/ folder; is it a {app} install?")
    planner = _plan_dirs if layout.style == "dir" else _plan_files
    return planner(layout, views, dest, tuple(warnings))


def plan_unlink(store_views_dir: Path, app: str, dest: Path) -> LinkPlan:
    """What ``unlink APP DEST`` would remove: only entries that provably lead into this
    store (directory symlinks resolving into ``views/``; file links recorded with their inode
    in the ledger), never a user's file or folder of the same name."""
    layout = _layout(app, "unlink")
    dest = Path(dest).absolute()
    views = Path(store_views_dir).absolute()
    if not dest.is_dir():
        raise UsageError(f"unlink {app}: {dest} is not a folder")
    actions = []
    if layout.style == "dir":
        for type_, rel in layout.links.items():
            link = dest / rel
            if link.is_symlink() and _leads_into(link, views / type_):
                actions.append(LinkAction("remove", link, None))
        return LinkPlan(layout.name, dest, "dir", tuple(actions), (), 0)
    ours = {}
    for rel, entry in sorted(_read_ledger(dest).items()):
        link = dest / rel
        # A hard link is ours by the inode the ledger recorded when we made it; a symlink by
        # resolving into this store (views/ or, once the model is gone, its blobs/).
        if _ours(link, entry, "files") and (
                not link.is_symlink() or _leads_into(link, views.parent)):
            actions.append(LinkAction("remove", link, None))
            ours[rel] = entry
    # Entries no longer ours (a user's file took the name) are forgotten, never claimed later.
    return LinkPlan(layout.name, dest, "files", tuple(actions), (), 0, _ledger=ours)


def _layout(app: str, command: str) -> AppLayout:
    layout = APPS.get(app)
    if layout is None:
        raise UsageError(f"{command}: unknown app {app!r}; expected one of {', '.join(APPS)}")
    return layout


def _leads_into(path: Path, folder: Path) -> bool:
    """Whether the symlink ``path`` resolves to ``folder`` or to something inside it."""
    resolved, root = path.resolve(), folder.resolve()
    return resolved == root or root in resolved.parents


def _plan_dirs(layout: AppLayout, views: Path, dest: Path, warnings: tuple[str, ...]) -> LinkPlan:
    actions, conflicts, unchanged = [], [], 0
    for type_, rel in layout.links.items():
        link, target = dest / rel, views / type_
        if link.is_symlink() and os.readlink(link) == str(target):
            unchanged += 1
        elif link.is_symlink() and _is_views_link(link, type_):
            actions.append(LinkAction("replace", link, target))  # from a store that moved
        elif os.path.lexists(link):
            conflicts.append(LinkConflict(link, "exists and is not a modelshelf link"))
        else:
            actions.append(LinkAction("create", link, target))
    return LinkPlan(layout.name, dest, "dir", tuple(actions), tuple(conflicts), unchanged,
                    layout.notes, warnings)


def _plan_files(layout: AppLayout, views: Path, dest: Path,
                warnings: tuple[str, ...]) -> LinkPlan:
    ledger = _read_ledger(dest)
    actions, conflicts, unchanged = [], [], 0
    wanted: set[str] = set()
    for type_, rel in layout.links.items():
        for view_file, inner in _view_files(views / type_):
            link = dest / rel / inner
            wanted.add(_rel(link, dest))
            if not os.path.lexists(link):
                actions.append(LinkAction("create", link, view_file))
            elif shows(link, view_file):
                unchanged += 1
                # Provably a link to our view: (re)record it, so a lost ledger heals itself.
                ledger.setdefault(_rel(link, dest), _ledger_entry(link))
            elif _ours(link, ledger.get(_rel(link, dest)), "files"):
                actions.append(LinkAction("replace", link, view_file))
            else:
                conflicts.append(LinkConflict(link, "a file modelshelf did not make is there"))
    for rel in sorted(set(ledger) - wanted):
        link = dest / rel
        if _ours(link, ledger[rel], "files"):
            actions.append(LinkAction("remove", link, None))
    return LinkPlan(layout.name, dest, "files", tuple(actions), tuple(conflicts), unchanged,
                    layout.notes, warnings, ledger)


def _view_files(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every file under a views/<type> folder, skipping in-flight temp names (``.x.tmp``)."""
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                path = Path(root, name)
                yield path, path.relative_to(folder).as_posix()


def _is_views_link(link: Path, type_: str) -> bool:
    """A directory symlink to some modelshelf store's ``views/<type>``: ours to update."""
    target = Path(os.readlink(link))
    return target.name == type_ and target.parent.name == "views"


def _ours(path: Path, entry: dict[str, Any] | None, style: str) -> bool:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if style == "dir":
        return path.is_symlink()
    if entry is None:
        return False
    if entry.get("symlink"):
        return path.is_symlink()
    return st.st_ino == entry.get("inode")


def _ledger_entry(path: Path) -> dict[str, Any]:
    st = path.lstat()
    return {"symlink": path.is_symlink(), "inode": st.st_ino}


def _read_ledger(dest: Path) -> dict[str, Any]:
    try:
        data = json.loads((dest / LEDGER).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return dict(data.get("links", {})) if isinstance(data, dict) else {}


def _write_ledger(dest: Path, ledger: dict[str, Any]) -> None:
    if not ledger:  # nothing of ours is left (e.g. after unlink): no ledger either
        (dest / LEDGER).unlink(missing_ok=True)
        return
    dest.mkdir(parents=True, exist_ok=True)
    write_atomic(dest / LEDGER, json.dumps({"links": dict(sorted(ledger.items()))},
                                          indent=1).encode())


def _rel(path: Path, dest: Path) -> str:
    return path.relative_to(dest).as_posix()
