"""What the registry knows about a model, as small frozen values.

These are the store's whole vocabulary towards the layers above: the api builds a
:class:`NewModel` from what it fetched and gets a :class:`ModelRecord` back. Keeping them free of
any database or filesystem handle means they can be passed across threads and printed safely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from modelshelf.errors import UsageError
from modelshelf.naming import MAX_NAME_BYTES, UNSAFE_CHARS


class ModelType(StrEnum):
    """SPEC.md's `type` vocabulary; also the folder names under views/ (ComfyUI's names)."""

    CHECKPOINTS = "checkpoints"
    DIFFUSION_MODELS = "diffusion_models"
    VAE = "vae"
    LORAS = "loras"
    TEXT_ENCODERS = "text_encoders"
    CLIP_VISION = "clip_vision"
    CONTROLNET = "controlnet"
    IPADAPTER = "ipadapter"
    EMBEDDINGS = "embeddings"
    UPSCALE_MODELS = "upscale_models"
    LLM = "llm"
    OTHER = "other"


TYPES: tuple[str, ...] = tuple(ModelType)
# Formats whose models are folders by nature (config files beside weights), even with one file.
FOLDER_FORMATS = frozenset({"diffusers", "transformers"})
_BAD_PATH = re.compile(rf"[{UNSAFE_CHARS}]")  # '/' separates the parts of a file path in a model
_BAD_NAME = re.compile(rf"[/{UNSAFE_CHARS}]")


@dataclass(frozen=True)
class FileRecord:
    """One file of a model: where it sits inside the model, and which blob holds its bytes."""

    path: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, str | int]:
        """How manifests, locks, snapshots and ``--json`` output write a file."""
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class NewModel:
    """A model about to be registered; every file's blob must already be in the store."""

    name: str
    type: str
    architecture: str
    format: str
    source: str
    source_ref: str
    source_url: str | None
    revision: str | None
    files: tuple[FileRecord, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = True  # False: registered, but kept out of views/ (and apps) until trusted

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(self.files))

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def main_file(self) -> FileRecord:
        """The largest file: the one whose sha256 `ls` shows."""
        return max(self.files, key=lambda f: f.size)

    @property
    def sha256(self) -> str:
        return self.main_file.sha256 if self.files else ""

    @property
    def is_single_file(self) -> bool:
        """Single-file models appear in views as one file; the others as a folder."""
        return len(self.files) == 1 and self.format not in FOLDER_FORMATS

    def content(self) -> frozenset[tuple[str, str, int]]:
        """What "same content" means for a name collision: the same files with the same bytes."""
        return frozenset((f.path, f.sha256, f.size) for f in self.files)


@dataclass(frozen=True)
class ModelRecord(NewModel):
    """A registered model: a :class:`NewModel` plus the registry's bookkeeping."""

    created: float = 0.0
    last_used: float = 0.0
    pinned: bool = False


def check_new_model(new: NewModel) -> None:
    """Refuse values that would escape the views folder or break the layout, before any change."""
    check_name(new.name)
    if new.type not in TYPES:
        raise UsageError(f"model {new.name}: type {new.type!r} is not one of {', '.join(TYPES)}")
    if not new.files:
        raise UsageError(f"model {new.name}: has no files")
    seen: set[str] = set()
    for f in new.files:
        check_relative_path(new.name, f.path)
        if f.path in seen:
            raise UsageError(f"model {new.name}: file {f.path} is listed twice")
        seen.add(f.path)


def check_name(name: str) -> None:
    """A name becomes a file name in views/ and meta/: no separators, no control characters."""
    if not name or name in {".", ".."} or name.startswith(".") or _BAD_NAME.search(name):
        raise UsageError(f"model name {name!r}: must be non-empty, not start with '.', and contain "
                         "no '/', '\\' or control characters")
    if name != name.strip():
        raise UsageError(f"model name {name!r}: must not start or end with a space")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UsageError(f"model name {name[:40]!r}...: longer than {MAX_NAME_BYTES} bytes")


def check_relative_path(name: str, path: str) -> None:
    if (not path or PurePosixPath(path).is_absolute() or _BAD_PATH.search(path)
            or any(part in {"", ".", ".."} for part in path.split("/"))):
        raise UsageError(f"model {name}: file path {path!r} must be relative, without '..'")
