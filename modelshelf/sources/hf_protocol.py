"""The Hub API calls that resolving an ``hf:`` reference makes, without ``huggingface_hub.hf_api``.

Why not ``HfApi``: importing ``huggingface_hub.hf_api`` (where ``HfApi``, ``ModelInfo`` and
``RepoFile`` live) costs ~80 ms on top of the parts of huggingface_hub a pull needs anyway
(errors, tokens, HTTP utilities), because it imports the inference-endpoint, jobs, Spaces,
community and repo-card modules at module level — about 7% of a small ``pull hf:`` (~1.3 s) and
most of what kept it from 3x ``snapshot_download``. A resolve needs three requests; so
:class:`HubClient` sends exactly what ``HfApi.model_info`` and ``HfApi.list_repo_tree`` send
(huggingface_hub 2.4: the same URLs, query parameters and headers, so the real Hub, a mirror and
:class:`~modelshelf.testing.hub.FakeHub` answer alike) through huggingface_hub's own light
utilities: ``build_hf_headers`` (auth and user agent), ``get_session`` (the process-wide client,
so a program's client factory and :func:`modelshelf.sources.hf._hub_tls` still apply),
``paginate`` (the tree's ``Link`` pages) and ``hf_raise_for_status`` (so the very exception types
:mod:`modelshelf.sources.hf_errors` maps still arrive).

Answers become small typed records, each field we use checked as it is read: a value of the wrong
type or shape raises the TypeError/KeyError/ValueError that :func:`~modelshelf.sources.hf_errors.
hub_answer` reports as a malformed answer, as ``HfApi``'s own parsing of it did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

from huggingface_hub.utils import (
    build_hf_headers,
    get_session,
    hf_raise_for_status,
    paginate,
    validate_repo_id,
)

# What the Hub's answers hold, as data: a field that does not match is a malformed answer.
_COMMIT = _GIT_OID = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PATH = re.compile(r"[^\0]+")


class RepoInfo(NamedTuple):
    """What a resolve reads from the model info: the commit the revision points to, and access."""

    commit: str
    private: bool
    gated: bool | str  # False, or how access is granted: "auto" / "manual"


class TreeFile(NamedTuple):
    """One file of a tree listing (``HfApi``'s ``RepoFile``, reduced to what a pull uses)."""

    path: str
    size: int
    blob_id: str  # git blob id: the ETag and the file name of a non-LFS blob in the Hub cache
    lfs_sha256: str | None  # sha256 of the bytes, for LFS files


class Tree(NamedTuple):
    """A tree listing: its files, and the paths of its folders."""

    files: list[TreeFile]
    folders: frozenset[str]


@dataclass(frozen=True)
class HubClient:
    """The Hub at ``endpoint``, asked with ``token`` (None: anonymously, never a token
    huggingface_hub would find on its own behind our precedence)."""

    endpoint: str
    token: str | None
    timeout: float | None

    def model_info(self, repo_id: str, revision: str | None) -> RepoInfo:
        """``HfApi.model_info``'s request: ``/api/models/{repo}[/revision/{rev}]``."""
        validate_repo_id(repo_id)
        url = f"{self.endpoint}/api/models/{repo_id}"
        if revision is not None:
            url += f"/revision/{quote(revision, safe='')}"
        response = get_session().get(url, headers=self._headers(), timeout=self.timeout)
        hf_raise_for_status(response)
        return _repo_info(response.json())

    def tree(self, repo_id: str, commit: str, folder: str | None, *, recursive: bool) -> Tree:
        """``HfApi.list_repo_tree``'s requests, every page read (``paginate`` follows the
        ``Link: rel="next"`` header; the Hub sends 1,000 entries a page)."""
        validate_repo_id(repo_id)
        url = f"{self.endpoint}/api/models/{repo_id}/tree/{quote(commit, safe='')}"
        if folder:
            url += f"/{quote(folder, safe='')}"  # one segment, '/' as %2F, as HfApi sends it
        files: list[TreeFile] = []
        folders: set[str] = set()
        for entry in paginate(url, params={"recursive": recursive, "expand": False},
                              headers=self._headers(), timeout=self.timeout):
            if entry["type"] == "file":
                files.append(_tree_file(entry))
            else:  # "directory", as HfApi reads anything that is not a file
                folders.add(_string(entry["path"], _PATH, "path"))
        return Tree(files, frozenset(folders))

    def check_file_access(self, repo_id: str, commit: str, path: str) -> None:
        """The metadata (HEAD) request a download of ``path`` starts with: the Hub's error if
        the token may not read the bytes (a gated repo whose licence was not accepted).

        Only gated repos need it, so ``huggingface_hub.file_download`` (~27 ms: tqdm, asyncio,
        filelock) is imported here rather than for every pull; it does not import ``hf_api``.
        """
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        get_hf_file_metadata(hf_hub_url(repo_id, path, revision=commit, endpoint=self.endpoint),
                             token=self.token or False, timeout=self.timeout)

    def _headers(self) -> dict[str, str]:
        return build_hf_headers(token=self.token or False)


def _repo_info(data: Any) -> RepoInfo:
    """A model info answer: an object with an ``id`` and, if any, a list of ``siblings`` (what
    ``ModelInfo`` required), whose ``sha``, ``private`` and ``gated`` we check and keep."""
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    _string(data["id"], _PATH, "id")
    siblings, private, gated = data.get("siblings"), data.get("private"), data.get("gated")
    if siblings is not None and not isinstance(siblings, list):
        raise ValueError(f"siblings {siblings!r}"[:100])
    if private is not None and not isinstance(private, bool):
        raise ValueError(f"private {private!r}"[:100])
    if gated is not None and not isinstance(gated, bool | str):
        raise ValueError(f"gated {gated!r}"[:100])
    return RepoInfo(_string(data.get("sha"), _COMMIT, "commit sha"), bool(private),
                    gated or False)


def _tree_file(entry: dict[str, Any]) -> TreeFile:
    path = _string(entry["path"], _PATH, "path")
    size = entry["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"{path}: size {size!r}"[:100])
    blob_id = _string(entry["oid"], _GIT_OID, f"{path}: oid")
    lfs = entry.get("lfs")
    sha256 = None if lfs is None else _string(lfs["oid"], _SHA256, f"{path}: lfs oid")
    return TreeFile(path, size, blob_id, sha256)


def _string(value: object, pattern: re.Pattern[str], what: str) -> str:
    """``value`` if it is a string matching ``pattern``; else the ValueError
    :func:`~modelshelf.sources.hf_errors.hub_answer` reports as a malformed answer."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r}"[:100])
    return value
