"""Issue 8, "Secrets and network": what a hostile or broken server can do to a pull, seen from
the command line. Each test pins one hole: a token sent where it must not go, a download that
never ends, encoded bytes stored as the model, a redirect reported as the user's mistake, a
configured token printed, a name the dry run and the pull disagree on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.secrets import Credentials
from modelshelf.testing.server import LocalServer, Response
from modelshelf.transfer import Endpoint, NetworkPolicy, open_remote

TOKEN = "tok-5ecret-4242"


@pytest.fixture
def other() -> Iterator[LocalServer]:
    """A second server on the same host (127.0.0.1), another port."""
    with LocalServer() as srv:
        yield srv


def _authorizations(server: LocalServer, path: str) -> list[str | None]:
    return [next((v for k, v in r.headers.items() if k.lower() == "authorization"), None)
            for r in server.requests_for(path)]


def _blobs(home: Path) -> list[Path]:
    return [p for p in (home / "blobs").rglob("*") if p.is_file()]


def _redirect(server: LocalServer, path: str, location: str) -> None:
    server.add_route("GET", path, lambda _req: Response(302, headers={"Location": location}))


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _refused(cli, url: str, home: Path, cause: str) -> None:
    """The pull fails with one line naming ``cause``, and no byte of it reaches the store."""
    result = cli("pull", url)
    assert result.code == 1
    assert cause in _one_line(result.err)
    assert _blobs(home) == []
    assert cli("ls", "--json").json["models"] == []


def test_token_never_reaches_another_port_of_the_same_host(
        cli, server: LocalServer, other: LocalServer, isolated_env: Path) -> None:
    other.add_file("/m.bin", b"model bytes" * 1000)
    _redirect(server, "/m.bin", other.url + "/m.bin")
    result = cli("pull", server.url + "/m.bin", "--token", TOKEN)
    assert result.code == 0, result.err
    assert _authorizations(server, "/m.bin") == [f"Bearer {TOKEN}"]
    assert set(_authorizations(other, "/m.bin")) == {None}


def test_a_login_in_the_url_is_sent_as_basic_auth_to_its_origin_only(
        cli, server: LocalServer, other: LocalServer, isolated_env: Path) -> None:
    """As wget and curl do: ``http://user:pass@host/file`` logs in with Basic auth — on that
    origin alone, and the password is never shown or stored."""
    other.add_file("/m.bin", b"model bytes" * 1000)
    _redirect(server, "/m.bin", other.url + "/m.bin")
    url = server.url.replace("://", "://ann:pa%24%24word@") + "/m.bin"
    result = cli("pull", url, "--json")
    assert result.code == 0, result.err
    assert _authorizations(server, "/m.bin") == ["Basic YW5uOnBhJCR3b3Jk"]  # ann:pa$$word
    assert set(_authorizations(other, "/m.bin")) == {None}
    assert "pa%24%24word" not in result.out and "pa$$word" not in result.out


def test_header_reads_keep_the_token_on_its_origin(server: LocalServer,
                                                   other: LocalServer) -> None:
    data = b"header" * 5000
    other.add_file("/m.bin", data)
    _redirect(server, "/m.bin", other.url + "/m.bin")
    url = server.url + "/m.bin"
    endpoint = Endpoint(url, Credentials.for_url({"Authorization": f"Bearer {TOKEN}"}, url))
    with open_remote(endpoint, NetworkPolicy(retry_base_delay=0.01)) as reader:
        assert reader.read_at(100, 50) == data[100:150]
    assert set(_authorizations(other, "/m.bin")) == {None}


@pytest.mark.parametrize("target", ["http://files.example:443/m.bin",  # https -> http
                                    "https://files.example:8443/m.bin",  # another port
                                    "https://cdn.example/m.bin"])  # another host
def test_credentials_are_scoped_by_scheme_host_and_port(target: str) -> None:
    creds = Credentials.for_url({"Authorization": "Bearer t"}, "https://FILES.example/a")
    assert creds.headers_for("https://files.example:443/b") == {"Authorization": "Bearer t"}
    assert creds.headers_for(target) == {}


def test_a_206_shorter_than_its_range_fails_after_bounded_tries(
        cli, server: LocalServer, tmp_path: Path, isolated_env: Path) -> None:
    """It used to loop for ever: each short body counted as progress."""
    (tmp_path / "config.toml").write_text("[transfer]\nretries = 3\n")
    server.add_file("/m.bin", b"m" * (3 * 2**20))
    server.faults.bad_length = 1000  # every 206 announces (and sends) 1 KiB less
    _refused(cli, server.url + "/m.bin", isolated_env, "Content-Length")
    assert len(server.requests_for("/m.bin")) == 3


def test_a_range_past_the_total_is_refused_before_writing(
        cli, server: LocalServer, tmp_path: Path, isolated_env: Path) -> None:
    (tmp_path / "config.toml").write_text("[transfer]\nretries = 2\n")
    server.add_file("/m.bin", b"m" * 100_000)
    server.faults.bad_range = 1000  # every Content-Range ends past its total
    _refused(cli, server.url + "/m.bin", isolated_env, "impossible range")


def test_a_gzip_body_is_never_stored_as_the_model(cli, server: LocalServer,
                                                  isolated_env: Path) -> None:
    server.add_file("/m.bin", b"model bytes " * 10_000)
    server.faults.gzip_bodies = 1000
    _refused(cli, server.url + "/m.bin", isolated_env, "gzip")
    assert len(server.requests_for("/m.bin")) == 1  # final: asking again gets the same


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://bob:hunter2@files.example/m",
                                      "http://[::1/m.bin"])
def test_a_redirect_to_a_non_http_url_is_a_failure_not_a_usage_error(
        cli, server: LocalServer, location: str) -> None:
    _redirect(server, "/m.bin", location)
    result = cli("pull", server.url + "/m.bin")
    assert result.code == 1
    line = _one_line(result.err)
    assert f"{server.url}/m.bin" in line and "redirected" in line
    assert "hunter2" not in line and "internal error" not in line


@pytest.mark.parametrize("url", ["http://[::1/m.bin", "http://bob:hunter2@127.0.0.1:99999/m"])
def test_a_malformed_url_is_one_line_naming_it(cli, url: str) -> None:
    result = cli("pull", url)
    assert result.code == 1
    line = _one_line(result.err)
    assert "malformed URL" in line and "internal error" not in line and "hunter2" not in line


def test_a_token_from_config_toml_is_scrubbed_from_errors(
        cli, unused_port: int, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(f'[sources.url]\ntoken = "{TOKEN}"\n'
                                          "[transfer]\nretries = 1\n")
    url = f"http://127.0.0.1:{unused_port}/{TOKEN}/m.bin"
    result = cli("pull", url)
    assert result.code == 1
    assert TOKEN not in result.err and "***" in _one_line(result.err)
    as_json = cli("pull", "--json", url)
    assert TOKEN not in as_json.out and "***" in as_json.out


def test_dry_run_and_pull_agree_on_the_file_name(cli, server: LocalServer) -> None:
    server.add_file("/x/b%23c.safetensors", b"weights" * 100)
    url = server.url + "/x/b%23c.safetensors"
    planned = cli("pull", "--dry-run", "--json", url).json["results"][0]["plan"]
    pulled = cli("pull", "--json", url).json["results"][0]["files"]
    assert [p["path"] for p in planned] == [f["path"] for f in pulled] == ["b_c.safetensors"]
