"""``scan DIR``: identify every model under a folder and find the duplicates, cheaply twice.

Cost model: a cold scan reads a few bytes of every file (magic) and the header of model files;
only files that share their size with another are hashed (a unique size cannot be a duplicate).
Everything learnt is cached in the store's registry keyed by (path, size, mtime_ns, inode), so a
rescan of an unchanged tree costs one ``stat`` per file plus its share of a batched lookup.
Non-model files are cached too — otherwise every rescan would re-open every README and image.

The walk is consumed in batches of :data:`BATCH` units: one ``IN (...)`` query fetches the
batch's cache rows, and the rows learnt are written back in one transaction. Per file, a
query or a commit costs more than the ``stat`` (a commit more than parsing the header), and
batches keep memory flat and the write lock short on a tree of a million files.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import compress, islice, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from modelshelf.errors import FormatError, NotFoundError, UsageError
from modelshelf.formats import detect_format, read_header
from modelshelf.formats.folders import index_shards, index_weight_map
from modelshelf.formats.reader import claimed_format
from modelshelf.hashing import sha256_file
from modelshelf.inspection.adopt import AdoptPlan, plan_adopt
from modelshelf.inspection.info import summarize
from modelshelf.inspection.scanned import ScannedFile, facts_text
from modelshelf.inspection.walk import FOLDER_FORMATS, Listing, Unit, walk_listings
from modelshelf.store import Store

Progress = Callable[[int, int | None], None]
# bump when the cached facts change shape (2: shard indexes are sidecars; 3: a file whose name
# claims a model format but whose bytes match none is broken, no longer "unknown")
CACHE_VERSION = 3
BATCH = 512  # units per cache lookup and per cache write transaction
HASH_FLUSH_BYTES = 1 << 30  # cache digests after hashing this much, even before a full batch
Key = tuple[int, int, int]  # (size, mtime_ns, inode): this version of a unit
# A file's Key from its stat (an attrgetter: a tuple built in C, for the hot rescan path)
stat_key: Callable[[os.stat_result], Key] = attrgetter("st_size", "st_mtime_ns", "st_ino")


@dataclass(frozen=True)
class ScanResult:
    root: str
    files: tuple[ScannedFile, ...]
    duplicates: tuple[tuple[str, ...], ...]  # groups of paths with equal content, >= 2 copies
    skipped: int  # files in no model format
    cached: int  # files answered from the scan cache without being read
    adopted: tuple[str, ...] = ()  # model names registered by --adopt
    adopt_failed: tuple[tuple[str, str], ...] = ()  # (path, reason) left where they were
    adopt_plan: AdoptPlan | None = None  # what --adopt does (or, with dry_run, would do)

    @property
    def reclaimable_bytes(self) -> int:
        """Bytes freed if every duplicate group kept one copy (hard links already share)."""
        by_path = {f.path: f for f in self.files}
        total = 0
        for group in self.duplicates:
            copies = {by_path[p].inode for p in group}
            total += (len(copies) - 1) * by_path[group[0]].size
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "files": [f.to_json() for f in self.files],
            "duplicates": [list(g) for g in self.duplicates],
            "skipped": self.skipped, "cached": self.cached,
            "reclaimable_bytes": self.reclaimable_bytes,
            "adopted": list(self.adopted),
            "adopt_failed": [{"path": p, "error": e} for p, e in self.adopt_failed],
            "adopt_plan": self.adopt_plan.to_json() if self.adopt_plan else None,
            "broken": [{"path": f.path, "error": f.error} for f in self.files if f.error],
        }


# -- facts about one unit ----------------------------------------------------------------------
def _unit_key(unit: Unit) -> Key:
    """(size, mtime_ns, inode) identifying this version of a unit; for a folder, of its files."""
    if not unit.is_dir:
        return stat_key(unit.stat)
    size, mtime = 0, unit.stat.st_mtime_ns
    for root, _dirs, names in os.walk(unit.path):
        for name in names:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:  # a dangling symlink, a symlink loop, a file gone since: no bytes
                continue
            size += st.st_size
            mtime = max(mtime, st.st_mtime_ns)
    return size, mtime, unit.stat.st_ino


def read_facts(path: Path) -> dict[str, Any]:
    """Identify one file or folder: the JSON-able facts the cache keeps (never raises on bad data).

    A broken file is kept with the format its magic bytes (or its name) claim and the reason
    it is broken.
    """
    try:
        if _is_shard_index(path):
            return {"v": CACHE_VERSION, "format": "unknown"}
        header = read_header(path)  # as cheap as sniffing the magic when it is no model
    except (FormatError, OSError) as exc:
        fmt = _sniff(path)  # what its bytes claim, else what its name does (a 0-byte .gguf)
        if fmt == "unknown":
            fmt = claimed_format(path.name) or fmt
        return {"v": CACHE_VERSION, "format": fmt, "architecture": "unknown",
                "model_type": "other", "error": str(exc)}
    if header.format == "unknown":
        return {"v": CACHE_VERSION, "format": "unknown"}
    summary = summarize(header)
    ident = summary.identification
    facts = {
        "v": CACHE_VERSION, "format": header.format, "architecture": ident.architecture,
        "model_type": ident.model_type, "parameters": summary.parameters,
        "dtypes": summary.dtypes, "memory_bytes": summary.memory_bytes,
        "safety": summary.safety["status"], "findings": summary.safety["findings"],
    }
    # A folder's cache key covers its parts, so the row goes stale when a part arrives; a shard
    # file's key would not notice its missing sibling arriving: that stays for ``info`` to say.
    if header.missing and header.format in FOLDER_FORMATS:
        facts["missing"] = list(header.missing)
    return facts


def _is_shard_index(path: Path) -> bool:
    """Whether ``path`` is a shard index (``model.safetensors.index.json``) with all its shards.

    A scan meets the shards beside it one by one; counting the index as a model too would count
    every tensor twice (parameters, fp16 savings in ``report``) and adopt a JSON file as a
    model. An index whose shards are missing raises :class:`FormatError`, so a broken set shows.
    """
    if not path.name.endswith(".index.json") or path.is_dir():
        return False
    weight_map = index_weight_map(path)
    if weight_map is None:
        return False
    index_shards(path, weight_map)
    return True


def _sniff(path: Path) -> str:
    """The format a path's magic bytes / marker files claim; ``unknown`` if it cannot be read."""
    try:
        return detect_format(path)
    except (FormatError, OSError):
        return "unknown"


def _storable(path: str) -> bool:
    """Whether the registry can hold ``path``. A file name that is not valid UTF-8 (Latin-1
    names out of an old zip) reaches us with surrogate escapes, which SQLite's text refuses:
    such files are scanned like any other, just not remembered."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return True


class ScanCache:
    """The store's scan cache, or nothing (scan works without a store, just without memory).

    Two kinds of rows share the registry's ``scan_cache`` table. A *file* row holds one file's
    facts and digest, keyed by its (size, mtime_ns, inode). A *folder summary* (its path ends
    in :data:`_FOLDER_MARK`, which no file path does) holds, in its ``sha256`` column, the
    folder's :func:`_signature` and an index line per file: an unchanged folder is answered by
    one row, whatever it holds, and its facts stay text until someone reads them.

    Batches are sent as they are and filtered through :func:`_storable` only when the
    registry refuses one: a rescan pays nothing for the rare undecodable name.
    """

    def __init__(self, store: Store | None) -> None:
        self.store = store

    def _rows(self, paths: list[str]) -> dict[str, dict[str, Any]]:
        if self.store is None or not paths:
            return {}
        try:
            return self.store.scan_cache_get_many(paths)
        except UnicodeEncodeError:
            return self.store.scan_cache_get_many([p for p in paths if _storable(p)])

    def _put(self, table: list[tuple[str, int, int, int, str, dict[str, Any]]]) -> None:
        if self.store is None or not table:
            return
        try:
            self.store.scan_cache_put_many(table)
        except UnicodeEncodeError:  # the transaction rolled back: write the storable rows
            self.store.scan_cache_put_many([row for row in table
                                            if _storable(row[0]) and _storable(row[4])])

    def get_many(self, keys: Mapping[str, Key]) -> dict[str, tuple[dict[str, Any], str | None]]:
        """``{path: (facts, sha256)}`` for the paths whose cached row is of this version of them."""
        return {
            path: (row["info"], row["sha256"] or None)
            for path, row in self._rows(list(keys)).items()
            if (row["size"], row["mtime_ns"], row["inode"]) == keys[path]
            and row["info"].get("v") == CACHE_VERSION
        }

    def put(self, path: str, key: Key, facts: dict[str, Any], sha256: str | None) -> None:
        self.put_many([(path, key, facts, sha256)])

    def put_many(self, rows: Iterable[tuple[str, Key, dict[str, Any], str | None]]) -> None:
        """Cache ``(path, key, facts, sha256)`` rows in one transaction."""
        self._put([(path, *key, sha256 or "", facts) for path, key, facts, sha256 in rows])

    def get_folders(self, signatures: Mapping[str, str]) -> dict[str, Summary]:
        """``{folder: summary}`` for the folders whose summary has this signature."""
        found: dict[str, Summary] = {}
        for path, row in self._rows([f + _FOLDER_MARK for f in signatures]).items():
            folder = path[:-len(_FOLDER_MARK)]
            signature, _, text = row["sha256"].partition(_SUMMARY_SEP)
            if signature == signatures[folder] and row["info"].get("v") == CACHE_VERSION \
                    and row["info"].get("layout") == SUMMARY_LAYOUT:
                summary = Summary.parse(text)
                if summary is not None:
                    found[folder] = summary
        return found

    def put_folders(self, summaries: Iterable[tuple[str, str, str]]) -> None:
        """Cache ``(folder, signature, summary text)`` rows in one transaction."""
        self._put([(folder + _FOLDER_MARK, 0, 0, 0, signature + _SUMMARY_SEP + text,
                    {"v": CACHE_VERSION, "layout": SUMMARY_LAYOUT})
                   for folder, signature, text in summaries])


# -- folder summaries --------------------------------------------------------------------------
_FOLDER_MARK = os.sep  # a scan-cache path ending so is a folder summary: no file path does
SUMMARY_LAYOUT = 3  # bump when the summary text changes shape
_SUMMARY_SEP = "\x1e"  # between signature and index (a name holding one: not summarised)
_NAME = attrgetter("name")
_SIZE = attrgetter("size")
_SHA256 = attrgetter("sha256")
_BITS = bytes.maketrans(b"01", b"\x00\x01")  # the mask's text as the 0/1 bytes compress takes
_ST_SIZE = attrgetter("st_size")
_DEV_INO = attrgetter("st_dev", "st_ino")


def _signature(listing: Listing) -> str:
    """A folder's files as a scan saw them: the hash of every file's (size, mtime_ns, inode),
    then the names (``/`` cannot occur in one). Equal text, the same files unchanged (a changed
    file whose numbers hash the same: odds of 2**-61). Ints hash alike in every process, unlike
    strings; ``map`` and ``attrgetter`` keep the per-file work in C."""
    stats = tuple(map(stat_key, listing.stats))
    return f"{hash(stats):x}/" + "/".join(map(_NAME, listing.files))


class Summary(NamedTuple):
    """What a scan learnt about a folder's files, column by column, so that rebuilding the
    results is a few C-level ``map``/``zip`` passes rather than Python work per file.

    ``mask`` has a ``1`` per model file and a ``0`` per other file, in listing order; the other
    columns list the model files only. Stored as text: the mask, then the four short columns
    one per line (tab-joined, or ``\x01`` and the one value every file has), then one line of
    facts per model file (JSON has no raw newline).
    """

    mask: str
    formats: list[str]
    architectures: list[str]
    model_types: list[str]
    broken: list[str]  # "E" where the file is broken, "" elsewhere
    details: list[str]  # facts_text() per model file

    @classmethod
    def of(cls, found: Sequence[ScannedFile | None]) -> str | None:
        """The text for a folder's results (None per file in no model format); None when a
        value holds a tab or newline (an architecture a GGUF file names), which the text
        cannot carry: that folder is then not summarised."""
        models = [f for f in found if f is not None]
        columns = ([f.format for f in models], [f.architecture for f in models],
                   [f.model_type for f in models])
        if any("\t" in x or "\n" in x or x.startswith(_SAME) for column in columns
               for x in column):
            return None
        mask = "".join("0" if f is None else "1" for f in found)
        flags = ["E" if f.error else "" for f in models]
        return "\n".join([mask, *map(_column_text, (*columns, flags)),
                          *(f.details for f in models)])

    @classmethod
    def parse(cls, text: str) -> Summary | None:
        """The summary in ``text``; None if it is not one (then the folder is read again)."""
        mask, *lines = text.split("\n")
        count = mask.count("1")
        if len(lines) != 4 + count:
            return None
        formats, architectures, model_types, broken = (
            _column(line, count) for line in lines[:4])
        if any(len(c) != count for c in (formats, architectures, model_types, broken)):
            return None
        return cls(mask, formats, architectures, model_types, broken, lines[4:])

    def extend(self, listing: Listing, out: list[ScannedFile]) -> int:
        """Append the listing's model files to ``out``; return how many files were none."""
        entries, stats = listing.files, listing.stats
        if "0" in self.mask:
            bits = self.mask.encode().translate(_BITS)
            entries, stats = list(compress(entries, bits)), list(compress(stats, bits))
        errors: Iterable[str | None] = repeat(None)
        if "E" in self.broken:
            errors = [json.loads(d).get("error") if b else None
                      for d, b in zip(self.details, self.broken, strict=True)]
        # tuple.__new__, not the NamedTuple's Python-level __new__ (that frame cost a tenth of
        # a rescan) nor a ``partial`` of it (a call more per file)
        out.extend(map(tuple.__new__, repeat(ScannedFile), zip(
            listing.paths(entries), self.formats, self.architectures, self.model_types,
            map(_ST_SIZE, stats), repeat(None), repeat(False), map(_DEV_INO, stats),
            self.details, errors)))
        return len(listing.files) - len(entries)


_SAME = "\x01"  # a column line starting so holds one value, the same for every model file


def _column_text(values: list[str]) -> str:
    """A column as one line: most folders hold one format, one architecture, one type and
    nothing broken, and one value for all is read back without a string per file."""
    if values and values.count(values[0]) == len(values):
        return _SAME + values[0]
    return "\t".join(values)


def _column(line: str, count: int) -> list[str]:
    if not count:
        return []
    if line.startswith(_SAME):
        return [line[1:]] * count
    return line.split("\t")


def _scanned(unit: Unit, size: int, facts: dict[str, Any], digest: str | None) -> ScannedFile | None:
    """The unit as a scan result; None for a file in no model format."""
    if facts["format"] == "unknown" and "error" not in facts:
        return None
    return ScannedFile(unit.path, facts["format"], facts.get("architecture", "unknown"),
                       facts.get("model_type", "other"), size, digest, unit.is_dir,
                       (unit.stat.st_dev, unit.stat.st_ino), facts_text(facts),
                       facts.get("error"))


# -- the scan ----------------------------------------------------------------------------------
def _duplicate_groups(files: Sequence[ScannedFile]) -> list[list[ScannedFile]]:
    """Files sharing a size with another file of a different inode: the only dup candidates."""
    sizes = list(map(_SIZE, files))
    if len(set(sizes)) == len(sizes):  # the common case, decided in C: every size unique
        return []
    by_size: dict[int, list[ScannedFile]] = {}
    for f in files:
        if not f.is_dir and f.size > 0 and not f.error:
            by_size.setdefault(f.size, []).append(f)
    # len(g) first: most sizes and digests are unique, and a set per group costs a rescan more
    return [g for g in by_size.values() if len(g) > 1 and len({f.inode for f in g}) > 1]


def _hash_candidates(files: list[ScannedFile], cache: ScanCache, want_all: bool) -> list[ScannedFile]:
    """Fill in sha256 where needed (from the cache, else by hashing, then cached); return the
    updated list.

    Digests are cached a batch at a time, and sooner once they cost a lot of reading: an
    interrupted ``scan --adopt`` of big files keeps the hashes it paid for.
    """
    pool = files if want_all else [f for g in _duplicate_groups(files) for f in g]
    keys: dict[str, Key] = {}
    for f in pool:
        if f.sha256 is None and not f.is_dir and not f.error:
            try:
                keys[f.path] = stat_key(os.stat(f.path))
            except OSError:  # gone since the walk: nothing to hash
                continue
    if not keys:
        return files
    known = {path: digest for path, (_facts, digest) in cache.get_many(keys).items() if digest}
    out: list[ScannedFile] = []
    hashed: list[tuple[str, Key, dict[str, Any], str | None]] = []
    hashed_bytes = 0
    for f in files:
        if f.path in keys:
            digest = known.get(f.path)
            if digest is None:
                digest = sha256_file(f.path)
                hashed.append((f.path, keys[f.path], f.facts, digest))
                hashed_bytes += f.size
                if len(hashed) >= BATCH or hashed_bytes >= HASH_FLUSH_BYTES:
                    cache.put_many(hashed)
                    hashed, hashed_bytes = [], 0
            f = f._replace(sha256=digest)
        out.append(f)
    cache.put_many(hashed)
    return out


def _duplicates(files: list[ScannedFile]) -> tuple[tuple[str, ...], ...]:
    if not any(map(_SHA256, files)):  # nothing was hashed: no duplicates known (checked in C)
        return ()
    groups: dict[str, list[ScannedFile]] = {}
    for f in files:
        if f.sha256 and not f.is_dir:
            groups.setdefault(f.sha256, []).append(f)
    return tuple(
        tuple(sorted(f.path for f in g)) for g in groups.values()
        if len(g) > 1 and len({f.inode for f in g}) > 1
    )


def _batches(items: Iterable[Unit | Listing]) -> Iterator[list[Unit | Listing]]:
    it = iter(items)
    while batch := list(islice(it, BATCH)):
        yield batch


def _unit_facts(
    units: list[Unit], cache: ScanCache,
) -> tuple[dict[str, tuple[Key, dict[str, Any], str | None]], int]:
    """``{path: (key, facts, sha256)}`` for units one by one — from their file rows when
    unchanged, else read (and the rows learnt written in one transaction) — and the hits."""
    keys = {unit.path: _unit_key(unit) for unit in units}
    hits = cache.get_many(keys)
    found: dict[str, tuple[Key, dict[str, Any], str | None]] = {}
    learnt: list[tuple[str, Key, dict[str, Any], str | None]] = []
    for path, key in keys.items():
        hit = hits.get(path)
        if hit is None:
            facts = read_facts(Path(path))
            learnt.append((path, key, facts, None))
            hit = (facts, None)
        found[path] = (key, *hit)
    cache.put_many(learnt)
    return found, len(hits)


def _identify_all(
    items: Iterable[Unit | Listing], cache: ScanCache, progress: Progress | None,
) -> tuple[list[ScannedFile], int, int]:
    """(model files, files in no model format, cache hits) for the walked items, in walk order.

    Per batch of items: one look-up of the folder summaries; the folders whose summary still
    matches are answered from it; the rest (changed folders, model folders) go file by file
    through :func:`_unit_facts`, and their new summaries are written in one transaction.
    """
    files: list[ScannedFile] = []
    skipped = cached = n = 0
    for batch in _batches(items):
        listings = {i.folder: i for i in batch if isinstance(i, Listing)}
        signatures = {folder: _signature(i) for folder, i in listings.items()}
        summaries = {folder: summary for folder, summary in cache.get_folders(signatures).items()
                     if len(summary.mask) == len(listings[folder].files)}
        units = [i for i in batch if isinstance(i, Unit)]
        units += [u for i in batch if isinstance(i, Listing) and i.folder not in summaries
                  for u in i.units()]
        facts, hits = _unit_facts(units, cache)
        cached += hits
        learnt: list[tuple[str, str, str]] = []
        for item in batch:
            if isinstance(item, Listing) and item.folder in summaries:
                skipped += summaries[item.folder].extend(item, files)
                cached += len(item.files)
                continue
            found: list[ScannedFile | None] = []
            for unit in [item] if isinstance(item, Unit) else item.units():
                key, unit_facts, digest = facts[unit.path]
                found.append(_scanned(unit, key[0], unit_facts, digest))
            skipped += found.count(None)
            files += [f for f in found if f is not None]
            if isinstance(item, Listing) and not any(_SUMMARY_SEP in e.name for e in item.files):
                text = Summary.of(found)
                if text is not None:
                    learnt.append((item.folder, signatures[item.folder], text))
        cache.put_folders(learnt)
        if progress is not None:
            for _ in range(sum(len(i.files) if isinstance(i, Listing) else 1 for i in batch)):
                n += 1
                progress(n, None)
    return files, skipped, cached


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a scan identifies files.

    Every header parsed allocates hundreds of containers (JSON objects, tensor records) and
    the scan keeps each file's facts, so the collector, triggered by allocation counts, walks an
    ever larger heap of objects that cannot form cycles: a cost that grows with the tree
    (Mercurial pauses it around manifest parsing for the same reason). Reference counting
    still frees everything as before; the collector resumes, as it was, when the scan ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan(
    directory: Path, *, store: Store | None = None, adopt: bool = False,
    progress: Progress | None = None, hash_all: bool = False, dry_run: bool = False,
) -> ScanResult:
    """Identify every model under ``directory``; with ``adopt``, move them into ``store``.

    ``hash_all`` hashes every model file (adopt needs it); otherwise only duplicate candidates.
    ``dry_run`` with ``adopt``: plan only — ``adopt_plan`` says what would move, nothing does.
    """
    if adopt and store is None:
        raise UsageError("scan --adopt needs a store to adopt into")
    root = Path(directory).absolute()
    if not root.exists():
        raise NotFoundError(f"{directory}: no such file or folder")
    cache = ScanCache(store)
    skip = frozenset({str(store.home.absolute())}) if store is not None else frozenset()
    with _gc_paused():
        files, skipped, cached = _identify_all(walk_listings(str(root), _sniff, skip), cache,
                                               progress)
    files = _hash_candidates(files, cache, want_all=hash_all or adopt)
    result = ScanResult(str(root), tuple(files), _duplicates(files), skipped, cached)
    if adopt and store is not None:
        plan = plan_adopt(result, store)
        result = replace(result, adopt_plan=plan)
        if not dry_run:
            outcome = plan.execute(store)
            result = replace(result, adopted=outcome.adopted, adopt_failed=outcome.failed)
    return result
