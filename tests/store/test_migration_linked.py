"""Migration 3 (``linked``): a store written before it keeps every model linked, as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from modelshelf.store import Store
from modelshelf.store.migrations import MIGRATIONS, SCHEMA_VERSION


def test_models_of_an_older_store_stay_linked(tmp_path: Path):
    home = tmp_path / "shelf"
    home.mkdir()
    conn = sqlite3.connect(home / "registry.sqlite3")
    for step in MIGRATIONS[:2]:
        for statement in step:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO models (name, type, architecture, format, source, source_ref, "
                 "created, last_used) VALUES ('old', 'loras', 'sd15', 'safetensors', 'url', "
                 "'https://x/old.safetensors', 0, 0)")
    conn.commit()
    conn.close()
    store = Store(home)
    assert store.get("old").linked is True
    assert sqlite3.connect(home / "registry.sqlite3").execute(
        "PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.set_linked("old", False)
    assert store.get("old").linked is False
