"""scan, adopt and report on messy folders: odd names, sidecars, broken files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from inspect_models import write_sharded, write_st

from modelshelf.inspection import inspect_path, report, scan
from modelshelf.store import Store


def test_adopt_takes_files_whose_names_hold_control_characters(tmp_path: Path, store: Store) -> None:
    odd = write_st(tmp_path / "m" / "new\nline\tstyle.safetensors", {"w": (4, 4)}, seed=1)
    result = scan(tmp_path / "m", store=store, adopt=True)
    assert result.adopt_failed == ()
    (model,) = store.list()
    assert model.name == "new_line_style"
    assert [f.path for f in model.files] == ["new_line_style.safetensors"]
    assert os.path.samefile(odd, store.blob_path(model.files[0].sha256))  # still readable there


def _bare_shards(folder: Path) -> Path:
    """A sharded safetensors model with its index and no config.json (a plain shard folder)."""
    write_sharded(folder)
    (folder / "config.json").unlink()
    return folder


def test_a_shard_index_is_not_a_second_copy_of_its_shards(tmp_path: Path, store: Store) -> None:
    folder = _bare_shards(tmp_path / "m" / "big")
    result = scan(tmp_path / "m", store=store)
    assert sorted(Path(f.path).name for f in result.files) == [
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert sum(f.facts["parameters"] for f in result.files) == 120  # each tensor once
    fp32 = report(store, extra_dirs=[tmp_path / "m"]).to_json()
    assert fp32["fp16_savings_bytes"] == 200  # the 100 F32 elements of shard 1, counted once
    assert fp32["total_bytes"] == sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def test_a_shard_index_missing_a_shard_is_reported_broken(tmp_path: Path, store: Store) -> None:
    folder = _bare_shards(tmp_path / "m")
    (folder / "model-00002-of-00002.safetensors").unlink()
    result = scan(folder, store=store)
    broken = {Path(f.path).name: f.error for f in result.files if f.error}
    assert list(broken) == ["model.safetensors.index.json"]
    assert "shard model-00002-of-00002.safetensors is missing" in broken["model.safetensors.index.json"]


def test_a_dangling_symlink_inside_a_model_folder_does_not_stop_the_scan(
    tmp_path: Path, store: Store,
) -> None:
    folder = tmp_path / "m" / "pipe"
    write_st(folder / "unet" / "diffusion_pytorch_model.safetensors", {"conv_in.weight": (4, 4)})
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}))
    (folder / "unet" / "old.safetensors").symlink_to(tmp_path / "deleted.safetensors")
    (folder / "unet" / "loop").symlink_to("loop")  # ELOOP
    lone = write_st(tmp_path / "m" / "lone.safetensors", {"w": (2,)})
    result = scan(tmp_path / "m", store=store)
    assert sorted(f.path for f in result.files) == sorted([str(folder), str(lone)])
    assert all(f.error is None for f in result.files)


def test_info_of_a_folder_whose_files_vanish_while_it_is_measured(tmp_path: Path, monkeypatch) -> None:
    """``info /`` or a folder some app writes temp files into: a listed file may be gone when it
    is measured (as /proc's are); that is no reason to fail."""
    kept = write_st(tmp_path / "kept.safetensors", {"w": (2,)})
    doomed = tmp_path / "download.tmp"
    doomed.write_bytes(b"x" * 10)
    real_walk = os.walk

    def walk_then_delete(top, *args, **kwargs):
        for entry in real_walk(top, *args, **kwargs):
            doomed.unlink(missing_ok=True)
            yield entry

    monkeypatch.setattr(os, "walk", walk_then_delete)
    assert inspect_path(tmp_path).size == kept.stat().st_size


def _latin1_name(folder: Path) -> Path:
    """``café.safetensors`` as an old zip tool writes it: Latin-1, not UTF-8."""
    name = os.fsdecode(b"caf\xe9.safetensors")
    try:
        return write_st(folder / name, {"w": (4,)})
    except (OSError, UnicodeEncodeError):
        pytest.skip("this filesystem only takes UTF-8 names")


def test_scan_and_adopt_take_names_that_are_not_utf8(tmp_path: Path, store: Store) -> None:
    odd = _latin1_name(tmp_path / "m")
    first = scan(tmp_path / "m", store=store)
    again = scan(tmp_path / "m", store=store)  # the cache could not hold it: read again, fine
    assert [f.path for f in first.files] == [f.path for f in again.files] == [str(odd)]
    result = scan(tmp_path / "m", store=store, adopt=True)
    assert result.adopted == ("caf_",) and result.adopt_failed == ()
    assert os.path.samefile(odd, store.blob_path(store.list()[0].files[0].sha256))
    assert scan(tmp_path / "m", store=store, adopt=True).adopt_plan.items == ()  # type: ignore[union-attr]


def test_a_symlink_loop_in_the_tree_does_not_stop_the_scan(tmp_path: Path, store: Store) -> None:
    model = write_st(tmp_path / "m" / "a.safetensors", {"w": (2,)})
    (tmp_path / "m" / "loop1").symlink_to("loop2")
    (tmp_path / "m" / "loop2").symlink_to("loop1")  # stat() says ELOOP, not "no such file"
    assert [f.path for f in scan(tmp_path / "m", store=store).files] == [str(model)]


def test_adopt_takes_files_whose_names_are_near_the_length_limit(tmp_path: Path, store: Store) -> None:
    stem = "é" * 121  # 242 bytes: the longest a "<stem>.safetensors" file name can be
    for folder, seed in (("a", 1), ("b", 2)):  # two of them: the second is named "<stem>-2"
        write_st(tmp_path / "m" / folder / f"{stem}.safetensors", {"w": (4,)}, seed=seed)
    result = scan(tmp_path / "m", store=store, adopt=True)
    assert result.adopt_failed == () and len(result.adopted) == 2
    assert all(len(name.encode()) <= 200 for name in result.adopted)


def test_adopt_takes_files_whose_names_have_outer_spaces(tmp_path: Path, store: Store) -> None:
    write_st(tmp_path / "m" / " style .safetensors", {"w": (4,)})
    assert scan(tmp_path / "m", store=store, adopt=True).adopted == ("style",)
