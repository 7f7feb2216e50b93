"""The facts ``advise`` judges, gathered from the store (through ``report``'s header cache) and
from files on disk. Reading happens here so that :mod:`.advice` stays pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from modelshelf.errors import NotFoundError
from modelshelf.inspection.advice import CASTABLE_FORMATS, ModelFacts, advise
from modelshelf.inspection.info import inspect_path
from modelshelf.inspection.reporting import Entry, Report, report
from modelshelf.inspection.targets import Target
from modelshelf.store import ModelRecord, Store


def path_facts(path: Path) -> ModelFacts:
    """A model file or folder that is not (necessarily) in the store: no use dates, no apply."""
    info = inspect_path(path)
    return ModelFacts(str(path), info.model_type, info.architecture, info.format, info.size,
                      dict(info.dtypes), str(info.safety.get("status", "unknown")),
                      blobs=((str(path.resolve()), info.size),))


def _outside(entry: Entry, rep: Report) -> tuple[tuple[str, ...], int]:
    """Paths outside the store holding one of the entry's files' bytes, and what they take."""
    mine = {c.path for c in entry.copies}
    paths, size = [], 0
    for group_size, group in rep.duplicates:
        if mine & set(group):
            others = [p for p in group if p not in mine]
            paths += others
            size += group_size * len(others)
    return tuple(paths), size


def store_facts(store: Store, names: Sequence[str] | None = None,
                extra_dirs: Iterable[Path] = ()) -> list[ModelFacts]:
    """Registered models (``names``, or all); copies of their bytes under ``extra_dirs`` count
    as duplicates. An unknown name is an error naming it, before anything is judged."""
    records: dict[str, ModelRecord] = {r.name: r for r in store.list()}
    missing = [n for n in names or () if n not in records]
    if missing:
        raise NotFoundError(f"advise: {', '.join(missing)}: no such model or file "
                            "(see `modelshelf ls`)")
    return _facts(records, report(store, extra_dirs, list(records.values())), names)


def report_with_advice(store: Store, extra_dirs: Iterable[Path] = ()) -> Report:
    """``report`` plus its optimization section: every model's advice for no particular
    target (what would save bytes anywhere), from the same header facts — read once."""
    records = store.list()
    rep = report(store, extra_dirs, records)
    facts = _facts({r.name: r for r in records}, rep, None)
    return replace(rep, advice=advise(facts, Target("any", None, None)))


def _facts(records: Mapping[str, ModelRecord], rep: Report,
           names: Sequence[str] | None) -> list[ModelFacts]:
    users = Counter(sha for r in records.values() for sha in {f.sha256 for f in r.files})
    wanted = set(records) if names is None else set(names)
    out = []
    for entry in rep.entries:
        if entry.where != "store" or entry.label not in wanted:
            continue
        record = records[entry.label]
        copies, outside = _outside(entry, rep)
        frees = sum(f.size for f in {(f.sha256, f.size): f for f in record.files}.values()
                    if users[f.sha256] == 1)
        out.append(ModelFacts(
            record.name, record.type, record.architecture, record.format, record.size,
            dict(entry.dtypes), entry.safety, record.last_used or record.created,
            record.pinned, frees, copies, outside,
            record.is_single_file and record.format in CASTABLE_FORMATS and not entry.error,
            tuple((f.sha256, f.size) for f in record.files)))
    return out
