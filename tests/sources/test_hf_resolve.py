"""``sources.hf.resolve`` against the fake Hub: which files, at which commit, which errors."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest
from hub_constants import HUB_TOKEN

from modelshelf.config import Settings, load_settings
from modelshelf.errors import (
    EntryNotFound,
    GatedRepo,
    NetworkError,
    OfflineError,
    RepoNotFound,
    RevisionNotFound,
    TokenRequired,
    UsageError,
)
from modelshelf.sources.base import HubLocation, Ref, ResolveOptions
from modelshelf.sources.hf import resolve
from modelshelf.testing.hub import FakeHub


def settings_for(endpoint: str, **env: str) -> Settings:
    import os

    return load_settings({**os.environ, "HF_ENDPOINT": endpoint, **env})


def ref(repo: str, path: str | None = None, revision: str | None = None) -> Ref:
    raw = f"hf:{repo}" + (f"@{revision}" if revision else "") + (f"/{path}" if path else "")
    return Ref(source="hf", raw=raw, repo_id=repo, revision=revision, path=path)


def paths(resolution) -> list[str]:
    return sorted(f.path for f in resolution.files)


def test_whole_repo_pins_every_file_to_the_commit(hub_server: FakeHub):
    res = resolve(ref("org/tiny"), settings_for(hub_server.url), ResolveOptions())
    commit = hub_server.repos["org/tiny"].refs["main"]
    assert res.source == "hf" and res.is_repo and res.name == "tiny"
    assert res.revision == commit
    assert res.metadata["repo_id"] == "org/tiny"
    assert res.metadata["requested_revision"] == "main"
    assert res.hub == HubLocation("org/tiny", "main")
    assert res.metadata["commit"] == commit
    assert paths(res) == ["README.md", "config.json", "model.safetensors", "pytorch_model.bin",
                          "unet/config.json", "unet/diffusion_pytorch_model.safetensors"]
    by_path = {f.path: f for f in res.files}
    weights = by_path["model.safetensors"]
    hub_file = hub_server.file("org/tiny", "model.safetensors")
    assert weights.url == f"{hub_server.url}/org/tiny/resolve/{commit}/model.safetensors"
    assert weights.sha256 == hashlib.sha256(hub_file.data).hexdigest()  # type: ignore[arg-type]
    assert weights.size == hub_file.size
    assert weights.etag == weights.sha256  # LFS: the Hub cache names the blob by its sha256
    config = by_path["config.json"]
    assert config.sha256 is None  # small git files: the Hub publishes no sha256
    assert config.etag == hub_server.file("org/tiny", "config.json").blob_id
    assert res.metadata["etags"]["config.json"] == config.etag
    assert all(f.credentials.headers == {} for f in res.files)  # no token anywhere, none sent


def test_include_and_exclude_use_hub_globs(hub_server: FakeHub):
    settings = settings_for(hub_server.url)
    only_json = resolve(ref("org/tiny"), settings, ResolveOptions(include=("*.json",)))
    assert paths(only_json) == ["config.json", "unet/config.json"]  # * crosses folders
    no_bin = resolve(ref("org/tiny"), settings,
                     ResolveOptions(include=("*.safetensors", "*.bin"), exclude=("*.bin",)))
    assert paths(no_bin) == ["model.safetensors", "unet/diffusion_pytorch_model.safetensors"]
    with pytest.raises(EntryNotFound, match=r"no file matches --include \*\.gguf"):
        resolve(ref("org/tiny"), settings, ResolveOptions(include=("*.gguf",)))


def test_one_file_and_one_file_in_a_subfolder(hub_server: FakeHub):
    settings = settings_for(hub_server.url)
    single = resolve(ref("org/tiny", "model.safetensors"), settings, ResolveOptions())
    assert paths(single) == ["model.safetensors"] and not single.is_repo
    assert single.name == "model"
    nested = resolve(ref("org/tiny", "unet/diffusion_pytorch_model.safetensors"), settings,
                     ResolveOptions())
    assert paths(nested) == ["unet/diffusion_pytorch_model.safetensors"]
    assert nested.name == "diffusion_pytorch_model"


def test_a_subfolder_is_a_folder_pull(hub_server: FakeHub):
    res = resolve(ref("org/tiny", "unet"), settings_for(hub_server.url), ResolveOptions())
    assert res.is_repo and res.name == "unet"
    assert paths(res) == ["unet/config.json", "unet/diffusion_pytorch_model.safetensors"]


@pytest.mark.parametrize("revision, extra", [
    ("v1.0", None), ("dev", "dev.json"), ("refs/pr/1", "pr.json")])
def test_revisions_resolve_to_their_commit(hub_server: FakeHub, revision: str, extra: str | None):
    repo = hub_server.repos["org/tiny"]
    res = resolve(ref("org/tiny", revision=revision), settings_for(hub_server.url),
                  ResolveOptions())
    assert res.revision == repo.refs[revision]
    assert res.metadata["requested_revision"] == revision
    assert all(f"/resolve/{repo.refs[revision]}/" in (f.url or "") for f in res.files)
    if extra:
        assert extra in paths(res)


def test_tag_sees_the_old_content_and_a_sha_is_accepted(hub_server: FakeHub):
    settings = settings_for(hub_server.url)
    tagged = resolve(ref("org/tiny", "config.json", "v1.0"), settings, ResolveOptions())
    old_sha = hub_server.repos["org/tiny"].refs["v1.0"]
    assert tagged.files[0].etag == hub_server.file("org/tiny", "config.json", old_sha).blob_id
    by_sha = resolve(ref("org/tiny", revision=old_sha), settings, ResolveOptions())
    assert by_sha.revision == old_sha
    from_flag = resolve(ref("org/tiny"), settings, ResolveOptions(revision="v1.0"))
    assert from_flag.revision == old_sha
    with pytest.raises(UsageError, match="disagree"):
        resolve(ref("org/tiny", revision="dev"), settings, ResolveOptions(revision="v1.0"))


def test_tree_pagination_is_followed(hub_server: FakeHub):
    hub_server.tree_page_size = 2
    res = resolve(ref("org/tiny"), settings_for(hub_server.url), ResolveOptions())
    assert len(res.files) == 6
    assert len([r for r in hub_server.log if "/tree/" in r.path]) >= 4  # 7 entries, 2 a page


def test_private_repo_needs_a_token(hub_server: FakeHub):
    settings = settings_for(hub_server.url)
    with pytest.raises(TokenRequired, match="not logged in") as info:
        resolve(ref("org/private"), settings, ResolveOptions())
    assert "\n" not in str(info.value)
    res = resolve(ref("org/private"), settings, ResolveOptions(token=HUB_TOKEN))
    (only,) = res.files
    assert only.credentials.headers == {"Authorization": f"Bearer {HUB_TOKEN}"}
    # LFS bytes are redirected to localhost: no token there
    assert only.credentials.origin == f"http://127.0.0.1:{hub_server.port}"


def test_token_precedence_flag_env_stored(hub_server: FakeHub, hub_no_stored_token: Path):
    env_settings = settings_for(hub_server.url, HF_TOKEN=HUB_TOKEN)
    assert resolve(ref("org/private"), env_settings, ResolveOptions()).files
    with pytest.raises(TokenRequired, match="did not accept the token") as info:
        resolve(ref("org/private"), env_settings, ResolveOptions(token="hf_wrong"))
    assert "hf_wrong" not in str(info.value) and HUB_TOKEN not in str(info.value)
    hub_no_stored_token.write_text(HUB_TOKEN)  # what `hf auth login` leaves behind
    assert resolve(ref("org/private"), settings_for(hub_server.url), ResolveOptions()).files


def test_gated_repo_without_access(hub_server: FakeHub):
    settings = settings_for(hub_server.url)
    with pytest.raises(GatedRepo, match="log in"):
        resolve(ref("org/gated"), settings, ResolveOptions())
    hub_server.tokens.add("hf_other")
    with pytest.raises(GatedRepo, match="accept the licence"):
        resolve(ref("org/gated"), settings, ResolveOptions(token="hf_other"))
    hub_server.repos["org/gated"].granted.add("hf_other")
    assert len(resolve(ref("org/gated"), settings, ResolveOptions(token="hf_other")).files) == 2


def test_not_found_errors_are_told_apart(hub_server: FakeHub):
    hub_server.tokens.add("hf_user")
    settings = settings_for(hub_server.url, HF_TOKEN="hf_user")
    with pytest.raises(RepoNotFound, match="hf:org/nope: repository not found"):
        resolve(ref("org/nope"), settings, ResolveOptions())
    with pytest.raises(RevisionNotFound, match="revision nope not found"):
        resolve(ref("org/tiny", revision="nope"), settings, ResolveOptions())
    with pytest.raises(EntryNotFound, match=r"no file missing\.bin"):
        resolve(ref("org/tiny", "missing.bin"), settings, ResolveOptions())
    with pytest.raises(EntryNotFound):
        resolve(ref("org/tiny", "nofolder/x.bin"), settings, ResolveOptions())


def test_closed_port_names_the_host():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NetworkError, match=f"127.0.0.1:{port}"):
        resolve(ref("org/tiny"), settings_for(f"http://127.0.0.1:{port}"), ResolveOptions())


def test_hub_outage_is_a_network_error(hub_server: FakeHub):
    hub_server.outage = 503
    with pytest.raises(NetworkError, match="HTTP 503"):
        resolve(ref("org/tiny"), settings_for(hub_server.url), ResolveOptions())


@pytest.mark.parametrize("env, options", [
    ({"MODELSHELF_OFFLINE": "1"}, ResolveOptions()),
    ({"HF_HUB_OFFLINE": "1"}, ResolveOptions()),
    ({}, ResolveOptions(offline=True))])
def test_offline_opens_no_connection(hub_server: FakeHub, env: dict[str, str],
                                     options: ResolveOptions):
    with pytest.raises(OfflineError):
        resolve(ref("org/tiny"), settings_for(hub_server.url, **env), options)
    assert hub_server.log == []


def test_verify_ssl_false_reaches_a_self_signed_hub(tls_context, tmp_path, monkeypatch):
    """`[sources.hf] verify_ssl = false`: a mirror with a self-signed certificate works."""
    from huggingface_hub.utils import set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    from modelshelf.config import load_settings
    from modelshelf.errors import NetworkError
    from modelshelf.sources import resolve
    from modelshelf.testing.hub import FakeHub

    with FakeHub(tls=tls_context) as hub:
        hub.add_repo("org/tls", {"config.json": b"{}"})
        endpoint = f"https://127.0.0.1:{hub.port}"
        config = tmp_path / "tls.toml"
        config.write_text(f'[sources.hf]\nendpoint = "{endpoint}"\nverify_ssl = false\n')
        strict = load_settings({"HF_ENDPOINT": endpoint, "MODELSHELF_CONFIG": os.devnull})
        with pytest.raises(NetworkError):
            resolve("hf:org/tls", strict)
        relaxed = load_settings({"MODELSHELF_CONFIG": str(config)})
        try:
            assert resolve("hf:org/tls", relaxed).files[0].path == "config.json"
        finally:
            set_client_factory(default_client_factory)


def test_verify_ssl_false_is_undone_after_our_call(tls_context, tmp_path):
    """`verify_ssl = false` for the Hub source must not leave huggingface_hub's process-wide
    client unverified: a later Hub call in the same process (ours or the program's) checks
    certificates again."""
    import ssl

    from huggingface_hub.utils import get_session

    from modelshelf.config import load_settings
    from modelshelf.sources import resolve
    from modelshelf.testing.hub import FakeHub

    with FakeHub(tls=tls_context) as hub:
        hub.add_repo("org/tls", {"config.json": b"{}"})
        endpoint = f"https://127.0.0.1:{hub.port}"
        config = tmp_path / "tls.toml"
        config.write_text(f'[sources.hf]\nendpoint = "{endpoint}"\nverify_ssl = false\n')
        assert resolve("hf:org/tls", load_settings({"MODELSHELF_CONFIG": str(config)})).files
        session = get_session()
        assert session._transport._pool._ssl_context.verify_mode == ssl.CERT_REQUIRED
        strict = load_settings({"HF_ENDPOINT": endpoint, "MODELSHELF_CONFIG": os.devnull})
        with pytest.raises(NetworkError):  # the self-signed certificate is refused again
            resolve("hf:org/tls", strict)
