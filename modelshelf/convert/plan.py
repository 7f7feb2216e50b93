"""What a conversion will write: one row per tensor, from the source header, before any data moves.

Planning first means a conversion fails on a bad input (unsafe pickle, compressed storage,
unknown dtype) before it creates anything, and that the output header — which comes first in a
safetensors file — is known before the first tensor is copied.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.convert.casts import CASTABLE, ITEMSIZE
from modelshelf.errors import FormatError, UnsafeFile, UsageError
from modelshelf.formats.base import ModelHeader, TensorInfo, contiguous_stride

# Formats whose tensors we can stream from a known byte range.
SOURCE_FORMATS = frozenset({"safetensors", "pickle"})
METADATA_NOTE_KEY = "modelshelf.convert"


@dataclass(frozen=True)
class TensorJob:
    """One tensor: where its bytes are, what dtype they become, where they land in the output."""

    name: str
    shape: tuple[int, ...]
    src_file: Path
    src_offset: int
    src_dtype: str
    dst_dtype: str
    dst_begin: int  # relative to the start of the output's data section

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def src_nbytes(self) -> int:
        return self.numel * ITEMSIZE[self.src_dtype]

    @property
    def dst_nbytes(self) -> int:
        return self.numel * ITEMSIZE[self.dst_dtype]


@dataclass(frozen=True)
class ConvertPlan:
    jobs: tuple[TensorJob, ...]
    header: bytes  # the complete safetensors prefix: 8-byte length + padded JSON

    @property
    def src_bytes(self) -> int:
        return sum(j.src_nbytes for j in self.jobs)

    @property
    def dst_bytes(self) -> int:
        return len(self.header) + sum(j.dst_nbytes for j in self.jobs)


def check_source(header: ModelHeader, src: Path) -> None:
    """Refuse what we must not or cannot stream, before touching the output."""
    if header.safety.status == "unsafe":
        findings = "; ".join(header.safety.findings) or "imports outside the allow-list"
        raise UnsafeFile(f"{src}: refusing to convert an unsafe pickle ({findings})")
    if header.format not in SOURCE_FORMATS:
        raise UsageError(f"{src}: cannot convert from {header.format} (safetensors or pickle only)")
    if header.byteorder != "little":
        raise FormatError(f"{src}: big-endian tensor data is not supported by convert")


def _source_of(t: TensorInfo, src: Path, folder: Path) -> tuple[Path, int]:
    """Where the tensor's bytes start. Readers leave ``offset`` unset when they are not one run.
    ``folder`` is where the names of shard files are relative to."""
    if t.offset is None:
        if t.stride is not None and tuple(t.stride) != contiguous_stride(tuple(t.shape)):
            why = f"is a strided view (stride {tuple(t.stride)}) of storage {t.storage!r}"
            fix = "save it with .contiguous() first"
        else:
            why, fix = "is in a compressed zip entry", "re-save it with torch.save (uncompressed)"
        raise FormatError(f"{src}: tensor {t.name!r} {why}; cannot stream it ({fix})")
    if not t.file:
        return src, t.offset
    return folder / t.file, t.offset


def _check_name(t: TensorInfo, src: Path) -> None:
    """A pickle's key may be any string (a lone surrogate too); a safetensors name is UTF-8."""
    try:
        t.name.encode()
    except UnicodeEncodeError:
        raise FormatError(f"{src}: tensor {t.name!r} has a name that is not valid UTF-8, "
                          "which safetensors requires") from None


def _dst_dtype(t: TensorInfo, target: str | None, src: Path) -> str:
    if t.dtype not in ITEMSIZE:
        raise FormatError(f"{src}: tensor {t.name!r} has dtype {t.dtype}, which we cannot convert")
    return target if (target and t.dtype in CASTABLE) else t.dtype


def make_plan(
    header: ModelHeader, src: Path, target: str | None, note: str
) -> ConvertPlan:
    """Lay out the output: tensors in source order (sequential reads), header with metadata."""
    check_source(header, src)
    ordered = sorted(header.tensors.values(), key=lambda t: (t.file or "", t.offset or 0, t.name))
    jobs: list[TensorJob] = []
    cursor = 0
    # Shard names are relative to the folder, or to the index file's folder: one stat, not one
    # per tensor.
    folder = src if src.is_dir() else src.parent
    for t in ordered:
        _check_name(t, src)
        file, offset = _source_of(t, src, folder)
        job = TensorJob(t.name, tuple(t.shape), file, offset, t.dtype, _dst_dtype(t, target, src),
                        cursor)
        jobs.append(job)
        cursor += job.dst_nbytes
    return ConvertPlan(tuple(jobs), _encode_header(jobs, _metadata(header, note)))


def _metadata(header: ModelHeader, note: str) -> dict[str, str]:
    """safetensors metadata is str -> str; keep the source's and add our note."""
    source: Mapping[str, Any] = header.metadata if header.format == "safetensors" else {}
    meta = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in source.items()}
    meta[METADATA_NOTE_KEY] = note
    return meta


def _encode_header(jobs: list[TensorJob], metadata: dict[str, str]) -> bytes:
    entries: dict[str, Any] = {"__metadata__": metadata}
    for j in jobs:
        entries[j.name] = {
            "dtype": j.dst_dtype,
            "shape": list(j.shape),
            "data_offsets": [j.dst_begin, j.dst_begin + j.dst_nbytes],
        }
    text = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # data starts 8-aligned, as the reference writer does
    return len(text).to_bytes(8, "little") + text
