"""The two ways in: a path on disk (file or folder) or any :class:`RandomAccess` byte source."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

from modelshelf.errors import NotFoundError
from modelshelf.formats import folders, gguf_fmt, onnx_fmt, pickle_fmt, safetensors_fmt
from modelshelf.formats.base import ModelHeader
from modelshelf.formats.detect import detect_source
from modelshelf.formats.source import Budget, BytesSource, FileSource, RandomAccess

# format -> reader(budget, locate_offsets)
READERS: Mapping[str, Callable[[Budget, bool], ModelHeader]] = {
    "safetensors": lambda src, locate: safetensors_fmt.read(src),
    "gguf": lambda src, locate: gguf_fmt.read(src),
    "pickle": pickle_fmt.read,
    "onnx": lambda src, locate: onnx_fmt.read(src),
}


def _exists(path: Path) -> Path:
    if not path.exists():
        raise NotFoundError(f"{path}: no such file or directory")
    return path


def detect_format(path: Path) -> str:
    """safetensors | gguf | pickle | onnx | diffusers | transformers | unknown, from content.
    A shard index JSON reports the format of its shards."""
    path = _exists(Path(path))
    if path.is_dir():
        return folders.folder_kind(path)
    with FileSource(path) as fs:
        fmt = detect_source(Budget(fs, str(path)))
    if fmt == "unknown":
        wm = folders.index_weight_map(path)
        if wm:
            st = any(v.endswith(".safetensors") for v in wm.values())
            return "safetensors" if st else "pickle"
    return fmt


def read_header(path: Path) -> ModelHeader:
    """Header of a file or folder. Broken files raise FormatError; non-model files are
    ``format="unknown"``."""
    path = _exists(Path(path))
    if path.is_dir():
        return folders.read_folder(path, _read_file)
    header = _read_file(path)
    if header.format == "unknown" and folders.index_weight_map(path) is not None:
        return folders.read_index(path, _read_file)
    if header.format in ("safetensors", "pickle", "gguf"):
        shards = folders.sibling_shards(path)
        if shards:
            return dataclasses.replace(header, shards=shards)
    return header


def _read_file(path: Path) -> ModelHeader:
    with FileSource(path) as fs:
        return _read(Budget(fs, str(path)), locate=True)


def read_header_from(source: RandomAccess, name: str = "") -> ModelHeader:
    """Header of a single file behind any byte source (e.g. HTTP Range reads). Tensor offsets
    inside pickles are located only for local sources (it costs one read per storage)."""
    locate = isinstance(source, FileSource | BytesSource)
    return _read(Budget(source, name), locate)


def _read(src: Budget, locate: bool) -> ModelHeader:
    fmt = detect_source(src)
    reader = READERS.get(fmt)
    return reader(src, locate) if reader else ModelHeader("unknown")
