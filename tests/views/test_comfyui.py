"""ComfyUI: the root is checked, extra_model_paths.yaml is merged, unlink takes out only ours,
and Civitai previews / trigger words sit beside the files the app lists."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from modelshelf.store import Store
from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion, tiny_png
from modelshelf.testing.factories.adapters import kohya_lora
from modelshelf.testing.factories.files import write_safetensors
from modelshelf.testing.models import new_model, put_blob
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


@pytest.fixture
def comfy(tmp_path: Path) -> Path:
    """A ComfyUI checkout as users have it: main.py, comfy/, models/<type>/."""
    root = tmp_path / "ComfyUI"
    (root / "comfy").mkdir(parents=True)
    (root / "main.py").write_text("# ComfyUI\n")
    for folder in ("checkpoints", "loras", "vae"):
        (root / "models" / folder).mkdir(parents=True)
    return root


def _add(home: Path, name: str, data: bytes, type_: str = "loras") -> Store:
    store = Store(home)
    store.add_model(new_model(name, put_blob(store, data, f"{name}.safetensors"), type=type_))
    return store


# -- 2. the target is validated ------------------------------------------------------------------

def test_models_folder_mistaken_for_the_root_is_refused(cli: Cli, comfy: Path) -> None:
    result = cli("link", "comfyui", str(comfy / "models"))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "ComfyUI's models folder, not its root" in lines[0]
    assert f"pass {comfy} instead" in lines[0]
    assert not (comfy / "models" / "models").exists()


def test_a_type_folder_inside_comfyui_names_the_root(cli: Cli, comfy: Path) -> None:
    result = cli("link", "comfyui", str(comfy / "models" / "loras"))
    assert result.code == 2
    assert result.err.strip().endswith(f"not its root; pass {comfy} instead")
    assert list((comfy / "models" / "loras").iterdir()) == []


def test_a_models_folder_elsewhere_is_refused(cli: Cli, tmp_path: Path) -> None:
    loose = tmp_path / "stash"
    (loose / "checkpoints").mkdir(parents=True)
    result = cli("link", "comfyui", str(loose))
    assert result.code == 2 and "looks like a models folder" in result.err
    assert list(loose.iterdir()) == [loose / "checkpoints"]


def test_a_folder_that_is_not_comfyui_needs_force(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    refused = cli("link", "comfyui", str(other))
    assert refused.code == 2 and "not a ComfyUI install" in refused.err and "--force" in refused.err
    assert list(other.iterdir()) == []
    forced = cli("link", "comfyui", str(other), "--force")
    assert forced.code == 0, forced.err
    assert (other / "models" / "loras" / "modelshelf").is_symlink()


# -- 1. extra_model_paths.yaml -------------------------------------------------------------------

USER_YAML = """\
# my own settings, keep them
a111:
    base_path: /opt/webui/   # the old install
    checkpoints: models/Stable-diffusion
"""


def test_extra_paths_merges_a_section_and_keeps_the_users(cli: Cli, comfy: Path,
                                                          isolated_env: Path) -> None:
    _add(isolated_env, "detail", b"lora")
    target = comfy / "extra_model_paths.yaml"
    target.write_text(USER_YAML)
    dry = cli("link", "comfyui", str(comfy), "--extra-paths", "--dry-run", "--json")
    assert dry.code == 0 and dry.json["actions"][0]["op"] == "replace"
    assert target.read_text() == USER_YAML
    done = cli("link", "comfyui", str(comfy), "--extra-paths")
    assert done.code == 0, done.err
    text = target.read_text()
    assert text.startswith(USER_YAML)  # the user's text and comments, byte for byte
    parsed = yaml.safe_load(text)
    section = parsed["modelshelf"]
    views = (isolated_env / "views").absolute()
    assert section["base_path"] == str(views)
    for key in ("checkpoints", "loras", "vae", "text_encoders", "diffusion_models", "controlnet",
                "clip_vision", "embeddings", "upscale_models", "ipadapter"):
        assert (Path(section["base_path"]) / section[key]) == views / key
    assert parsed["a111"]["checkpoints"] == "models/Stable-diffusion"
    assert (comfy / "extra_model_paths.yaml.bak").read_text() == USER_YAML
    assert not (comfy / "models" / "loras" / "modelshelf").exists()  # no links in this mode
    again = cli("link", "comfyui", str(comfy), "--extra-paths", "--json")
    assert again.json["actions"] == [] and target.read_text() == text
    assert text.count("\nmodelshelf:") == 1


def test_extra_paths_never_rewrites_a_users_own_modelshelf_section(cli: Cli, comfy: Path) -> None:
    target = comfy / "extra_model_paths.yaml"
    mine = "modelshelf:\n    base_path: /mine\n    loras: loras\n"
    target.write_text(mine)
    result = cli("link", "comfyui", str(comfy), "--extra-paths")
    assert result.code == 1 and "modelshelf: section modelshelf did not write" in result.err
    assert target.read_text() == mine
    gone = cli("unlink", "comfyui", str(comfy))
    assert gone.code == 1 and target.read_text() == mine


def test_link_then_unlink_keeps_the_users_text_and_line_endings(cli: Cli, comfy: Path) -> None:
    target = comfy / "extra_model_paths.yaml"
    original = USER_YAML.replace("\n", "\r\n").encode() + b"other:\r\n    base_path: /x"
    target.write_bytes(original)  # CRLF line endings, no newline at the end
    assert cli("link", "comfyui", str(comfy), "--extra-paths").code == 0
    merged = target.read_bytes()
    assert merged.startswith(original) and b"\nmodelshelf:\n" in merged
    assert yaml.safe_load(merged)["other"] == {"base_path": "/x"}
    assert cli("unlink", "comfyui", str(comfy)).code == 0
    assert target.read_bytes() == original + b"\n"


def test_a_broken_yaml_is_left_alone_with_one_line_saying_where(cli: Cli, comfy: Path) -> None:
    target = comfy / "extra_model_paths.yaml"
    broken = "a111:\n    base_path: /opt\n  checkpoints: [unclosed\n"
    target.write_text(broken)
    result = cli("link", "comfyui", str(comfy), "--extra-paths")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "is not valid YAML (line" in lines[0] and str(target) in lines[0]
    assert target.read_text() == broken and not (comfy / "extra_model_paths.yaml.bak").exists()


def test_extra_paths_warns_when_links_would_list_models_twice(cli: Cli, comfy: Path) -> None:
    assert cli("link", "comfyui", str(comfy)).code == 0
    result = cli("link", "comfyui", str(comfy), "--extra-paths")
    assert result.code == 0 and "list each model twice" in result.err


def test_extra_paths_is_for_comfyui_only(cli: Cli, tmp_path: Path) -> None:
    result = cli("link", "flat", str(tmp_path / "flat"), "--extra-paths")
    assert result.code == 2 and "comfyui only" in result.err


# -- 3. unlink -----------------------------------------------------------------------------------

def test_unlink_removes_our_links_and_section_and_nothing_of_the_users(
        cli: Cli, comfy: Path, tmp_path: Path, isolated_env: Path) -> None:
    _add(isolated_env, "detail", b"lora")
    assert cli("link", "comfyui", str(comfy)).code == 0
    assert cli("link", "comfyui", str(comfy), "--extra-paths").code == 0
    # The user's own entries with our names: a real folder, and a symlink to their own models.
    (comfy / "models" / "vae" / "modelshelf").unlink()
    (comfy / "models" / "vae" / "modelshelf").mkdir()
    (comfy / "models" / "vae" / "modelshelf" / "mine.safetensors").write_bytes(b"mine")
    elsewhere = tmp_path / "my-checkpoints"
    elsewhere.mkdir()
    (comfy / "models" / "checkpoints" / "modelshelf").unlink()
    (comfy / "models" / "checkpoints" / "modelshelf").symlink_to(elsewhere)
    (comfy / "extra_model_paths.yaml").write_text(
        USER_YAML + (comfy / "extra_model_paths.yaml").read_text())

    dry = cli("unlink", "comfyui", str(comfy), "--dry-run")
    assert dry.code == 0 and "remove" in dry.out
    assert (comfy / "models" / "loras" / "modelshelf").is_symlink()

    done = cli("unlink", "comfyui", str(comfy), "--json")
    assert done.code == 0, done.err
    removed = {Path(a["path"]).relative_to(comfy).as_posix() for a in done.json["actions"]}
    assert "models/loras/modelshelf" in removed and "extra_model_paths.yaml" in removed
    assert not (comfy / "models" / "loras" / "modelshelf").exists()
    assert (comfy / "models" / "loras").is_dir()  # ComfyUI's own folder stays
    assert (comfy / "models" / "vae" / "modelshelf" / "mine.safetensors").read_bytes() == b"mine"
    assert (comfy / "models" / "checkpoints" / "modelshelf").resolve() == elsewhere
    assert (comfy / "extra_model_paths.yaml").read_text() == USER_YAML
    assert (isolated_env / "views" / "loras" / "detail.safetensors").read_bytes() == b"lora"


def test_unlink_of_a_yaml_holding_only_our_section_removes_the_file(cli: Cli, comfy: Path) -> None:
    assert cli("link", "comfyui", str(comfy), "--extra-paths").code == 0
    assert cli("unlink", "comfyui", str(comfy)).code == 0
    assert sorted(p.name for p in comfy.iterdir()) == ["comfy", "main.py", "models"]


def test_unlink_flat_keeps_a_users_file_put_where_our_link_was(
        cli: Cli, tmp_path: Path, isolated_env: Path) -> None:
    _add(isolated_env, "a", b"aaa")
    _add(isolated_env, "b", b"bbb")
    flat = tmp_path / "flat"
    assert cli("link", "flat", str(flat)).code == 0
    (flat / "loras" / "b.safetensors").unlink()
    (flat / "loras" / "b.safetensors").write_bytes(b"the user's own b")  # same name, not ours
    (flat / "loras" / "c.safetensors").write_bytes(b"unrelated")
    result = cli("unlink", "flat", str(flat), "--json")
    assert result.code == 0, result.err
    assert [Path(a["path"]).name for a in result.json["actions"]] == ["a.safetensors"]
    assert not (flat / "loras" / "a.safetensors").exists()
    assert (flat / "loras" / "b.safetensors").read_bytes() == b"the user's own b"
    assert (flat / "loras" / "c.safetensors").read_bytes() == b"unrelated"
    assert not (flat / ".modelshelf-links.json").exists()


# -- 4. Civitai previews and trigger words -------------------------------------------------------

@pytest.fixture
def civitai(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCivitai]:
    lora = write_safetensors(tmp_path / "lora.safetensors", kohya_lora("sd15", rank=2))
    with FakeCivitai() as civ:
        civ.add_model(77, "Detail Tweaker", type="LORA", versions=[FakeVersion(
            770, [FakeFile("detail_tweaker.safetensors", lora.read_bytes())],
            trained_words=["detailed", "intricate"])])
        monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civ.url)
        yield civ


def test_civitai_preview_and_info_sit_beside_the_model_in_comfyui(
        cli: Cli, comfy: Path, civitai: FakeCivitai) -> None:
    pulled = cli("pull", "civitai:model/77")
    assert pulled.code == 0, pulled.err
    linked = cli("link", "comfyui", str(comfy))
    assert linked.code == 0, linked.err  # the pull placed the sidecars already: nothing to update
    assert "trigger words" not in linked.out
    folder = comfy / "models" / "loras" / "modelshelf"
    assert (folder / "detail_tweaker.safetensors").is_file()
    assert (folder / "detail_tweaker.preview.png").read_bytes() == civitai.preview_bytes
    info = json.loads((folder / "detail_tweaker.civitai.info").read_text())
    assert info["trainedWords"] == ["detailed", "intricate"]
    assert info["id"] == 770 and info["modelId"] == 77
    assert info["model"]["name"] == "Detail Tweaker" and info["baseModel"] == "SD 1.5"
    # The model goes, and its sidecars with it; nothing else in the folder is touched.
    assert cli("rm", "detail_tweaker").code == 0
    assert sorted(p.name for p in folder.iterdir()) == []


def test_a_pull_places_the_sidecars_in_an_app_already_linked(
        cli: Cli, comfy: Path, civitai: FakeCivitai) -> None:
    """With ComfyUI linked once, a later pull shows its preview and trigger words at once."""
    assert cli("link", "comfyui", str(comfy)).code == 0
    assert cli("pull", "civitai:model/77").code == 0
    folder = comfy / "models" / "loras" / "modelshelf"
    assert (folder / "detail_tweaker.preview.png").read_bytes() == civitai.preview_bytes
    info = json.loads((folder / "detail_tweaker.civitai.info").read_text())
    assert info["trainedWords"] == ["detailed", "intricate"]
    (folder / "detail_tweaker.preview.png").unlink()  # lost: the next link puts it back
    relinked = cli("link", "comfyui", str(comfy))
    assert "trigger words (.preview.*, .civitai.info): 1 updated" in relinked.out
    assert (folder / "detail_tweaker.preview.png").read_bytes() == civitai.preview_bytes


def test_flat_links_the_sidecars_and_unlink_takes_them_away(
        cli: Cli, tmp_path: Path, civitai: FakeCivitai) -> None:
    assert cli("pull", "civitai:model/77").code == 0
    flat = tmp_path / "flat"
    assert cli("link", "flat", str(flat)).code == 0
    names = sorted(p.name for p in (flat / "loras").iterdir())
    assert names == ["detail_tweaker.civitai.info", "detail_tweaker.preview.png",
                     "detail_tweaker.safetensors"]
    assert cli("unlink", "flat", str(flat)).code == 0
    assert list((flat / "loras").iterdir()) == []


def test_a_hostile_civitai_json_is_not_placed(comfy: Path, isolated_env: Path) -> None:
    from modelshelf.views import sync_sidecars

    store = _add(isolated_env, "odd", b"lora")
    store.save_meta("odd", "civitai.json", b"[1, 2")  # not a JSON object
    store.save_meta("odd", "preview.png", tiny_png())
    assert sync_sidecars(store.views_dir, store.meta_dir) == []
    assert sorted(p.name for p in (store.views_dir / "loras").iterdir()) == ["odd.safetensors"]
