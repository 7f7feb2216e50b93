"""The two ways in: a path on disk (file or folder) or any :class:`RandomAccess` byte source."""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from modelshelf.errors import FormatError, NotFoundError
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


# How much of a local file one read brings in: the magic, and the whole header of nearly every
# safetensors file a scan meets (a 1,000-tensor header is ~100 KB; larger ones read the rest).
PREFETCH = 64 * 1024


class _Prefetched:
    """A local file whose first :data:`PREFETCH` bytes come from one ``pread``.

    Detection peeks at the magic, then a reader asks for the length field and the header: three
    syscalls (and three copies out of the page cache) become one. Reads beyond the buffer go to
    the file. Budget accounting is unchanged: it sits above this and counts what readers ask for.
    """

    def __init__(self, fs: FileSource) -> None:
        self._fs = fs
        self.size = fs.size
        self._head = fs.read_at(0, min(PREFETCH, fs.size))

    def read_at(self, offset: int, length: int) -> bytes:
        end = offset + length
        if end <= len(self._head):
            return self._head[offset:end]
        return self._fs.read_at(offset, length)


# The errors for which ``Path.exists()`` says False rather than raising.
_MISSING = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def _open(path: Path) -> FileSource | None:
    """The file at ``path``, open; None when it is a folder. One ``open`` and its ``fstat``
    say whether it exists, whether it is a folder and its size: a scan asks per file, and a
    ``stat`` by path first resolved the path twice."""
    try:
        return FileSource(path)
    except IsADirectoryError:
        return None
    except OSError as exc:
        if exc.errno in _MISSING:
            raise NotFoundError(f"{path}: no such file or directory") from None
        if exc.errno == errno.EACCES and os.path.isdir(path):
            return None  # a folder we may not open: reading it as one says what is wrong
        raise


def _as_path(path: Path | str) -> Path:
    """``Path(path)`` parses even a Path again: a tenth of reading a small header."""
    return path if isinstance(path, Path) else Path(path)


def detect_format(path: Path) -> str:
    """safetensors | gguf | pickle | onnx | diffusers | transformers | unknown, from content.
    A shard index JSON reports the format of its shards."""
    path = _as_path(path)
    fs = _open(path)
    if fs is None:
        return folders.folder_kind(path)
    with fs:
        fmt = detect_source(Budget(_Prefetched(fs), str(path)))
    if fmt == "unknown":
        wm = folders.index_weight_map(path)
        if wm:
            st = any(v.endswith(".safetensors") for v in wm.values())
            return "safetensors" if st else "pickle"
    return fmt


def read_header(path: Path) -> ModelHeader:
    """Header of a file or folder. Broken files raise FormatError; non-model files are
    ``format="unknown"``."""
    return _header(_as_path(path))[0]


def _header(path: Path) -> tuple[ModelHeader, bool]:
    """:func:`read_header`, and whether ``path`` is one shard file of a set (not a folder or
    an index), so :func:`read_model` need not stat the path or parse an index again."""
    fs = _open(path)
    if fs is None:
        return folders.read_folder(path, _read_file), False
    with fs:
        header = _read_open(fs, path)
    if header.format == "unknown":
        index = folders.load_index(path)
        if index is not None:
            return folders.read_index(path, _read_file, index), False
    if header.format in ("safetensors", "pickle", "gguf"):
        shards = folders.sibling_shards(path)
        if shards:
            missing = folders.missing_shards(path, shards)
            return dataclasses.replace(header, shards=shards, missing=missing), True
    return header, False


def read_model(path: Path) -> ModelHeader:
    """The header of the whole model ``path`` belongs to: a shard file (``-00001-of-00003``)
    stands for every shard beside it, as ``info`` counts "all shards"; anything else is
    :func:`read_header`. A scan reads shard files one at a time instead, so that it counts each
    tensor once."""
    path = _as_path(path)
    header, shard_file = _header(path)
    if not shard_file or len(header.shards) < 2:
        return header
    # ``path``'s own shard was just read: the others only
    parts = [(name, header if name == path.name else _read_file(path.parent / name))
             for name in header.shards]
    merged = folders.merge(parts, path.parent, prefix=False)
    return dataclasses.replace(merged, shards=header.shards, missing=header.missing)


def _read_file(path: Path) -> ModelHeader:
    with FileSource(path) as fs:
        return _read_open(fs, path)


def _read_open(fs: FileSource, path: Path) -> ModelHeader:
    return _read(Budget(_Prefetched(fs), str(path)), locate=True)


def read_header_from(source: RandomAccess, name: str = "") -> ModelHeader:
    """Header of a single file behind any byte source (e.g. HTTP Range reads). Tensor offsets
    inside pickles are located only for local sources (it costs one read per storage)."""
    locate = isinstance(source, FileSource | BytesSource)
    return _read(Budget(source, name), locate)


# File name extensions that claim a format. The format is decided by content; a name only says
# what a file *should* be: one whose bytes match no format while its name claims one is broken
# (a cut download, a 0-byte placeholder, an HTML error page saved as .safetensors), and says so
# instead of passing for "unknown". ``.bin`` and ``.pkl`` claim nothing: too many other things
# (raw arrays, compressed joblib dumps) share them.
CLAIMED_BY_NAME: Mapping[str, str] = {
    ".safetensors": "safetensors", ".sft": "safetensors", ".gguf": "gguf",
    ".ckpt": "pickle", ".pt": "pickle", ".pth": "pickle", ".onnx": "onnx",
}


def claimed_format(name: str) -> str | None:
    """The format a file name's extension claims, if any."""
    return CLAIMED_BY_NAME.get(PurePosixPath(name).suffix.lower())


def _read(src: Budget, locate: bool) -> ModelHeader:
    fmt = detect_source(src)
    reader = READERS.get(fmt)
    if reader is not None:
        return reader(src, locate)
    claimed = claimed_format(src.name)
    if claimed is None:
        return ModelHeader("unknown")
    if src.size == 0:
        raise src.error(f"empty file (0 bytes), though its name says {claimed}")
    try:  # the claimed reader says best what is wrong (or, rarely, reads what detection missed)
        return READERS[claimed](src, locate)
    except FormatError as exc:
        reason = str(exc).removeprefix(f"{src.name}: ")
        raise src.error(f"not a valid {claimed} file, though its name says so: {reason}") from None
