"""advise --apply: the safe suggestions become NEW models (dry run first, like gc)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from advise_models import register
from convert_torchzip import simple_state_dict

from modelshelf.store import Store
from modelshelf.testing import factories as f


def test_apply_converts_to_a_new_model_and_keeps_the_original(
        tmp_path: Path, store: Store, cli: Any) -> None:
    src = f.write_safetensors(tmp_path / "m.safetensors", {"a": (64, 64), "b": (8,)},
                              dtype="F32", fill="random")
    register(store, src, "m32")

    dry = cli("advise", "m32", "--gpu", "8GB", "--apply", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    assert dry.json["dry_run"] is True
    assert dry.json["plan"] == [{"model": "m32", "action": "convert-fp16", "new_name": "m32-fp16",
                                 "saves_bytes": (64 * 64 + 8) * 2, "status": "planned",
                                 "error": None}]
    assert store.find("m32-fp16") is None  # a dry run changes nothing

    done = cli("advise", "m32", "--gpu", "8GB", "--apply")
    assert done.code == 0, done.err
    assert "convert-fp16: created m32-fp16 from m32" in done.out
    info = cli("info", "m32-fp16", "--json").json
    assert info["dtypes"] == {"F16": 64 * 64 + 8}
    assert store.find("m32") is not None  # the original stays for the user to rm

    again = cli("advise", "m32", "--gpu", "8GB", "--apply", "--json")
    assert [s["status"] for s in again.json["plan"]] == ["exists"]


def test_dry_run_without_apply_is_a_usage_error(cli: Any) -> None:
    result = cli("advise", "--all", "--gpu", "8GB", "--dry-run")
    assert result.code == 2 and "--dry-run goes with --apply" in result.err


def test_a_safe_fp16_pickle_becomes_a_new_safetensors_model(
        tmp_path: Path, store: Store, cli: Any) -> None:
    ckpt = simple_state_dict(tmp_path / "m.ckpt", {"w": np.ones((4, 4), np.float16)})
    register(store, ckpt, "old", fmt="pickle")
    result = cli("advise", "old", "--disk", "1GB", "--apply", "--json")
    assert result.code == 0, result.err
    assert [(s["action"], s["status"]) for s in result.json["plan"]] == [
        ("to-safetensors", "done")]
    info = cli("info", "old-safetensors", "--json").json
    assert info["format"] == "safetensors" and info["dtypes"] == {"F16": 16}
