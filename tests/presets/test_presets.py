"""Presets: the built-in manifests ship in the package, ``pull --preset`` installs one against the
fake Hub, user presets come from config or presets/NAME.toml, ``presets`` lists sizes (lock,
resolved, or unknown offline) and ``--force`` re-pulls."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from modelshelf.manifest import read_manifest
from modelshelf.testing.hub import FakeHub

BUILTIN = ("all", "basic", "nlp", "vision")
NLP_REPOS = ("google-bert/bert-base-uncased", "distilbert/distilbert-base-uncased",
             "sentence-transformers/all-MiniLM-L6-v2", "openai-community/gpt2")
WEIGHTS = 3000


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The nlp preset's repos (tiny), plus a repo for user presets; HF_ENDPOINT points here."""
    with FakeHub() as server:
        for repo in NLP_REPOS:
            server.add_repo(repo, {"config.json": b'{"model_type": "bert"}',
                                   "model.safetensors": os.urandom(WEIGHTS),
                                   "tf_model.h5": os.urandom(5000)})  # excluded by the preset
        server.add_repo("org/tiny", {"model.safetensors": os.urandom(1234)})
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_built_in_presets_are_package_data_and_valid_manifests() -> None:
    folder = resources.files("modelshelf").joinpath("presets")
    names = sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                   if p.name.endswith(".toml"))
    assert names == list(BUILTIN)
    for name in names:
        assert read_manifest(Path(str(folder.joinpath(f"{name}.toml"))))
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    assert '"presets/*.toml"' in pyproject.read_text()


def test_presets_lists_the_built_ins_with_unknown_size_offline(cli,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    result = cli("presets", "--json")
    assert result.code == 0, result.err
    rows = {row["name"]: row for row in result.json["presets"]}
    assert sorted(rows) == list(BUILTIN)
    assert rows["nlp"]["models"] == [f"hf:{r}" for r in NLP_REPOS]
    assert rows["basic"]["size"] is None and rows["basic"]["size_source"] == "unknown"


def test_pull_preset_installs_the_set_with_its_globs(cli, hub: FakeHub) -> None:
    result = cli("pull", "--preset", "nlp", "--json")
    assert result.code == 0, result.err
    items = result.json["results"]
    assert [i["status"] for i in items] == ["ok"] * 4
    assert {f["path"] for i in items for f in i["files"]} == {"config.json", "model.safetensors"}
    names = {m["name"] for m in cli("ls", "--json").json["models"]}
    assert names == {"bert-base-uncased", "distilbert-base-uncased", "all-MiniLM-L6-v2", "gpt2"}


def test_presets_resolves_sizes_remotely_and_from_a_lock(cli, hub: FakeHub,
                                                         tmp_path: Path) -> None:
    rows = {row["name"]: row for row in cli("presets", "--json").json["presets"]}
    config_bytes = len(b'{"model_type": "bert"}')
    assert rows["nlp"]["size"] == 4 * (WEIGHTS + config_bytes)
    assert rows["nlp"]["size_source"] == "resolved"
    manifest = tmp_path / "presets" / "mine.toml"
    manifest.parent.mkdir()
    manifest.write_text('[[model]]\nref = "hf:org/tiny/model.safetensors"\n')
    assert cli("lock", "-f", str(manifest)).code == 0
    mine = {row["name"]: row for row in cli("presets", "--json").json["presets"]}["mine"]
    assert (mine["size"], mine["size_source"], mine["origin"]) == (1234, "lock", str(manifest))


def test_a_config_preset_of_short_names_and_references(cli, hub: FakeHub,
                                                       tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[presets]\nsmall = ["gpt2", "org/tiny"]\n')
    result = cli("pull", "--preset", "small", "--json")
    assert result.code == 0, result.err
    assert [i["name"] for i in result.json["results"]] == ["gpt2", "tiny"]


def test_force_re_pulls_a_preset(cli, hub: FakeHub, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[presets]\nsmall = ["hf:org/tiny"]\n')
    assert cli("pull", "--preset", "small").code == 0
    before = len(hub.log)
    again = cli("pull", "--preset", "small", "--json")
    assert again.json["results"][0]["bytes_downloaded"] == 0
    quiet = len(hub.log)
    forced = cli("pull", "--preset", "small", "--force", "--json")
    assert forced.code == 0, forced.err
    assert len(hub.log) > quiet >= before


def test_an_unknown_preset_is_a_usage_error_naming_the_known_ones(cli) -> None:
    result = cli("pull", "--preset", "nope")
    assert result.code == 2
    assert "preset 'nope' is not defined" in result.err and "basic" in result.err
