"""advise: verdicts, scores with reasons, and suggestions with the bytes each saves."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from advise_models import register

from modelshelf.store import Store
from modelshelf.testing import factories as f


def _by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in data["models"]}


def _actions(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["action"]: s for s in model["suggestions"]}


def test_fp32_model_that_does_not_fit_gets_a_high_fp16_suggestion(
        cli: Any, shelf_models: dict[str, int]) -> None:
    # big32: 200 MB + 20% + 512 MiB = 777 MB > 740 MB; as fp16 657 MB <= 90% of 740 MB
    result = cli("advise", "big32", "--gpu", "740MB", "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["target"]["gpu_bytes"] == 740 * 10**6
    (model,) = data["models"]
    assert model["fit"] == "does not fit"
    assert 0 <= model["score"] < 60
    assert any(r.startswith("VRAM: needs 776.87 MB of 740.00 MB") for r in model["reasons"])
    fp16 = _actions(model)["convert-fp16"]
    assert fp16["priority"] == "high" and fp16["saves_bytes"] == 50_000_000 * 2
    assert fp16["safe_to_apply"] is True
    assert data["total_saves_bytes"] == 100_000_000


def test_verdicts_follow_the_budget(cli: Any, shelf_models: dict[str, int]) -> None:
    fits = cli("advise", "big32", "--gpu", "2GB", "--json").json["models"][0]
    tight = cli("advise", "big32", "--gpu", "800MB", "--json").json["models"][0]
    assert (fits["fit"], tight["fit"]) == ("fits", "tight")
    assert fits["score"] > tight["score"]
    disk = cli("advise", "big32", "--disk", "150MB", "--json").json["models"][0]
    assert disk["fit"] == "does not fit"
    assert any(r.startswith("disk: 200.00 MB of 150.00 MB: does not fit") for r in disk["reasons"])


def test_all_models_unsafe_pickle_and_unused(cli: Any, shelf_models: dict[str, int]) -> None:
    data = cli("advise", "--all", "--profile", "colab-free", "--json").json
    models = _by_name(data)
    assert set(models) == {"big32", "small16", "evil"}
    assert data["target"]["name"] == "colab-free"
    evil = _actions(models["evil"])
    assert evil["replace-unsafe-pickle"]["priority"] == "high"
    assert "convert-fp16" not in evil  # convert refuses unsafe pickles
    assert "an unsafe pickle (-10)" in models["evil"]["reasons"]
    unused = _actions(models["small16"])["remove"]
    assert unused["saves_bytes"] == shelf_models["small16"]
    assert "not used for 400 days" in unused["detail"]
    assert "remove" not in _actions(models["big32"])  # used just now
    assert data["models"][0]["score"] <= data["models"][-1]["score"]  # worst first


def test_copies_outside_the_store_are_duplicates_names_inside_are_not(
        tmp_path: Path, store: Store, cli: Any, shelf_models: dict[str, int]) -> None:
    small = store.blob_path(store.get("small16").files[0].sha256)
    register(store, small, "small16-again")  # same bytes, second name: costs nothing
    extra = tmp_path / "comfy"
    extra.mkdir()
    shutil.copy(small, extra / "copy.safetensors")
    data = cli("advise", "small16", "small16-again", "--gpu", "8GB", "--dir", str(extra),
               "--json").json
    for model in data["models"]:
        dedupe = _actions(model)["dedupe"]
        assert dedupe["saves_bytes"] == shelf_models["small16"]
        assert str(extra / "copy.safetensors") in dedupe["detail"]
    disk = cli("advise", "small16", "--disk", "1GB", "--dir", str(extra), "--json").json["disk"]
    assert disk["after_advice_bytes"] == disk["bytes"]  # the copy outside is not on this disk
    alone = cli("advise", "small16", "--gpu", "8GB", "--json").json["models"][0]
    assert "dedupe" not in _actions(alone)


def test_gguf_gets_quant_choices_not_fp16(tmp_path: Path, cli: Any) -> None:
    from modelshelf.formats.gguf_fmt import bits_per_weight

    path = f.write_gguf(tmp_path / "tiny.gguf", f.llama_gguf_metadata())
    info = cli("info", str(path), "--json").json
    data = cli("advise", str(path), "--gpu", "24GB", "--json").json
    (model,) = data["models"]
    actions = _actions(model)
    assert "convert-fp16" not in actions
    quant = actions["gguf-quant"]
    choices = {c["quant"]: c["bytes"] for c in quant["choices"]}
    assert choices["Q4_K_M"] == int(info["parameters"] * (bits_per_weight("Q4_K") + 0.35) / 8)
    assert choices["Q8_0"] == int(info["parameters"] * 8.5 / 8)
    assert quant["quant"] == "Q8_0"  # the largest that fits
    assert quant["saves_bytes"] == info["size"] - choices["Q8_0"]


def test_text_output_and_usage_errors(cli: Any, shelf_models: dict[str, int]) -> None:
    result = cli("advise", "big32", "--profile", "4090")
    assert result.code == 0
    assert "big32: fits, score" in result.out
    assert "[medium] convert-fp16: saves 100.00 MB" in result.out
    for args, text in ((("advise", "--gpu", "8GB"), "name models or paths, or give --all"),
                       (("advise", "big32"), "give --gpu SIZE"),
                       (("advise", "nope", "--gpu", "8GB"), "advise: nope: no such model or file"),
                       (("advise", "big32", "--profile", "a6001"), "did you mean 'a6000'")):
        bad = cli(*args)
        assert bad.code in (1, 2) and text in bad.err
        assert len(bad.err.strip().splitlines()) == 1


def test_a_lora_runs_beside_its_base_so_no_image_activations(
        tmp_path: Path, store: Store, cli: Any) -> None:
    lora = f.write_safetensors(tmp_path / "l.safetensors", f.kohya_lora("sdxl", rank=4))
    size = register(store, lora, "style", "loras", "sdxl")
    model = cli("advise", "style", "--gpu", "8GB", "--json").json["models"][0]
    assert model["needed_bytes"] == size + 512 * 2**20
    assert "(loaded beside its base model)" in model["reasons"][0]


def test_a_transformers_folder_in_fp32_is_told_but_not_converted(tmp_path: Path, cli: Any) -> None:
    import json

    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(f.transformers_config("qwen2")))
    f.write_safetensors(folder / "model.safetensors", f.decoder_lm_tensors(), dtype="F32")
    data = cli("advise", str(folder), "--gpu", "8GB", "--json").json
    fp16 = _actions(data["models"][0])["convert-fp16"]
    assert fp16["saves_bytes"] > 0 and fp16["safe_to_apply"] is False
    assert "`modelshelf convert` its weights file" in fp16["detail"]


def test_the_models_together_against_the_disk(
        store: Store, cli: Any, shelf_models: dict[str, int]) -> None:
    small = store.blob_path(store.get("small16").files[0].sha256)
    register(store, small, "small16-again")  # a second name costs no disk
    total = sum(shelf_models.values())
    data = cli("advise", "--all", "--disk", "150MB", "--json").json
    assert data["disk"] == {"bytes": total, "budget_bytes": 150 * 10**6, "fit": "does not fit",
                            "after_advice_bytes": total - 100_000_000,  # big32 at fp16
                            "fit_after_advice": "fits"}
    text = cli("advise", "--all", "--disk", "150MB").out
    assert "together on disk: 200.02 MB of 150.00 MB: does not fit; after the advice" in text
    assert cli("advise", "--all", "--gpu", "8GB", "--json").json["disk"] is None
