"""What the mirror can serve: the store's Hub-sourced models by repo id and revision, pulled
through from the upstream Hub on a miss.

A pull from the Hub records the repo id, the commit and the revision the user asked for
(``metadata["source"]``), and every file's Hub ETag; that is all the Hub protocol needs, so the
mirror answers from the registry and the blobs, without a second copy of any byte. A branch name
(``main``) is answered with the newest stored commit pulled at that name: the mirror does not
ask upstream whether the branch moved (``modelshelf pull`` on the mirror host updates it).

Only models linked into views/ are served: one kept out because it could run code in an app
(see ``inspection/trust.py``) is not handed to other machines' apps either. Private and gated repos are
served only to a client whose token a ``[[mirror.grants]]`` entry gives them to: the mirror pulls
with its own Hub token, and must not hand what that token sees to every client.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.api import Shelf
from modelshelf.api.names import free_name
from modelshelf.errors import EntryNotFound, GatedRepo, NameConflict, RepoNotFound, UnsafeFile
from modelshelf.inspection.trust import trust_hint
from modelshelf.naming import name_from
from modelshelf.server.hubapi import HubFile, hub_file, is_lfs_path
from modelshelf.store import ModelRecord

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class Snapshot:
    """One commit of one repo as the store holds it: path -> file (bytes = the blob)."""

    repo_id: str
    commit: str
    files: dict[str, HubFile]


def _source(record: ModelRecord) -> dict[str, Any]:
    source = record.metadata.get("source")
    return source if isinstance(source, dict) else {}


def _at(record: ModelRecord, repo_id: str, revision: str) -> bool:
    source = _source(record)
    return (record.source == "hf" and source.get("repo_id") == repo_id
            and revision in (record.revision, source.get("requested_revision")))


def _check_public(repo_id: str, records: Iterable[ModelRecord]) -> None:
    for record in records:
        source = _source(record)
        if source.get("private"):  # answered as the Hub answers: no sign that it exists
            raise RepoNotFound(f"{repo_id}: Repository not found")
        if source.get("gated"):
            raise GatedRepo(f"{repo_id}: gated upstream; this mirror does not serve gated repos")


class Catalogue:
    """Look-ups in one :class:`Shelf`, and pull-through into it."""

    def __init__(self, shelf: Shelf) -> None:
        self.shelf = shelf
        self._pulling = threading.Lock()  # one pull-through at a time: the upstream is the bottleneck

    def find(self, repo_id: str, revision: str, path: str | None = None, *,
             private_ok: bool = False) -> Snapshot | None:
        """The stored commit answering ``revision`` (whole repo, or one holding ``path``);
        a private or gated repo only for a client granted it (``private_ok``)."""
        matches = [r for r in self.shelf.store.list() if _at(r, repo_id, revision)]
        if not private_ok:
            _check_public(repo_id, matches)
        matches = [r for r in matches if r.linked]
        if path is None:  # a listing needs a whole-repo pull, not single files of it
            wanted = [r for r in matches if _source(r).get("path") is None]
        else:
            wanted = [r for r in matches if any(f.path == path for f in r.files)]
        if not wanted:
            return None
        commit = str(max(wanted, key=lambda r: r.created).revision)
        return Snapshot(repo_id, commit, self._files(r for r in matches if r.revision == commit))

    def fetch(self, repo_id: str, revision: str, path: str | None = None, *,
              private_ok: bool = False) -> Snapshot:
        """:meth:`find`, else pull from the upstream Hub first (the configured HF endpoint)."""
        found = self.find(repo_id, revision, path, private_ok=private_ok)
        if found is not None:
            return found
        with self._pulling:
            # pulled by another request meanwhile?
            found = self.find(repo_id, revision, path, private_ok=private_ok)
            if found is not None:
                return found
            model = self._pull(f"hf:{repo_id}@{revision}" + (f"/{path}" if path else ""),
                               repo_id)
            if not private_ok:
                _check_public(repo_id, [self.shelf.store.get(model.name)])
        found = self.find(repo_id, revision, path, private_ok=private_ok)
        if found is None:
            if not model.linked:
                raise UnsafeFile(f"{repo_id}@{revision}: model {model.name} is kept out of views/ "
                                 f"on the mirror (safety {model.safety}); {trust_hint(model.name)}")
            raise EntryNotFound(f"{repo_id}@{revision}: {path or 'repo'} not found")
        return found

    def _pull(self, ref: str, repo_id: str) -> Any:
        try:
            return self.shelf.pull(ref)
        except NameConflict:  # the default name is taken by another model: any free one will do
            name = free_name(self.shelf.store, name_from(repo_id.split("/")[-1]))
            return self.shelf.pull(ref, name=name)

    def _files(self, records: Iterable[ModelRecord]) -> dict[str, HubFile]:
        files: dict[str, HubFile] = {}
        for record in records:
            etags = _source(record).get("etags") or {}
            for f in record.files:
                etag = etags.get(f.path) if isinstance(etags, dict) else None
                lfs = etag == f.sha256 if etag else is_lfs_path(f.path, f.size)
                blob: Path = self.shelf.store.blob_path(f.sha256)
                files[f.path] = hub_file(f.path, blob, f.size, f.sha256, lfs=lfs,
                                         blob_id=None if lfs else etag)
        return files
