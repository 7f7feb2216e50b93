"""What ``Shelf.load`` finds and keeps: pulled on demand (not offline), registered names, the
loaded-model cache with ``loaded()``/``unload()``, and the ``[load] max_memory`` budget."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from load_helpers import mixed

from modelshelf import Shelf
from modelshelf.errors import InsufficientSpace, OfflineError
from modelshelf.testing.factories.files import write_safetensors
from modelshelf.testing.hub import FakeHub


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    model = mixed(tmp_path / "src.safetensors")
    with FakeHub() as server:
        server.add_repo("org/tiny", {"model.safetensors": model.read_bytes(),
                                     "config.json": b'{"model_type": "bert"}'})
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_load_pulls_a_missing_reference_then_serves_it_by_name(hub: FakeHub) -> None:
    shelf = Shelf()
    tensors = shelf.load("hf:org/tiny/model.safetensors")
    assert tensors["w"].shape == (3, 4)
    assert [m.name for m in shelf.list()] == ["model"]
    # the registered name works too, and from the cache: the same mapping
    assert shelf.load("model") is tensors
    assert [(e.name, e.kind, e.framework) for e in shelf.loaded()] == [("model", "tensors", "numpy")]


def test_offline_a_missing_model_is_an_error_not_a_download(hub: FakeHub,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    with pytest.raises(OfflineError, match="offline mode is on"):
        Shelf().load("hf:org/tiny/model.safetensors")
    assert not hub.log


def test_unload_forgets_the_model_and_a_new_load_maps_it_again(tmp_path: Path) -> None:
    path = str(mixed(tmp_path / "m.safetensors"))
    shelf = Shelf()
    first = shelf.load(path)
    assert shelf.load(path) is first
    assert shelf.unload(path) is True
    assert shelf.loaded() == []
    assert shelf.unload(path) is False
    assert shelf.load(path) is not first


def _budget(tmp_path: Path, size: str) -> None:
    (tmp_path / "config.toml").write_text(f'[load]\nmax_memory = "{size}"\n')


def test_the_least_recently_used_model_is_evicted_to_stay_in_budget(tmp_path: Path) -> None:
    _budget(tmp_path, "2500B")  # room for two 1 KB models, not three
    paths = {n: str(write_safetensors(tmp_path / f"{n}.safetensors", {"x": ((256,), "F32")}))
             for n in "abc"}
    shelf = Shelf()
    shelf.load(paths["a"])
    shelf.load(paths["b"])
    shelf.load(paths["a"])  # a is now the most recently used
    shelf.load(paths["c"])
    assert [Path(e.name).stem for e in shelf.loaded()] == ["a", "c"]


def test_a_model_larger_than_the_budget_is_refused_naming_the_setting(tmp_path: Path) -> None:
    _budget(tmp_path, "100B")
    path = str(write_safetensors(tmp_path / "big.safetensors", {"x": ((256,), "F32")}))
    with pytest.raises(InsufficientSpace, match=r"\[load\] max_memory"):
        Shelf().load(path)


def test_the_budget_counts_bytes_after_a_requested_cast(tmp_path: Path) -> None:
    path = str(write_safetensors(tmp_path / "h.safetensors", {"x": ((256,), "F16")}))
    shelf = Shelf()
    shelf.load(path)
    shelf.load(path, dtype="float32")
    shelf.load(path, dtype=np.float64)
    assert sorted(e.nbytes for e in shelf.loaded()) == [512, 1024, 2048]


def test_threads_loading_one_model_share_one_mapping(tmp_path: Path) -> None:
    path = str(mixed(tmp_path / "m.safetensors"))
    shelf = Shelf()
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(shelf.load(path)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert len(shelf.loaded()) == 1


def test_max_memory_per_device_table_is_read_from_config(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[load]\nmax_memory = {cpu = "1KB", "cuda:0" = "20GB"}\n')
    assert Shelf().settings.load_max_memory == {"cpu": 1000, "cuda:0": 20_000_000_000}
