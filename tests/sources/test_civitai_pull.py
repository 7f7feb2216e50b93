"""``modelshelf pull`` end to end for the Civitai, direct-URL, local and torchvision sources."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from modelshelf.cli.main import main
from modelshelf.testing.civitai import TOKEN, FakeCivitai, tiny_png
from modelshelf.testing.server import LocalServer


def _pull(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(["pull", *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _authorization(civ: FakeCivitai, prefix: str) -> set[str | None]:
    return {next((v for k, v in r.headers.items() if k.lower() == "authorization"), None)
            for r in civ.log if r.path.startswith(prefix)}


@pytest.fixture
def civitai_env(civitai_server: FakeCivitai, monkeypatch: pytest.MonkeyPatch) -> FakeCivitai:
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civitai_server.url)
    return civitai_server


def test_gated_model_needs_a_token_then_pulls_with_it(civitai_env: FakeCivitai,
                                                      isolated_env: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _pull(capsys, "civitai:2001")
    assert code == 1
    assert "civitai:2001: this model needs a Civitai API token" in err
    assert out["results"][0]["status"] == "error"

    monkeypatch.setenv("CIVITAI_API_TOKEN", TOKEN)
    code, out, err = _pull(capsys, "civitai:2001")
    assert code == 0, err
    (item,) = out["results"]
    assert item["type"] == "loras"
    data = civitai_env.primary_bytes(2001)
    assert item["files"] == [{"path": "gatedLora.safetensors",
                              "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}]
    assert _authorization(civitai_env, "/storage/") == {None}
    assert _authorization(civitai_env, "/api/download/") >= {f"Bearer {TOKEN}"}

    (snapshot,) = isolated_env.glob("meta/*/civitai.json")
    assert json.loads(snapshot.read_bytes())["trainedWords"] == ["tinystyle"]
    assert (snapshot.parent / "preview.png").read_bytes() == tiny_png()


def test_second_pull_transfers_nothing(civitai_env: FakeCivitai,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _pull(capsys, "civitai:model/100")[0] == 0
    civitai_env.clear_log()
    code, out, _ = _pull(capsys, "civitai:model/100")
    assert code == 0 and out["results"][0]["bytes_downloaded"] == 0
    assert not [r for r in civitai_env.log if r.path.startswith("/storage/")]


def test_direct_url_and_local_file(server: LocalServer, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    server.add_file("/files/direct.bin", b"direct bytes" * 100)
    code, out, err = _pull(capsys, server.url + "/files/direct.bin")
    assert code == 0, err
    assert out["results"][0]["files"][0]["size"] == 1200
    local = tmp_path / "local.bin"
    local.write_bytes(b"local bytes")
    code, out, err = _pull(capsys, f"file:{local}")
    assert code == 0, err
    assert out["results"][0]["files"][0]["sha256"] == hashlib.sha256(b"local bytes").hexdigest()


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None,
                    reason="torchvision is installed here")
def test_torchvision_without_the_extra(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _pull(capsys, "torchvision:resnet18")
    assert code == 1
    assert "pip install 'modelshelf[torch]'" in err


def test_torch_hub_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["pull", "pytorch/vision:v0.10.0:resnet18"])
    assert code == 2
    assert "runs its hubconf.py" in capsys.readouterr().err
