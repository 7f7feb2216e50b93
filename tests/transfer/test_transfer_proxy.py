"""Downloads through an HTTP proxy: absolute-URI forwarding for http, CONNECT tunnels for https,
NO_PROXY, proxy credentials that reach the proxy alone and never show up in an error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from modelshelf.config import load_settings
from modelshelf.errors import AuthError, ConfigError, NetworkError
from modelshelf.testing.proxy import ForwardProxy
from modelshelf.testing.server import LocalServer
from modelshelf.transfer import Endpoint, NetworkPolicy, ProxyRules, download, open_remote

from .conftest import interrupt_download, sha

SECRET = "pa55-w0rd-SECRET"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as running:
        yield running


@pytest.fixture
def auth_proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy(credentials=("alice", SECRET)) as running:
        yield running


@pytest.fixture(params=["http", "https"])
def origin(request: pytest.FixtureRequest) -> LocalServer:
    """The origin server, once over http and once over https (self-signed)."""
    name = "server" if request.param == "http" else "tls_server"
    origin: LocalServer = request.getfixturevalue(name)
    return origin


def through(proxy_url: str, no_proxy: str = "") -> ProxyRules:
    return ProxyRules({"http": proxy_url, "https": proxy_url}, no_proxy)


def test_http_download_is_forwarded_by_the_proxy(
        server: LocalServer, proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    result = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging,
                      replace(fast, proxies=ProxyRules({"http": proxy.url})))
    assert result.path.read_bytes() == payload and result.connections_used > 1
    assert {(r.method, r.target) for r in proxy.log} == {("GET", server.url + "/m.bin")}
    assert len(proxy.log) == len(server.requests_for("/m.bin"))  # every request went through it


def test_https_download_goes_through_a_connect_tunnel(
        tls_server: LocalServer, proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy) -> None:
    tls_server.add_file("/m.bin", payload)
    result = download(Endpoint(tls_server.url + "/m.bin", expected_sha256=sha(payload)), staging,
                      replace(fast, verify_ssl=False, proxies=ProxyRules({"https": proxy.url})))
    assert result.path.read_bytes() == payload and result.connections_used > 1
    assert {(r.method, r.target) for r in proxy.log} == {("CONNECT", f"127.0.0.1:{tls_server.port}")}
    gets = tls_server.requests_for("/m.bin")
    assert gets and all(r.range for r in gets)


def test_tunnelled_https_still_checks_the_certificate(
        tls_server: LocalServer, proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy) -> None:
    tls_server.add_file("/m.bin", payload)
    with pytest.raises(NetworkError, match="certificate"):
        download(tls_server.url + "/m.bin", staging, replace(fast, proxies=through(proxy.url)))
    assert [r.method for r in proxy.log] == ["CONNECT"]
    assert tls_server.requests_for("/m.bin") == []


def test_all_proxy_is_the_fallback_for_either_scheme(
        origin: LocalServer, proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy) -> None:
    origin.add_file("/m.bin", payload)
    result = download(origin.url + "/m.bin", staging,
                      replace(fast, verify_ssl=False, proxies=ProxyRules({"all": proxy.url})))
    assert result.path.read_bytes() == payload
    assert proxy.log


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "localhost, 127.0.0.1", "{port}"])
def test_no_proxy_goes_direct(
        origin: LocalServer, proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy, no_proxy: str) -> None:
    origin.add_file("/m.bin", payload)
    bypass = no_proxy.format(port=f"127.0.0.1:{origin.port}")
    result = download(origin.url + "/m.bin", staging,
                      replace(fast, verify_ssl=False, proxies=through(proxy.url, bypass)))
    assert result.path.read_bytes() == payload
    assert proxy.log == []


def test_no_proxy_for_another_host_keeps_the_proxy(
        server: LocalServer, proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    download(server.url + "/m.bin", staging,
             replace(fast, proxies=through(proxy.url, "example.com,127.0.0.2")))
    assert proxy.log


def test_proxy_credentials_reach_the_proxy_and_never_the_origin(
        origin: LocalServer, auth_proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy) -> None:
    origin.add_file("/m.bin", payload)
    result = download(Endpoint(origin.url + "/m.bin", expected_sha256=sha(payload)), staging,
                      replace(fast, verify_ssl=False, proxies=through(auth_proxy.url_with("alice", SECRET))))
    assert result.path.read_bytes() == payload
    assert auth_proxy.log and all(r.proxy_auth and r.status != 407 for r in auth_proxy.log)
    sent_to_origin = [key.lower() for r in origin.log for key in r.headers]
    assert sent_to_origin and "proxy-authorization" not in sent_to_origin


@pytest.mark.parametrize(("user", "cause"), [("alice:wrong-" + SECRET, "credentials not accepted"),
                                             (None, "asks for credentials")])
def test_407_is_one_final_error_naming_the_proxy_without_secrets(
        origin: LocalServer, auth_proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy, user: str | None, cause: str) -> None:
    origin.add_file("/m.bin", payload)
    url = auth_proxy.url if user is None else auth_proxy.url.replace("//", f"//{user}@")
    with pytest.raises(AuthError) as caught:
        download(origin.url + "/m.bin", staging,
                 replace(fast, verify_ssl=False, proxies=through(url)))
    message = str(caught.value)
    shown = f"http://{'***@' if user else ''}127.0.0.1:{auth_proxy.port}"
    assert message.startswith(f"proxy {shown}: HTTP 407") and cause in message
    assert SECRET not in message and "\n" not in message
    assert len(auth_proxy.log) == 1  # final: not retried
    assert origin.log == []


def test_refusing_proxy_is_named_in_the_error(
        server: LocalServer, unused_port: int, payload: bytes, staging: Path,
        fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    dead = f"http://alice:{SECRET}@127.0.0.1:{unused_port}"
    with pytest.raises(NetworkError) as caught:
        download(server.url + "/m.bin", staging, replace(fast, proxies=through(dead)))
    message = str(caught.value)
    assert f"proxy http://***@127.0.0.1:{unused_port}: connection refused" in message
    assert SECRET not in message
    assert server.log == []


@pytest.mark.parametrize("url", ["socks5://alice:" + SECRET + "@127.0.0.1:1080",
                                 "http://alice:" + SECRET + "@127.0.0.1:notaport"])
def test_unusable_proxy_url_is_a_config_error_without_secrets(
        server: LocalServer, staging: Path, fast: NetworkPolicy, url: str) -> None:
    server.add_file("/m.bin", b"x" * 1000)
    with pytest.raises(ConfigError, match=r"proxy \w+://\*\*\*@127\.0\.0\.1") as caught:
        download(server.url + "/m.bin", staging, replace(fast, proxies=ProxyRules({"all": url})))
    assert SECRET not in str(caught.value)


def test_resume_through_the_proxy_fetches_only_what_is_missing(
        server: LocalServer, proxy: ForwardProxy, payload: bytes, staging: Path,
        fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    proxied = replace(fast, proxies=through(proxy.url))
    interrupt_download(server, staging, proxied)
    result = download(server.url + "/m.bin", staging, proxied)
    assert result.resumed and 0 < result.bytes_downloaded < len(payload)
    assert result.path.read_bytes() == payload
    assert len(proxy.log) == len(server.requests_for("/m.bin"))


def test_header_reads_go_through_the_proxy(tls_server: LocalServer, proxy: ForwardProxy,
                                           payload: bytes) -> None:
    tls_server.add_file("/m.bin", payload)
    policy = NetworkPolicy(verify_ssl=False, proxies=through(proxy.url), retry_base_delay=0.01)
    with open_remote(tls_server.url + "/m.bin", policy) as reader:
        assert reader.read_at(10, 20) == payload[10:30]
    assert proxy.log and all(r.method == "CONNECT" for r in proxy.log)


@pytest.mark.parametrize(("env", "expected"), [
    ({"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:1"}, {"http": "http://lower:1"}),
    ({"HTTPS_PROXY": "http://upper:1", "https_proxy": ""}, {}),
    ({"ALL_PROXY": "http://all:1", "HTTPS_PROXY": "http://s:1"},
     {"all": "http://all:1", "https": "http://s:1"}),
    ({"HTTP_PROXY": "http://cgi:1", "REQUEST_METHOD": "GET"}, {}),
])
def test_settings_read_proxy_variables_as_urllib_does(
        tmp_path: Path, env: dict[str, str], expected: dict[str, str]) -> None:
    settings = load_settings({**env, "NO_PROXY": "a.example", "no_proxy": "b.example",
                              "MODELSHELF_CONFIG": str(tmp_path / "config.toml")}, home=tmp_path)
    assert settings.proxies.reveal() == expected
    assert settings.proxies.no_proxy == "b.example"
    assert "upper" not in repr(settings) and "lower" not in repr(settings)
