"""The engine's logic (pieces, workers, retries, verification, credentials) against the
in-memory transport: no socket, no server thread. Real HTTP behaviour (TLS, proxies, stalls,
keep-alive) stays in the loopback-server tests beside this file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from modelshelf.errors import NetworkError, RemoteNotFound
from modelshelf.secrets import Credentials
from modelshelf.testing.transport import MemoryTransport
from modelshelf.transfer import Endpoint, NetworkPolicy, download

from .conftest import sha

URL = "https://files.example/m.safetensors"


@pytest.fixture
def memory(payload: bytes) -> MemoryTransport:
    return MemoryTransport({"/m.safetensors": payload})


@pytest.fixture
def policy(fast: NetworkPolicy, memory: MemoryTransport) -> NetworkPolicy:
    return replace(fast, transport=memory)


def test_plain_download_is_verified_and_multi_connection(
        memory: MemoryTransport, policy: NetworkPolicy, payload: bytes, staging: Path) -> None:
    result = download(Endpoint(URL, expected_sha256=sha(payload)), staging, policy)
    assert result.path.read_bytes() == payload
    assert result.sha256 == sha(payload)
    assert result.size == result.bytes_downloaded == len(payload)
    assert result.filename == "m.safetensors"
    assert not result.resumed
    assert len({r.range for r in memory.requests_for("/m.safetensors")}) >= 4  # pieces...
    assert result.connections_used > 1  # ...fetched by several workers


def test_sha256_prefix_form_and_uppercase_accepted(
        policy: NetworkPolicy, payload: bytes, staging: Path) -> None:
    result = download(Endpoint(URL, expected_sha256="sha256:" + sha(payload).upper()), staging,
                      policy)
    assert result.sha256 == sha(payload)


@pytest.mark.parametrize(("fault", "count"), [("fail_next", 5), ("cuts", 6)])
def test_transient_faults_end_in_the_right_file(
        memory: MemoryTransport, policy: NetworkPolicy, payload: bytes, staging: Path,
        fault: str, count: int) -> None:
    setattr(memory, fault, count)
    result = download(Endpoint(URL, expected_sha256=sha(payload)), staging, policy)
    assert result.path.read_bytes() == payload


def test_persistent_5xx_gives_up_with_the_status(
        memory: MemoryTransport, policy: NetworkPolicy, staging: Path) -> None:
    memory.fail_next = 1000
    with pytest.raises(NetworkError) as info:  # a server still busy after every try
        download(URL + "?token=secret", staging, replace(policy, retries=3))
    message = str(info.value)
    assert "503" in message and "/m.safetensors" in message and "secret" not in message
    assert "\n" not in message
    assert len(memory.requests_for("/m.safetensors")) == 3


def test_not_found_is_remote_not_found(policy: NetworkPolicy, staging: Path) -> None:
    with pytest.raises(RemoteNotFound) as info:
        download("https://files.example/missing.bin?sig=abc", staging, policy)
    message = str(info.value)
    assert "404" in message and "/missing.bin" in message and "sig=abc" not in message
    assert "\n" not in message


@pytest.mark.parametrize("target", ["https://files.example:8443/m.safetensors",
                                    "http://files.example:443/m.safetensors",
                                    "https://cdn.example/m.safetensors"])
def test_credentials_never_follow_a_redirect_to_another_origin(
        memory: MemoryTransport, policy: NetworkPolicy, payload: bytes, staging: Path,
        target: str) -> None:
    memory.redirects["/resolve"] = target
    url = "https://files.example/resolve"
    token = Credentials.for_url({"Authorization": "Bearer t0ken"}, url)
    assert download(Endpoint(url, token), staging, policy).path.read_bytes() == payload
    assert [r.headers.get("Authorization") for r in memory.requests_for("/resolve")] \
        == ["Bearer t0ken"]
    assert all("Authorization" not in r.headers for r in memory.requests_for("/m.safetensors"))
