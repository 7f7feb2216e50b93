"""A Civitai (or mirror) answer with a field of the wrong type: one line naming the reference and
the field, exit 1 — not an internal error from wherever the value happened to be used."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from modelshelf.testing.server import LocalServer, Response

DATA = b"x" * 64


def good_version(url: str) -> dict[str, Any]:
    return {"id": 7, "modelId": 3, "name": "v1", "baseModel": "SDXL 1.0",
            "model": {"name": "m", "type": "LORA"}, "images": [],
            "downloadUrl": f"{url}/api/download/models/7",
            "files": [{"id": 70, "name": "m.safetensors", "type": "Model", "primary": True,
                       "sizeKB": 0.0625,
                       "hashes": {"SHA256": hashlib.sha256(DATA).hexdigest().upper()},
                       "downloadUrl": f"{url}/api/download/models/7"}]}


@pytest.fixture
def civitai(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A loopback Civitai whose model-version answer is whatever the test puts in the dict."""
    with LocalServer() as server:
        version = good_version(server.url)
        server.add_route("GET", r"/api/v1/model-versions/7", lambda request: Response(
            200, json.dumps(version).encode(), {"Content-Type": "application/json"}))
        server.add_route("GET", r"/api/download/models/7", lambda request: Response(
            302, b"", {"Location": f"{server.url}/storage/m.safetensors"}))
        server.add_file("/storage/m.safetensors", DATA)
        monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", server.url)
        yield version


def test_the_well_formed_answer_pulls(civitai: dict[str, Any], cli: Any) -> None:
    """The baseline: each failure below is its one changed field's doing."""
    assert cli("pull", "civitai:7").code == 0


def _file(**changes: Any) -> Any:
    return lambda version: version["files"][0].update(changes)


@pytest.mark.parametrize(("change", "field"), [
    (lambda v: v.update(baseModel={"a": True}), 'baseModel = {"a": true}, expected a string'),
    (lambda v: v.update(files="none"), 'files = "none", expected a list'),
    (lambda v: v.update(files=[None]), "files[0] = null, expected an object"),
    (lambda v: v.update(model=["LORA"]), 'model = ["LORA"], expected an object'),
    (_file(hashes="y"), 'files[0].hashes = "y", expected an object'),
    (_file(hashes={"SHA256": 5}), "files[0].hashes.SHA256 = 5, expected a string"),
    (_file(sizeKB="x"), 'files[0].sizeKB = "x", expected a number'),
    (_file(downloadUrl=12), "files[0].downloadUrl = 12, expected a string"),
    (_file(primary="yes"), 'files[0].primary = "yes", expected a boolean'),
])
def test_a_field_of_the_wrong_type_is_one_line_naming_the_field(
        civitai: dict[str, Any], cli: Any, change: Any, field: str) -> None:
    change(civitai)
    result = cli("pull", "civitai:7")
    assert result.code == 1, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert "civitai:7: Civitai sent " in lines[0] and field in lines[0], lines[0]


def test_an_infinite_size_estimate_is_malformed(civitai: dict[str, Any], cli: Any) -> None:
    civitai["files"][0]["sizeKB"] = float("inf")  # json.dumps writes Infinity, json.loads reads it
    result = cli("pull", "civitai:7")
    assert result.code == 1 and "files[0].sizeKB = Infinity, expected a size" in result.err
