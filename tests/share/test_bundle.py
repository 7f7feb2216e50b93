"""Offline bundles: export on one machine, import on another with no network."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from modelshelf.api import Shelf
from modelshelf.api.bundle import import_bundle
from modelshelf.testing.factories.files import write_safetensors

Cli = Callable[..., "object"]


def _models(tmp_path: Path) -> tuple[Path, Path]:
    """A single-file LoRA-ish model and a three-file folder model, on disk."""
    (tmp_path / "src").mkdir(parents=True)
    single = write_safetensors(tmp_path / "src" / "tiny.safetensors",
                               {"a.weight": (8, 8)}, fill="random", seed=1)
    folder = tmp_path / "src" / "repo"
    folder.mkdir()
    write_safetensors(folder / "model.safetensors", {"b.weight": (16, 4)}, fill="random", seed=2)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "README.md").write_text("hello\n")
    return single, folder


@pytest.fixture
def exported(tmp_path: Path, cli: Cli) -> tuple[Path, Path]:
    """Home A with two models pulled from local paths, and their bundle."""
    home_a = tmp_path / "a"
    single, folder = _models(tmp_path)
    for ref, name in ((single, "tiny"), (folder, "repo")):
        assert cli("pull", str(ref), "--name", name, "--home", str(home_a)).code == 0
    bundle = tmp_path / "bundle.tar"
    out = cli("export", "tiny", "repo", "-o", str(bundle), "--home", str(home_a), "--json")
    assert out.code == 0, out.err
    assert out.json["blobs"] == 4 and out.json["models"] == ["tiny", "repo"]
    return home_a, bundle


def _rewrite(bundle: Path, change: Callable[[tarfile.TarInfo, bytes], tuple[tarfile.TarInfo, bytes]],
             extra: list[tuple[tarfile.TarInfo, bytes]] | None = None) -> Path:
    out = bundle.with_name("changed.tar")
    with tarfile.open(bundle) as src, tarfile.open(out, "w:") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            info, data = change(member, data)
            dst.addfile(info, io.BytesIO(data))
        for info, data in extra or ():
            dst.addfile(info, io.BytesIO(data))
    return out


def test_round_trip_between_two_homes_registers_like_a_pull(tmp_path: Path, cli: Cli,
                                                            exported: tuple[Path, Path]) -> None:
    home_a, bundle = exported
    home_b = tmp_path / "b"
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
    assert names[:3] == ["manifest.toml", "manifest.toml.lock", "models.json"]
    out = cli("import", str(bundle), "--home", str(home_b), "--json")
    assert out.code == 0, out.err
    assert out.json["blobs_written"] == 4 and out.json["blobs_skipped"] == 0
    a = {m["name"]: m for m in cli("ls", "--json", "--home", str(home_a)).json["models"]}
    b = {m["name"]: m for m in cli("ls", "--json", "--home", str(home_b)).json["models"]}
    assert set(b) == {"tiny", "repo"}
    for name in b:
        for key in ("type", "architecture", "format", "size", "sha256", "source", "revision"):
            assert a[name][key] == b[name][key], (name, key)
        assert Path(b[name]["path"]).exists()  # linked into views, as a pull links it
    assert cli("verify", "--home", str(home_b)).code == 0
    assert not list((home_b / "staging").glob("*.part"))


def test_import_skips_blobs_already_present(tmp_path: Path, cli: Cli,
                                            exported: tuple[Path, Path]) -> None:
    _, bundle = exported
    home_b = tmp_path / "b"
    single, _ = _models(tmp_path / "again")
    assert cli("pull", str(single), "--name", "mine", "--home", str(home_b)).code == 0
    out = cli("import", str(bundle), "--home", str(home_b), "--json")
    assert out.code == 0, out.err
    assert (out.json["blobs_written"], out.json["blobs_skipped"]) == (3, 1)
    assert out.json["bytes_written"] == sum(
        f["size"] for m in out.json["models"] for f in m["files"]) - single.stat().st_size
    again = cli("import", str(bundle), "--home", str(home_b), "--json")
    assert (again.json["blobs_written"], again.json["bytes_written"]) == (0, 0)


def test_tampered_blob_is_refused_naming_the_file(tmp_path: Path, cli: Cli,
                                                  exported: tuple[Path, Path]) -> None:
    _, bundle = exported

    def flip(member: tarfile.TarInfo, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
        if member.name.startswith("blobs/") and len(data) > 100:
            data = data[:-1] + bytes([data[-1] ^ 1])
        return member, data

    out = cli("import", str(_rewrite(bundle, flip)), "--home", str(tmp_path / "b"))
    assert out.code == 1
    assert len(out.err.strip().splitlines()) == 1
    assert "does not match its sha256" in out.err
    assert "model.safetensors" in out.err or "tiny.safetensors" in out.err
    assert cli("ls", "--json", "--home", str(tmp_path / "b")).json["models"] == []


@pytest.mark.parametrize("name,kind", [("../evil", tarfile.REGTYPE), ("/etc/evil", tarfile.REGTYPE),
                                       ("blobs/" + "0" * 64, tarfile.SYMTYPE),
                                       ("blobs/../../x", tarfile.REGTYPE),
                                       ("dev", tarfile.CHRTYPE)])
def test_unexpected_members_are_refused(tmp_path: Path, cli: Cli, exported: tuple[Path, Path],
                                        name: str, kind: bytes) -> None:
    _, bundle = exported
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
    data = b"x" if kind == tarfile.REGTYPE else b""
    info.size = len(data)
    bad = _rewrite(bundle, lambda m, d: (m, d), extra=[(info, data)])
    out = cli("import", str(bad), "--home", str(tmp_path / "b"))
    assert out.code == 1, out.err
    assert len(out.err.strip().splitlines()) == 1 and repr(name) in out.err
    assert not (tmp_path / "evil").exists() and not Path("/etc/evil").exists()
    assert cli("ls", "--json", "--home", str(tmp_path / "b")).json["models"] == []


def test_interrupted_import_leaves_no_model_and_a_rerun_finishes(
        tmp_path: Path, cli: Cli, exported: tuple[Path, Path]) -> None:
    _, bundle = exported
    home_b = tmp_path / "b"
    shelf = Shelf(home_b)
    committed: list[str] = []

    def die_after_two(sha256: str) -> None:
        committed.append(sha256)
        if len(committed) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_bundle(shelf.store, bundle, after_blob=die_after_two)
    assert shelf.list() == []  # nothing half-registered
    out = cli("import", str(bundle), "--home", str(home_b), "--json")
    assert out.code == 0, out.err
    assert (out.json["blobs_written"], out.json["blobs_skipped"]) == (2, 2)
    assert {m["name"] for m in out.json["models"]} == {"tiny", "repo"}
    assert cli("verify", "--home", str(home_b)).code == 0


def test_offline_import(tmp_path: Path, cli: Cli, exported: tuple[Path, Path],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    _, bundle = exported
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: a request fails
    out = cli("import", str(bundle), "--home", str(tmp_path / "b"), "--json")
    assert out.code == 0, out.err
    assert len(out.json["models"]) == 2


def test_export_of_unknown_model_writes_nothing(tmp_path: Path, cli: Cli,
                                                exported: tuple[Path, Path]) -> None:
    home_a, _ = exported
    out = cli("export", "tiny", "nope", "-o", str(tmp_path / "x.tar"), "--home", str(home_a))
    assert out.code == 1 and "nope" in out.err
    assert not list(tmp_path.glob("*x.tar*"))


def test_an_oversized_extended_header_is_refused_before_it_is_read(
        tmp_path: Path, cli: Cli, exported: tuple[Path, Path]) -> None:
    _, bundle = exported
    info = tarfile.TarInfo("blobs/" + "1" * 64)
    info.pax_headers = {"comment": "x" * 2_000_000}
    bad = _rewrite(bundle, lambda m, d: (m, d), extra=[(info, b"")])
    out = cli("import", str(bad), "--home", str(tmp_path / "b"))
    assert out.code == 1 and "extended header of" in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_an_unsafe_model_arrives_unlinked_whatever_the_exporter_trusted(tmp_path: Path,
                                                                        cli: Cli) -> None:
    import zipfile

    evil = tmp_path / "evil.ckpt"
    with zipfile.ZipFile(evil, "w") as zf:  # written, never loaded
        zf.writestr("archive/data.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    home_a = tmp_path / "a"
    assert cli("pull", str(evil), "--allow-unsafe", "--home", str(home_a)).code == 0
    bundle = tmp_path / "evil.tar"
    assert cli("export", "evil", "-o", str(bundle), "--home", str(home_a)).code == 0

    out = cli("import", str(bundle), "--home", str(tmp_path / "b"), "--json")
    assert out.code == 0, out.err
    (model,) = out.json["models"]
    assert (model["safety"], model["linked"]) == ("unsafe", False)
    assert "modelshelf trust evil" in out.err
    assert not [p for p in (tmp_path / "b" / "views").rglob("*") if p.is_file()]
    allowed = cli("import", str(bundle), "--home", str(tmp_path / "c"), "--allow-unsafe", "--json")
    assert allowed.json["models"][0]["linked"] is True


def test_the_bundle_is_readable_as_any_new_file_is(exported: tuple[Path, Path]) -> None:
    import os
    import stat

    _, bundle = exported
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o666 & ~umask
    assert not list(bundle.parent.glob(".bundle.tar.*"))  # no temp file left behind
