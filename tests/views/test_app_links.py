"""`link APP DIR`: plans per app, applying them, staying live/in sync, never clobbering."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelshelf.errors import UsageError
from modelshelf.store import NewModel, Store
from modelshelf.testing.models import new_model, put_blob
from modelshelf.views import APPS, plan_app_links


@pytest.fixture
def store(isolated_env: Path) -> Store:
    return Store(isolated_env)


def add(store: Store, name: str, type: str, files: dict[str, bytes],
        format: str = "safetensors") -> NewModel:
    records = (put_blob(store, data, path) for path, data in files.items())
    return store.add_model(new_model(name, *records, type=type, format=format))


@pytest.fixture
def comfy(tmp_path: Path) -> Path:
    root = tmp_path / "ComfyUI"
    (root / "models" / "loras").mkdir(parents=True)
    (root / "main.py").touch()
    return root


def test_comfyui_gets_a_live_symlinked_folder_per_type(store: Store, comfy: Path) -> None:
    add(store, "detail", "loras", {"detail.safetensors": b"lora"})
    plan = plan_app_links(store.views_dir, "comfyui", comfy)
    assert not (comfy / "models" / "loras" / "modelshelf").exists()  # planning changes nothing
    created = {a.path.relative_to(comfy).as_posix() for a in plan.actions}
    assert "models/loras/modelshelf" in created and "models/checkpoints/modelshelf" in created
    assert plan.conflicts == () and plan.warnings == ()
    assert plan.execute() == len(plan.actions)
    link = comfy / "models" / "loras" / "modelshelf"
    assert link.is_symlink() and link.resolve() == (store.views_dir / "loras").resolve()
    assert (link / "detail.safetensors").read_bytes() == b"lora"
    add(store, "later", "loras", {"later.safetensors": b"new"})  # live: no re-link needed
    assert (link / "later.safetensors").read_bytes() == b"new"
    again = plan_app_links(store.views_dir, "comfyui", comfy)
    assert again.actions == () and again.unchanged == len(plan.actions)


def test_a1111_uses_its_folder_names(store: Store, tmp_path: Path) -> None:
    webui = tmp_path / "webui"
    (webui / "models").mkdir(parents=True)
    plan = plan_app_links(store.views_dir, "a1111", webui)
    targets = {a.path.relative_to(webui).as_posix(): a.target.name for a in plan.actions
               if a.target is not None}
    assert targets["models/Stable-diffusion/modelshelf"] == "checkpoints"
    assert targets["models/Lora/modelshelf"] == "loras"
    assert targets["models/VAE/modelshelf"] == "vae"
    assert targets["embeddings/modelshelf"] == "embeddings"
    assert targets["models/ControlNet/modelshelf"] == "controlnet"
    assert targets["models/ESRGAN/modelshelf"] == "upscale_models"
    assert targets["models/text_encoder/modelshelf"] == "text_encoders"
    plan.execute()
    add(store, "base", "checkpoints", {"base.safetensors": b"ckpt"})
    assert (webui / "models/Stable-diffusion/modelshelf/base.safetensors").read_bytes() == b"ckpt"


def test_refuses_to_replace_a_users_folder(store: Store, comfy: Path) -> None:
    mine = comfy / "models" / "loras" / "modelshelf"
    mine.mkdir()
    (mine / "precious.safetensors").write_bytes(b"mine")
    plan = plan_app_links(store.views_dir, "comfyui", comfy)
    assert [c.path for c in plan.conflicts] == [mine]
    assert plan.to_json()["conflicts"][0]["reason"] == "exists and is not a modelshelf link"
    plan.execute()
    assert (mine / "precious.safetensors").read_bytes() == b"mine"
    assert (comfy / "models" / "vae" / "modelshelf").is_symlink()


def test_warns_when_dir_does_not_look_like_the_app(store: Store, tmp_path: Path) -> None:
    plan = plan_app_links(store.views_dir, "a1111", tmp_path)
    assert "no models/ folder" in plan.warnings[0]
    with pytest.raises(UsageError):
        plan_app_links(store.views_dir, "comfyui", tmp_path / "missing")
    with pytest.raises(UsageError, match="unknown app"):
        plan_app_links(store.views_dir, "photoshop", tmp_path)


def test_flat_makes_hard_links_and_syncs(store: Store, tmp_path: Path) -> None:
    one = add(store, "one", "vae", {"one.safetensors": b"vae"})
    pipe = add(store, "pipe", "checkpoints",
               {"unet/w.safetensors": b"w", "model_index.json": b"{}"},
               format="diffusers")
    dest = tmp_path / "flat"
    plan = plan_app_links(store.views_dir, "flat", dest)
    assert {a.op for a in plan.actions} == {"create"} and len(plan.actions) == 3
    plan.execute()
    flat_one = dest / "vae" / "one.safetensors"
    assert flat_one.stat().st_ino == store.blob_path(one.sha256).stat().st_ino
    assert (dest / "checkpoints" / "pipe" / "unet" / "w.safetensors").read_bytes() == b"w"
    (dest / "vae" / "users-own.safetensors").write_bytes(b"keep me")
    store.remove("pipe")
    sync = plan_app_links(store.views_dir, "flat", dest)
    assert sorted(a.op for a in sync.actions) == ["remove", "remove"]
    assert sync.unchanged == 1
    sync.execute()
    assert not (dest / "checkpoints" / "pipe").exists()
    assert (dest / "checkpoints").is_dir()
    assert (dest / "vae" / "users-own.safetensors").read_bytes() == b"keep me"
    assert flat_one.exists() and pipe.name == "pipe"


def test_flat_never_overwrites_a_users_file(store: Store, tmp_path: Path) -> None:
    add(store, "one", "vae", {"one.safetensors": b"store"})
    dest = tmp_path / "flat"
    (dest / "vae").mkdir(parents=True)
    (dest / "vae" / "one.safetensors").write_bytes(b"users")
    plan = plan_app_links(store.views_dir, "flat", dest)
    assert plan.actions == () and len(plan.conflicts) == 1
    plan.execute()
    assert (dest / "vae" / "one.safetensors").read_bytes() == b"users"


def test_flat_replaces_its_own_link_after_force(store: Store, tmp_path: Path) -> None:
    add(store, "one", "vae", {"one.safetensors": b"v1"})
    dest = tmp_path / "flat"
    plan_app_links(store.views_dir, "flat", dest).execute()
    v2 = put_blob(store, b"v2", "one.safetensors")
    store.add_model(new_model("one", v2, type="vae"), force=True)
    plan = plan_app_links(store.views_dir, "flat", dest)
    assert [a.op for a in plan.actions] == ["replace"]
    plan.execute()
    assert (dest / "vae" / "one.safetensors").read_bytes() == b"v2"


def test_flat_falls_back_to_symlinks(store: Store, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    add(store, "one", "vae", {"one.safetensors": b"v"})

    def exdev(*_a: object, **_k: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", exdev)
    dest = tmp_path / "other-disk"
    plan_app_links(store.views_dir, "flat", dest).execute()
    link = dest / "vae" / "one.safetensors"
    assert link.is_symlink() and link.read_bytes() == b"v"
    assert plan_app_links(store.views_dir, "flat", dest).unchanged == 1


def test_invokeai_folder_and_instructions(store: Store, tmp_path: Path) -> None:
    add(store, "detail", "loras", {"detail.safetensors": b"lora"})
    dest = tmp_path / "invoke-models"
    plan = plan_app_links(store.views_dir, "invokeai", dest)
    assert any("Scan Folder" in note for note in plan.notes)
    plan.execute()
    assert (dest / "loras" / "detail.safetensors").read_bytes() == b"lora"
    data = plan.to_json()
    assert data["app"] == "invokeai" and data["style"] == "files"


def test_every_app_maps_only_known_types() -> None:
    from modelshelf.store import TYPES

    for layout in APPS.values():
        assert set(layout.links) <= set(TYPES)


def test_flat_ledger_heals_after_being_deleted(store: Store, tmp_path: Path) -> None:
    from modelshelf.views.plan import LEDGER

    add(store, "gone", "loras", {"gone.safetensors": b"bye"})
    dest = tmp_path / "flat"
    plan_app_links(store.views_dir, "flat", dest).execute()
    (dest / LEDGER).unlink()
    plan_app_links(store.views_dir, "flat", dest).execute()  # nothing to do, ledger rewritten
    store.remove("gone")
    plan_app_links(store.views_dir, "flat", dest).execute()
    assert not (dest / "loras" / "gone.safetensors").exists()
