"""Models that are more than one file: sharded weights, transformers and diffusers folders.

Decisions (documented here because callers rely on them):

* ``read_header`` on a shard index (``*.safetensors.index.json``, ``pytorch_model.bin.index.json``)
  or on a folder reads *every* shard: one model, tensors tagged with their ``file``.
* ``read_header`` on one shard file (``model-00001-of-00003.safetensors``) reads that shard only,
  and lists the sibling shard files found next to it in ``shards``.
* A transformers folder (``config.json`` with ``model_type``/``architectures``) is one model:
  ``config`` is the parsed config, tensors come from its weights (safetensors preferred).
* A diffusers folder (``model_index.json``) is one model whose ``components`` are read one by one;
  its own ``tensors`` are the union, named ``<component>/<tensor>``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from modelshelf.errors import FormatError
from modelshelf.formats import jsonsafe
from modelshelf.formats.base import (
    DATA_ONLY,
    NOT_ANALYSED,
    ModelHeader,
    Safety,
    TensorInfo,
    TensorTable,
    tensor_files,
)

SHARD_NAME = re.compile(r"^(?P<stem>.+)-(?P<i>\d{5})-of-(?P<n>\d{5})(?P<ext>\..+)$")
# Weight files of a model folder, best first (safetensors over pickles; full precision over
# variants, which diffusers names ``*.fp16.safetensors``).
WEIGHT_CANDIDATES = (
    "model.safetensors.index.json", "model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors",
    "pytorch_model.bin.index.json", "pytorch_model.bin",
    "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin",
)
STATUS_RANK = {"safe": 0, "unknown": 1, "unsafe": 2}
MAX_MISSING_NAMES = 64
# model_index.json classes that hold no weights (their folders have only JSON/text files).
WEIGHTLESS_CLASS = re.compile(r"Scheduler|Tokenizer|Processor|FeatureExtractor")

ReadFile = Callable[[Path], ModelHeader]


def missing_shards(path: Path, present: tuple[str, ...]) -> tuple[str, ...]:
    """The members of a shard file's ``-0000i-of-0000n`` set that are not beside it.

    The count comes from a file name, so a hostile one (``-of-99999``) is answered with a count
    rather than a list of 99,998 names.
    """
    m = SHARD_NAME.match(path.name)
    if not m:
        return ()
    total = int(m["n"])
    absent = total - len(present)
    if absent <= 0:
        return ()
    if absent > MAX_MISSING_NAMES:
        return (f"{absent} of {total} shards",)
    expected = (f"{m['stem']}-{i:05d}-of-{m['n']}{m['ext']}" for i in range(1, total + 1))
    return tuple(name for name in expected if name not in present)


def sibling_shards(path: Path) -> tuple[str, ...]:
    """Names of the ``-0000i-of-0000n`` siblings of a shard file (itself included), else ()."""
    m = SHARD_NAME.match(path.name)
    if not m:
        return ()
    pattern = f"{m['stem']}-?????-of-{m['n']}{m['ext']}"
    return tuple(sorted(p.name for p in path.parent.glob(pattern) if SHARD_NAME.match(p.name)))


# A shard index file, parsed: the whole JSON object and its checked ``weight_map``.
Index = tuple[Mapping[str, Any], dict[str, str]]


def load_index(path: Path) -> Index | None:
    """A shard index file's JSON and its ``weight_map``, or None if it is not one. Only
    ``*.index.json`` names are parsed: an index is a JSON sidecar, not a format with magic bytes,
    and other (possibly large) JSON files are simply not models."""
    if not path.name.endswith(".index.json"):
        return None
    doc = jsonsafe.load_file(path)
    wm = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(wm, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in wm.items()):
        raise FormatError(f"{path}: weight_map must map tensor names to file names")
    return doc, wm


def index_weight_map(path: Path) -> dict[str, str] | None:
    """The ``weight_map`` of a shard index file, or None if it is not one (see :func:`load_index`)."""
    index = load_index(path)
    return None if index is None else index[1]


def index_shards(path: Path, wm: Mapping[str, str]) -> list[str]:
    """The shard file names an index's weight map lists, checked to be present beside it."""
    files = sorted(set(wm.values()))
    for name in files:
        if not _plain_name(name):
            raise FormatError(f"{path}: shard name {name!r} leaves the folder")
        if not (path.parent / name).is_file():
            raise FormatError(f"{path}: shard {name} is missing")
    return files


def _plain_name(name: str) -> bool:
    """A file or folder name right inside the model's folder: an index or model_index.json
    that names ``../x`` or ``/etc`` must not make us read (or count) files elsewhere."""
    return not ("/" in name or "\\" in name or name in ("", ".", ".."))


def read_index(path: Path, read_file: ReadFile, index: Index | None = None) -> ModelHeader:
    """Every shard an index lists, as one model; ``index`` is the file already parsed, if it was."""
    if index is None:
        index = load_index(path)
    if index is None:
        raise FormatError(f"{path}: not a shard index (no weight_map)")
    doc, wm = index
    files = index_shards(path, wm)
    merged = merge([(name, read_file(path.parent / name)) for name in files], path.parent,
                   prefix=False)
    found_in = tensor_files(merged.tensors)
    for tensor, name in wm.items():
        if tensor not in found_in or found_in[tensor] != name:
            raise FormatError(f"{path}: tensor {tensor!r} is not in shard {name}")
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return dataclasses.replace(merged, metadata={**merged.metadata, **meta}, shards=tuple(files))


def merge(parts: Iterable[tuple[str, ModelHeader]], folder: Path, prefix: bool) -> ModelHeader:
    """One header for several files of ``folder``: tensors tagged with their file (and, with
    ``prefix``, named ``<part>/<tensor>``), the worst safety verdict, findings naming their file."""
    parts = list(parts)
    tensors = _merged_tensors(parts, folder, prefix)
    findings: list[str] = []
    status = "safe"
    fmt = "unknown"
    metadata: dict[str, Any] = {}
    for part, header in parts:
        fmt = header.format if fmt == "unknown" else fmt
        findings += [f"{part}: {f}" for f in header.safety.findings]
        if STATUS_RANK[header.safety.status] > STATUS_RANK[status]:
            status = header.safety.status
        if not metadata:
            metadata = dict(header.metadata)
    return ModelHeader(
        format=fmt, tensors=tensors, metadata=metadata,
        safety=Safety(status, tuple(findings)),  # type: ignore[arg-type]
    )


def _merged_tensors(parts: list[tuple[str, ModelHeader]], folder: Path,
                    prefix: bool) -> Mapping[str, TensorInfo]:
    """The parts' tensors as :func:`merge` describes them: column by column where every part
    is a :class:`TensorTable` (a scan then builds no tensor record), else one by one."""
    tables = [header.tensors for _, header in parts]
    if all(isinstance(t, TensorTable) for t in tables):
        pieces = [t.prefixed(part, files_too=True) if prefix else t.with_file(part)
                  for (part, _), t in zip(parts, tables, strict=True)
                  if isinstance(t, TensorTable)]  # all are: says so to the type checker
        joined = TensorTable.concat(pieces)
        if len(joined) == sum(map(len, pieces)):
            return joined
    tensors: dict[str, TensorInfo] = {}  # one by one: also finds the name two parts share
    for part, header in parts:
        for name, t in header.tensors.items():
            key = f"{part}/{name}" if prefix else name
            if key in tensors:
                raise FormatError(f"{folder / part}: tensor {name!r} also appears in "
                                  f"{tensors[key].file}")
            file = part if not prefix else f"{part}/{t.file}" if t.file else None
            tensors[key] = dataclasses.replace(t, name=key, file=file)
    return tensors


def folder_kind(folder: Path) -> str:
    if (folder / "model_index.json").is_file():
        return "diffusers"
    if _transformers_config(folder) is not None:
        return "transformers"
    index = _single_index(folder)
    if index is not None:
        return "safetensors" if ".safetensors" in index.name else "pickle"
    return "unknown"


def _transformers_config(folder: Path) -> dict[str, Any] | None:
    """The folder's parsed config.json if it describes a transformers model, else None."""
    path = folder / "config.json"
    if not path.is_file():
        return None
    doc = jsonsafe.load_file(path)
    if isinstance(doc, dict) and ("model_type" in doc or "architectures" in doc):
        return doc
    return None


def _single_index(folder: Path) -> Path | None:
    indexes = sorted(folder.glob("*.index.json"))
    return indexes[0] if len(indexes) == 1 else None


def weights(folder: Path, read_file: ReadFile) -> ModelHeader | None:
    """The weights of a model folder (best candidate), or None if it has none."""
    for name in WEIGHT_CANDIDATES:
        path = folder / name
        if path.is_file():
            if name.endswith(".index.json"):
                return read_index(path, read_file)
            return dataclasses.replace(_tag(read_file(path), name), shards=(name,))
    shards = sorted(folder.glob("*-00001-of-*.safetensors")) or sorted(
        folder.glob("*-00001-of-*.bin")
    )
    if shards:
        names = sibling_shards(shards[0])
        merged = merge([(n, read_file(folder / n)) for n in names], folder, prefix=False)
        return dataclasses.replace(merged, shards=names)
    return None


def _tag(header: ModelHeader, file: str) -> ModelHeader:
    if isinstance(header.tensors, TensorTable):
        return dataclasses.replace(header, tensors=header.tensors.with_file(file))
    tensors = {k: dataclasses.replace(t, file=file) for k, t in header.tensors.items()}
    return dataclasses.replace(header, tensors=tensors)


def read_transformers(folder: Path, read_file: ReadFile, config: Mapping[str, Any]) -> ModelHeader:
    """A transformers folder, its parsed config.json given (see :func:`_transformers_config`)."""
    w = weights(folder, read_file) or ModelHeader("unknown")
    arch, ctx = config.get("model_type"), config.get("max_position_embeddings")
    return dataclasses.replace(
        w,
        format="transformers",
        config=config,
        architecture=arch if isinstance(arch, str) else None,
        context_length=ctx if isinstance(ctx, int) else None,
    )


def read_diffusers(folder: Path, read_file: ReadFile) -> ModelHeader:
    index = jsonsafe.load_file(folder / "model_index.json")
    if not isinstance(index, dict):
        raise FormatError(f"{folder / 'model_index.json'}: not a JSON object")
    components: dict[str, ModelHeader] = {}
    missing: list[str] = []
    for name, spec in index.items():
        sub = folder / name
        if name.startswith("_") or not isinstance(spec, list) or not _plain_name(name):
            continue
        if _needs_weights(spec) and not _holds_data(sub):
            missing.append(name)
        if not sub.is_dir():
            continue
        config_path = sub / "config.json"
        config = jsonsafe.load_file(config_path) if config_path.is_file() else {}
        # a scheduler or tokenizer holds configs only: nothing to judge, nothing that runs
        empty = ModelHeader("unknown", safety=NOT_ANALYSED if _needs_weights(spec) else DATA_ONLY)
        header = weights(sub, read_file) or empty
        components[name] = dataclasses.replace(
            header, config=config if isinstance(config, Mapping) else {}
        )
    merged = merge(components.items(), folder, prefix=True)
    return dataclasses.replace(
        merged, format="diffusers", config=index, components=components, metadata={},
        missing=tuple(missing),
    )


def _needs_weights(spec: list[Any]) -> bool:
    """A component entry ``[library, class]`` whose class is a model (``[null, null]``: removed)."""
    cls = spec[1] if len(spec) == 2 else None
    return isinstance(cls, str) and not WEIGHTLESS_CLASS.search(cls)


def _holds_data(folder: Path) -> bool:
    """Whether a component folder holds any file but configs: weights in some format (we do not
    judge which: flax or ONNX weights are weights too)."""
    if not folder.is_dir():
        return False
    return any(p.is_file() and p.suffix not in (".json", ".txt") for p in folder.rglob("*"))


def read_folder(folder: Path, read_file: ReadFile) -> ModelHeader:
    """The steps of :func:`folder_kind`, each reading the folder once (config.json parsed once)."""
    if (folder / "model_index.json").is_file():
        return read_diffusers(folder, read_file)
    config = _transformers_config(folder)
    if config is not None:
        return read_transformers(folder, read_file, config)
    index = _single_index(folder)
    if index is not None:
        return read_index(index, read_file)
    return ModelHeader("unknown")
