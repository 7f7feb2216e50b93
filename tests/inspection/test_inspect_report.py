"""report: the numbers over a small store (and an extra folder) add up."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from inspect_models import write_st

import modelshelf.inspection.scanner as scanner
from modelshelf.inspection import report
from modelshelf.store import NewModel, Store


def _register(store: Store, path: Path, name: str, type_: str, arch: str, fmt: str) -> int:
    rec = store.import_file(path, mode="copy")
    store.add_model(NewModel(name=name, type=type_, architecture=arch, format=fmt,
                             source="local", source_ref=str(path), source_url=None,
                             revision=None, files=(rec,)))
    return rec.size


@pytest.fixture
def filled(tmp_path: Path, store: Store) -> dict[str, object]:
    src = tmp_path / "src"
    big = write_st(src / "big.safetensors", {"w": (100, 100)}, seed=1)  # 10,000 F32
    half = write_st(src / "half.safetensors", {"w": (50, 50)}, np.float16, seed=2)
    lora = write_st(src / "lora.safetensors", {"x": (10,)}, seed=3)
    evil = src / "evil.ckpt"
    cmd = b"echo hi"
    evil.write_bytes(b"\x80\x02cposix\nsystem\nX" + struct.pack("<I", len(cmd)) + cmd + b"\x85R.")
    sizes = {
        "big": _register(store, big, "big", "checkpoints", "sdxl", "safetensors"),
        "half": _register(store, half, "half", "checkpoints", "sd15", "safetensors"),
        "lora": _register(store, lora, "lora", "loras", "unknown", "safetensors"),
        "evil": _register(store, evil, "evil", "other", "unknown", "pickle"),
    }
    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.copy(big, extra / "big-copy.safetensors")  # a copy of a stored model
    pair = write_st(extra / "p1.safetensors", {"w": (7, 7)}, seed=9)
    shutil.copy(pair, extra / "p2.safetensors")
    return {"sizes": sizes, "extra": extra, "pair_size": pair.stat().st_size}


def test_report_over_the_store(store: Store, filled: dict) -> None:
    sizes = filled["sizes"]
    data = report(store).to_json()
    assert data["models"] == 4
    assert data["total_bytes"] == sum(sizes.values())
    assert data["by_type"]["checkpoints"] == {"count": 2, "bytes": sizes["big"] + sizes["half"]}
    assert data["by_type"]["loras"]["count"] == 1
    assert data["by_architecture"]["unknown"]["count"] == 2
    assert data["by_format"]["pickle"] == {"count": 1, "bytes": sizes["evil"]}
    fp32 = {f["model"]: f for f in data["fp32"]}
    assert set(fp32) == {"big", "lora"}  # half is F16
    assert fp32["big"]["fp16_saves"] == 10_000 * 2
    assert data["fp16_savings_bytes"] == (10_000 + 10) * 2
    assert [u["model"] for u in data["unsafe"]] == ["evil"]
    assert any("system" in f for f in data["unsafe"][0]["findings"])
    assert sorted(data["unknown"]) == ["evil", "lora"]
    assert data["duplicates"] == [] and data["reclaimable_bytes"] == 0


def test_report_with_an_extra_folder_finds_copies(store: Store, filled: dict) -> None:
    extra = filled["extra"]
    rep = report(store, [extra])
    data = rep.to_json()
    assert data["models"] == 4 + 3
    groups = [sorted(Path(p).name for p in d["paths"]) for d in data["duplicates"]]
    assert ["p1.safetensors", "p2.safetensors"] in groups
    assert any("big-copy.safetensors" in g for g in groups)  # matched against the store's blob
    assert data["reclaimable_bytes"] == filled["sizes"]["big"] + filled["pair_size"]
    lines = rep.render()
    assert any(line.startswith("Duplicates: 2 groups") for line in lines)
    assert all(isinstance(line, str) for line in lines)


def test_second_report_reads_no_model_file(store: Store, filled: dict,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    first = report(store, [filled["extra"]]).to_json()

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("a cached file was read again")

    monkeypatch.setattr(scanner, "read_header", boom)
    monkeypatch.setattr(scanner, "detect_format", boom)
    assert report(store, [filled["extra"]]).to_json() == first


def test_a_missing_blob_is_reported_not_fatal(store: Store, filled: dict) -> None:
    big = store.get("big")
    blob = store.blob_path(big.sha256)
    blob.chmod(0o644)
    blob.unlink()
    data = report(store).to_json()
    assert [b["model"] for b in data["broken"]] == ["big"]
    assert "missing" in data["broken"][0]["error"]
