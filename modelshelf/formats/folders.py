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
from modelshelf.formats.base import ModelHeader, Safety, TensorInfo

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

ReadFile = Callable[[Path], ModelHeader]


def sibling_shards(path: Path) -> tuple[str, ...]:
    """Names of the ``-0000i-of-0000n`` siblings of a shard file (itself included), else ()."""
    m = SHARD_NAME.match(path.name)
    if not m:
        return ()
    pattern = f"{m['stem']}-?????-of-{m['n']}{m['ext']}"
    return tuple(sorted(p.name for p in path.parent.glob(pattern) if SHARD_NAME.match(p.name)))


def index_weight_map(path: Path) -> dict[str, str] | None:
    """The ``weight_map`` of a shard index file, or None if it is not one. Only
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
    return wm


def read_index(path: Path, read_file: ReadFile) -> ModelHeader:
    wm = index_weight_map(path)
    if wm is None:
        raise FormatError(f"{path}: not a shard index (no weight_map)")
    files = sorted(set(wm.values()))
    for name in files:
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise FormatError(f"{path}: shard name {name!r} leaves the folder")
        if not (path.parent / name).is_file():
            raise FormatError(f"{path}: shard {name} is missing")
    merged = merge([(name, read_file(path.parent / name)) for name in files], prefix=False)
    for tensor, name in wm.items():
        if tensor not in merged.tensors or merged.tensors[tensor].file != name:
            raise FormatError(f"{path}: tensor {tensor!r} is not in shard {name}")
    doc = jsonsafe.load_file(path)
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return dataclasses.replace(merged, metadata={**merged.metadata, **meta}, shards=tuple(files))


def merge(parts: Iterable[tuple[str, ModelHeader]], prefix: bool) -> ModelHeader:
    """One header for several files: tensors tagged with their file (and, with ``prefix``,
    named ``<part>/<tensor>``), the worst safety verdict, findings naming their file."""
    tensors: dict[str, TensorInfo] = {}
    findings: list[str] = []
    status = "safe"
    fmt = "unknown"
    metadata: dict[str, Any] = {}
    for part, header in parts:
        fmt = header.format if fmt == "unknown" else fmt
        for name, t in header.tensors.items():
            key = f"{part}/{name}" if prefix else name
            if key in tensors:
                raise FormatError(f"{part}: tensor {name!r} also appears in {tensors[key].file}")
            file = part if not prefix else f"{part}/{t.file}" if t.file else None
            tensors[key] = dataclasses.replace(t, name=key, file=file)
        findings += [f"{part}: {f}" for f in header.safety.findings]
        if STATUS_RANK[header.safety.status] > STATUS_RANK[status]:
            status = header.safety.status
        if not metadata:
            metadata = dict(header.metadata)
    return ModelHeader(
        format=fmt, tensors=tensors, metadata=metadata,
        safety=Safety(status, tuple(findings)),  # type: ignore[arg-type]
    )


def folder_kind(folder: Path) -> str:
    if (folder / "model_index.json").is_file():
        return "diffusers"
    config = folder / "config.json"
    if config.is_file():
        doc = jsonsafe.load_file(config)
        if isinstance(doc, dict) and ("model_type" in doc or "architectures" in doc):
            return "transformers"
    index = _single_index(folder)
    if index is not None:
        return "safetensors" if ".safetensors" in index.name else "pickle"
    return "unknown"


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
        merged = merge([(n, read_file(folder / n)) for n in names], prefix=False)
        return dataclasses.replace(merged, shards=names)
    return None


def _tag(header: ModelHeader, file: str) -> ModelHeader:
    tensors = {k: dataclasses.replace(t, file=file) for k, t in header.tensors.items()}
    return dataclasses.replace(header, tensors=tensors)


def read_transformers(folder: Path, read_file: ReadFile) -> ModelHeader:
    config = jsonsafe.load_file(folder / "config.json")
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
    for name, spec in index.items():
        sub = folder / name
        if name.startswith("_") or not isinstance(spec, list) or not sub.is_dir():
            continue
        config_path = sub / "config.json"
        config = jsonsafe.load_file(config_path) if config_path.is_file() else {}
        header = weights(sub, read_file) or ModelHeader("unknown")
        components[name] = dataclasses.replace(
            header, config=config if isinstance(config, Mapping) else {}
        )
    merged = merge(components.items(), prefix=True)
    return dataclasses.replace(
        merged, format="diffusers", config=index, components=components, metadata={}
    )


def read_folder(folder: Path, read_file: ReadFile) -> ModelHeader:
    kind = folder_kind(folder)
    if kind == "diffusers":
        return read_diffusers(folder, read_file)
    if kind == "transformers":
        return read_transformers(folder, read_file)
    index = _single_index(folder)
    if index is not None:
        return read_index(index, read_file)
    return ModelHeader("unknown")
