"""Presets: named model sets, pulled with ``pull --preset NAME`` and listed by ``presets``.

A preset is a manifest (``models.toml`` format, so globs, names and lock files work as for
``pull -f``). Where they come from, later ones replacing earlier ones of the same name:

1. built in: ``basic``, ``vision``, ``nlp``, ``all`` — manifests shipped in the package
   (``modelshelf/presets/*.toml``);
2. manifest files in a ``presets/`` folder beside config.toml (``presets/NAME.toml``);
3. config.toml's ``[presets]``: ``NAME = ["gpt2", "civitai:4242"]`` (references or short names)
   or ``NAME = "path/to/manifest.toml"`` (relative to the config file).

A preset's total size comes from its lock file when there is one (exact, offline); otherwise
from resolving it remotely (a dry run: headers and listings, no download) unless offline, in
which case it is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from modelshelf.api.models import PullResult, PullStatus
from modelshelf.api.pull import ProgressFactory, PullOptions
from modelshelf.config import Settings
from modelshelf.errors import UsageError
from modelshelf.manifest import ManifestEntry, lock_path, read_lock, read_manifest

if TYPE_CHECKING:
    from modelshelf.api import Shelf

BUILTIN_DIR = "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    origin: str  # "built-in", "config", or the manifest file's path
    manifest: Path | None = None
    refs: tuple[str, ...] = ()

    def entries(self) -> list[ManifestEntry]:
        if self.manifest is not None:
            return read_manifest(self.manifest)
        return [ManifestEntry(ref=ref) for ref in self.refs]


@dataclass(frozen=True)
class PresetSize:
    """Total bytes of a preset's files and where the figure comes from (``lock``, ``resolved``),
    or ``None`` with ``source="unknown"`` (offline, or a reference that did not resolve)."""

    bytes: int | None
    source: str


def builtin_presets() -> dict[str, Preset]:
    folder = Path(str(resources.files("modelshelf").joinpath(BUILTIN_DIR)))
    return {p.stem: Preset(p.stem, "built-in", p) for p in sorted(folder.glob("*.toml"))}


def all_presets(settings: Settings) -> dict[str, Preset]:
    """Every preset by name, in the order of the module docstring (later replaces earlier)."""
    found = builtin_presets()
    for name, value in settings.presets.items():
        found[name] = (Preset(name, str(value), value) if isinstance(value, Path)
                       else Preset(name, "config", refs=value))
    return found


def find_preset(settings: Settings, name: str) -> Preset:
    presets = all_presets(settings)
    if name not in presets:
        raise UsageError(f"preset {name!r} is not defined (known: {', '.join(sorted(presets))}); "
                         "add one in config.toml [presets] or presets/NAME.toml beside it")
    return presets[name]


def pull_preset(shelf: Shelf, name: str, *, jobs: int = 4,
                progress: ProgressFactory | None = None,
                base: PullOptions | None = None) -> list[PullResult]:
    preset = find_preset(shelf.settings, name)
    if preset.manifest is not None:
        return shelf.pull_manifest(preset.manifest, jobs=jobs, progress=progress, options=base)
    return shelf.pull_many(preset.refs, jobs=jobs, progress=progress, options=base)


def preset_size(shelf: Shelf, preset: Preset) -> PresetSize:
    if preset.manifest is not None and lock_path(preset.manifest).is_file():
        lock = read_lock(lock_path(preset.manifest))
        return PresetSize(sum(f.size for m in lock.models for f in m.files), "lock")
    if shelf.settings.offline:
        return PresetSize(None, "unknown")
    dry = PullOptions(dry_run=True)
    items = [(e.ref, replace(dry, include=e.include, exclude=e.exclude, revision=e.revision))
             for e in preset.entries()]
    results = shelf.pull_many(items)
    if any(r.status != PullStatus.PLANNED or any(p.size is None for p in r.plan) for r in results):
        return PresetSize(None, "unknown")
    return PresetSize(sum(r.total_bytes for r in results), "resolved")
