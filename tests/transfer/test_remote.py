"""probe() and open_remote(): header-only inspection of remote files over Range."""

from __future__ import annotations

import pytest

from modelshelf.errors import DownloadError, RemoteNotFound
from modelshelf.testing.server import LocalServer, Response
from modelshelf.transfer import open_remote, probe


def test_probe_describes_the_file_after_redirects(server: LocalServer, payload: bytes) -> None:
    server.add_file("/files/m.gguf", payload,
                    headers={"Content-Disposition": 'attachment; filename="real name.gguf"'})
    server.add_route("GET", "/dl", lambda _r: Response(302, headers={"Location": "/files/m.gguf"}))
    meta = probe(server.url + "/dl")
    assert meta.size == len(payload) and meta.accept_ranges
    assert meta.etag and meta.last_modified
    assert meta.filename == "real name.gguf"
    assert meta.final_url.endswith("/files/m.gguf")
    assert sum(r.bytes_sent for r in server.requests_for("/files/m.gguf")) <= 1


def test_probe_404(server: LocalServer) -> None:
    with pytest.raises(RemoteNotFound):
        probe(server.url + "/nope")


def test_remote_reader_reads_ranges_within_budget(server: LocalServer, payload: bytes) -> None:
    server.add_file("/m.bin", payload)
    with open_remote(server.url + "/m.bin", max_bytes=64 * 1024) as reader:
        assert reader.size == len(payload)
        assert reader.read_at(0, 8) == payload[:8]
        assert reader.read_at(1000, 5000) == payload[1000:6000]
        assert reader.read_at(len(payload) - 3, 100) == payload[-3:]
        with pytest.raises(DownloadError, match="budget"):
            reader.read_at(0, 1024 * 1024)


def test_remote_reader_when_range_is_ignored(server: LocalServer, payload: bytes) -> None:
    server.add_file("/m.bin", payload)
    server.faults.ignore_range = True
    with open_remote(server.url + "/m.bin") as reader:
        assert reader.read_at(100, 50) == payload[100:150]
