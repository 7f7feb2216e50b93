"""The SQLite registry: which models exist and which blobs their files are.

WAL lets readers run while one process writes; ``busy_timeout`` makes concurrent writers wait
instead of failing; every change runs in ``BEGIN IMMEDIATE`` so a read-check-write sequence (is
the name taken? is the blob still referenced?) cannot interleave with another process's.
Connections are per thread and per process (a forked child never reuses its parent's).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelshelf.errors import ModelshelfError, RegistryDamaged
from modelshelf.locks import file_lock
from modelshelf.store.migrations import MIGRATIONS, SCHEMA_VERSION
from modelshelf.store.records import FileRecord, ModelRecord, NewModel

BUSY_TIMEOUT_MS = 60_000
_INHERITED: list[sqlite3.Connection] = []
_SCAN_COLUMNS = "path, size, mtime_ns, inode, sha256, info, scanned_at"
# Paths per ``IN (...)`` query: well under SQLite's bound-parameter limit (999 before 3.32).
_IN_CHUNK = 500
# One scan-cache row as written: (path, size, mtime_ns, inode, sha256 or "", info).
ScanCacheRow = tuple[str, int, int, int, str, dict[str, Any]]
# ``json.dumps(info, sort_keys=True)`` without building a new encoder for every row.
_encode_info = json.JSONEncoder(sort_keys=True).encode
# SQLite's "not a database" and "malformed image": the file is damaged, not merely busy or full.
_DAMAGED_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_MODEL_COLUMNS = ("id, name, type, architecture, format, source, source_ref, source_url, revision, "
                  "metadata, created, last_used, pinned, linked")


class Registry:
    """Typed queries over ``registry.sqlite3``; the caller decides the transaction boundaries."""

    def __init__(self, path: Path, init_lock: Path,
                 has_data: Callable[[], bool] | None = None) -> None:
        """``has_data`` says whether the store holds anything a registry must describe (blobs):
        then a missing or empty registry file is a loss to repair, not a fresh store."""
        self.path = path
        self._local = threading.local()
        # Switching to WAL and migrating need the database to ourselves; a file lock keeps
        # processes that open a fresh store at the same moment from tripping over each other.
        with file_lock(init_lock), self._readable():
            if has_data is not None and _empty(path) and has_data():
                raise RegistryDamaged(
                    f"{path}: the registry is {'empty' if path.exists() else 'missing'} but "
                    f"{path.parent / 'blobs'} holds models; run `modelshelf repair` to rebuild it "
                    "from blobs, meta/ and views/ (nothing was changed)")
            migrate(self.connection())

    # -- connections and transactions -----------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid != os.getpid():
            # Inherited through fork: SQLite forbids using it, and closing it here could
            # disturb the parent's locks, so keep it referenced and never touch it again.
            _INHERITED.append(conn)
            conn = None
        if conn is None:
            conn = connect(self.path)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One atomic change; holds SQLite's write lock from the first statement."""
        with self._readable(), _transaction(self.connection(), "BEGIN IMMEDIATE") as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        with self._readable(), _transaction(self.connection(), "BEGIN") as conn:
            yield conn

    @contextmanager
    def _readable(self) -> Iterator[None]:
        """SQLite's own errors (a damaged or foreign file, a disk full, a lock held past the
        busy timeout) as one line naming the registry, not an internal error."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) in _DAMAGED_CODES:
                raise RegistryDamaged(f"{self.path}: the registry is damaged ({exc}); run "
                                      "`modelshelf repair` to rebuild it from blobs, meta/ and "
                                      "views/") from exc
            raise ModelshelfError(f"{self.path}: the registry cannot be used ({exc})") from exc

    def healthy(self) -> bool:
        """SQLite's own consistency check (``quick_check``): a file can open and migrate yet
        hold damaged pages that fail a later query."""
        try:
            return bool(self.connection().execute("PRAGMA quick_check").fetchone()[0] == "ok")
        except sqlite3.DatabaseError:
            return False

    # -- models ---------------------------------------------------------------------------------
    def find(self, conn: sqlite3.Connection, name: str) -> ModelRecord | None:
        rows = self._models(conn, "WHERE name = ?", (name,))
        return rows[0] if rows else None

    def find_by_source(self, conn: sqlite3.Connection, source_ref: str) -> ModelRecord | None:
        rows = self._models(conn, "WHERE source_ref = ? ORDER BY created DESC, id DESC LIMIT 1",
                            (source_ref,))
        return rows[0] if rows else None

    def models(self, conn: sqlite3.Connection, type: str | None = None,
               architecture: str | None = None) -> list[ModelRecord]:
        clauses: list[str] = []
        args: list[str] = []
        if type is not None:
            clauses.append("type = ?")
            args.append(type)
        if architecture is not None:
            # A family name also lists its releases: `sd3` finds sd3-medium and sd3.5-large,
            # `flux` finds flux-dev (but not flux2, another family).
            clauses.append("(architecture = ? OR architecture LIKE ? ESCAPE '\\'"
                           " OR architecture LIKE ? ESCAPE '\\')")
            literal = architecture.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args += [architecture, literal + "-%", literal + ".%"]
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        return self._models(conn, f"{where}ORDER BY name", tuple(args))

    def insert(self, conn: sqlite3.Connection, new: NewModel, *, pinned: bool = False,
               now: float | None = None) -> None:
        now = time.time() if now is None else now
        cur = conn.execute(
            "INSERT INTO models (name, type, architecture, format, source, source_ref, source_url,"
            " revision, metadata, created, last_used, pinned, linked)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (new.name, new.type, new.architecture, new.format, new.source, new.source_ref,
             new.source_url, new.revision, json.dumps(dict(new.metadata), sort_keys=True),
             now, now, int(pinned), int(new.linked)))
        conn.executemany("INSERT INTO files (model_id, path, sha256, size) VALUES (?,?,?,?)",
                         [(cur.lastrowid, f.path, f.sha256, f.size) for f in new.files])

    def delete(self, conn: sqlite3.Connection, name: str) -> None:
        conn.execute("DELETE FROM models WHERE name = ?", (name,))

    def set_field(self, conn: sqlite3.Connection, name: str, column: str, value: Any) -> bool:
        if column not in {"last_used", "pinned", "revision", "linked"}:
            raise ValueError(f"not an updatable column: {column}")
        return conn.execute(f"UPDATE models SET {column} = ? WHERE name = ?",
                            (value, name)).rowcount > 0

    def unreferenced(self, conn: sqlite3.Connection, digests: Iterable[str]) -> set[str]:
        """The digests among ``digests`` that no file of any model points at."""
        wanted = set(digests)
        return {d for d in wanted
                if conn.execute("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1", (d,)).fetchone()
                is None}

    def referenced(self, conn: sqlite3.Connection) -> dict[str, int]:
        """Every digest some model uses, with its size."""
        return dict(conn.execute("SELECT sha256, MAX(size) FROM files GROUP BY sha256"))

    # -- scan cache -----------------------------------------------------------------------------
    def scan_cache_get(self, conn: sqlite3.Connection, path: str, size: int, mtime_ns: int,
                       inode: int) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT sha256, info, scanned_at FROM scan_cache WHERE path = ? AND size = ? AND "
            "mtime_ns = ? AND inode = ?", (path, size, mtime_ns, inode)).fetchone()
        if row is None:
            return None
        return {"sha256": row[0], "info": json.loads(row[1]), "scanned_at": row[2]}

    def scan_cache_get_many(self, conn: sqlite3.Connection,
                            paths: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Every cached row among ``paths``, whatever its key: the caller compares (size,
        mtime_ns, inode) with its own ``stat``.

        A rescan of an unchanged tree is mostly this lookup, so it is batched twice over: one
        ``IN (...)`` query per chunk of paths rather than a query per file, and the chunk's
        ``info`` texts decoded by one ``json.loads`` of their concatenation (per call, the
        decoder's Python-level setup costs more than decoding a small object).
        """
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(paths), _IN_CHUNK):
            chunk = paths[i:i + _IN_CHUNK]
            rows = conn.execute(
                f"SELECT {_SCAN_COLUMNS} FROM scan_cache WHERE path IN "
                f"({','.join('?' * len(chunk))})", chunk).fetchall()
            infos = json.loads("[" + ",".join(row[5] for row in rows) + "]")
            for (path, size, mtime_ns, inode, sha256, _, scanned_at), info in zip(
                    rows, infos, strict=True):
                found[path] = {"size": size, "mtime_ns": mtime_ns, "inode": inode,
                               "sha256": sha256, "info": info, "scanned_at": scanned_at}
        return found

    def scan_cache_put(self, conn: sqlite3.Connection, path: str, size: int, mtime_ns: int,
                       inode: int, sha256: str, info: dict[str, Any]) -> None:
        self.scan_cache_put_many(conn, [(path, size, mtime_ns, inode, sha256, info)])

    def scan_cache_put_many(self, conn: sqlite3.Connection, rows: Iterable[ScanCacheRow]) -> None:
        now = time.time()
        conn.executemany(
            f"INSERT OR REPLACE INTO scan_cache ({_SCAN_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
            [(path, size, mtime_ns, inode, sha256, _encode_info(info), now)
             for path, size, mtime_ns, inode, sha256, info in rows])

    # -- helpers --------------------------------------------------------------------------------
    def _models(self, conn: sqlite3.Connection, tail: str,
                args: Sequence[Any]) -> list[ModelRecord]:
        rows = conn.execute(f"SELECT {_MODEL_COLUMNS} FROM models {tail}", args).fetchall()
        files: dict[int, list[FileRecord]] = {row[0]: [] for row in rows}
        if rows:
            marks = ",".join("?" * len(files))
            for model_id, path, sha256, size in conn.execute(
                    f"SELECT model_id, path, sha256, size FROM files WHERE model_id IN ({marks}) "
                    "ORDER BY path", tuple(files)):
                files[model_id].append(FileRecord(path, sha256, size))
        return [ModelRecord(
            name=r[1], type=r[2], architecture=r[3], format=r[4], source=r[5], source_ref=r[6],
            source_url=r[7], revision=r[8], metadata=json.loads(r[9]), created=r[10],
            last_used=r[11], pinned=bool(r[12]), linked=bool(r[13]), files=tuple(files[r[0]]))
            for r in rows]


def _empty(path: Path) -> bool:
    """No registry file, or one of 0 bytes (which SQLite would open as a new, empty database)."""
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; returns the version it started at."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # durable at each checkpoint; safe with WAL
    with _transaction(conn, "BEGIN IMMEDIATE"):
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ModelshelfError(
                f"the registry is at schema version {version}, newer than this modelshelf "
                f"understands ({SCHEMA_VERSION}); upgrade modelshelf")
        for step in MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return version


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[sqlite3.Connection]:
    conn.execute(begin)
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite may already have rolled back (e.g. on SQLITE_FULL)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
