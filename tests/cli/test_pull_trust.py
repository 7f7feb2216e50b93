"""`pull` keeps files that could run code out of app views until the user trusts them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from modelshelf.inspection import Info
from modelshelf.inspection.trust import judge
from modelshelf.store import FileRecord
from modelshelf.testing.server import LocalServer


def _evil_ckpt(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:  # written, never loaded
        zf.writestr("archive/data.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    return path


def _views(home: Path) -> list[Path]:
    return [p for p in (home / "views").rglob("*") if not p.is_dir()]


def test_an_unsafe_pickle_is_stored_but_not_linked_until_trusted(cli, home, tmp_path: Path):
    evil = _evil_ckpt(tmp_path / "evil.ckpt")
    result = cli("pull", str(evil), "--json")
    assert result.code == 0, result.err
    (item,) = result.json["results"]
    assert (item["safety"], item["linked"]) == ("unsafe", False)
    assert "modelshelf trust evil" in " ".join(item["notes"])
    assert _views(home) == []  # ComfyUI's checkpoints/ never sees it
    (listed,) = cli("ls", "--json").json["models"]
    assert (listed["safety"], listed["linked"]) == ("unsafe", False)
    assert "NOT LINKED: unsafe" in cli("ls").out
    assert cli("path", "evil").code == 1

    trusted = cli("trust", "evil", "--json")
    assert trusted.code == 0, trusted.err
    view = Path(trusted.json["models"][0]["path"])
    assert view.read_bytes() == evil.read_bytes()
    assert cli("ls", "--json").json["models"][0]["linked"] is True  # kept in the registry
    assert "NOT LINKED" not in cli("ls").out

    assert cli("untrust", "evil").code == 0
    assert _views(home) == [] and cli("ls", "--json").json["models"][0]["linked"] is False


def test_human_pull_output_says_why_it_was_not_linked(cli, home, tmp_path: Path):
    result = cli("pull", str(_evil_ckpt(tmp_path / "evil.ckpt")))
    assert result.code == 0, result.err
    assert "not linked into views/" in result.err and "UNSAFE pickle" in result.err
    assert "modelshelf trust evil" in result.err
    assert "NOT LINKED" in result.out and str(home / "views") not in result.out


def test_allow_unsafe_links_it_and_a_repull_with_it_links_a_stored_one(cli, home, server:
                                                                       LocalServer, tmp_path):
    evil = _evil_ckpt(tmp_path / "evil.ckpt")
    server.add_file("/models/evil.ckpt", evil)
    url = server.url + "/models/evil.ckpt"
    assert cli("pull", url).code == 0
    assert _views(home) == []
    present = cli("pull", url)  # already stored: still says it is kept from apps
    assert present.code == 0 and "modelshelf trust evil" in present.err
    again = cli("pull", url, "--allow-unsafe", "--json")
    assert again.code == 0, again.err
    (item,) = again.json["results"]
    assert item["linked"] is True and item["bytes_downloaded"] == 0
    assert Path(item["path"]).read_bytes() == evil.read_bytes()


def test_trust_of_an_unknown_name_changes_nothing(cli, home, tmp_path: Path):
    assert cli("pull", str(_evil_ckpt(tmp_path / "evil.ckpt"))).code == 0
    result = cli("trust", "evil", "typo")
    assert result.code == 1 and "typo" in result.err
    assert _views(home) == []


def _info(status: str, fmt: str = "unknown") -> Info:
    return Info(path="x", format=fmt, size=1, architecture="unknown", model_type="other",
                parameters=0, dtypes={}, tensors=0, memory_bytes=0, metadata={}, shards=(),
                safety={"status": status, "findings": []})


@pytest.mark.parametrize(("status", "fmt", "paths", "linkable"), [
    ("safe", "pickle", ["model.ckpt"], True),
    ("unsafe", "pickle", ["model.safetensors"], False),
    ("unknown", "unknown", ["model.ckpt"], False),          # apps would torch.load it
    ("unknown", "unknown", ["a/config.json", "a/pytorch_model.bin"], False),
    ("unknown", "unknown", ["a/README.md", "a/model.pt"], True),  # model.pt judged safe alone
    ("unknown", "diffusers", ["unet/config.json", "unet/model.safetensors"], True),
    ("unknown", "safetensors", ["odd-name.ckpt"], True),     # the content cannot carry code
    ("unknown", "unknown", ["model.gguf"], True),
])
def test_unknown_counts_as_unsafe_unless_no_file_can_carry_code(status, fmt, paths, linkable):
    files = [FileRecord(p, "0" * 64, 1) for p in paths]
    alone = {"a/model.pt": "safe"}  # what inspecting one file by itself says
    verdict = judge(_info(status, fmt), files, lambda f: alone.get(f.path, "unknown"))
    assert verdict.linkable is linkable


def test_ensure_gives_no_path_for_a_model_kept_out_of_views(home, tmp_path: Path):
    import modelshelf
    from modelshelf.errors import UnsafeFile

    evil = _evil_ckpt(tmp_path / "evil.ckpt")
    shelf = modelshelf.Shelf()
    with pytest.raises(UnsafeFile, match="modelshelf trust evil"):
        shelf.ensure(str(evil))
    assert shelf.ensure(str(evil), allow_unsafe=True).read_bytes() == evil.read_bytes()


def test_verify_and_repair_keep_an_untrusted_model_out_of_views(cli, home, tmp_path: Path):
    assert cli("pull", str(_evil_ckpt(tmp_path / "evil.ckpt"))).code == 0
    assert cli("verify").code == 0  # no view is expected, so none is "missing"
    for lost in home.glob("registry.sqlite3*"):
        lost.unlink()
    repaired = cli("repair")
    assert repaired.code == 0, repaired.err
    (model,) = cli("ls", "--json").json["models"]
    assert (model["name"], model["linked"]) == ("evil", False)
    assert _views(home) == []


def test_info_of_a_model_kept_out_of_views_reads_its_blob(cli, home, tmp_path: Path):
    assert cli("pull", str(_evil_ckpt(tmp_path / "evil.ckpt"))).code == 0
    result = cli("info", "evil", "--json")
    assert result.code == 0, result.err
    assert result.json["safety"]["status"] == "unsafe"


def test_scan_adopt_keeps_an_unsafe_pickle_out_of_views_too(cli, home, tmp_path: Path):
    """`scan --adopt` registers what it finds by the same rule as `pull`: a pickle that would
    run code in an app is stored, not linked, until trusted; safe files are linked."""
    folder = tmp_path / "models"
    folder.mkdir()
    _evil_ckpt(folder / "evil.ckpt")
    safe = folder / "ok.safetensors"
    header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    safe.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    result = cli("scan", str(folder), "--adopt", "--json")
    assert result.code == 0, result.err
    listed = {m["name"]: m for m in cli("ls", "--json").json["models"]}
    assert (listed["evil"]["safety"], listed["evil"]["linked"]) == ("unsafe", False)
    assert listed["ok"]["linked"] is True
    assert [p.name for p in _views(home)] == ["ok.safetensors"]
