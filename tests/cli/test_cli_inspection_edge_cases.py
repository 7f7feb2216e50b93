"""info / scan / convert as users and scripts meet them on messy folders: one-line errors, JSON
that parses even when the command fails, nothing silently ignored."""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

import modelshelf.inspection.scanner as scanner_mod


def _st(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.random.default_rng(seed).standard_normal((4, 4)).astype(np.float32)}, path)
    return path


def _strict_json(text: str) -> object:
    """json.loads as jq and browsers parse: NaN and Infinity are not JSON."""
    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("args", [("info", "{tmp}/broken.safetensors"), ("scan", "{tmp}/nowhere"),
                                  ("convert", "{tmp}/broken.safetensors", "{tmp}/out.safetensors")])
def test_json_failures_still_print_json(cli, home, tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "broken.safetensors").write_bytes(struct.pack("<Q", 999) + b"{}")
    result = cli(*(a.format(tmp=tmp_path) for a in args), "--json")
    assert result.code == 1
    line = _one_line(result.err)
    assert result.json["error"] in line
    assert "broken.safetensors" in line or "nowhere" in line


def _gguf(path: Path, keys: Callable[[Any], None]) -> Path:
    """A tiny llama GGUF; ``keys(writer)`` adds the metadata under test."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    keys(w)
    w.add_tensor("token_embd.weight", np.ones((8, 16), np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_info_json_of_a_gguf_with_nan_metadata_is_strict_json(cli, home, tmp_path: Path) -> None:
    def odd_floats(w: Any) -> None:
        w.add_float32("llama.rope.freq_base", math.nan)
        w.add_float64("custom.limit", math.inf)

    _gguf(tmp_path / "nan.gguf", odd_floats)
    result = cli("info", str(tmp_path / "nan.gguf"), "--json")
    assert result.code == 0, result.err
    meta = _strict_json(result.out)["metadata"]  # type: ignore[index]
    assert (meta["llama.rope.freq_base"], meta["custom.limit"]) == ("nan", "inf")


@pytest.mark.parametrize("size", ["nan", "inf", "-1", "0", "lots"])
def test_info_gpu_memory_nonsense_is_a_usage_error(cli, home, tmp_path: Path, size: str) -> None:
    result = cli("info", str(_st(tmp_path / "a.safetensors")), "--gpu-memory", size)
    assert result.code == 2
    assert "--gpu-memory" in _one_line(result.err) and "internal error" not in result.err


def test_info_gpu_answer_reads_as_a_sentence(cli, home, tmp_path: Path) -> None:
    result = cli("info", str(_st(tmp_path / "a.safetensors")), "--gpu-memory", "8GiB",
                 "--dtype", "fp16")
    assert result.code == 0, result.err
    gpu = [line for line in result.out.splitlines() if line.strip().startswith("gpu")]
    assert gpu and "fits at fp16: needs" in gpu[0] and "{" not in gpu[0]


def test_scan_dry_run_without_adopt_is_a_usage_error(cli, home, tmp_path: Path) -> None:
    _st(tmp_path / "m" / "a.safetensors")
    result = cli("scan", str(tmp_path / "m"), "--dry-run")
    assert result.code == 2 and "--dry-run goes with --adopt" in _one_line(result.err)


def test_scan_marks_broken_and_unsafe_files_and_keeps_odd_names_on_one_line(
    cli, home, tmp_path: Path,
) -> None:
    root = tmp_path / "m"
    _st(root / "new\nline.safetensors")
    (root / "cut.safetensors").write_bytes(struct.pack("<Q", 999) + b"{}")
    with zipfile.ZipFile(root / "evil.ckpt", "w") as zf:  # written, never loaded
        zf.writestr("archive/data.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    result = cli("scan", str(root))
    assert result.code == 0, result.err
    lines = {line.split("  ")[0]: line for line in result.out.splitlines()}
    assert "BROKEN: " in lines[str(root / "cut.safetensors")]
    assert "UNSAFE: imports os.system" in lines[str(root / "evil.ckpt")]
    assert str(root / "new\\nline.safetensors") in lines


def test_scan_adopt_dry_run_shows_the_plan(cli, home, tmp_path: Path) -> None:
    a = _st(tmp_path / "m" / "style.safetensors")
    result = cli("scan", str(tmp_path / "m"), "--adopt", "--dry-run")
    assert result.code == 0, result.err
    assert f"would adopt {a} as style" in result.out.splitlines()
    assert a.stat().st_nlink == 1  # nothing moved


def test_scan_adopt_failure_exits_1_naming_the_file(cli, home, tmp_path: Path, monkeypatch) -> None:
    a = _st(tmp_path / "m" / "a.safetensors", seed=1)
    b = _st(tmp_path / "m" / "b.safetensors", seed=2)
    plan_adopt = scanner_mod.plan_adopt

    def edited_after_hashing(*args, **kwargs):  # the user's editor saves b mid-adopt
        plan = plan_adopt(*args, **kwargs)
        _st(b, seed=3)
        return plan

    monkeypatch.setattr(scanner_mod, "plan_adopt", edited_after_hashing)
    result = cli("scan", str(tmp_path / "m"), "--adopt")
    assert result.code == 1
    assert str(b) in _one_line(result.err) and "sha256" in result.err
    assert "adopted 1 model(s), 1 failed" in result.out
    assert a.stat().st_nlink > 1 and b.stat().st_nlink == 1  # a adopted; b left alone, as edited


def test_convert_without_dtype_says_nothing_about_casting(cli, home, tmp_path: Path) -> None:
    src = _st(tmp_path / "a.safetensors")
    result = cli("convert", str(src), str(tmp_path / "b.safetensors"))
    assert result.code == 0, result.err
    assert "None" not in result.out and "cast" not in result.out


def test_info_and_scan_say_what_a_diffusers_folder_lacks(cli, home, tmp_path: Path) -> None:
    pipe = tmp_path / "m" / "pipe"
    _st(pipe / "unet" / "diffusion_pytorch_model.safetensors")
    (pipe / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]}))
    info = cli("info", str(pipe), "--json")
    assert info.code == 0, info.err
    assert info.json["missing"] == ["vae"]
    assert "MISSING       vae" in cli("info", str(pipe)).out
    scanned = cli("scan", str(tmp_path / "m"))
    assert f"{pipe}  diffusers" in scanned.out and "INCOMPLETE: missing vae" in scanned.out


def test_scan_prints_names_that_are_not_utf8(cli, home, tmp_path: Path, monkeypatch) -> None:
    try:
        odd = _st(tmp_path / "m" / os.fsdecode(b"caf\xe9.safetensors"))
    except (OSError, UnicodeEncodeError):
        pytest.skip("this filesystem only takes UTF-8 names")
    result = cli("scan", str(tmp_path / "m"))
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].startswith(f"{tmp_path / 'm'}/caf\\xe9.safetensors  ")
    assert cli("scan", str(tmp_path / "m"), "--json").json["files"][0]["path"] == str(odd)


def test_info_json_of_a_pickle_with_a_huge_integer(cli, home, tmp_path: Path) -> None:
    """``{"epoch": 10**5000}`` in a checkpoint: Python refuses to print such an int by default."""
    n = 10**5000
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    pkl = b"\x80\x02}(X\x05\x00\x00\x00epoch\x8b" + struct.pack("<i", len(raw)) + raw + b"u."
    with zipfile.ZipFile(tmp_path / "odd.ckpt", "w") as zf:  # written, never loaded
        zf.writestr("archive/data.pkl", pkl)
    result = cli("info", str(tmp_path / "odd.ckpt"), "--json")
    assert result.code == 0, result.err
    assert result.json["metadata"]["epoch"] == "<16610-bit integer>"


def test_ctrl_c_in_convert_leaves_no_output_and_still_prints_json(
    cli, home, tmp_path: Path, monkeypatch,
) -> None:
    import modelshelf.convert as convert_mod

    src = _st(tmp_path / "a.safetensors")
    real_copy = convert_mod.copy_tensors

    def copy_then_ctrl_c(*args, **kwargs):
        real_copy(*args, **kwargs)  # the data is written: only the rename is left to do
        raise KeyboardInterrupt

    monkeypatch.setattr(convert_mod, "copy_tensors", copy_then_ctrl_c)
    result = cli("convert", str(src), str(tmp_path / "b.safetensors"), "--dtype", "fp16", "--json")
    assert result.code == 130 and result.json == {"error": "interrupted"}
    left = [p.name for p in tmp_path.iterdir() if p.suffix not in ("", ".toml")]
    assert left == ["a.safetensors"]  # no .part


def test_ctrl_c_in_scan_adopt_then_rerun_adopts_the_rest(
    cli, home, tmp_path: Path, monkeypatch,
) -> None:
    from modelshelf.store import Store

    files = [_st(tmp_path / "m" / f"{n}.safetensors", seed=i) for i, n in enumerate("abc")]
    before = [p.read_bytes() for p in files]
    real_add, calls = Store.add_model, []

    def ctrl_c_on_the_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(Store, "add_model", ctrl_c_on_the_second)
    assert cli("scan", str(tmp_path / "m"), "--adopt").code == 130
    assert [p.read_bytes() for p in files] == before  # every path still reads the same bytes
    assert [m["name"] for m in cli("ls", "--json").json["models"]] == ["a"]
    monkeypatch.setattr(Store, "add_model", real_add)
    again = cli("scan", str(tmp_path / "m"), "--adopt", "--json")
    assert again.code == 0 and sorted(again.json["adopted"]) == ["b", "c"]


def test_info_of_a_gguf_shows_its_quantization_and_context(cli, home, tmp_path: Path) -> None:
    def llm_keys(w: Any) -> None:
        w.add_context_length(8192)
        w.add_file_type(7)  # llama.cpp's MOSTLY_Q8_0

    lines = cli("info", str(_gguf(tmp_path / "q.gguf", llm_keys))).out.splitlines()
    assert "  quantization  Q8_0" in lines and "  context       8192" in lines


def test_info_shows_names_from_a_hostile_pickle_on_one_line(cli, home, tmp_path: Path) -> None:
    """A STACK_GLOBAL module name may hold a newline: printed raw, it could fake a line of ours."""
    module = b"os\n  safety        safe"
    pkl = (b"\x80\x04\x8c" + bytes([len(module)]) + module + b"\x8c\x06system\x93"
           b"\x8c\x02id\x85R.")
    with zipfile.ZipFile(tmp_path / "spoof.ckpt", "w") as zf:  # written, never loaded
        zf.writestr("archive/data.pkl", pkl)
    result = cli("info", str(tmp_path / "spoof.ckpt"))
    assert result.code == 0, result.err
    safety = [line for line in result.out.splitlines() if "safety" in line]
    assert safety[0] == "  safety        unknown" and len(safety) == 2  # the finding, escaped
    assert "os\\n  safety        safe.system" in safety[1]


def test_report_names_a_broken_file_once(cli, home, tmp_path: Path) -> None:
    cut = tmp_path / "m" / "cut.safetensors"
    cut.parent.mkdir()
    cut.write_bytes(struct.pack("<Q", 999) + b"{}")
    result = cli("report", "--dir", str(tmp_path / "m"))
    assert result.code == 0, result.err
    broken = [line for line in result.out.splitlines() if "runs past the end" in line]
    assert len(broken) == 1 and broken[0].count(str(cut)) == 1
