"""``serve --mirror`` with the real huggingface_hub client: the store answers, a miss is pulled
through from the upstream Hub once."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError

from modelshelf.api import Shelf
from modelshelf.server.mirror import MirrorServer
from modelshelf.testing.factories.files import write_safetensors
from modelshelf.testing.hub import FakeHub

CONFIG = b'{"model_type": "bert", "hidden_size": 8}'


@pytest.fixture
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    weights = write_safetensors(tmp_path / "w.safetensors", {"a.weight": (8, 8)}, fill="random")
    other = write_safetensors(tmp_path / "o.safetensors", {"b.weight": (4, 4)}, fill="random", seed=3)
    with FakeHub() as hub:
        hub.add_repo("org/stored", {"config.json": CONFIG, "model.safetensors": weights,
                                    "sub/notes.txt": b"hello"})
        hub.add_repo("org/missing", {"config.json": CONFIG, "model.safetensors": other})
        monkeypatch.setenv("HF_ENDPOINT", hub.url)  # the mirror's upstream
        yield hub


@pytest.fixture
def shelf(upstream: FakeHub) -> Shelf:
    shelf = Shelf()
    assert shelf.pull("hf:org/stored").linked
    upstream.wait_idle()
    upstream.clear_log()
    return shelf


def _api_requests(hub: FakeHub) -> list[str]:
    hub.wait_idle()
    return [f"{r.method} {r.path}" for r in hub.log]


def test_a_stored_repo_is_served_without_asking_upstream(tmp_path: Path, shelf: Shelf,
                                                         upstream: FakeHub) -> None:
    with MirrorServer(shelf) as mirror:
        one = hf_hub_download("org/stored", "config.json", endpoint=mirror.url,
                              cache_dir=tmp_path / "c1")
        snap = Path(snapshot_download("org/stored", endpoint=mirror.url, cache_dir=tmp_path / "c2"))
    assert Path(one).read_bytes() == CONFIG
    assert (snap / "model.safetensors").read_bytes() == upstream.file(
        "org/stored", "model.safetensors").data.read_bytes()  # type: ignore[union-attr]
    assert (snap / "sub" / "notes.txt").read_bytes() == b"hello"
    assert snap.name == upstream.repos["org/stored"].refs["main"]  # the commit, as from the Hub
    assert _api_requests(upstream) == []


def test_a_miss_is_pulled_through_once(tmp_path: Path, shelf: Shelf, upstream: FakeHub) -> None:
    with MirrorServer(shelf) as mirror:
        first = Path(snapshot_download("org/missing", endpoint=mirror.url,
                                       cache_dir=tmp_path / "c1"))
        assert _api_requests(upstream)  # fetched from upstream
        upstream.clear_log()
        second = Path(snapshot_download("org/missing", endpoint=mirror.url,
                                        cache_dir=tmp_path / "c2"))
        single = hf_hub_download("org/missing", "config.json", endpoint=mirror.url,
                                 cache_dir=tmp_path / "c3")
    assert sorted(p.name for p in second.iterdir()) == ["config.json", "model.safetensors"]
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert Path(single).read_bytes() == CONFIG
    assert _api_requests(upstream) == []
    assert "missing" in {m.name for m in shelf.list()}


def test_a_single_file_miss_and_an_unknown_repo(tmp_path: Path, shelf: Shelf,
                                                upstream: FakeHub) -> None:
    upstream.add_repo("org/third", {"config.json": b"{}", "big.safetensors": b"\0" * 64})
    with MirrorServer(shelf) as mirror:
        got = hf_hub_download("org/third", "config.json", endpoint=mirror.url,
                              cache_dir=tmp_path / "c1")
        assert Path(got).read_bytes() == b"{}"
        with pytest.raises(HfHubHTTPError) as info:
            hf_hub_download("org/nope", "config.json", endpoint=mirror.url,
                            cache_dir=tmp_path / "c2")
    assert info.value.response.status_code in (401, 404)


def test_range_requests_and_headers(shelf: Shelf, upstream: FakeHub) -> None:
    weights = upstream.file("org/stored", "model.safetensors")
    with MirrorServer(shelf) as mirror:
        url = f"{mirror.url}/org/stored/resolve/main/model.safetensors"
        head = urllib.request.urlopen(urllib.request.Request(url, method="HEAD"))
        ranged = urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=8-15"}))
        body = ranged.read()
    assert head.headers["X-Linked-Etag"] == f'"{weights.sha256}"'
    assert head.headers["X-Linked-Size"] == str(weights.size)
    assert head.headers["X-Repo-Commit"] == upstream.repos["org/stored"].refs["main"]
    assert ranged.status == 206 and body == weights.data.read_bytes()[8:16]  # type: ignore[union-attr]
    assert ranged.headers["Content-Range"] == f"bytes 8-15/{weights.size}"


def test_tokens_guard_the_mirror(tmp_path: Path, shelf: Shelf) -> None:
    with MirrorServer(shelf, tokens=["team-secret"]) as mirror:
        with pytest.raises(HfHubHTTPError) as info:
            hf_hub_download("org/stored", "config.json", endpoint=mirror.url,
                            cache_dir=tmp_path / "c1")
        assert info.value.response.status_code == 401
        with pytest.raises(urllib.error.HTTPError) as raw:
            urllib.request.urlopen(f"{mirror.url}/api/models/org/stored",
                                   ).read()
        assert raw.value.code == 401
        got = hf_hub_download("org/stored", "config.json", endpoint=mirror.url,
                              cache_dir=tmp_path / "c2", token="team-secret")
    assert Path(got).read_bytes() == CONFIG


def test_only_the_mirror_listens_beyond_loopback(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("serve", "--host", "0.0.0.0")  # the web page (no --mirror) is for this machine
    assert out.code == 2 and "--mirror" in out.err


def test_serve_mirror_from_the_command_line(tmp_path: Path, upstream: FakeHub,
                                            serve_cli) -> None:  # type: ignore[no-untyped-def]
    started = serve_cli("--mirror")
    assert started["upstream"] == upstream.url and started["tokens"] is False
    got = hf_hub_download("org/missing", "config.json", endpoint=started["url"],
                          cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == CONFIG


def test_mirror_tokens_come_from_config_and_stay_secret(tmp_path: Path, upstream: FakeHub,
                                                        cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "config.toml").write_text('[mirror]\ntokens = ["config-secret-1"]\n')
    shown = cli("config", "--json")
    assert shown.code == 0 and shown.json["mirror"]["tokens"] == ["***"]
    assert "config-secret-1" not in shown.out
    with MirrorServer(Shelf()) as mirror:
        request = urllib.request.Request(f"{mirror.url}/api/models/org/missing")
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(request)
        assert denied.value.code == 401
        request.add_header("Authorization", "Bearer config-secret-1")
        assert urllib.request.urlopen(request).status == 200


def test_private_and_gated_upstream_repos_are_not_served(tmp_path: Path, shelf: Shelf,
                                                         upstream: FakeHub,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    upstream.add_repo("org/private", {"config.json": CONFIG}, private=True, tokens=("hf-tok",))
    upstream.add_repo("org/gated", {"config.json": CONFIG}, gated="auto", tokens=("hf-tok",))
    monkeypatch.setenv("HF_TOKEN", "hf-tok")  # the mirror's own token can read both
    with MirrorServer(Shelf()) as mirror:
        for repo, status in (("org/private", 404), ("org/gated", 403)):
            for attempt in range(2):  # the second time from the store: still refused
                with pytest.raises(HfHubHTTPError) as info:
                    hf_hub_download(repo, "config.json", endpoint=mirror.url,
                                    cache_dir=tmp_path / f"c{repo[4:]}{attempt}", token=False)
                assert info.value.response.status_code == status, (repo, attempt)


def test_a_granted_client_sees_private_repos_and_no_other_client_does(
        tmp_path: Path, upstream: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: private upstream repos only for tokens allowed to see them."""
    upstream.add_repo("acme/private", {"config.json": CONFIG}, private=True, tokens=("hf-tok",))
    monkeypatch.setenv("HF_TOKEN", "hf-tok")  # the mirror's own token reads it
    (tmp_path / "config.toml").write_text(
        '[mirror]\ntokens = ["plain-client"]\n'
        '[[mirror.grants]]\ntoken = "acme-client"\nrepos = ["acme/*"]\n')
    with MirrorServer(Shelf()) as mirror:
        for attempt in range(2):  # pulled through on the first, from the store on the second
            got = hf_hub_download("acme/private", "config.json", endpoint=mirror.url,
                                  cache_dir=tmp_path / f"granted{attempt}", token="acme-client")
            assert Path(got).read_bytes() == CONFIG
            with pytest.raises(HfHubHTTPError) as refused:
                hf_hub_download("acme/private", "config.json", endpoint=mirror.url,
                                cache_dir=tmp_path / f"plain{attempt}", token="plain-client")
            assert refused.value.response.status_code == 404  # no sign that it exists
        # the granted token is also a valid token for public repos
        assert hf_hub_download("org/missing", "config.json", endpoint=mirror.url,
                               cache_dir=tmp_path / "public", token="acme-client")
    shown = Shelf().settings.to_json()["mirror"]
    assert shown["grants"] == [{"token": "***", "repos": ["acme/*"]}]
