"""The dispatcher: disabled sources, offline mode, string references, the lazy source table."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.config import Settings, load_settings
from modelshelf.errors import BadReference, OfflineError, SourceDisabled
from modelshelf.sources import NETWORK_SOURCES, RESOLVERS, parse, resolve
from modelshelf.sources.base import Ref, ResolveOptions
from modelshelf.testing.civitai import FakeCivitai
from modelshelf.testing.server import LocalServer


def _disable(tmp_path: Path, source: str) -> Settings:
    # The root conftest points MODELSHELF_CONFIG at tmp_path / "config.toml".
    (tmp_path / "config.toml").write_text(f"[sources.{source}]\nenabled = false\n")
    return load_settings()


@pytest.mark.parametrize(("source", "ref"), [
    ("civitai", "civitai:1"), ("url", "https://example.com/a.bin"),
    ("torchvision", "torchvision:resnet18"), ("hf", "hf:org/repo"), ("local", "file:/tmp"),
])
def test_disabled_source_names_the_setting(tmp_path: Path, source: str, ref: str) -> None:
    settings = _disable(tmp_path, source)
    with pytest.raises(SourceDisabled) as caught:
        resolve(ref, settings)
    message = str(caught.value)
    assert f"[sources.{source}] enabled = false" in message
    assert str(tmp_path / "config.toml") in message
    assert isinstance(caught.value, PermissionError)


def test_a_disabled_source_does_not_touch_the_network(civitai_server: FakeCivitai,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civitai_server.url)
    with pytest.raises(SourceDisabled):
        resolve("civitai:1001", _disable(tmp_path, "civitai"))
    assert civitai_server.log == []


@pytest.mark.parametrize("variable", ["MODELSHELF_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_refuses_network_sources_without_connecting(
        civitai_server: FakeCivitai, server: LocalServer, monkeypatch: pytest.MonkeyPatch,
        variable: str) -> None:
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civitai_server.url)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv(variable, "1")
    settings = load_settings()
    server.add_file("/a.bin", b"x")
    for ref in ("civitai:1001", server.url + "/a.bin", "torchvision:resnet18", "hf:org/repo"):
        with pytest.raises(OfflineError, match="offline"):
            resolve(ref, settings)
    assert civitai_server.log == [] and server.log == []


def test_offline_option_and_local_still_works(tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"local bytes")
    settings = load_settings()
    with pytest.raises(OfflineError):
        resolve("https://example.com/a.bin", settings, ResolveOptions(offline=True))
    res = resolve(str(model), settings.with_overrides(offline=True), ResolveOptions(offline=True))
    assert res.source == "local" and res.files[0].local_path == model


def test_string_references_know_the_configured_endpoint(civitai_server: FakeCivitai,
                                                        civitai_settings: Settings) -> None:
    ref = parse(civitai_server.url + "/models/100?modelVersionId=1001", civitai_settings)
    assert (ref.source, ref.version_id) == ("civitai", 1001)
    assert resolve(civitai_server.url + "/models/100", civitai_settings).revision == "1002"


def test_hub_references_go_to_the_hf_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hf`` is imported lazily; whatever it returns is returned."""
    import modelshelf.sources.hf as hf

    seen: list[Ref] = []
    monkeypatch.setattr(hf, "resolve", lambda ref, settings, options: seen.append(ref) or "sent")
    assert resolve("org/repo@v1", load_settings()) == "sent"
    assert seen[0].repo_id == "org/repo" and seen[0].revision == "v1"


def test_every_source_has_a_resolver_and_network_sources_are_known() -> None:
    assert set(RESOLVERS) == {"hf", "civitai", "url", "local", "torchvision"}
    assert set(RESOLVERS) - {"local"} == NETWORK_SOURCES


def test_unknown_source_in_a_hand_made_ref() -> None:
    with pytest.raises(BadReference, match="unknown source"):
        resolve(Ref(source="ftp", raw="ftp:x"), load_settings())


def test_bad_string_reference(tmp_path: Path) -> None:
    with pytest.raises(BadReference):
        resolve("nonsense", load_settings())


def test_every_source_declares_its_traits_and_names_stay_plain_strings():
    """pull.py goes by these traits, never by source names; the enum keeps JSON unchanged."""
    import json

    from modelshelf.sources import SOURCES, SourceName, traits

    assert set(SOURCES) == set(SourceName)
    assert {n for n in SourceName if traits(n).networked} == NETWORK_SOURCES
    assert {n for n in SourceName if traits(n).immutable_refs} == {"civitai", "url", "torchvision"}
    assert {n for n in SourceName if traits(n).selectable} == {"hf", "local"}
    assert json.dumps([SourceName.HF]) == '["hf"]'
