"""The store when bytes rot on disk or a model is registered again with another type/revision."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from modelshelf.errors import NameConflict, UsageError
from modelshelf.store import Store, check_name
from modelshelf.testing.models import AddBlob, new_model


def test_repair_replaces_a_damaged_blob_and_relinks_every_view(store: Store, add_blob: AddBlob):
    data = b"weights" * 1000
    blob_file = add_blob(data)
    store.add_model(new_model("a", blob_file))
    store.add_model(new_model("b", blob_file, type="vae"))
    blob = store.blob_path(blob_file.sha256)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"rotten!" * 1000)

    staged = store.staging_dir / "fresh.part"
    staged.write_bytes(data)
    store.commit_blob(staged, blob_file.sha256)  # trusted: no re-hash without repair
    assert blob.read_bytes() != data

    staged.write_bytes(data)
    store.commit_blob(staged, blob_file.sha256, repair=True)
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob_file.sha256
    for name in ("a", "b"):
        assert store.view_path(store.get(name)).read_bytes() == data
    assert store.verify().all_ok


def test_repair_keeps_a_healthy_blob_and_the_links_that_share_it(store: Store, add_blob: AddBlob,
                                                                 tmp_path: Path):
    """``pull --force`` re-checks; a blob that is fine stays the same inode, so an app folder's
    hard link to it keeps sharing its bytes (nothing is stored twice)."""
    data = b"weights" * 1000
    blob_file = add_blob(data)
    store.add_model(new_model("a", blob_file))
    blob = store.blob_path(blob_file.sha256)
    app_link = tmp_path / "app-copy.bin"
    os.link(blob, app_link)
    staged = store.staging_dir / "fresh.part"
    staged.write_bytes(data)
    store.commit_blob(staged, blob_file.sha256, repair=True)
    assert os.path.samefile(blob, app_link) and not staged.exists()


def test_same_files_other_type_is_a_conflict_unless_forced(store: Store, add_blob: AddBlob):
    blob_file = add_blob(b"x" * 100)
    store.add_model(new_model("m", blob_file, type="loras"))
    with pytest.raises(NameConflict, match=r"model m exists with other type \(loras\)"):
        store.add_model(new_model("m", blob_file, type="vae"))
    moved = store.add_model(new_model("m", blob_file, type="vae"), force=True)
    assert moved.type == "vae" and store.view_path(moved).exists()
    assert not store.view_path(new_model("m", blob_file, type="loras")).exists()


def test_same_files_at_a_newer_revision_records_the_revision(store: Store, add_blob: AddBlob):
    model = replace(new_model("m", add_blob(b"x" * 100)), revision="old")
    store.add_model(model)
    assert store.add_model(replace(model, revision="new")).revision == "new"
    assert store.get("m").revision == "new"


def test_a_damaged_registry_is_one_line_naming_it(cli, isolated_env: Path):
    isolated_env.mkdir(parents=True)
    (isolated_env / "registry.sqlite3").write_bytes(b"not sqlite at all " * 100)
    result = cli("ls")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert "registry.sqlite3: the registry is damaged" in line and "modelshelf repair" in line
    assert "internal error" not in line


def test_rm_does_not_claim_bytes_an_outside_hard_link_keeps(store: Store, add_blob: AddBlob,
                                                           tmp_path: Path):
    kept, freed = add_blob(b"k" * 1000), add_blob(b"f" * 500)
    store.add_model(new_model("kept", kept))
    store.add_model(new_model("freed", freed))
    os.link(store.blob_path(kept.sha256), tmp_path / "app-folder-link")  # `link flat DIR`
    assert store.remove("kept") == 0
    assert store.remove("freed") == 500
    assert (tmp_path / "app-folder-link").read_bytes() == b"k" * 1000


def test_a_name_with_undecodable_bytes_is_a_usage_error_not_a_crash():
    """``--name`` from a shell with a non-UTF-8 locale arrives with lone surrogates."""
    with pytest.raises(UsageError, match="model name"):
        check_name("lora-\udcff")
