"""Civitai against the fake API on 127.0.0.1 (storage redirects to ``localhost``)."""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest

from modelshelf.config import Settings, load_settings
from modelshelf.errors import BadContent, NetworkError, RemoteNotFound, TokenRequired
from modelshelf.sources import civitai, resolve
from modelshelf.sources.base import RemoteFile, ResolveOptions
from modelshelf.testing.civitai import TOKEN, FakeCivitai, FakeFile, FakeVersion, tiny_png
from modelshelf.testing.server import LocalServer

WITH_TOKEN = ResolveOptions(token=TOKEN)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses between retries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(civitai, "sleep", recorded.append)
    return recorded


def _authorization(civ: FakeCivitai, path_prefix: str) -> list[str | None]:
    return [next((v for k, v in r.headers.items() if k.lower() == "authorization"), None)
            for r in civ.log if r.path.startswith(path_prefix)]


def _fetch_like_the_engine(remote: RemoteFile) -> httpx.Response:
    """Follow the redirect chain sending the credentials only to their origin, as the engine
    does."""
    url = str(remote.url)
    with httpx.Client() as client:
        for _ in range(5):
            send = remote.credentials.headers_for(url)
            response = client.get(url, headers=dict(send))
            if not response.is_redirect:
                return response
            url = response.headers["Location"]
    raise AssertionError("redirect loop")


def test_version_reference(civitai_server: FakeCivitai, civitai_settings: Settings) -> None:
    res = resolve("civitai:1001", civitai_settings)
    assert (res.source, res.revision, res.name) == ("civitai", "1001", "tinyCheckpoint_v10")
    (file,) = res.files
    assert file.path == "tinyCheckpoint_v10.safetensors"
    data = civitai_server.primary_bytes(1001)
    assert file.sha256 == hashlib.sha256(data).hexdigest()  # lower-case
    assert file.size == len(data)  # exact, from storage; sizeKB is only an estimate
    assert res.metadata["size_estimate"] == pytest.approx(len(data), abs=10)
    (probe,) = [r for r in civitai_server.log if r.path.startswith("/storage/")]
    assert probe.range == "bytes=0-0" and probe.bytes_sent == 1
    assert file.url == f"{civitai_server.url}/api/download/models/1001"
    assert (res.type_hint, res.architecture_hint) == ("checkpoints", "sd15")
    assert res.source_url == f"{civitai_server.url}/models/100?modelVersionId=1001"
    assert not res.is_repo


def test_model_reference_takes_the_latest_version(civitai_server: FakeCivitai,
                                                  civitai_settings: Settings) -> None:
    res = resolve("civitai:model/100", civitai_settings)
    assert res.revision == "1002" and res.architecture_hint == "sdxl"
    civitai_server.add_version(100, FakeVersion(1003, [FakeFile("v3.safetensors", b"v3" * 99)],
                                                base_model="Pony"))
    assert resolve("civitai:model/100", civitai_settings).revision == "1003"
    pinned = resolve("civitai:model/100", civitai_settings, ResolveOptions(revision="1001"))
    assert pinned.revision == "1001"  # a lock file keeps the version it resolved


@pytest.mark.parametrize(("path", "version"), [
    ("/models/100", "1002"),
    ("/models/100/tiny-checkpoint?modelVersionId=1001", "1001"),
    ("/api/download/models/1001", "1001"),
])
def test_url_forms_against_the_configured_endpoint(civitai_server: FakeCivitai,
                                                   civitai_settings: Settings, path: str,
                                                   version: str) -> None:
    assert resolve(civitai_server.url + path, civitai_settings).revision == version


def test_primary_file_is_chosen_and_metadata_kept(civitai_server: FakeCivitai,
                                                  civitai_settings: Settings) -> None:
    res = resolve("civitai:2001", civitai_settings, WITH_TOKEN)
    assert [f.path for f in res.files] == ["gatedLora.safetensors"]  # not the training zip
    assert (res.type_hint, res.architecture_hint) == ("loras", "flux-dev")
    assert res.metadata["trainedWords"] == ["tinystyle"]
    assert res.metadata["model"]["type"] == "LORA"
    assert "description" not in res.metadata
    json.dumps(dict(res.metadata))  # JSON-able, ready for the registry


def test_no_primary_flag_takes_the_model_file(civitai_settings: Settings) -> None:
    res = resolve("civitai:3001", civitai_settings)
    assert [f.path for f in res.files] == ["old.pt"]
    assert (res.type_hint, res.architecture_hint) == ("embeddings", "sd15")
    assert set(res.extras) == {"civitai.json"}  # that version has no preview image


def test_snapshot_extras(civitai_server: FakeCivitai, civitai_settings: Settings) -> None:
    res = resolve("civitai:1002", civitai_settings)
    snapshot = json.loads(res.extras["civitai.json"])
    assert snapshot["id"] == 1002 and snapshot["description"]  # verbatim, description included
    assert snapshot["files"][0]["hashes"]["AutoV2"] == res.files[0].sha256[:10].upper()
    assert res.extras["preview.png"] == tiny_png()
    previews = [r for r in civitai_server.log if r.path.startswith("/images/")]
    assert [r.host.split(":")[0] for r in previews] == ["localhost"]  # the image host


def test_size_stays_unknown_when_storage_will_not_say(civitai_server: FakeCivitai,
                                                      civitai_settings: Settings) -> None:
    civitai_server.faults.error_burst = 1  # the one-byte probe gets a 503
    res = resolve("civitai:1001", civitai_settings)
    assert res.files[0].size is None and res.files[0].sha256


def test_oversized_preview_is_skipped(civitai_server: FakeCivitai, civitai_settings: Settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(civitai, "MAX_PREVIEW_BYTES", 10)
    res = resolve("civitai:1002", civitai_settings)
    assert set(res.extras) == {"civitai.json"}


def test_token_goes_to_the_api_host_only(civitai_server: FakeCivitai,
                                         civitai_settings: Settings) -> None:
    res = resolve("civitai:2001", civitai_settings, WITH_TOKEN)
    (file,) = res.files
    assert file.credentials.headers == {"Authorization": f"Bearer {TOKEN}"}
    assert file.credentials.origin == f"http://127.0.0.1:{civitai_server.port}"
    response = _fetch_like_the_engine(file)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == file.sha256
    assert set(_authorization(civitai_server, "/api/")) == {f"Bearer {TOKEN}"}
    storage = [r for r in civitai_server.log if r.path.startswith("/storage/")]
    assert [r.host.split(":")[0] for r in storage] == ["localhost", "localhost"]  # size, bytes
    assert _authorization(civitai_server, "/storage/") == [None, None]
    assert _authorization(civitai_server, "/images/") == [None]


def test_token_from_environment_and_ranges_on_storage(civitai_server: FakeCivitai,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civitai_server.url)
    monkeypatch.setenv("CIVITAI_API_TOKEN", TOKEN)
    (file,) = resolve("civitai:2001", load_settings()).files
    with httpx.Client(follow_redirects=True) as client:
        part = client.get(str(file.url), headers={**file.credentials.headers, "Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == civitai_server.primary_bytes(2001)[10:20]


def test_transfer_engine_keeps_the_token_off_the_storage_host(
        civitai_server: FakeCivitai, civitai_settings: Settings, tmp_path: Path,
) -> None:
    transfer = pytest.importorskip("modelshelf.transfer")
    (file,) = resolve("civitai:2001", civitai_settings, WITH_TOKEN).files
    result = transfer.download(
        transfer.Endpoint(str(file.url), file.credentials, file.sha256), tmp_path,
        transfer.NetworkPolicy(connections=2))
    assert result.sha256 == file.sha256
    assert set(_authorization(civitai_server, "/storage/")) == {None}


def test_token_never_reaches_storage_on_another_port_of_the_api_host(
        civitai_server: FakeCivitai, civitai_settings: Settings, tmp_path: Path) -> None:
    """Credentials are scoped by origin: the same host name on another port is someone else."""
    from modelshelf.transfer import Endpoint, NetworkPolicy, download

    with LocalServer() as storage:
        civitai_server.storage = storage
        (file,) = resolve("civitai:2001", civitai_settings, WITH_TOKEN).files
        assert file.url is not None
        result = download(Endpoint(file.url, file.credentials, file.sha256), tmp_path,
                          NetworkPolicy(connections=2, retry_base_delay=0.01))
        assert result.sha256 == file.sha256
        assert set(_authorization(storage, "/storage/")) == {None}
    assert set(_authorization(civitai_server, "/api/download/")) == {f"Bearer {TOKEN}"}


def test_gated_model_without_token(civitai_settings: Settings) -> None:
    with pytest.raises(TokenRequired, match=r"^civitai:2001: this model needs a Civitai API token "
                                            r"\(set CIVITAI_API_TOKEN or --token\)$"):
        resolve("civitai:2001", civitai_settings)


def test_login_redirect_means_a_token_is_needed(civitai_server: FakeCivitai,
                                                civitai_settings: Settings) -> None:
    civitai_server.login_redirect = True
    with pytest.raises(TokenRequired, match="needs a Civitai API token"):
        resolve("civitai:2001", civitai_settings)
    assert not [r for r in civitai_server.log if r.path == "/login"]  # not followed
    assert resolve("civitai:2001", civitai_settings, WITH_TOKEN).revision == "2001"


def test_wrong_token_is_named_as_refused(civitai_settings: Settings) -> None:
    with pytest.raises(TokenRequired, match="refused the API token"):
        resolve("civitai:2001", civitai_settings, ResolveOptions(token="nope"))


@pytest.mark.parametrize("status", [401, 403])
def test_api_refusal_is_token_required(civitai_server: FakeCivitai, civitai_settings: Settings,
                                       status: int) -> None:
    civitai_server.fail_next(status)
    with pytest.raises(TokenRequired, match="needs a Civitai API token") as caught:
        resolve("civitai:1001", civitai_settings)
    assert isinstance(caught.value, PermissionError) and caught.value.exit_code == 1


@pytest.mark.parametrize("ref", ["civitai:999999", "civitai:model/999999"])
def test_not_found(civitai_settings: Settings, ref: str) -> None:
    with pytest.raises(RemoteNotFound, match="404") as caught:
        resolve(ref, civitai_settings)
    assert isinstance(caught.value, FileNotFoundError)


def test_rate_limit_honours_retry_after(civitai_server: FakeCivitai, civitai_settings: Settings,
                                        waits: list[float]) -> None:
    civitai_server.rate_limit(2, retry_after="3")
    assert resolve("civitai:1001", civitai_settings).revision == "1001"
    assert waits == [3.0, 3.0]
    statuses = [r.status for r in civitai_server.log if r.path == "/api/v1/model-versions/1001"]
    assert statuses == [429, 429, 200]


def test_rate_limit_gives_up_after_bounded_tries(civitai_server: FakeCivitai,
                                                 civitai_settings: Settings,
                                                 waits: list[float]) -> None:
    civitai_server.rate_limit(50, retry_after="1")
    with pytest.raises(NetworkError, match="429"):
        resolve("civitai:1001", civitai_settings)
    assert len(waits) == civitai.MAX_TRIES - 1
    assert len(civitai_server.requests_for("/api/v1/model-versions/1001")) == civitai.MAX_TRIES


def test_long_retry_after_is_reported_not_waited(civitai_server: FakeCivitai,
                                                 civitai_settings: Settings,
                                                 waits: list[float]) -> None:
    civitai_server.rate_limit(1, retry_after="3600")
    with pytest.raises(NetworkError, match="wait 3600 s"):
        resolve("civitai:1001", civitai_settings)
    assert waits == []


def test_server_errors_are_retried(civitai_server: FakeCivitai, civitai_settings: Settings,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(civitai, "sleep", lambda seconds: None)
    civitai_server.fail_next(503, count=2)
    assert resolve("civitai:model/100", civitai_settings).revision == "1002"


def test_unreachable_host_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(civitai, "sleep", lambda seconds: None)
    with FakeCivitai() as gone:
        url = gone.url
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", url)
    with pytest.raises(NetworkError, match=r"cannot reach 127\.0\.0\.1"):
        resolve("civitai:1", load_settings())


def test_html_instead_of_json(civitai_server: FakeCivitai, civitai_settings: Settings) -> None:
    civitai_server.maintenance = True
    with pytest.raises(BadContent, match="text/html"):
        resolve("civitai:1001", civitai_settings)


@pytest.mark.parametrize(("civitai_type", "expected"), [
    ("Checkpoint", "checkpoints"), ("LORA", "loras"), ("LoCon", "loras"), ("DoRA", "loras"),
    ("TextualInversion", "embeddings"), ("VAE", "vae"), ("Controlnet", "controlnet"),
    ("Upscaler", "upscale_models"), ("Hypernetwork", "other"), ("Poses", "other"),
    ("Wildcards", "other"), ("Other", "other"), ("SomethingNew", None), (None, None),
])
def test_type_table(civitai_type: str | None, expected: str | None) -> None:
    assert civitai.type_of(civitai_type) == expected


@pytest.mark.parametrize(("base_model", "expected"), [
    ("SD 1.5", "sd15"), ("SD 1.4", "sd15"), ("SD 1.5 LCM", "sd15"), ("SD 2.1 768", "sd2"),
    ("SDXL 1.0", "sdxl"), ("SDXL Lightning", "sdxl"), ("Pony", "sdxl"), ("Illustrious", "sdxl"),
    ("NoobAI", "sdxl"), ("Pony V7", "auraflow"), ("SD 3", "sd3"), ("SD 3.5", "sd3"),
    ("SD 3.5 Large", "sd3"), ("Flux.1 D", "flux-dev"), ("Flux.1 S", "flux-schnell"),
    ("Flux.1 Krea", "flux-dev"), ("Flux.1 Kontext", "flux"), ("AuraFlow", "auraflow"),
    ("Wan Video 14B t2v", "wan"), ("Hunyuan Video", "hunyuan-video"), ("LTXV", "ltxv"),
    ("Stable Cascade", None), ("Other", None), ("", None), (None, None),
])
def test_base_model_table(base_model: str | None, expected: str | None) -> None:
    assert civitai.architecture_of(base_model) == expected


def test_trimmed_metadata_never_holds_the_token(civitai_settings: Settings) -> None:
    res = resolve("civitai:2001", civitai_settings, WITH_TOKEN)
    assert TOKEN not in json.dumps(dict(res.metadata)) and TOKEN not in res.ref
    assert TOKEN.encode() not in res.extras["civitai.json"]


def test_storage_fixture_is_range_capable(civitai_server: FakeCivitai) -> None:
    _, version = civitai_server.versions[1001]
    path = civitai_server.storage_path(version, version.files[0])
    response = httpx.get(civitai_server.url_for(path, "localhost"), headers={"Range": "bytes=0-3"})
    assert response.status_code == 206
    assert response.content == civitai_server.primary_bytes(1001)[:4]


def test_retry_after_as_an_http_date(civitai_server: FakeCivitai, civitai_settings: Settings,
                                     waits: list[float]) -> None:
    later = email.utils.formatdate(time.time() + 5, usegmt=True)
    civitai_server.rate_limit(1, retry_after=later)
    civitai_server.rate_limit(1, retry_after="soon-ish")  # malformed: our own backoff
    assert resolve("civitai:1001", civitai_settings).revision == "1001"
    assert 0 < waits[0] <= 5 and 0.5 <= waits[1] < 1.5  # the backoff's jitter
