"""Civitai previews and trigger words beside model files, where front-ends look for them.

The conventions (A1111/Forge extra networks, the Civitai Helper extensions, ComfyUI-Manager
and the ComfyUI LoRA managers): ``<stem>.preview.<png|jpeg|webp|gif>`` is the card image, and
``<stem>.civitai.info`` is the Civitai model-version JSON (``/api/v1/model-versions/...``:
``id``, ``modelId``, ``model.name``, ``trainedWords``, ``baseModel``, ...), read for the trigger
words. The store keeps exactly that JSON as ``meta/<name>/civitai.json`` and the first preview
as ``meta/<name>/preview.<ext>``.

They are placed beside the model in ``views/<type>/``: that is the folder an app actually
lists for ``comfyui``/``a1111`` (a directory symlink to it) and for ``--extra-paths`` (its
``base_path``), and ``files``-style apps (``flat``, ``invokeai``) link them from there like any
other file, recorded in their ledger so ``unlink`` takes them away. The preview is a hard link
to the stored image (no copy); the info file a copy, as the stored JSON is replaced by rename.
A sidecar whose model left the view is removed at the next sync; nothing else there is touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from modelshelf.store import TYPES
from modelshelf.store.linking import place_link, shows, write_atomic

INFO = ".civitai.info"
PREVIEW = ".preview."
_PREVIEW_EXTS = ("png", "jpeg", "webp", "gif")  # what the Civitai source stores
_MAX_INFO_BYTES = 4 << 20


def is_sidecar(name: str) -> bool:
    return name.endswith(INFO) or any(name.endswith(PREVIEW + e) for e in _PREVIEW_EXTS)


def sync_sidecars(views: Path, meta: Path, *, dry_run: bool = False,
                  only: str | None = None) -> list[Path]:
    """Bring every ``views/<type>/`` sidecar in line with ``meta/``; returns the paths that
    were (or, with ``dry_run``, would be) written or removed. ``only``: just the files of the
    model of that name (what a pull or an ``rm`` changed), not every model's."""
    changed: list[Path] = []
    for folder in (views / t for t in TYPES):
        if not folder.is_dir():
            continue
        entries = {e.name: e for e in folder.iterdir() if not e.name.startswith(".")
                   and (only is None or _model_stem(e.name) == only)}
        wanted: set[str] = set()
        for entry in entries.values():
            if entry.is_file() and not is_sidecar(entry.name):
                for path, source, copy in _wanted(entry, meta / entry.stem):
                    wanted.add(path.name)
                    if not _current(path, source, copy):
                        changed.append(path)
                        if not dry_run:
                            _place(path, source, copy)
        for name, entry in entries.items():
            if is_sidecar(name) and name not in wanted and entry.is_file():
                changed.append(entry)
                if not dry_run:
                    entry.unlink()
    return changed


def _model_stem(name: str) -> str:
    """The model a view entry belongs to: ``x.safetensors``, ``x.civitai.info`` and
    ``x.preview.png`` all belong to ``x``."""
    if name.endswith(INFO):
        return name.removesuffix(INFO)
    if is_sidecar(name):
        return name.rpartition(PREVIEW)[0]
    return Path(name).stem


def _wanted(model_file: Path, meta: Path) -> Iterator[tuple[Path, Path, bytes | None]]:
    """(sidecar path, stored source, bytes to copy) for one model file with Civitai data: the
    info file is a copy of the stored JSON (read once, here), the preview a link (None)."""
    info = meta / "civitai.json"
    data = _info_bytes(info)
    if data is None:
        return
    stem = model_file.stem
    yield model_file.with_name(stem + INFO), info, data
    preview = next((meta / f"preview.{e}" for e in _PREVIEW_EXTS
                    if (meta / f"preview.{e}").is_file()), None)
    if preview is not None:
        yield model_file.with_name(f"{stem}{PREVIEW}{preview.suffix[1:]}"), preview, None


def _info_bytes(path: Path) -> bytes | None:
    """The stored JSON, if it may go out as ``.civitai.info``: only a JSON object under a size
    cap does (tools parse it)."""
    try:
        if path.stat().st_size > _MAX_INFO_BYTES:
            return None
        data = path.read_bytes()
        return data if isinstance(json.loads(data), dict) else None
    except (OSError, ValueError):
        return None


def _current(path: Path, source: Path, copy: bytes | None) -> bool:
    if copy is None:
        return shows(path, source)
    try:
        return path.read_bytes() == copy
    except OSError:
        return False


def _place(path: Path, source: Path, copy: bytes | None) -> None:
    if copy is None:
        place_link(source, path)
    else:
        write_atomic(path, copy)
