"""Load on demand: :meth:`Shelf.load`, :meth:`Shelf.tensor`, :meth:`Shelf.load_model` and the
loaded-model cache behind :meth:`Shelf.unload` / :meth:`Shelf.loaded`.

A name is found where a notebook user expects it: a file or folder on disk is loaded in place; a
registered model by its name; anything else is a reference (or a short name, see
:mod:`modelshelf.sources.aliases`) that is pulled first — already present means no network, and
offline mode makes a missing model an error instead of a download.

The cache and its budget are :mod:`modelshelf.api.loaded`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf.api.frameworks import LoadOptions, build_model, converter, model_kind, pickle_tensors
from modelshelf.api.loaded import LoadedCache, LoadedModel
from modelshelf.errors import FormatError, NotFoundError
from modelshelf.formats.base import ModelHeader, TensorInfo
from modelshelf.formats.reader import detect_format, read_header, read_model
from modelshelf.formats.tensors import (
    MAPPABLE,
    MappedFiles,
    QuantizedTensor,
    TensorMap,
    file_of,
    read_one,
)

if TYPE_CHECKING:
    from modelshelf.api import Shelf


@dataclass(frozen=True)
class Located:
    """Where a model's bytes are and what the registry says about it (nothing, for a path)."""

    name: str
    path: Path
    source: str = "local"
    format: str = "unknown"
    architecture: str = "unknown"
    weights: str | None = None


def locate(shelf: Shelf, target: str) -> Located:
    """A path on disk, a registered name, or a reference/short name to pull (see module doc)."""
    path = Path(target).expanduser()
    if path.exists():
        return Located(str(path.absolute()), path.absolute())
    record = shelf.store.find(target)
    if record is None:  # a reference or short name (parsing knows the aliases): pull it
        record = shelf.store.get(shelf.pull(target).name)
    else:
        shelf.store.touch(record.name)
    weights = record.metadata.get("weights") if isinstance(record.metadata, Mapping) else None
    architecture = record.architecture
    if record.source == "torchvision":  # the registry's name for it, e.g. "resnet18"
        from modelshelf.sources import parse_ref

        architecture = parse_ref(record.source_ref).name or architecture
    return Located(record.name, shelf.store.view_path(record), record.source, record.format,
                   architecture, weights if isinstance(weights, str) else None)


def locate_name(shelf: Shelf, target: str) -> str:
    """The cache's name for ``target``, without pulling anything (for :meth:`Shelf.unload`)."""
    path = Path(target).expanduser()
    if path.exists():
        return str(path.absolute())
    record = shelf.store.find(target)
    return record.name if record is not None else target


def open_tensors(path: Path, options: LoadOptions) -> TensorMap:
    """Every tensor of the model at ``path`` as one lazy mapping (shards and folders merged)."""
    header = read_model(path)
    files = _files(path, header)
    if not files and header.format == "pickle" and path.is_file():
        files = {path}  # an unsafe pickle lists no tensors; it is judged (and refused) below
    if not files:
        raise FormatError(f"{path}: no tensors to load (format {header.format})")
    formats = {file: detect_format(file) for file in files}
    pickles = [file for file, fmt in formats.items() if fmt == "pickle"]
    others = sorted(str(f) for f, fmt in formats.items() if fmt not in MAPPABLE and fmt != "pickle")
    if others:
        raise FormatError(f"{others[0]}: tensors of this format cannot be loaded")
    convert = converter(options)
    mapping = MappedFiles(writable=options.framework == "torch", byteorder=header.byteorder)
    loaded_pickles: dict[str, Any] = {}
    for file in pickles:
        pickled = read_header(file)
        found = pickle_tensors(file, pickled.safety.status, pickled.safety.findings, options)
        # a diffusers folder names tensors "<component>/<name>", as its header does
        part = file.parent.relative_to(path).as_posix() if header.format == "diffusers" else "."
        loaded_pickles.update({name if part == "." else f"{part}/{name}": tensor
                               for name, tensor in found.items()})
    mapped = {name: info for name, info in header.tensors.items()
              if formats[file_of(path, info)] in MAPPABLE}

    def load(name: str) -> Any:
        if name in loaded_pickles:
            return loaded_pickles[name]
        info = mapped[name]
        return convert(mapping.view(file_of(path, info), info), info)

    names = [*mapped, *loaded_pickles]
    if not options.lazy:  # read everything now, into memory of its own
        values = {name: _in_memory(load(name), options.device) for name in names}
        return TensorMap(names, values.__getitem__, infos=mapped, metadata=header.metadata,
                         path=path)
    return TensorMap(names, load, infos=mapped, metadata=header.metadata, path=path)


def _in_memory(value: Any, device: str) -> Any:
    """A copy that no longer refers to the mapping (numpy ``copy``, torch ``clone``); a tensor
    moved to another device is a copy already."""
    if isinstance(value, QuantizedTensor):
        return QuantizedTensor(_in_memory(value.data, device), value.ggml_type, value.shape)
    if device != "cpu":
        return value
    return value.clone() if hasattr(value, "clone") else value.copy()


def _files(path: Path, header: ModelHeader) -> set[Path]:
    return {file_of(path, info) for info in header.tensors.values()}


def read_tensor(path: Path, key: str, options: LoadOptions) -> Any:
    """One tensor of the model at ``path``, read by itself into memory of its own."""
    header = read_model(path)
    info = header.tensors.get(key)
    if info is None:
        raise NotFoundError(f"{path}: no tensor named {key!r} ({len(header.tensors)} tensors)")
    file = file_of(path, info)
    if detect_format(file) not in MAPPABLE:  # a pickle: its tensors come out of the unpickler
        return open_tensors(file, options)[key]
    return converter(options)(read_one(file, info, header.byteorder), info)


def estimated_bytes(infos: Mapping[str, TensorInfo], options: LoadOptions) -> int:
    total = 0
    for info in infos.values():
        size = options.target_itemsize(info)
        total += info.nbytes if size is None else info.numel * size
    return total


def load(shelf: Shelf, cache: LoadedCache, target: str, options: LoadOptions) -> TensorMap:
    where = locate(shelf, target)

    def make() -> tuple[TensorMap, LoadedModel]:
        tensors = open_tensors(where.path, options)
        entry = LoadedModel(where.name, "tensors", options.framework, options.device,
                            estimated_bytes(tensors.infos, options), where.path)
        return tensors, entry

    result: TensorMap = cache.get((where.name, "tensors", *options.key), make)
    return result


def load_model(shelf: Shelf, cache: LoadedCache, target: str, options: LoadOptions) -> Any:
    where = locate(shelf, target)

    def make() -> tuple[Any, LoadedModel]:
        fmt = where.format if where.format != "unknown" else detect_format(where.path)
        kind = model_kind(where.source, fmt)
        model = build_model(kind, where.path, where.weights, where.architecture, options)
        size = estimated_bytes(read_model(where.path).tensors, options)
        return model, LoadedModel(where.name, "model", options.framework, options.device, size,
                                  where.path)

    return cache.get((where.name, "model", *options.key), make)
