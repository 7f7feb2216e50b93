"""modelshelf: keep machine-learning model files in order.

The public API is loaded lazily (PEP 562) so that ``import modelshelf`` — and so every CLI
command — costs almost nothing until a name is used: ``modelshelf info`` must start in well under
0.3 s, and httpx/huggingface_hub/numpy are only imported by the commands that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelshelf.errors import ModelshelfError

__version__ = "0.1.0"

_LAZY = {
    "Shelf": "modelshelf.api",
    "Model": "modelshelf.api",
    "PullResult": "modelshelf.api",
    "inspect": "modelshelf.api",
    "Settings": "modelshelf.config",
    "load_settings": "modelshelf.config",
}

__all__ = ["Model", "ModelshelfError", "PullResult", "Settings", "Shelf", "__version__",
           "inspect", "load_settings"]

if TYPE_CHECKING:
    from modelshelf.api import Model, PullResult, Shelf, inspect
    from modelshelf.config import Settings, load_settings


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelshelf' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
