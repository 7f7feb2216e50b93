"""Secrets never leave the request they are for: pull with distinctive tokens through success and
failure paths, then grep every byte the runs wrote — the store tree (registry, meta, staging,
locks, views), the Hub cache, the lock file, stdout/stderr — and every request the servers saw
on a host the secret was not for. Not one occurrence may be found."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion
from modelshelf.testing.hub import FakeHub
from modelshelf.testing.server import LocalServer, LoggedRequest, Response

from .world import safetensors_bytes

HF_TOKEN = "hf_ZZsecretHFtoken0001"
HF_CONFIG_TOKEN = "hf_ZZsecretCONFIGtoken0002"
CIVITAI_TOKEN = "civ_ZZsecretCIVITAItoken0003"
URL_PASSWORD = "pw_ZZsecretPASSWORD0004"
URL_SIGNATURE = "sig_ZZsecretSIGNATURE0005"
BAD_TOKEN = "hf_ZZsecretUNKNOWNtoken0006"
SECRETS = (HF_TOKEN, HF_CONFIG_TOKEN, CIVITAI_TOKEN, URL_PASSWORD, URL_SIGNATURE, BAD_TOKEN)


@dataclass
class Servers:
    hub: FakeHub
    civitai: FakeCivitai
    cdn: LocalServer
    other: LocalServer  # a different host (port): where redirects send the client
    data: bytes


@pytest.fixture
def servers() -> Iterator[Servers]:
    data = safetensors_bytes(random.Random(5), 200 * 1024)
    with FakeHub() as hub, FakeCivitai(token=CIVITAI_TOKEN) as civitai, LocalServer() as cdn, \
            LocalServer() as other:
        hub.add_repo("org/private", {"m.safetensors": data}, private=True,
                     tokens=(HF_TOKEN, HF_CONFIG_TOKEN))
        hub.add_repo("org/gated", {"m.safetensors": data}, gated="manual")
        hub.tokens.add(HF_TOKEN)
        civitai.add_model(1, "needs token", versions=[
            FakeVersion(11, [FakeFile("civ.safetensors", data)], needs_token=True)])
        bad = FakeFile("bad.safetensors", data)
        civitai.add_model(2, "wrong digest", versions=[FakeVersion(21, [bad], needs_token=True)])
        cdn.add_file("/files/url.safetensors", data)
        other.add_file("/elsewhere/url.safetensors", data)
        cdn.add_route("GET", r"/redirect/url\.safetensors", lambda r: Response(
            302, b"", {"Location": other.url + "/elsewhere/url.safetensors"}))
        yield Servers(hub, civitai, cdn, other, data)


def _hostile_digest(civitai: FakeCivitai) -> None:
    """Civitai publishing a sha256 the bytes do not have: the pull must fail on the digest."""
    model = civitai.models[2]
    file = model.versions[0].files[0]
    original = file.entry

    def entry(download_url: str) -> dict[str, object]:
        found = original(download_url)
        found["hashes"] = {**found["hashes"], "SHA256": "AB" * 32}  # type: ignore[dict-item]
        return found

    file.entry = entry  # type: ignore[method-assign]


def _runs(s: Servers) -> list[tuple[dict[str, str], list[str], int]]:
    """(environment, pull arguments, expected exit) for every path a secret could leak on."""
    user_url = s.cdn.url.replace("://", f"://user:{URL_PASSWORD}@")
    signed = f"{s.cdn.url}/files/url.safetensors?X-Amz-Signature={URL_SIGNATURE}&v=1"
    sha = hashlib.sha256(s.data).hexdigest()
    hf = {"HF_ENDPOINT": s.hub.url}
    civ = {"MODELSHELF_CIVITAI_ENDPOINT": s.civitai.url}
    return [
        ({**hf, "HF_TOKEN": HF_TOKEN}, ["hf:org/private", "--name", "p1"], 0),  # LFS -> other host
        ({**hf, "HF_TOKEN": BAD_TOKEN}, ["hf:org/private", "--name", "p2"], 1),  # 401
        ({**hf, "HF_TOKEN": HF_TOKEN}, ["hf:org/gated", "--name", "g"], 1),  # 403 gated
        (hf, ["hf:org/private", "--name", "p3"], 0),  # token from config.toml
        ({**civ, "CIVITAI_API_TOKEN": CIVITAI_TOKEN}, ["civitai:11"], 0),  # redirect to storage
        ({**civ, "CIVITAI_API_TOKEN": CIVITAI_TOKEN}, ["civitai:21"], 1),  # wrong digest
        ({**civ, "CIVITAI_API_TOKEN": "civ_wrong"}, ["civitai:21", "--name", "c2"], 1),  # 401
        ({}, [f"{user_url}/files/url.safetensors", "--name", "u1"], 0),
        ({}, [f"{user_url}/files/missing.safetensors", "--name", "u2"], 1),  # 404
        ({}, [f"{user_url}/redirect/url.safetensors", "--name", "u3"], 0),  # to another host
        ({}, [signed, "--name", "s1"], 0),
        ({}, [signed, "--name", "s2", "--sha256", "0" * 64, "--force"], 1),  # wrong digest
        ({}, [signed.replace("url.safetensors", "nope.bin"), "--name", "s3"], 1),  # 404
        ({"HF_TOKEN": HF_TOKEN}, [f"{user_url}/files/url.safetensors", "--sha256", sha,
                                  "--name", "u4"], 0),  # HF_TOKEN must not go to a URL host
    ]


def _written(root: Path) -> Iterator[Path]:
    """Every file the runs wrote (not the config the user wrote the token into)."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name != "config.toml":
            yield path


def _leaks_on_disk(root: Path) -> list[str]:
    leaks = []
    for path in _written(root):
        if path.name == "models.toml":
            continue  # the user's own file
        data = path.read_bytes()
        leaks += [f"{path.relative_to(root)} holds {s[:12]}…" for s in SECRETS
                  if s.encode() in data]
    return leaks


def _leaks_in_requests(log: list[LoggedRequest], allowed: Callable[[LoggedRequest], bool],
                       server: str) -> list[str]:
    found = []
    for request in log:
        if allowed(request):
            continue
        seen = request.path + " " + " ".join(f"{k}: {v}" for k, v in request.headers.items())
        found += [f"{server} {request.host}{request.path} saw {secret[:12]}…"
                  for secret in SECRETS if secret in seen]
    return found


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "text"])
def test_no_secret_in_anything_a_run_writes(servers: Servers, tmp_path: Path, cli: Callable[..., object],
                                            monkeypatch: pytest.MonkeyPatch, json_mode: bool) -> None:
    _hostile_digest(servers.civitai)
    (tmp_path / "config.toml").write_text(f'[sources.hf]\ntoken = "{HF_CONFIG_TOKEN}"\n')
    outputs: list[str] = []
    for env, args, expected in _runs(servers):
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            result = cli(*(["--json"] if json_mode else []), "pull", *args)
        assert result.code == expected, (args, result.err)  # type: ignore[attr-defined]
        outputs += [result.out, result.err]  # type: ignore[attr-defined]
    manifest = tmp_path / "models.toml"  # a Hub reference: the lock sees the Hub token
    manifest.write_text('[[model]]\nref = "hf:org/private"\nname = "locked"\n')
    with monkeypatch.context() as m:
        m.setenv("HF_ENDPOINT", servers.hub.url)
        m.setenv("HF_TOKEN", HF_TOKEN)
        locked = cli(*(["--json"] if json_mode else []), "lock", "-f", str(manifest))
    assert locked.code == 0, locked.err  # type: ignore[attr-defined]
    outputs += [locked.out, locked.err]  # type: ignore[attr-defined]

    leaks = [f"output of the runs holds {s[:12]}…" for s in SECRETS if any(s in o for o in outputs)]
    leaks += _leaks_on_disk(tmp_path)
    hub_host = f"{servers.hub.host}:{servers.hub.port}"
    leaks += _leaks_in_requests(servers.hub.log, lambda r: r.host == hub_host, "hub")
    civ_host = f"{servers.civitai.host}:{servers.civitai.port}"
    leaks += _leaks_in_requests(servers.civitai.log, lambda r: r.host == civ_host, "civitai")
    leaks += _leaks_in_requests(servers.other.log, lambda r: False, "other host")
    # The URL host legitimately sees its own password (Basic auth) and its signed query — but
    # never a Hub or Civitai token.
    leaks += _leaks_in_requests(
        servers.cdn.log,
        lambda r: not any(t in str(r.headers) for t in (HF_TOKEN, CIVITAI_TOKEN, BAD_TOKEN,
                                                        HF_CONFIG_TOKEN)), "url host")
    assert leaks == []
    # The redirect paths really ran: bytes came from the other host and from the Hub's CDN name.
    assert servers.other.requests_for("/elsewhere/url.safetensors")
    assert any(r.host.startswith(servers.hub.cdn_host) for r in servers.hub.log)


def test_lock_file_holds_no_url_password(servers: Servers, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         cli: Callable[..., object]) -> None:
    """The lock (committed, shared) records a manifest URL with its ``user:password`` and a
    signed link's signature masked; installing from it still uses the manifest's credentials."""
    user_url = servers.cdn.url.replace("://", f"://user:{URL_PASSWORD}@")
    signed = f"{servers.cdn.url}/signed/url.safetensors?X-Amz-Signature={URL_SIGNATURE}&v=1"
    # Bytes of its own: with the plain URL's content, the install may take it from that one
    # (same sha256, already stored) and never ask the signed link, whose use is checked below.
    signed_data = safetensors_bytes(random.Random(6), 64 * 1024)
    servers.cdn.add_route("GET", r"/signed/url\.safetensors", lambda r: Response(
        200, signed_data, {"Content-Type": "application/octet-stream"})
        if r.query.get("X-Amz-Signature") == [URL_SIGNATURE] else Response(403, b"bad signature"))
    manifest = tmp_path / "models.toml"
    manifest.write_text(f'[[model]]\nref = "{user_url}/files/url.safetensors"\nname = "l"\n'
                        f'[[model]]\nref = "{signed}"\nname = "s"\n')
    locked = cli("--json", "lock", "-f", str(manifest))
    assert locked.code == 0, locked.err  # type: ignore[attr-defined]
    assert URL_PASSWORD not in locked.out + locked.err  # type: ignore[attr-defined]
    assert _leaks_on_disk(tmp_path) == []
    lock_text = (tmp_path / "models.toml.lock").read_text()
    assert "://user:***@" in lock_text and "X-Amz-Signature=***" in lock_text

    # Another machine (an empty store) installs exactly what the lock pins, from the manifest's
    # URLs with their secrets (the signed link answers 403 to a masked signature).
    monkeypatch.setenv("MODELSHELF_HOME", str(tmp_path / "elsewhere"))
    servers.cdn.wait_idle()  # the lock's own requests are logged before the log is cleared
    servers.cdn.clear_log()
    installed = cli("--json", "pull", "-f", str(manifest))
    assert installed.code == 0, installed.err  # type: ignore[attr-defined]
    servers.cdn.wait_idle()  # a response is logged once the server has finished sending it
    assert [r.status for r in servers.cdn.requests_for("/signed/url.safetensors")] == [200]
    assert _leaks_on_disk(tmp_path) == []
