"""The public API is as complete as the CLI: every command is one ``Shelf`` method, every value
they return is importable from ``modelshelf``, pull options are one type, and no module imports
one that imports it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import modelshelf
from modelshelf.testing import factories as f
from modelshelf.testing.server import LocalServer

RESULT_TYPES = ("Info", "PullOptions", "PullResult", "PlannedFile", "Model", "ScanResult",
                "ScannedFile", "Report", "ConvertResult", "LinkPlan", "DiskUsage", "GcPlan",
                "VerifyReport", "AdoptPlan")


@pytest.mark.parametrize("name", RESULT_TYPES)
def test_result_types_are_exported(name: str) -> None:
    assert name in modelshelf.__all__
    assert isinstance(getattr(modelshelf, name), type)


def _lora(folder: Path, name: str = "style.safetensors") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return f.write_safetensors(folder / name, f.kohya_lora("sdxl", rank=4), fill="random")


def test_every_command_is_a_shelf_method(tmp_path: Path) -> None:
    shelf = modelshelf.Shelf(home=tmp_path / "shelf")
    lora = _lora(tmp_path / "loras")
    (tmp_path / "loras" / "copy.safetensors").write_bytes(lora.read_bytes())

    found = shelf.scan(tmp_path / "loras")
    assert isinstance(found, modelshelf.ScanResult)
    assert {Path(x.path).name for x in found.files} == {"style.safetensors", "copy.safetensors"}
    assert len(found.duplicates) == 1

    converted = shelf.convert(lora, tmp_path / "half.safetensors", dtype="fp16")
    assert isinstance(converted, modelshelf.ConvertResult)
    assert (tmp_path / "half.safetensors").is_file()

    model = shelf.pull(str(lora), options=modelshelf.PullOptions(name="style"))
    assert model.name == "style" and shelf.find("style") == model and shelf.find("nope") is None

    report = shelf.report(extra_dirs=[tmp_path / "loras"])
    assert isinstance(report, modelshelf.Report) and report.to_json()

    plan = shelf.link("flat", tmp_path / "app")
    assert isinstance(plan, modelshelf.LinkPlan) and not (tmp_path / "app").exists()
    plan.execute()
    assert (tmp_path / "app" / "loras" / "style.safetensors").is_file()

    assert isinstance(shelf.du(), modelshelf.DiskUsage)
    assert isinstance(shelf.verify(), modelshelf.VerifyReport)
    assert isinstance(shelf.gc(), modelshelf.GcPlan)
    assert isinstance(shelf.inspect("style"), modelshelf.Info)


def test_shelf_scan_names_a_missing_folder(tmp_path: Path) -> None:
    shelf = modelshelf.Shelf(home=tmp_path / "shelf")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        shelf.scan(tmp_path / "nowhere")


def test_pull_options_one_type_keywords_kept(tmp_path: Path) -> None:
    """``options=PullOptions(...)`` everywhere; ``pull(ref, name=...)`` still works."""
    lora = _lora(tmp_path / "in")
    shelf = modelshelf.Shelf(home=tmp_path / "shelf")
    with LocalServer() as server:
        server.add_file("/style.safetensors", lora)
        url = f"{server.url}/style.safetensors"
        options = modelshelf.PullOptions(name="a")
        assert shelf.pull(url, options=options).name == "a"
        assert shelf.pull(url, name="b").name == "b"
        assert shelf.pull(url, options=options, name="c").name == "c"  # keywords win
        [result] = shelf.pull_many([url], options=modelshelf.PullOptions(name="d"))
        assert result.status == "ok" and result.model is not None and result.model.name == "d"
        assert shelf.pull_result(url).status == "ok"
        assert shelf.ensure(url, options=options) == shelf.path("a")


def test_inspecting_a_file_does_not_create_a_store(tmp_path: Path) -> None:
    lora = _lora(tmp_path / "in")
    shelf = modelshelf.Shelf(home=tmp_path / "shelf")
    assert shelf.inspect(lora).format == "safetensors"
    assert not (tmp_path / "shelf").exists()


def _import_cycles() -> list[list[str]]:
    """Groups of modelshelf modules that import each other (type-checking imports count)."""
    import grimp

    graph = grimp.build_graph("modelshelf")
    cycles: list[list[str]] = []
    modules = sorted(m for m in graph.modules if "." in m)
    for module in modules:
        for other in graph.find_modules_directly_imported_by(module):
            # A package's lazy __init__ names its children without importing them.
            if other.startswith(module + ".") or module.startswith(other + "."):
                continue
            if other > module and graph.chain_exists(importer=other, imported=module):
                cycles.append([module, other])
    return cycles


def test_no_import_cycles() -> None:
    assert _import_cycles() == []


def test_demo_runs_its_cli_steps(cli: Any) -> None:
    result = cli("demo")
    assert result.code == 0, result.err
    assert "modelshelf ls" in result.out and "sd15-tiny" in result.out
    assert "same inode as the store: True" in result.out
