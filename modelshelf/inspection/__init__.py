"""Know what every model file is — format, architecture, type, size, safety — without loading it.

``inspect_path``/``inspect_header`` answer ``info``; ``gpu_fit`` answers "will it run on my GPU";
``scan`` identifies a folder tree (cached, with duplicates, optionally adopting into the store);
``report`` summarises a whole collection. Nothing here prints.

Names load lazily (PEP 562), as in the top-level package: ``info`` needs only :mod:`.info` and
:mod:`.gpu`, and must not pay at start-up for the store (SQLite) that scan, adopt and report use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "AdoptItem": "adopt", "AdoptOutcome": "adopt", "AdoptPlan": "adopt", "plan_adopt": "adopt",
    "gpu_fit": "gpu", "weights_bytes": "gpu",
    "Info": "info", "inspect_header": "info", "inspect_path": "info",
    "Report": "reporting", "naming": "reporting", "report": "reporting",
    "ScanResult": "scanner", "ScannedFile": "scanned", "scan": "scanner",
}

__all__ = [
    "AdoptItem", "AdoptOutcome", "AdoptPlan", "Info", "Report", "ScanResult", "ScannedFile",
    "gpu_fit", "inspect_header", "inspect_path", "naming", "plan_adopt", "report", "scan",
    "weights_bytes",
]

if TYPE_CHECKING:
    from modelshelf.inspection.adopt import AdoptItem, AdoptOutcome, AdoptPlan, plan_adopt
    from modelshelf.inspection.gpu import gpu_fit, weights_bytes
    from modelshelf.inspection.info import Info, inspect_header, inspect_path
    from modelshelf.inspection.reporting import Report, naming, report
    from modelshelf.inspection.scanned import ScannedFile
    from modelshelf.inspection.scanner import ScanResult, scan


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelshelf.inspection' has no attribute {name!r}")
    return getattr(importlib.import_module(f"modelshelf.inspection.{module}"), name)
