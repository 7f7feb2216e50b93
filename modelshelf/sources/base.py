"""What a source resolves a reference to: a list of files to fetch, with everything the transfer
engine and the store need, and nothing about how the source found them."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf.secrets import NO_CREDENTIALS, Credentials

if TYPE_CHECKING:
    from modelshelf.config import SourceSettings


class SourceName(StrEnum):
    """Where a reference points; the values are what `ls --json` and the registry show."""

    HF = "hf"
    CIVITAI = "civitai"
    URL = "url"
    TORCHVISION = "torchvision"
    LOCAL = "local"


@dataclass(frozen=True)
class SourceTraits:
    """What the pull pipeline may assume about a source, declared once beside its resolver
    (see :data:`modelshelf.sources.SOURCES`) instead of tested by name where it matters."""

    networked: bool          # resolving needs a server (offline mode refuses it)
    immutable_refs: bool     # a reference names fixed content: once stored, never asked again
    versioned: bool          # ``--revision`` chooses between versions
    revision_in_ref: bool    # ``--revision R`` is the reference's own ``@R`` (one registry key)
    selectable: bool         # ``--include``/``--exclude`` choose files (a repo or a folder)
    server_names_file: bool  # the file's name is the server's (Content-Disposition), known late


@dataclass(frozen=True)
class HubLocation:
    """Where a Hub resolution lives in the standard Hub cache (``models--org--repo``)."""

    repo_id: str
    requested_revision: str  # the branch/tag asked for: ``refs/<it>`` names the commit


@dataclass(frozen=True)
class RemoteFile:
    """One file of a model. ``url`` is None for local imports (then ``local_path`` is set)."""

    path: str  # relative path inside the model ("unet/model.safetensors" or "model.safetensors")
    url: str | None = None
    size: int | None = None
    sha256: str | None = None  # expected digest when the source publishes one
    # e.g. Authorization (secret!) and the one origin it may be sent to
    credentials: Credentials = field(default=NO_CREDENTIALS, repr=False)
    local_path: Path | None = None
    etag: str | None = None
    # Digests a source publishes that are not a full sha256, checked before the bytes are kept:
    sha256_prefix: str | None = None  # torchvision's ``-<hex>.pth``
    git_blob_id: str | None = None  # a small (non-LFS) Hub file's git blob sha1


@dataclass(frozen=True)
class Resolution:
    """A reference resolved to concrete files at a concrete revision."""

    ref: str  # the reference as the user typed it (never contains a token)
    source: SourceName
    name: str  # default model name
    files: tuple[RemoteFile, ...]
    revision: str | None = None  # commit sha / version id
    source_url: str | None = None  # human-facing URL of the model page or file
    type_hint: str | None = None  # the source's idea of the type (SPEC vocabulary)
    architecture_hint: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)  # what the source said (JSON-able)
    is_repo: bool = False  # whole-repo pulls keep a folder view; single files a file view
    extras: Mapping[str, bytes] = field(default_factory=dict)  # snapshots: civitai.json, preview
    hub: HubLocation | None = None  # set for Hub files: adopted from / linked into the Hub cache


@dataclass(frozen=True)
class Ref:
    """A parsed model reference (SPEC.md "Model references"); ``raw`` is what the user typed."""

    source: SourceName
    raw: str
    repo_id: str | None = None  # hf: "org/repo"
    revision: str | None = None  # hf: branch/tag/sha/refs/pr/N
    path: str | None = None  # hf: file path inside the repo (None = whole repo)
    version_id: int | None = None  # civitai model version
    model_id: int | None = None  # civitai model (latest version)
    url: str | None = None  # direct downloads
    name: str | None = None  # torchvision model name
    local_path: Path | None = None  # file:/path imports


@dataclass(frozen=True)
class ResolveOptions:
    """Per-pull knobs a source may use; ``token`` comes from ``--token`` and beats config/env."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    revision: str | None = None
    token: str | None = None
    offline: bool = False

    def token_for(self, source: SourceSettings) -> str | None:
        """``--token``, else the source's configured token (config.toml or its variable)."""
        return self.token or (source.token.reveal() if source.token else None)

    def keeps(self, path: str) -> bool:
        """Whether ``--include``/``--exclude`` keep ``path``, by huggingface_hub's rules (``*``
        crosses ``/``; a pattern ending in ``/`` names a folder), so a pattern means the same
        for a repo, a folder and a model already in the store."""
        return ((not self.include or _matches(path, self.include))
                and not _matches(path, self.exclude))

    def pattern_flags(self) -> str:
        """``--include``/``--exclude`` as the user gave them, for "no file matches" errors."""
        return " ".join([f"--include {p}" for p in self.include]
                        + [f"--exclude {p}" for p in self.exclude])


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(path, p + "*" if p.endswith("/") else p) for p in patterns)


# Every source module exposes: resolve(ref: Ref, settings: Settings, options: ResolveOptions)
# -> Resolution, and raises modelshelf.errors types (never a library's own exception).
