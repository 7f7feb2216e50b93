"""A real S3-protocol server (moto's, on 127.0.0.1, a free port, one per test session), a fresh
bucket per test, fake AWS credentials in the environment, and a fake Hub as the source.

Tests that use them skip when boto3 or moto is not installed (``pip install -e '.[test]'`` has both).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from remote_kit import ACCESS_KEY, REGION, SECRET_KEY, Team

from modelshelf.testing.factories.files import write_safetensors
from modelshelf.testing.hub import FakeHub


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server in a thread of this process, on a port the OS picks."""
    moto_server = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def team(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Team:
    """A fresh bucket, ``[remote]`` pointing at it, credentials only in the environment (the
    standard AWS way), and no ``~/.aws`` files of the person running the tests."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "MODELSHELF_REMOTE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    client = pytest.importorskip("boto3").client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    bucket = f"team-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    made = Team(client, bucket, "shelf", Path(os.environ["MODELSHELF_CONFIG"]), s3_endpoint)
    made.configure()
    return made


@pytest.fixture
def weights(tmp_path: Path) -> bytes:
    path = write_safetensors(tmp_path / "w.safetensors", {"layer.weight": (256, 512)},
                             fill="random")
    return path.read_bytes()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, weights: bytes) -> Iterator[FakeHub]:
    """The source: ``org/tiny`` with an LFS weights file (the Hub publishes its sha256) and a
    small config (the Hub gives only its git blob id)."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf-token"))
    with FakeHub() as server:
        server.add_repo("org/tiny", {"config.json": b'{"model_type": "bert"}',
                                     "model.safetensors": weights})
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server
