"""``report``: the whole collection at a glance — what there is, how much room it takes, and what
could be done about it (duplicates to reclaim, fp32 files that fp16 would halve, unsafe pickles,
files nobody could identify).

Every number comes from headers, through the same scan cache as ``scan``: a second report over an
unchanged store reads no model file. Building a report changes nothing; ``render`` returns text
lines and never prints, so the CLI decides where they go.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.config import format_size
from modelshelf.hashing import sha256_file
from modelshelf.inspection.advice import Advice
from modelshelf.inspection.gpu import FLOAT_ITEMSIZE
from modelshelf.inspection.scanned import ScannedFile
from modelshelf.inspection.scanner import ScanCache, read_facts, scan, stat_key
from modelshelf.store import ModelRecord, Store

# A file counts as "fp32" when most of its tensor bytes are F32: casting those to fp16 halves them.
FP32_SHARE = 0.5
_SAFETY_ORDER = {"safe": 0, "unknown": 1, "unsafe": 2}


@dataclass(frozen=True)
class Copy:
    """One file's bytes somewhere on disk; ``sha256`` is empty when it was not worth hashing."""

    sha256: str
    path: str
    inode: tuple[int, int]
    size: int


@dataclass(frozen=True)
class Entry:
    """One model in the report: a registered model, or a model file found in an extra folder."""

    label: str  # model name, or path for extra folders
    where: str  # "store" or the extra folder
    type: str
    architecture: str
    format: str
    size: int
    dtypes: Mapping[str, int]
    safety: str
    findings: tuple[str, ...]
    copies: tuple[Copy, ...]  # one per file of the model
    error: str | None = None

    @property
    def fp32_bytes(self) -> int:
        return self.dtypes.get("F32", 0) * 4


@dataclass(frozen=True)
class Report:
    entries: tuple[Entry, ...]
    duplicates: tuple[tuple[int, tuple[str, ...]], ...] = ()  # (size, paths) per group
    advice: Advice | None = None  # every model's advice, for the optimization section

    # -- numbers --------------------------------------------------------------------------------
    def _group(self, attr: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for e in self.entries:
            slot = out.setdefault(getattr(e, attr), {"count": 0, "bytes": 0})
            slot["count"] += 1
            slot["bytes"] += e.size
        return dict(sorted(out.items(), key=lambda kv: -kv[1]["bytes"]))

    @property
    def reclaimable_bytes(self) -> int:
        return sum(size * (len(paths) - 1) for size, paths in self.duplicates)

    def fp32_entries(self) -> list[Entry]:
        return [e for e in self.entries
                if e.fp32_bytes and e.fp32_bytes >= FP32_SHARE * max(_tensor_bytes(e), 1)]

    @property
    def fp16_savings_bytes(self) -> int:
        return sum(e.fp32_bytes // 2 for e in self.fp32_entries())

    def to_json(self) -> dict[str, Any]:
        return {
            "models": len(self.entries),
            "total_bytes": sum(e.size for e in self.entries),
            "by_type": self._group("type"),
            "by_architecture": self._group("architecture"),
            "by_format": self._group("format"),
            "duplicates": [{"size": s, "paths": list(p)} for s, p in self.duplicates],
            "reclaimable_bytes": self.reclaimable_bytes,
            "fp32": [{"model": e.label, "size": e.size, "fp32_bytes": e.fp32_bytes,
                      "fp16_saves": e.fp32_bytes // 2} for e in self.fp32_entries()],
            "fp16_savings_bytes": self.fp16_savings_bytes,
            "unsafe": [{"model": e.label, "findings": list(e.findings)}
                       for e in self.entries if e.safety == "unsafe"],
            "unknown": [e.label for e in self.entries if e.architecture == "unknown"],
            "broken": [{"model": e.label, "error": e.error} for e in self.entries if e.error],
            **({"optimization": self.advice.summary()} if self.advice is not None else {}),
        }

    def render(self) -> list[str]:
        """Plain text lines for humans (sizes in GB/MB)."""
        data = self.to_json()
        lines = [f"{data['models']} models, {format_size(data['total_bytes'])}"]
        for title, key in (("By type", "by_type"), ("By architecture", "by_architecture"),
                           ("By format", "by_format")):
            lines.append(f"{title}:")
            lines += [f"  {k:<20} {v['count']:>5}  {format_size(v['bytes']):>10}"
                      for k, v in data[key].items()]
        lines.append(f"Duplicates: {len(self.duplicates)} groups, "
                     f"{format_size(self.reclaimable_bytes)} to reclaim")
        lines += [f"  {format_size(s)}: " + ", ".join(p) for s, p in self.duplicates]
        lines.append(f"fp32 models: {len(data['fp32'])}, fp16 would save "
                     f"{format_size(self.fp16_savings_bytes)}")
        lines += [f"  {f['model']}: saves {format_size(f['fp16_saves'])}" for f in data["fp32"]]
        lines.append(f"Unsafe pickles: {len(data['unsafe'])}")
        lines += [f"  {u['model']}: " + "; ".join(u["findings"]) for u in data["unsafe"]]
        lines.append(f"Unidentified: {len(data['unknown'])}")
        lines += [f"  {name}" for name in data["unknown"]]
        if data["broken"]:
            lines.append(f"Broken: {len(data['broken'])}")
            lines += [f"  {naming(b['model'], b['error'])}" for b in data["broken"]]
        if "optimization" in data:
            lines += _optimization_lines(data["optimization"])
        return lines


def _optimization_lines(summary: Mapping[str, Any]) -> list[str]:
    lines = [f"Optimization: up to {format_size(summary['total_saves_bytes'])} to save "
             "(`modelshelf advise --all --profile P` for a GPU and disk)"]
    lines += [f"  {kind:<22} {format_size(saves):>10}"
              for kind, saves in summary["savings_by_kind"].items()]
    lines += [f"  [{s['priority']}] {s['model']}: {s['action']}, saves "
              f"{format_size(s['saves_bytes'])}" for s in summary["top"]]
    return lines


def naming(subject: str, reason: str) -> str:
    """``subject: reason``, unless the reason already names its subject (most errors do)."""
    return reason if subject in reason else f"{subject}: {reason}"


def _tensor_bytes(e: Entry) -> int:
    return sum(n * FLOAT_ITEMSIZE.get(d, 1) for d, n in e.dtypes.items())


def _merge_dtypes(facts: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in facts:
        for d, n in f.get("dtypes", {}).items():
            out[d] = out.get(d, 0) + n
    return out


def _worst(facts: Sequence[Mapping[str, Any]]) -> tuple[str, tuple[str, ...]]:
    status = max((f.get("safety", "safe") for f in facts), key=_SAFETY_ORDER.__getitem__,
                 default="safe")
    return status, tuple(x for f in facts for x in f.get("findings", ()))


def _blob_facts(records: Sequence[ModelRecord], store: Store,
                cache: ScanCache) -> dict[str, tuple[os.stat_result, dict[str, Any]]]:
    """Every registered blob's stat and header facts, by sha256 (a missing blob is left out).

    As in a scan, the cache (keyed by the blob's stat) is asked once for all blobs and what had
    to be read is written back in one transaction: per blob, a query or a commit costs more
    than the ``stat``."""
    digests = {str(store.blob_path(f.sha256)): f.sha256 for r in records for f in r.files}
    stats: dict[str, os.stat_result] = {}
    for blob in digests:
        try:
            stats[blob] = os.stat(blob)
        except FileNotFoundError:  # a damaged store: the model's entry says so
            continue
    keys = {blob: stat_key(st) for blob, st in stats.items()}
    hits = cache.get_many(keys)
    learnt = [(blob, key, read_facts(Path(blob)), digests[blob])
              for blob, key in keys.items() if blob not in hits]
    cache.put_many(learnt)
    facts = {blob: hit[0] for blob, hit in hits.items()} | {row[0]: row[2] for row in learnt}
    return {digests[blob]: (st, facts[blob]) for blob, st in stats.items()}


def _store_entry(record: ModelRecord, store: Store,
                 blobs: Mapping[str, tuple[os.stat_result, dict[str, Any]]]) -> Entry:
    """A registered model, from its blobs' headers (see :func:`_blob_facts`)."""
    facts, copies = [], []
    for f in record.files:
        if f.sha256 not in blobs:  # a damaged store: say so, `verify` tells the rest
            facts.append({"error": f"blob {f.sha256[:12]}... of {f.path} is missing"})
            continue
        st, fact = blobs[f.sha256]
        facts.append(fact)
        copies.append(Copy(f.sha256, str(store.blob_path(f.sha256)), (st.st_dev, st.st_ino),
                           st.st_size))
    safety, findings = _worst(facts)
    errors = [f["error"] for f in facts if f.get("error")]
    return Entry(record.name, "store", record.type, record.architecture, record.format,
                 record.size, _merge_dtypes(facts), safety, findings, tuple(copies),
                 errors[0] if errors else None)


def _dir_entry(f: ScannedFile, where: str) -> Entry:
    copies = () if f.is_dir else (Copy(f.sha256 or "", f.path, f.inode, f.size),)
    facts = f.facts
    return Entry(f.path, where, f.model_type, f.architecture, f.format, f.size,
                 dict(facts.get("dtypes", {})), facts.get("safety", "unknown"),
                 tuple(facts.get("findings", ())), copies, f.error)


def _hash_against_store(f: ScannedFile, store_sizes: set[int], cache: ScanCache) -> ScannedFile:
    """An extra file the size of a stored blob may be a copy of it: hash it to find out."""
    if f.sha256 or f.is_dir or f.error or f.size not in store_sizes:
        return f
    digest = sha256_file(f.path)
    cache.put(f.path, stat_key(os.stat(f.path)), f.facts, digest)
    return f._replace(sha256=digest)


def _duplicates(entries: Sequence[Entry]) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """Paths holding the same bytes in different inodes (hard links already share storage)."""
    by_digest: dict[str, dict[tuple[int, int], str]] = {}
    sizes: dict[str, int] = {}
    for e in entries:
        for c in e.copies:
            if c.sha256:
                by_digest.setdefault(c.sha256, {}).setdefault(c.inode, c.path)
                sizes[c.sha256] = c.size
    return tuple(
        (sizes[d], tuple(sorted(paths.values())))
        for d, paths in sorted(by_digest.items()) if len(paths) > 1
    )


def report(store: Store, extra_dirs: Iterable[Path] = (),
           records: Sequence[ModelRecord] | None = None) -> Report:
    """Report over every registered model (``records``, when the caller has listed them
    already), plus model files found under ``extra_dirs``."""
    cache = ScanCache(store)
    records = store.list() if records is None else records
    blobs = _blob_facts(records, store, cache)
    entries = [_store_entry(r, store, blobs) for r in records]
    store_sizes = {f.size for r in records for f in r.files}
    for folder in extra_dirs:
        found = scan(Path(folder), store=store)
        entries += [_dir_entry(_hash_against_store(f, store_sizes, cache), found.root)
                    for f in found.files]
    return Report(tuple(entries), _duplicates(entries))
