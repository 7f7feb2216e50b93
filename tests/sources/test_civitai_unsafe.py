"""The issue's case: a malicious `.ckpt` from Civitai must not land in `views/checkpoints/`
(what ComfyUI's checkpoints/modelshelf link shows) until the user trusts it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion


def _evil_ckpt() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:  # written, never loaded
        zf.writestr("archive/data.pkl", b"cos\nsystem\n(S'touch /tmp/pwned'\ntR.")
    return buffer.getvalue()


def test_a_malicious_civitai_checkpoint_is_stored_but_not_in_checkpoints(
        cli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch):
    with FakeCivitai() as civ:
        civ.add_model(900, "Totally Safe Model", type="Checkpoint", versions=[
            FakeVersion(9001, [FakeFile("safeModel_v1.ckpt", _evil_ckpt())],
                        base_model="SD 1.5")])
        monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civ.url)
        result = cli("pull", "civitai:9001", "--json")
    assert result.code == 0, result.err
    (item,) = result.json["results"]
    assert (item["type"], item["safety"], item["linked"]) == ("checkpoints", "unsafe", False)
    assert list((isolated_env / "views" / "checkpoints").iterdir()) == []
    assert cli("trust", item["name"]).code == 0
    assert [p.name for p in (isolated_env / "views" / "checkpoints").iterdir()] == [
        Path(item["path"]).name]
