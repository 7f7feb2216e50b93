"""convert pointed at the wrong place: its own inputs, a folder, a full disk — nothing destroyed,
and every error names OUT rather than a temp file the user never asked for."""

from __future__ import annotations

import errno
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import modelshelf.convert as convert_mod
from modelshelf.convert import convert
from modelshelf.errors import FormatError, UsageError


def _shards(folder: Path) -> Path:
    """A two-shard safetensors model with its index (no config.json): convert reads all three."""
    folder.mkdir()
    save_file({"a": np.ones((4, 4), np.float32)}, folder / "model-00001-of-00002.safetensors")
    save_file({"b": np.zeros((2,), np.float32)}, folder / "model-00002-of-00002.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    return folder


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("source", ["model.safetensors.index.json", "."])
def test_convert_refuses_to_overwrite_one_of_its_own_shards(tmp_path: Path, source: str) -> None:
    folder = _shards(tmp_path / "m")
    shard = folder / "model-00002-of-00002.safetensors"
    before = shard.read_bytes()
    with pytest.raises(UsageError, match=r"model-00002-of-00002\.safetensors: output must differ"):
        convert(folder / source, shard, dtype="fp16")
    assert shard.read_bytes() == before and _leftovers(folder) == []


def test_convert_into_an_existing_folder_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "a.safetensors"
    save_file({"w": np.ones((2, 2), np.float32)}, src)
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError, match="out: is a folder"):
        convert(src, tmp_path / "out")
    assert _leftovers(tmp_path) == []


def test_output_under_a_file_names_out_not_a_temp_file(tmp_path: Path) -> None:
    src = tmp_path / "a.safetensors"
    save_file({"w": np.ones((2, 2), np.float32)}, src)
    with pytest.raises(OSError) as caught:
        convert(src, src / "b.safetensors")
    assert caught.value.filename == str(src / "b.safetensors")
    assert ".part" not in str(caught.value)


def test_a_full_disk_names_out_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "a.safetensors"
    save_file({"w": np.ones((2, 2), np.float32)}, src)

    def disk_full(fd: int, data: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(convert_mod, "write_all", disk_full)
    with pytest.raises(OSError, match="No space left on device") as caught:
        convert(src, tmp_path / "b.safetensors")
    assert caught.value.filename == str(tmp_path / "b.safetensors")
    assert not (tmp_path / "b.safetensors").exists() and _leftovers(tmp_path) == []


def test_a_pickle_key_that_is_not_utf8_is_refused_by_name(tmp_path: Path) -> None:
    from convert_torchzip import View, pickle_bytes

    four = np.ones(4, np.float32)
    pkl = pickle_bytes({"wX": View("0", 0, (4,))}, {"0": four})
    # BINUNICODE "w\ud800": pickle decodes its UTF-8 with surrogatepass
    pkl = pkl.replace(b"\x02\x00\x00\x00wX", b"\x04\x00\x00\x00w\xed\xa0\x80")
    src = tmp_path / "a.ckpt"
    with zipfile.ZipFile(src, "w") as zf:  # written, never loaded
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/data/0", four.tobytes())
    with pytest.raises(FormatError, match="not valid UTF-8"):
        convert(src, tmp_path / "b.safetensors")
    assert not (tmp_path / "b.safetensors").exists() and _leftovers(tmp_path) == []
