"""``[remote]`` in config.toml, and the remote manifest read as hostile input.

No S3 server here: these run even without boto3 and moto installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelshelf.config import load_settings
from modelshelf.errors import ConfigError
from modelshelf.remote import RefManifest, split_url

GOOD = {"format": 1, "ref": "hf:org/m@abc", "source": "hf", "name": "m", "revision": "abc",
        "type": "llm", "architecture": "llama", "source_url": None, "metadata": {},
        "files": [{"path": "model.safetensors", "sha256": "ab" * 32, "size": 10}]}


def test_remote_settings_come_from_config_and_the_aws_variables(
        tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text(
        '[remote]\nurl = "s3://team/models"\nendpoint_url = "http://minio:9000"\n'
        'push_on_pull = false\n')
    monkeypatch.setenv("AWS_REGION", "eu-west-3")

    result = cli("config", "--json")

    assert result.code == 0 and result.err == ""  # every [remote] key is known: no typo warning
    assert result.json["remote"] == {"url": "s3://team/models", "endpoint_url": "http://minio:9000",
                                     "region": "eu-west-3", "push_on_pull": False}


def test_a_remote_url_that_is_not_s3_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[remote]\nurl = "https://bucket.example/x"\n')
    with pytest.raises(ConfigError, match=r"expected s3://bucket/prefix"):
        load_settings()


def test_split_url_gives_bucket_and_prefix() -> None:
    assert split_url("s3://team/models/v1/") == ("team", "models/v1/")
    assert split_url("s3://team") == ("team", "")


@pytest.mark.parametrize(("change", "why"), [
    ({"format": 2}, "format-1"),
    ({"files": []}, "no files"),
    ({"files": [{"path": "../../etc/passwd", "sha256": "ab" * 32, "size": 1}]}, "leaves the model"),
    ({"files": [{"path": "/abs", "sha256": "ab" * 32, "size": 1}]}, "leaves the model"),
    ({"files": [{"path": "m", "sha256": "nothex", "size": 1}]}, "64 hex digits"),
    ({"files": [{"path": "m", "sha256": "ab" * 32, "size": -1}]}, "bad file entry"),
    ({"name": 7}, "name must be"),
    ({"metadata": []}, "metadata must be"),
])
def test_a_damaged_manifest_is_a_clear_error(change: dict[str, Any], why: str) -> None:
    with pytest.raises(ConfigError, match=f"s3://t/x: damaged remote manifest .*{why}"):
        RefManifest.from_json(json.dumps({**GOOD, **change}).encode(), "s3://t/x")


def test_a_manifest_round_trips() -> None:
    manifest = RefManifest.from_json(json.dumps(GOOD).encode(), "here")
    assert RefManifest.from_json(manifest.to_json(), "here") == manifest
    assert manifest.size == 10
    with pytest.raises(ConfigError, match="damaged remote manifest"):
        RefManifest.from_json(b"\xff not json", "here")
