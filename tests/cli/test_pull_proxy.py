"""`modelshelf pull URL` behind a proxy given by HTTP(S)_PROXY / NO_PROXY, as a user's shell sets them."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.testing.proxy import ForwardProxy
from modelshelf.testing.server import LocalServer

SECRET = "pa55-w0rd-SECRET"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy(credentials=("alice", SECRET)) as running:
        yield running


@pytest.fixture
def tls_origin(tls_context: ssl.SSLContext, tmp_path: Path) -> Iterator[LocalServer]:
    """An https origin with a self-signed certificate, which the config says to accept."""
    (tmp_path / "config.toml").write_text("[sources.url]\nverify_ssl = false\n")
    with LocalServer(tls=tls_context) as srv:
        yield srv


def files_containing(root: Path, text: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_pull_https_through_an_authenticating_proxy(
        cli, tls_origin: LocalServer, proxy: ForwardProxy, random_bytes, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch):
    data = random_bytes(3 * 2**20)
    tls_origin.add_file("/weights.dat", data)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url_with("alice", SECRET))
    monkeypatch.delenv("NO_PROXY")
    result = cli("pull", tls_origin.url + "/weights.dat", "--json")
    assert result.code == 0, result.err
    assert Path(result.json["results"][0]["path"]).read_bytes() == data
    assert proxy.log and all(r.method == "CONNECT" and r.proxy_auth for r in proxy.log)
    gets = tls_origin.requests_for("/weights.dat")
    assert gets and all(r.range for r in gets)
    assert all("proxy-authorization" not in {k.lower() for k in r.headers} for r in tls_origin.log)
    assert SECRET not in result.out + result.err
    assert files_containing(tmp_path, SECRET) == []


def test_lowercase_http_proxy_wins_over_uppercase(
        cli, server: LocalServer, proxy: ForwardProxy, random_bytes, unused_port: int,
        monkeypatch: pytest.MonkeyPatch):
    server.add_file("/m.dat", random_bytes(2**20))
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{unused_port}")
    monkeypatch.setenv("http_proxy", proxy.url_with("alice", SECRET))
    monkeypatch.delenv("NO_PROXY")
    result = cli("pull", server.url + "/m.dat")
    assert result.code == 0, result.err
    assert proxy.log and {r.target for r in proxy.log} == {server.url + "/m.dat"}


def test_no_proxy_sends_loopback_direct(cli, server: LocalServer, proxy: ForwardProxy,
                                        random_bytes, monkeypatch: pytest.MonkeyPatch):
    server.add_file("/m.dat", random_bytes(2**20))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert cli("pull", server.url + "/m.dat").code == 0
    assert proxy.log == []


def test_wrong_proxy_password_is_one_line_naming_the_proxy(
        cli, tls_origin: LocalServer, proxy: ForwardProxy, random_bytes,
        monkeypatch: pytest.MonkeyPatch):
    tls_origin.add_file("/m.dat", random_bytes(2**20))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url_with("alice", "not-" + SECRET))
    monkeypatch.delenv("NO_PROXY")
    result = cli("pull", tls_origin.url + "/m.dat")
    assert result.code == 1
    assert result.err.strip().count("\n") == 0 and "Traceback" not in result.err
    assert f"proxy http://***@127.0.0.1:{proxy.port}: HTTP 407" in result.err
    assert SECRET not in result.out + result.err
    assert tls_origin.log == []
    assert cli("ls", "--json").json["models"] == []


def test_unreachable_proxy_is_named_in_the_error(
        cli, server: LocalServer, random_bytes, unused_port: int, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "config.toml").write_text("[transfer]\nretries = 1\n")
    server.add_file("/m.dat", random_bytes(2**20))
    monkeypatch.setenv("HTTP_PROXY", f"http://alice:{SECRET}@127.0.0.1:{unused_port}")
    monkeypatch.delenv("NO_PROXY")
    result = cli("pull", server.url + "/m.dat")
    assert result.code == 1
    assert f"proxy http://***@127.0.0.1:{unused_port}: connection refused" in result.err
    assert SECRET not in result.out + result.err
    assert server.log == []


def test_config_shows_proxies_without_their_passwords(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://alice:{SECRET}@proxy.corp:3128")
    monkeypatch.setenv("http_proxy", "http://plain.corp:8080")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    result = cli("config", "--json")
    assert result.json["proxies"] == {"https": "http://***@proxy.corp:3128",
                                      "http": "http://plain.corp:8080",
                                      "no_proxy": "localhost,.internal"}
    human = cli("config")
    assert SECRET not in result.out + result.err + human.out + human.err
