"""download() against the real local server: right file, or a clear error — never a wrong file."""

from __future__ import annotations

import ssl
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from modelshelf.errors import (
    BadContent,
    HashMismatch,
    InsufficientSpace,
    NetworkError,
    SizeMismatch,
    TokenRequired,
    UsageError,
)
from modelshelf.secrets import Credentials
from modelshelf.testing.server import LocalServer, Response
from modelshelf.transfer import Endpoint, NetworkPolicy, download
from modelshelf.transfer import http as transfer_http
from modelshelf.transfer.retry import Backoff

from .conftest import MIB, settled_bytes_served, sha, staged_data


def test_range_ignored_falls_back_to_one_stream(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.ignore_range = True
    result = download(server.url + "/m.bin", staging, fast)
    assert result.path.read_bytes() == payload
    assert result.connections_used == 1
    assert len(server.requests_for("/m.bin")) == 1


def test_corrupted_byte_is_a_hash_mismatch_and_nothing_stays(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.corrupt_offset = 3 * MIB + 17
    with pytest.raises(HashMismatch) as info:
        download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging, fast)
    assert sha(payload) in str(info.value) and "m.bin" in str(info.value)
    assert staged_data(staging) == []


def test_short_body_is_an_error_never_a_file(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.short_body = True
    with pytest.raises(SizeMismatch, match="ending the body early"):
        download(server.url + "/m.bin", staging, replace(fast, retries=3))
    assert not any(p.suffix == ".ok" for p in staged_data(staging))


def test_short_single_stream_is_an_error(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.short_body = True
    server.faults.ignore_range = True
    with pytest.raises(SizeMismatch):
        download(server.url + "/m.bin", staging, replace(fast, retries=2))
    assert not any(p.suffix == ".ok" for p in staged_data(staging))


def test_error_page_instead_of_the_file(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.html_instead = True
    with pytest.raises(BadContent, match="Access denied"):
        download(server.url + "/m.bin", staging, fast)
    assert not any(p.suffix == ".ok" for p in staged_data(staging))


def test_json_file_is_not_mistaken_for_an_error_page(
        server: LocalServer, staging: Path, fast: NetworkPolicy) -> None:
    body = b'{"architectures": ["LlamaForCausalLM"]}'
    server.add_file("/config.json", body, content_type="application/json")
    assert download(server.url + "/config.json", staging, fast).path.read_bytes() == body


def test_size_differs_from_expected(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    with pytest.raises(SizeMismatch, match=str(len(payload))):
        download(Endpoint(server.url + "/m.bin", expected_size=len(payload) + 1), staging, fast)


def test_content_changing_mid_transfer_restarts_cleanly(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.rate_per_connection = 2e6
    new = bytes(reversed(payload))
    warnings: list[str] = []

    def swap(done: int, total: int | None) -> None:
        if done > MIB and not warnings:
            server.replace_file("/m.bin", new)
            server.faults.rate_per_connection = None
            warnings.append("swapped")

    result = download(server.url + "/m.bin", staging, fast, progress=swap,
                      on_warning=warnings.append)
    assert result.path.read_bytes() == new  # never a mix of old and new bytes
    assert result.restarted_reason and "changed" in result.restarted_reason
    assert any("starting over" in w for w in warnings)


def test_stalled_connection_is_dropped_and_its_range_refetched(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.stall_after = 64 * 1024
    server.faults.stall_seconds = 4.0
    result = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging,
                      replace(fast, stall_seconds=0.5))
    assert result.path.read_bytes() == payload


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refusal_is_token_required(server: LocalServer, staging: Path,
                                        fast: NetworkPolicy, status: int) -> None:
    server.add_route("GET", "/private.bin",
                     lambda _req: Response(status, b'{"error": "Invalid credentials"}'))
    with pytest.raises(TokenRequired, match="Invalid credentials") as info:
        download(server.url + "/private.bin", staging, fast)
    assert str(status) in str(info.value) and "\n" not in str(info.value)


def test_closed_port_is_a_network_error_naming_the_host(
        unused_port: int, staging: Path, fast: NetworkPolicy) -> None:
    with pytest.raises(NetworkError) as info:
        download(f"http://127.0.0.1:{unused_port}/m.bin", staging, replace(fast, retries=2))
    assert f"127.0.0.1:{unused_port}" in str(info.value)
    assert "refused" in str(info.value) and "\n" not in str(info.value)


def test_malformed_url_is_a_usage_error(staging: Path) -> None:
    with pytest.raises(UsageError):
        download("ftp://example.invalid/x", staging)
    with pytest.raises(UsageError):
        download("http://[::1/x", staging)


@pytest.mark.parametrize(("origin", "other"), [("127.0.0.1", "localhost"),
                                               ("localhost", "127.0.0.1")])
def test_credentials_stay_on_their_host_across_redirects(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy,
        origin: str, other: str) -> None:
    server.add_file("/cdn/m.bin", payload)
    server.add_route("GET", "/resolve/m.bin", lambda _req: Response(
        302, headers={"Location": server.url_for("/cdn/m.bin?X-Signature=s1", host=other)}))
    url = server.url_for("/resolve/m.bin", host=origin)
    token = Credentials.for_url({"Authorization": "Bearer hf_secret"}, url)
    result = download(Endpoint(url, token), staging, fast)
    assert result.path.read_bytes() == payload
    assert "X-Signature" not in result.final_url
    resolve = server.requests_for("/resolve/m.bin")
    cdn = server.requests_for("/cdn/m.bin")
    assert resolve and all(r.headers.get("Authorization") == "Bearer hf_secret" for r in resolve)
    assert len(cdn) > 1  # every range went straight to the signed target...
    assert all(r.host.startswith(other) for r in cdn)
    assert all("Authorization" not in r.headers for r in cdn)  # ...without the token


def test_free_space_is_checked_before_starting(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    server.add_file("/m.bin", payload)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10 * MIB, 9 * MIB, MIB))
    with pytest.raises(InsufficientSpace, match="free"):
        download(server.url + "/m.bin", staging, fast, free_space_margin=0)
    assert server.bytes_served("/m.bin") < len(payload)


def test_progress_is_reported_up_to_the_total(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.rate_per_connection = 8e6
    calls: list[tuple[int, int | None]] = []
    download(server.url + "/m.bin", staging, fast, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (len(payload), len(payload))
    assert all(total == len(payload) for _, total in calls)
    assert all(0 <= done <= len(payload) for done, _ in calls)


def test_empty_file(server: LocalServer, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/empty.bin", b"")
    result = download(Endpoint(server.url + "/empty.bin", expected_sha256=sha(b"")), staging, fast)
    assert result.size == 0 and result.path.read_bytes() == b""


def test_two_downloads_of_one_url_make_one_transfer(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.rate_per_connection = 5e6
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(
        download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging, fast)))
        for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    assert sorted(r.bytes_downloaded for r in results) == [0, len(payload)]
    assert all(r.path.read_bytes() == payload for r in results)
    # One transfer, not two (a little more than the size: a connection whose tail was stolen
    # is closed with some bytes already in flight).
    assert len(payload) <= settled_bytes_served(server, "/m.bin") < 1.5 * len(payload)


def test_416_on_a_range_is_repaired_not_looped_on(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    blob = server.add_file("/blob.bin", payload)
    refused: list[str] = []

    def handler(request: Any) -> Response:
        ranged = request.headers.get("Range", "")
        if not ranged.startswith("bytes=0-") and not refused:
            refused.append(ranged)
            return Response(416, headers={"Content-Range": f"bytes */{len(payload)}"})
        return Response(blob=blob)

    server.add_route("GET", "/m.bin", handler)
    result = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging, fast)
    assert result.path.read_bytes() == payload
    assert refused and result.restarted_reason and "416" in result.restarted_reason


def test_disk_full_midway_is_insufficient_space_and_resumable(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    server.add_file("/m.bin", payload)
    real_pwrite = os.pwrite
    written = [0]

    def filling_pwrite(fd: int, data: Any, offset: int) -> int:
        if written[0] > 2 * MIB:
            raise OSError(errno.ENOSPC, "No space left on device")
        written[0] += len(data)
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", filling_pwrite)
    with pytest.raises(InsufficientSpace, match="disk is full"):
        download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging, fast)
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    result = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging, fast)
    assert result.resumed and result.bytes_downloaded < len(payload)
    assert result.path.read_bytes() == payload


def test_https_download(tls_server: LocalServer, payload: bytes, staging: Path,
                        fast: NetworkPolicy) -> None:
    tls_server.add_file("/m.bin", payload)
    result = download(Endpoint(tls_server.url + "/m.bin", expected_sha256=sha(payload)), staging,
                      replace(fast, verify_ssl=False))
    assert result.path.read_bytes() == payload and result.connections_used > 1


def test_https_connections_share_one_tls_setup(tls_server: LocalServer, payload: bytes,
                                               staging: Path, fast: NetworkPolicy,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS settings load the system's CA store (~40 ms of CPU each): a download's connections
    share one, rather than paying for it once per connection."""
    built: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    transfer_http.tls_context.cache_clear()
    tls_server.add_file("/m.bin", payload)
    result = download(Endpoint(tls_server.url + "/m.bin", expected_sha256=sha(payload)), staging,
                      replace(fast, verify_ssl=False))
    assert result.connections_used > 1
    assert len(built) == 1


def test_untrusted_certificate_is_a_clear_error_without_retries(
        tls_server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    tls_server.add_file("/m.bin", payload)
    with pytest.raises(NetworkError, match="certificate"):
        download(tls_server.url + "/m.bin", staging, fast)
    assert tls_server.log == []


def test_a_long_retry_after_fails_at_once_saying_how_long(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    """A rate-limit ban of an hour is a final answer, not six silent minute-long waits."""
    server.add_file("/m.bin", payload)
    server.faults.error_burst, server.faults.error_status = 1000, 429
    server.faults.retry_after = "3600"
    with pytest.raises(NetworkError, match=r"HTTP 429.*wait 3600 s: try again later"):
        download(server.url + "/m.bin", staging, fast)
    assert len(server.requests_for("/m.bin")) == 1


def test_a_short_retry_after_is_waited_for(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.error_burst, server.faults.error_status = 1, 503
    server.faults.retry_after = "0"
    assert download(server.url + "/m.bin", staging, fast).path.read_bytes() == payload


def test_a_small_file_fits_a_nearly_full_disk(
        server: LocalServer, staging: Path, fast: NetworkPolicy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The margin kept free scales with the file: 66 KB with 6 MB free is no problem."""
    import shutil
    from collections import namedtuple

    small = bytes(range(256)) * 264
    server.add_file("/small.bin", small)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 6 * 10**6, 6 * 10**6))
    assert download(server.url + "/small.bin", staging, fast).path.read_bytes() == small


def test_a_server_that_closes_every_connection_costs_no_retries(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`Connection: close` after each answer (as moto and some S3 gateways send): the worker
    must reconnect for its next piece, not take the closed socket for a failed piece and pause
    for the retry backoff before every one."""
    failures: list[BaseException] = []
    real_pause = Backoff.pause
    monkeypatch.setattr(Backoff, "pause", lambda self, n, exc: (failures.append(exc),
                                                                real_pause(self, n, exc))[1])
    server.add_file("/m.bin", payload, headers={"Connection": "close"})
    result = download(server.url + "/m.bin", staging, fast)
    assert result.sha256 == sha(payload)
    assert failures == []
    ranges = [r.range for r in server.requests_for("/m.bin")]
    assert len(ranges) == len(set(ranges)), "a piece was asked for twice"


def test_a_busy_answer_with_a_long_body_costs_one_try_not_two(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    """The error message is read from the first 2 KiB of a busy server's page; the rest stays
    unread on the connection, which the next try must not reuse (http.client refuses it:
    "Request-sent"). With two tries, one 503 with a 100 kB page is survived."""
    blob = server.add_file("/m.bin", payload)
    answers: list[int] = []

    def busy_once(request: Any) -> Response:
        answers.append(503 if not answers else 206)
        if answers[-1] == 503:
            return Response(503, b"<html>" + b"busy " * 20_000 + b"</html>",
                            {"Content-Type": "text/html"})
        return Response(blob=blob)

    server.add_route("GET", r"/busy\.bin", busy_once)
    result = download(Endpoint(server.url + "/busy.bin", expected_sha256=sha(payload)), staging,
                      replace(fast, retries=2, connections=1))
    assert result.path.read_bytes() == payload
    assert answers[0] == 503
