"""The registry's schema history. Never edit a released step: append a new one.

``PRAGMA user_version`` holds how many steps a database has applied, so opening an older store
runs exactly the missing steps, in one transaction, and a store written by a newer modelshelf is
refused rather than misread.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: models and their files.
    (
        """CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            architecture TEXT NOT NULL,
            format TEXT NOT NULL,
            source TEXT NOT NULL,
            source_ref TEXT NOT NULL,
            source_url TEXT,
            revision TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created REAL NOT NULL,
            last_used REAL NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE files (
            model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (model_id, path)
        )""",
        "CREATE INDEX files_sha256 ON files(sha256)",
    ),
    # 2: look-ups by reference (pull's "already present?") and the scan cache.
    (
        "CREATE INDEX models_source_ref ON models(source_ref)",
        """CREATE TABLE scan_cache (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            info TEXT NOT NULL DEFAULT '{}',
            scanned_at REAL NOT NULL
        )""",
    ),
    # 3: whether a model is exposed in views/ (and so to apps): a file judged unsafe or
    # unknown is registered but kept out until the user trusts it. Older rows were linked.
    ("ALTER TABLE models ADD COLUMN linked INTEGER NOT NULL DEFAULT 1",),
)

SCHEMA_VERSION = len(MIGRATIONS)
