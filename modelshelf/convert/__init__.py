"""Rewrite a model as safetensors — from safetensors or a safe torch pickle — casting its floating
tensors to fp16/bf16/fp32, streaming tensor by tensor so memory does not grow with the file.

The output is written to a temporary file beside ``dst`` and renamed into place only when it is
complete and flushed: a failed conversion (broken input, unsafe pickle, full disk) leaves no
``dst`` behind, and an existing ``dst`` untouched. Unsafe pickles are refused before anything is
created; pickles are read by the static analyser in ``modelshelf.formats``, never executed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelshelf.convert.casts import TARGETS, target_dtype
from modelshelf.convert.plan import ConvertPlan, make_plan
from modelshelf.convert.stream import Progress, copy_tensors, write_all
from modelshelf.errors import UsageError
from modelshelf.formats import read_header

__all__ = ["TARGETS", "ConvertResult", "convert"]


@dataclass(frozen=True)
class ConvertResult:
    """What was written: sizes before/after, per-dtype tensor counts, and how long it took."""

    src: Path
    dst: Path
    src_format: str
    dtype: str | None  # target safetensors dtype, None when only the container changed
    tensors: int
    cast_tensors: int
    src_bytes: int  # tensor data read
    dst_size: int  # size of the output file
    seconds: float
    overflowed: Mapping[str, int] = field(default_factory=dict)  # tensor -> values now ±inf

    def to_json(self) -> dict[str, Any]:
        return {
            "src": str(self.src), "dst": str(self.dst), "src_format": self.src_format,
            "dtype": self.dtype, "tensors": self.tensors, "cast_tensors": self.cast_tensors,
            "src_bytes": self.src_bytes, "dst_size": self.dst_size, "seconds": self.seconds,
            "overflowed": dict(self.overflowed),
        }


def convert(
    src: Path, dst: Path, *, dtype: str | None = None, progress: Progress | None = None
) -> ConvertResult:
    """Convert ``src`` (safetensors file or shard folder, safe pickle) to safetensors ``dst``."""
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    if dst.is_dir():
        raise UsageError(f"{dst}: is a folder; OUT must name the file to write")
    target = target_dtype(dtype) if dtype else None
    header = read_header(src)
    note = f"converted by modelshelf from {header.format}" + (f" to {target}" if target else "")
    plan = make_plan(header, src, target, note)
    _check_not_an_input(plan, src, dst)
    overflowed = _write_atomically(plan, dst, progress)
    return ConvertResult(
        src=src, dst=dst, src_format=header.format, dtype=target, tensors=len(plan.jobs),
        cast_tensors=sum(j.src_dtype != j.dst_dtype for j in plan.jobs),
        src_bytes=plan.src_bytes, dst_size=plan.dst_bytes,
        seconds=time.perf_counter() - started, overflowed=overflowed,
    )


def _check_not_an_input(plan: ConvertPlan, src: Path, dst: Path) -> None:
    """``dst`` is replaced when the output is complete, so it must be none of the files read:
    an index converted onto one of its own shards would leave the source model broken."""
    inputs = {src.resolve(), *(file.resolve() for file in {job.src_file for job in plan.jobs})}
    if dst.resolve() in inputs:
        raise UsageError(f"{dst}: output must differ from the input (it is one of the files read)")


def _write_atomically(plan: ConvertPlan, dst: Path, progress: Progress | None) -> dict[str, int]:
    """Temp file in dst's folder (same filesystem, so the rename is atomic), fsync, rename.
    Returns what :func:`copy_tensors` says overflowed."""
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    except OSError as exc:  # named after OUT, not after the temp file the user never asked for
        raise OSError(exc.errno, f"cannot create a file in {dst.parent} ({exc.strerror})",
                      str(dst)) from None
    tmp = Path(tmp_name)
    try:
        try:
            write_all(fd, plan.header)
            overflowed = copy_tensors(plan.jobs, fd, plan.src_bytes, progress)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
        return overflowed
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename not in (None, tmp_name):  # a source file: the error already names it
            raise
        raise OSError(exc.errno, f"cannot write ({exc.strerror})", str(dst)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
