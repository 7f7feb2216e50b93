"""Manifests (``models.toml``) and lock files (``models.toml.lock``): a project's model set, reproducibly.

A manifest says what a project wants (references, names, globs); the lock says exactly what was
installed (commit shas, every file's sha256 and size). Reading is strict — an unknown key is an
error naming the entry, since a typo silently ignored would install the wrong thing.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from modelshelf.errors import ConfigError, LockMismatch, NotFoundError
from modelshelf.secrets import public_ref
from modelshelf.store import FileRecord
from modelshelf.store.linking import write_atomic

LOCK_VERSION = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ENTRY_KEYS = {"ref", "name", "type", "include", "exclude", "revision", "sha256"}


@dataclass(frozen=True)
class Selection:
    """Which files of a reference to take and how to file them: what a manifest entry may say
    and what ``pull`` takes as options (:class:`modelshelf.api.PullOptions` extends it), so the
    two never drift apart."""

    name: str | None = None
    type: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    revision: str | None = None
    sha256: str | None = None

    def selection(self) -> dict[str, Any]:
        """These fields alone, for ``dataclasses.replace`` onto another selection."""
        return {f.name: getattr(self, f.name) for f in fields(Selection)}


@dataclass(frozen=True, kw_only=True)
class ManifestEntry(Selection):
    ref: str


# What a lock pins of a file is what the registry records of it: path in the model, sha256, size.
LockedFile = FileRecord


@dataclass(frozen=True)
class LockedModel:
    ref: str
    name: str
    type: str
    revision: str | None
    files: tuple[LockedFile, ...]
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    source_url: str | None = None


@dataclass(frozen=True)
class LockFile:
    models: tuple[LockedModel, ...] = field(default_factory=tuple)


def lock_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + ".lock")


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such manifest") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give the manifest file (e.g. models.toml)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: expected a string or a list of strings")


def _optional_string(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a string, not {value!r}")
    return value


def _required_string(table: dict[str, Any], key: str, where: str) -> str:
    value = _optional_string(table, key, where)
    if not value or not value.strip():
        raise ConfigError(f"{where}: '{key}' is required")
    return value.strip()


def _tables(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The ``[[model]]`` tables, each checked to be a table (``model = [1, 2]`` is not)."""
    tables = data.get("model", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[model]] entries")
    for index, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            raise ConfigError(f"{path} [[model]] #{index}: expected a table, not {table!r}")
    return tables


def read_manifest(path: Path) -> list[ManifestEntry]:
    entries = []
    for index, table in enumerate(_tables(_load_toml(path), path), 1):
        where = f"{path} [[model]] #{index}"
        unknown = set(table) - _ENTRY_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        entries.append(ManifestEntry(
            ref=_required_string(table, "ref", where),
            name=_optional_string(table, "name", where),
            type=_optional_string(table, "type", where),
            include=_strings(table.get("include", []), f"{where} include"),
            exclude=_strings(table.get("exclude", []), f"{where} exclude"),
            revision=_optional_string(table, "revision", where),
            sha256=_optional_string(table, "sha256", where)))
    return entries


def _locked_file(entry: Any, where: str) -> LockedFile:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a [[model.file]] table, not {entry!r}")
    size = entry.get("size")
    sha256 = _required_string(entry, "sha256", where).lower()
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ConfigError(f"{where}: 'size' must be a whole number of bytes, not {size!r}")
    if not _HEX64.fullmatch(sha256):
        raise ConfigError(f"{where}: 'sha256' must be 64 hex digits, not {sha256!r}")
    return LockedFile(_required_string(entry, "path", where), sha256, size)


def read_lock(path: Path) -> LockFile:
    """Read a lock strictly: a hand-edited or truncated lock is named, never half-trusted."""
    data = _load_toml(path)
    if data.get("version") != LOCK_VERSION:
        raise ConfigError(f"{path}: lock file version {data.get('version')!r} is not supported")
    models = []
    for index, table in enumerate(_tables(data, path), 1):
        where = f"{path} [[model]] #{index} (regenerate it with `modelshelf lock`)"
        files = table.get("file", [])
        if not isinstance(files, list):
            raise ConfigError(f"{where}: expected [[model.file]] tables")
        models.append(LockedModel(
            ref=_required_string(table, "ref", where), name=_required_string(table, "name", where),
            type=_required_string(table, "type", where),
            revision=_optional_string(table, "revision", where),
            files=tuple(_locked_file(f, where) for f in files),
            include=_strings(table.get("include", []), f"{where} include"),
            exclude=_strings(table.get("exclude", []), f"{where} exclude"),
            source_url=_optional_string(table, "source_url", where)))
    return LockFile(tuple(models))


def write_lock(path: Path, lock: LockFile) -> None:
    """Atomically (temp file + rename): a half-written lock must never be read back."""
    doc: dict[str, Any] = {"version": LOCK_VERSION, "model": []}
    for model in lock.models:
        table: dict[str, Any] = {"ref": model.ref, "name": model.name, "type": model.type}
        if model.revision:
            table["revision"] = model.revision
        if model.source_url:
            table["source_url"] = model.source_url
        if model.include:
            table["include"] = list(model.include)
        if model.exclude:
            table["exclude"] = list(model.exclude)
        table["file"] = [f.to_json() for f in model.files]
        doc["model"].append(table)
    header = "# Generated by `modelshelf lock`; commit it, do not edit it.\n"
    # not mkstemp: its 0600 would keep the lock from the team it is written for
    write_atomic(path, (header + tomli_w.dumps(doc)).encode())


def check_lock_matches(manifest: Sequence[ManifestEntry], lock: LockFile, path: Path) -> None:
    """The lock must describe the manifest as it is now, or it pins something else. References
    are compared as the lock records them (:func:`public_ref`: a URL's credentials masked), so
    a manifest URL with ``user:password`` matches its lock, and a changed password is no change."""
    wanted = [public_ref(e.ref) for e in manifest]
    locked = [public_ref(m.ref) for m in lock.models]
    if wanted != locked:
        raise LockMismatch(f"{path}: the lock file is out of date with its manifest "
                           f"(run `modelshelf lock -f {path.with_suffix('')}`)")
