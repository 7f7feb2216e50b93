"""A rescan answers unchanged folders from one cached summary each, and still sees every change
a user can make: an edit in place, a rename, a new file, a deleted one, a file swapped for
another of the same size and time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from inspect_models import write_st

import modelshelf.inspection.scanner as scan_mod
from modelshelf.inspection import scan
from modelshelf.store import Store
from modelshelf.testing import factories as f


def _lora(path: Path, base: str = "sdxl") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return f.write_safetensors(path, f.kohya_lora(base, rank=4), fill="random")


def _seen(root: Path, store: Store) -> dict[str, str]:
    return {Path(x.path).name: x.architecture for x in scan(root, store=store).files}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    _lora(root / "loras" / "a.safetensors")
    _lora(root / "loras" / "b.safetensors", "sd15")
    (root / "loras" / "a.preview.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = scan_mod.read_facts

    def counting(path: Path) -> Any:
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(scan_mod, "read_facts", counting)
    return read


def test_unchanged_rescan_reads_nothing_and_answers_the_same(
        tree: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    first = scan(tree, store=store)
    read = _reads(monkeypatch)
    second = scan(tree, store=store)
    assert read == [] and second.files == first.files and second.cached == 3
    assert second.skipped == 1 and [x.to_json() for x in second.files] == \
        [x.to_json() for x in first.files]


def test_edit_in_place_is_seen(tree: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    scan(tree, store=store)
    target = tree / "loras" / "a.safetensors"
    st = target.stat()
    sd15 = _lora(tree.parent / "other.safetensors", "sd15").read_bytes()
    with target.open("r+b") as fh:  # same inode, new bytes, new size
        fh.truncate(0)
        fh.write(sd15)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    read = _reads(monkeypatch)
    assert _seen(tree, store) == {"a.safetensors": "sd15", "b.safetensors": "sd15"}
    assert read == ["a.safetensors"]  # the folder's other files come from their own rows


def test_rename_add_delete_and_swap_are_seen(tree: Path, store: Store) -> None:
    scan(tree, store=store)
    loras = tree / "loras"
    (loras / "b.safetensors").rename(loras / "c.safetensors")
    assert _seen(tree, store) == {"a.safetensors": "sdxl", "c.safetensors": "sd15"}
    _lora(loras / "d.safetensors")
    (loras / "a.safetensors").unlink()
    assert _seen(tree, store) == {"c.safetensors": "sd15", "d.safetensors": "sdxl"}
    # Same name, size and mtime, another file (another inode): a swap by rename.
    st = (loras / "d.safetensors").stat()
    swap = write_st(tree.parent / "swap.safetensors", {"w": (4,)})
    swap.write_bytes(swap.read_bytes().ljust(st.st_size, b" ")[:st.st_size])
    os.utime(swap, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(swap, loras / "d.safetensors")
    assert _seen(tree, store)["d.safetensors"] == "unknown"


def test_known_digests_are_not_paid_for_twice(tmp_path: Path, store: Store,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "models"
    one = _lora(root / "one.safetensors")
    (root / "copy.safetensors").write_bytes(one.read_bytes())
    first = scan(root, store=store)
    hashed: list[str] = []
    real = scan_mod.sha256_file

    def counting(path: Any) -> str:
        hashed.append(str(path))
        return real(path)

    monkeypatch.setattr(scan_mod, "sha256_file", counting)
    second = scan(root, store=store)
    assert hashed == [] and second.duplicates == first.duplicates and len(second.duplicates) == 1


def test_a_damaged_summary_means_reading_the_folder_again(tree: Path, store: Store) -> None:
    first = scan(tree, store=store)
    folder = str(tree / "loras") + os.sep
    row = store.scan_cache_get_many([folder])[folder]
    signature = row["sha256"].partition("\x1e")[0]
    for junk in ("", "1\n\n", "11\na\tb\nc\nd\ne\n{}"):
        store.scan_cache_put_many([(folder, 0, 0, 0, signature + "\x1e" + junk, row["info"])])
        assert scan(tree, store=store).files == first.files
