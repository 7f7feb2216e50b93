"""Manifests and lock files: reproducible model sets, strict about what they pin."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from modelshelf.errors import ConfigError
from modelshelf.manifest import lock_path, read_lock, read_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["sd15-starter.toml", "sdxl.toml", "nlp-small.toml"])
def test_example_manifests_parse(name: str):
    entries = read_manifest(EXAMPLES / name)
    assert entries and all(e.ref for e in entries)


def test_unknown_key_is_an_error_naming_the_entry(tmp_path: Path):
    manifest = tmp_path / "models.toml"
    manifest.write_text('[[model]]\nref = "hf:a/b"\n\n[[model]]\nref = "hf:c/d"\nrevison = "x"\n')
    with pytest.raises(ConfigError, match=r"#2.*revison"):
        read_manifest(manifest)


def _manifest(tmp_path: Path, server, random_bytes) -> Path:
    server.add_file("/a/alpha.bin", random_bytes(3000, seed=11))
    server.add_file("/b/beta.bin", random_bytes(4000, seed=12))
    manifest = tmp_path / "models.toml"
    manifest.write_text(
        f'[[model]]\nref = "{server.url}/a/alpha.bin"\nname = "alpha"\n\n'
        f'[[model]]\nref = "{server.url}/b/beta.bin"\ntype = "loras"\n')
    return manifest


def test_lock_then_pull_installs_exactly_the_lock(cli, tmp_path, server, random_bytes):
    manifest = _manifest(tmp_path, server, random_bytes)
    locked = cli("lock", "-f", str(manifest))
    assert locked.code == 0, locked.err
    lock = read_lock(lock_path(manifest))
    assert [m.name for m in lock.models] == ["alpha", "beta"]
    assert all(len(f.sha256) == 64 for m in lock.models for f in m.files)
    assert lock.models[1].type == "loras"

    for name in ("alpha", "beta"):
        assert cli("rm", name).code == 0
    again = cli("pull", "-f", str(manifest), "--json")
    assert again.code == 0, again.err
    assert [r["status"] for r in again.json["results"]] == ["ok", "ok"]


def test_lock_and_report_files_are_as_readable_as_any_file_the_user_writes(
        cli, tmp_path, server, random_bytes):
    """The lock is for the team (a shared folder, a repository): it was written 0600, as
    ``mkstemp`` makes its temp files, so a colleague could not read it. Now the user's umask
    decides, as for any file they write (and as for the HTML report beside it)."""
    manifest = _manifest(tmp_path, server, random_bytes)
    old = os.umask(0o022)
    try:
        assert cli("lock", "-f", str(manifest)).code == 0
        assert cli("report", "--html", str(tmp_path / "report.html")).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(lock_path(manifest).stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644


def test_pull_with_lock_fails_loudly_when_content_changed(cli, tmp_path, server, random_bytes):
    manifest = _manifest(tmp_path, server, random_bytes)
    assert cli("lock", "-f", str(manifest)).code == 0
    assert cli("rm", "beta").code == 0
    server.replace_file("/b/beta.bin", random_bytes(4000, seed=99))
    result = cli("pull", "-f", str(manifest), "--json")
    assert result.code == 1
    statuses = {r["ref"].rsplit("/", 1)[-1]: r for r in result.json["results"]}
    assert statuses["alpha.bin"]["status"] == "ok"
    assert statuses["beta.bin"]["status"] == "error"
    assert "beta" in result.err


def test_lock_out_of_date_with_manifest(cli, tmp_path, server, random_bytes):
    manifest = _manifest(tmp_path, server, random_bytes)
    assert cli("lock", "-f", str(manifest)).code == 0
    manifest.write_text(manifest.read_text() + '\n[[model]]\nref = "hf:x/y"\n')
    result = cli("pull", "-f", str(manifest))
    assert result.code == 1
    assert "out of date" in result.err
