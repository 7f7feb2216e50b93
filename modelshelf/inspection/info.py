"""``info``: everything a user asks about one model — what it is, how big, whether it is safe —
assembled from a header (read without loading tensors) and the identification rules.

``inspect_header`` is pure (no file access), so the same code answers for a local file and for a
remote reference whose header was fetched through Range requests. ``inspect_path`` adds what
needs the file itself: its size on disk and the fingerprints users match against sites.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from modelshelf.formats import read_model
from modelshelf.formats.base import (
    ModelHeader,
    TensorInfo,
    TensorTable,
    dtype_counts,
    total_nbytes,
)
from modelshelf.hashing import a1111_legacy_hash, autov2, sha256_file
from modelshelf.identify import Identification, identify
from modelshelf.inspection.training import training

# Metadata can be huge (a GGUF tokenizer vocabulary has 150k entries, kohya stores tag counts
# as JSON strings): Info keeps it readable and bounded by abbreviating long values.
_MAX_LIST_ITEMS = 32
_MAX_STRING_CHARS = 16 * 1024
_MAX_INT_BITS = 64


@dataclass(frozen=True)
class Info:
    """One model as ``info --json`` shows it (SPEC.md keys, plus evidence and fingerprints)."""

    path: str
    format: str
    size: int
    architecture: str
    model_type: str
    parameters: int
    dtypes: Mapping[str, int]  # dtype name -> element count
    tensors: int
    memory_bytes: int
    metadata: Mapping[str, Any]
    shards: tuple[str, ...]
    safety: Mapping[str, Any]  # {"status": safe|unsafe|unknown, "findings": [...]}
    confidence: float = 0.0
    evidence: tuple[str, ...] = ()
    fingerprints: Mapping[str, str | None] = field(default_factory=dict)
    quantization: str | None = None  # GGUF general.file_type, by name
    context_length: int | None = None  # GGUF <arch>.context_length
    missing: tuple[str, ...] = ()  # declared parts not on disk (components, shards)
    training: Mapping[str, Any] = field(default_factory=dict)  # see inspection/training.py

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "size": self.size,
            "architecture": self.architecture, "model_type": self.model_type,
            "parameters": self.parameters, "dtypes": dict(self.dtypes), "tensors": self.tensors,
            "memory_bytes": self.memory_bytes, "metadata": dict(self.metadata),
            "shards": list(self.shards), "safety": dict(self.safety),
            "confidence": self.confidence, "evidence": list(self.evidence),
            "fingerprints": dict(self.fingerprints),
            "quantization": self.quantization, "context_length": self.context_length,
            "missing": list(self.missing), "training": dict(self.training),
        }


def all_tensors(header: ModelHeader) -> Mapping[str, TensorInfo]:
    """Every tensor of a model: the header's own, or, for a diffusers folder, its components'.

    Component tensors are keyed ``<component>/<name>`` so two components' ``weight`` never
    collide (and so parameters count each tensor once).
    """
    if header.tensors or not header.components:
        return header.tensors
    parts = {prefix: all_tensors(component) for prefix, component in header.components.items()}
    tables = [t.prefixed(prefix, files_too=False) for prefix, t in parts.items()
              if isinstance(t, TensorTable)]
    if len(tables) == len(parts):  # column by column: a scan builds no tensor record
        return TensorTable.concat(tables)
    merged: dict[str, TensorInfo] = {}
    for prefix, tensors in parts.items():
        for name, t in tensors.items():
            merged[f"{prefix}/{name}"] = t
    return merged


def _safety(header: ModelHeader) -> dict[str, Any]:
    """The worst status among the model and its components (one unsafe file taints a folder)."""
    order = {"safe": 0, "unknown": 1, "unsafe": 2}
    status, findings = header.safety.status, list(header.safety.findings)
    for name, component in header.components.items():
        sub = _safety(component)
        findings += [f"{name}: {f}" for f in sub["findings"]]
        if order[sub["status"]] > order[status]:
            status = sub["status"]
    return {"status": status, "findings": findings}


def _bounded(value: Any) -> Any:
    """A JSON-able copy of metadata: long lists and strings abbreviated, non-finite
    floats (a GGUF float key may hold NaN or inf) and huge integers as text."""
    if isinstance(value, Mapping):
        return {str(k): _bounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > _MAX_LIST_ITEMS:
            return f"[{len(value)} items]"
        return [_bounded(v) for v in value]
    if isinstance(value, str) and len(value) > _MAX_STRING_CHARS:
        return value[:_MAX_STRING_CHARS] + f"... ({len(value)} chars)"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity: json.dumps would write invalid JSON
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        return f"<{value.bit_length()}-bit integer>"  # a pickled 10**5000 cannot even be printed
    return value


def _gguf_quantization(metadata: Mapping[str, Any]) -> str | None:
    """``general.file_type`` as llama.cpp names it (MOSTLY_Q4_K_M -> Q4_K_M)."""
    file_type = metadata.get("general.file_type")
    if not isinstance(file_type, int):
        return None
    from gguf import LlamaFileType  # only GGUF files pay for importing gguf

    try:
        return LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"file_type_{file_type}"


def _gguf_context_length(metadata: Mapping[str, Any]) -> int | None:
    value = metadata.get(f"{metadata.get('general.architecture')}.context_length")
    return value if isinstance(value, int) else None


class Summary(NamedTuple):
    """What identification and counting say about a header: all a scan keeps of it."""

    identification: Identification
    dtypes: dict[str, int]  # dtype name -> element count
    tensors: int
    memory_bytes: int
    safety: dict[str, Any]  # {"status": ..., "findings": [...]}

    @property
    def parameters(self) -> int:
        return sum(self.dtypes.values())


def summarize(header: ModelHeader) -> Summary:
    """Identify and count a header, without the rest of :class:`Info` (bounded metadata,
    evidence strings, fingerprints): a scan needs only this, for every file it meets."""
    tensors = all_tensors(header)
    return Summary(identify(header), dtype_counts(tensors), len(tensors), total_nbytes(tensors),
                   _safety(header))


def inspect_header(
    header: ModelHeader, *, path: str, size: int,
    fingerprints: Mapping[str, str | None] | None = None,
) -> Info:
    """Assemble an Info from a header alone (local or fetched remotely)."""
    summary = summarize(header)
    ident = summary.identification
    is_gguf = header.format == "gguf"
    return Info(
        path=path, format=header.format, size=size,
        architecture=ident.architecture, model_type=ident.model_type,
        parameters=summary.parameters, dtypes=summary.dtypes, tensors=summary.tensors,
        memory_bytes=summary.memory_bytes,
        metadata=_bounded(dict(header.metadata)), shards=tuple(header.shards),
        safety=summary.safety, confidence=float(ident.confidence),
        evidence=tuple(str(e) for e in ident.evidence),
        fingerprints=dict(fingerprints or {}),
        quantization=header.quantization or (_gguf_quantization(header.metadata)
                                             if is_gguf else None),
        context_length=header.context_length or (_gguf_context_length(header.metadata)
                                                 if is_gguf else None),
        missing=header.missing, training=training(header.metadata),
    )


def fingerprints(path: Path, *, hashes: bool) -> dict[str, str | None]:
    """sha256 / AutoV2 of a single file (only when asked: hashing 20 GB is not free) and the
    A1111 legacy hash, which reads 64 KiB, so it is always there."""
    digest = sha256_file(path) if hashes else None
    return {
        "sha256": digest,
        "autov2": autov2(digest) if digest else None,
        "a1111_legacy": a1111_legacy_hash(path),
    }


def folder_size(path: Path) -> int:
    """Bytes on disk of a model folder: the sum of the regular files under it."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:  # gone since the folder was listed: no bytes to count
                continue
            if not stat.S_ISLNK(st.st_mode):
                total += st.st_size
    return total


def inspect_path(path: Path, *, hashes: bool = False) -> Info:
    """Inspect a file or a model folder (sharded, diffusers, transformers) on disk. A shard
    file or a shard index stands for the whole sharded model: every shard's tensors and bytes
    (the fingerprints stay those of the file named). Folders have no single fingerprint: their
    per-file digests are what the store records."""
    path = Path(path)
    header = read_model(path)
    if path.is_dir():
        size = folder_size(path)
        prints: dict[str, str | None] = {"sha256": None, "autov2": None, "a1111_legacy": None}
    else:  # every shard read_model names is a file it read, or an index checked is one
        parts = [path.parent / name for name in header.shards] or [path]
        size = sum(part.stat().st_size for part in parts)
        prints = fingerprints(path, hashes=hashes)
    return inspect_header(header, path=str(path), size=size, fingerprints=prints)
