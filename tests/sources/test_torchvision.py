"""torchvision: the missing extra for real; the registry through a stand-in module that mimics
torchvision's weights API (``get_model_weights(name)`` -> a WeightsEnum of ``Weights``)."""

from __future__ import annotations

import enum
import importlib.util
import json
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from modelshelf.config import load_settings
from modelshelf.errors import MissingExtra, NotFoundError
from modelshelf.sources import resolve
from modelshelf.sources.base import ResolveOptions

R18 = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
R50_V1 = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
R50_V2 = "https://download.pytorch.org/models/resnet50-11ad3fa6.pth"


@dataclass(eq=False)
class Weights:  # torchvision.models._api.Weights: url, transforms, meta
    url: str
    transforms: Any
    meta: dict[str, Any] = field(default_factory=dict)


def _meta(params: int) -> dict[str, Any]:
    return {"num_params": params, "categories": ["tench", "goldfish"], "min_size": (1, 1),
            "recipe": "https://github.com/pytorch/vision", "transforms": print,
            "_metrics": {"ImageNet-1K": {"acc@1": 69.758}}}


_R18_V1 = Weights(R18, print, _meta(11689512))
_R50_V1 = Weights(R50_V1, print, _meta(25557032))
_R50_V2 = Weights(R50_V2, print, _meta(25557032))


class ResNet18_Weights(enum.Enum):
    IMAGENET1K_V1 = _R18_V1
    DEFAULT = _R18_V1


class ResNet50_Weights(enum.Enum):
    IMAGENET1K_V1 = _R50_V1
    IMAGENET1K_V2 = _R50_V2
    DEFAULT = _R50_V2


_REGISTRY: dict[str, type[enum.Enum]] = {"resnet18": ResNet18_Weights,
                                         "resnet50": ResNet50_Weights}


@pytest.fixture
def fake_torchvision(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    def get_model_weights(name: str) -> type[enum.Enum]:
        try:
            return _REGISTRY[name.lower()]
        except KeyError:
            raise ValueError(f"Unknown model {name}") from None

    models = types.ModuleType("torchvision.models")
    models.get_model_weights = get_model_weights  # type: ignore[attr-defined]
    models.list_models = lambda: sorted(_REGISTRY)  # type: ignore[attr-defined]
    package = types.ModuleType("torchvision")
    package.models = models  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.models", models)
    return models


def test_default_weights(fake_torchvision: types.ModuleType) -> None:
    res = resolve("torchvision:resnet18", load_settings())
    (file,) = res.files
    assert (file.path, file.url, file.sha256) == ("resnet18-f37072fd.pth", R18, None)
    assert res.metadata["hash_prefix"] == file.sha256_prefix == "f37072fd"
    assert res.metadata["weights"] == "ResNet18_Weights.IMAGENET1K_V1"
    assert (res.name, res.revision, res.source) == ("resnet18", "IMAGENET1K_V1", "torchvision")
    assert res.metadata["meta"]["num_params"] == 11689512
    assert "categories" not in res.metadata["meta"]  # bulky, not about the file
    json.dumps(dict(res.metadata))  # callables dropped: JSON-able


def test_named_weights_from_the_ref_or_the_revision_option(
        fake_torchvision: types.ModuleType) -> None:
    settings = load_settings()
    assert resolve("torchvision:resnet50", settings).files[0].url == R50_V2
    assert resolve("torchvision:resnet50@IMAGENET1K_V1", settings).files[0].url == R50_V1
    by_option = resolve("torchvision:resnet50", settings, ResolveOptions(revision="IMAGENET1K_V1"))
    assert by_option.files[0].sha256_prefix == "0676ba61"


def test_unknown_model_and_weights(fake_torchvision: types.ModuleType) -> None:
    with pytest.raises(NotFoundError, match=r"no model named 'nosuchnet' \(e\.g\. resnet18"):
        resolve("torchvision:nosuchnet", load_settings())
    with pytest.raises(NotFoundError, match="available: DEFAULT, IMAGENET1K_V1, IMAGENET1K_V2"):
        resolve("torchvision:resnet50@V9", load_settings())


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None,
                    reason="torchvision is installed here")
def test_missing_extra_for_real() -> None:
    with pytest.raises(MissingExtra) as caught:
        resolve("torchvision:resnet18", load_settings())
    assert "torchvision:resnet18 needs the torch extra: pip install 'modelshelf[torch]'" in \
        str(caught.value)
    assert isinstance(caught.value, ImportError)


def test_missing_extra_even_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    with pytest.raises(MissingExtra, match=r"pip install 'modelshelf\[torch\]'"):
        resolve("torchvision:resnet18", load_settings())
