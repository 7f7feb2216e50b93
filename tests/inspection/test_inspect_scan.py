"""scan: finds models (not other files), duplicates, survives link loops, and caches by stat."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from inspect_models import write_gguf, write_sharded, write_st

import modelshelf.inspection.scanner as scan_mod
from modelshelf.inspection import scan
from modelshelf.store import Store


def _tree(root: Path) -> dict[str, Path]:
    """A messy models folder: duplicates, a renamed file, junk, a link loop, a model folder."""
    files = {
        "a": write_st(root / "loras" / "a.safetensors", {"w": (64, 64)}, seed=1),
        "a_copy": root / "downloads" / "model (3).safetensors",
        "b": write_st(root / "b.safetensors", {"w": (64, 64)}, seed=2),  # same size as a
        "c": write_st(root / "c.bin", {"x": (10,)}, seed=3),  # safetensors under another name
        "gguf": write_gguf(root / "llm" / "tiny.gguf"),
    }
    files["a_copy"].parent.mkdir(parents=True)
    files["a_copy"].write_bytes(files["a"].read_bytes())
    (root / "README.md").write_text("# my models\n")
    (root / "preview.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)
    (root / "loras" / "loop").symlink_to(root)  # a symlink loop
    (root / ".git").mkdir()
    write_st(root / ".git" / "hidden.safetensors", {"w": (1,)})
    files["folder"] = write_sharded(root / "hf-model")
    return files


def _by_path(result: scan_mod.ScanResult) -> dict[str, scan_mod.ScannedFile]:
    return {f.path: f for f in result.files}


def test_scan_identifies_models_and_ignores_the_rest(tmp_path: Path) -> None:
    files = _tree(tmp_path / "models")
    result = scan(tmp_path / "models")
    found = _by_path(result)
    expected = {str(files[k]) for k in ("a", "a_copy", "b", "c", "gguf", "folder")}
    assert set(found) == expected  # no README/png, nothing twice through the loop, no .git
    assert found[str(files["c"])].format == "safetensors"  # by content, not by name
    assert found[str(files["gguf"])].format == "gguf"
    assert found[str(files["folder"])].format in {"transformers", "safetensors"}
    assert result.skipped == 2
    data = result.to_json()
    assert set(data["files"][0]) >= {"path", "format", "architecture", "model_type", "size",
                                     "sha256"}


def test_duplicates_by_size_then_hash(tmp_path: Path) -> None:
    files = _tree(tmp_path / "models")
    result = scan(tmp_path / "models")
    assert result.duplicates == ((str(files["a_copy"]), str(files["a"])),)
    found = _by_path(result)
    # b shares the size but not the bytes: hashed, not a duplicate. c/gguf: unique size, not hashed
    assert found[str(files["b"])].sha256 is not None
    assert found[str(files["c"])].sha256 is None and found[str(files["gguf"])].sha256 is None
    assert result.reclaimable_bytes == files["a"].stat().st_size


def test_hard_links_are_not_duplicates(tmp_path: Path) -> None:
    root = tmp_path / "m"
    a = write_st(root / "a.safetensors", {"w": (8, 8)})
    os.link(a, root / "a-link.safetensors")
    assert scan(root).duplicates == ()


def test_broken_file_is_listed_with_its_error(tmp_path: Path) -> None:
    root = tmp_path / "m"
    bad = write_st(root / "bad.safetensors", {"w": (100, 100)})
    bad.write_bytes(bad.read_bytes()[:500])
    (entry,) = scan(root).files
    assert entry.format == "safetensors" and entry.error


def test_cached_rescan_reads_no_file(tmp_path: Path, store: Store,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    files = _tree(tmp_path / "models")
    first = scan(tmp_path / "models", store=store)
    calls: list[str] = []

    def counting(real):  # wrap a reader and record every path it is asked to open
        def wrapper(path, *args, **kwargs):
            calls.append(str(path))
            return real(path, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(scan_mod, "read_header", counting(scan_mod.read_header))
    monkeypatch.setattr(scan_mod, "detect_format", counting(scan_mod.detect_format))
    monkeypatch.setattr(scan_mod, "sha256_file", counting(scan_mod.sha256_file))
    second = scan(tmp_path / "models", store=store)
    assert second.to_json()["files"] == first.to_json()["files"]
    assert second.duplicates == first.duplicates
    assert [c for c in calls if not c.endswith("hf-model")] == []  # folder check: a listing
    assert second.cached == len(first.files) + first.skipped

    # Touch one file: only that one is read again.
    b = files["b"]
    st = b.stat()
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    calls.clear()
    scan(tmp_path / "models", store=store)
    assert {c for c in calls if not c.endswith("hf-model")} == {str(b)}


def test_scan_of_a_single_file(tmp_path: Path) -> None:
    a = write_st(tmp_path / "a.safetensors", {"w": (2, 2)})
    (entry,) = scan(a).files
    assert entry.path == str(a) and entry.format == "safetensors"


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such"):
        scan(tmp_path / "nope")


def test_progress_counts_every_entry(tmp_path: Path) -> None:
    _tree(tmp_path / "models")
    seen: list[int] = []
    result = scan(tmp_path / "models", progress=lambda done, total: seen.append(done))
    assert seen == list(range(1, len(result.files) + result.skipped + 1))


@pytest.mark.parametrize("enabled", [True, False])
def test_scan_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path, enabled: bool) -> None:
    """The scan pauses the collector while it parses; the caller's setting must survive."""
    import gc

    _tree(tmp_path / "models")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        scan(tmp_path / "models")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
