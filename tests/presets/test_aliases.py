"""Short names and other tools' spellings: ``gpt2`` -> the Hub's canonical repo, ``resnet18`` ->
torchvision when its registry knows it, ``[aliases]`` in config, ambiguity listed, and
``pytorch_hub:`` refused with the weights-only alternative."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.config import load_settings
from modelshelf.errors import BadReference
from modelshelf.sources import aliases, parse
from modelshelf.sources.refs import canonical, parse_ref


@pytest.mark.parametrize(("word", "expected"), [
    ("gpt2", "hf:openai-community/gpt2"),
    ("bert-base-uncased", "hf:google-bert/bert-base-uncased"),
    ("GPT2", "hf:openai-community/gpt2"),
    ("org/repo", "hf:org/repo"),
    ("huggingface:org/repo@v1/model.safetensors", "hf:org/repo@v1/model.safetensors"),
    ("url:https://example.com/w.bin", "https://example.com/w.bin"),
])
def test_short_names_and_spellings_become_canonical_references(word: str, expected: str) -> None:
    assert canonical(parse_ref(word)) == expected


def test_a_name_torchvision_knows_is_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aliases, "torchvision_names", lambda: frozenset({"resnet18"}))
    assert canonical(parse_ref("resnet18")) == "torchvision:resnet18"


def test_a_name_two_tables_know_is_an_error_listing_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aliases, "torchvision_names", lambda: frozenset({"gpt2"}))
    with pytest.raises(BadReference) as caught:
        parse_ref("gpt2")
    message = str(caught.value)
    assert "ambiguous" in message
    assert "hf:openai-community/gpt2" in message and "torchvision:gpt2" in message
    assert "[aliases] gpt2 =" in message


def test_config_aliases_add_names_and_settle_ambiguity(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text(
        '[aliases]\nmine = "civitai:4242"\ngpt2 = "hf:someone/gpt2-fork"\n')
    monkeypatch.setattr(aliases, "torchvision_names", lambda: frozenset({"gpt2"}))
    settings = load_settings()
    assert parse("mine", settings).version_id == 4242
    assert parse("gpt2", settings).repo_id == "someone/gpt2-fork"


def test_an_existing_local_path_beats_a_short_name(tmp_path: Path) -> None:
    (tmp_path / "gpt2").write_bytes(b"x")
    assert parse_ref("gpt2", cwd=tmp_path).source == "local"


def test_an_unknown_word_is_still_a_usage_error_listing_the_forms() -> None:
    with pytest.raises(BadReference, match="nor a known reference form") as caught:
        parse_ref("nonesuch-model")
    assert "a short name" in str(caught.value)


@pytest.mark.parametrize(("ref", "instead"), [
    ("pytorch_hub:pytorch/vision:v0.10.0:resnet18", "Use torchvision:resnet18"),
    ("pytorch_hub:resnet50", "Use torchvision:resnet50"),
    ("pytorch_hub:facebookresearch/dino:main:dino_vits16", "the Hub repo (hf:ORG/REPO)"),
])
def test_pytorch_hub_is_refused_saying_why_and_what_instead(ref: str, instead: str, cli) -> None:
    result = cli("pull", ref)
    assert result.code == 2
    assert "runs its hubconf.py" in result.err and instead in result.err
    assert len(result.err.strip().splitlines()) == 1
