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

# name -> module: the public API, each name loaded on first use. Every value a Shelf method
# returns is here, so callers can annotate with ``modelshelf.X`` instead of internal paths.
_LAZY = {
    "Shelf": "modelshelf.api",
    "inspect": "modelshelf.api",
    "Model": "modelshelf.api",
    "PlannedFile": "modelshelf.api",
    "PullOptions": "modelshelf.api",
    "PullResult": "modelshelf.api",
    "Info": "modelshelf.inspection",
    "ScanResult": "modelshelf.inspection",
    "ScannedFile": "modelshelf.inspection",
    "Report": "modelshelf.inspection",
    "AdoptPlan": "modelshelf.inspection",
    "ConvertResult": "modelshelf.convert",
    "LinkPlan": "modelshelf.views",
    "DiskUsage": "modelshelf.store",
    "GcPlan": "modelshelf.store",
    "VerifyReport": "modelshelf.store",
    "Settings": "modelshelf.config",
    "load_settings": "modelshelf.config",
}

__all__ = ["AdoptPlan", "ConvertResult", "DiskUsage", "GcPlan", "Info", "LinkPlan", "Model",
           "ModelshelfError", "PlannedFile", "PullOptions", "PullResult", "Report", "ScanResult",
           "ScannedFile", "Settings", "Shelf", "VerifyReport", "__version__", "inspect",
           "load_settings"]

if TYPE_CHECKING:
    from modelshelf.api import Model, PlannedFile, PullOptions, PullResult, Shelf, inspect
    from modelshelf.config import Settings, load_settings
    from modelshelf.convert import ConvertResult
    from modelshelf.inspection import AdoptPlan, Info, Report, ScannedFile, ScanResult
    from modelshelf.store import DiskUsage, GcPlan, VerifyReport
    from modelshelf.views import LinkPlan


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelshelf' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
