"""Know what every model file is — format, architecture, type, size, safety — without loading it.

``inspect_path``/``inspect_header`` answer ``info``; ``gpu_fit`` answers "will it run on my GPU";
``scan`` identifies a folder tree (cached, with duplicates, optionally adopting into the store);
``report`` summarises a whole collection. Nothing here prints.
"""

from modelshelf.inspect.adopt import AdoptItem, AdoptOutcome, AdoptPlan, plan_adopt
from modelshelf.inspect.gpu import gpu_fit, weights_bytes
from modelshelf.inspect.info import Info, inspect_header, inspect_path
from modelshelf.inspect.reporting import Report, naming, report
from modelshelf.inspect.scanner import ScannedFile, ScanResult, scan

__all__ = [
    "AdoptItem", "AdoptOutcome", "AdoptPlan", "Info", "Report", "ScanResult", "ScannedFile",
    "gpu_fit", "inspect_header", "inspect_path", "naming", "plan_adopt", "report", "scan",
    "weights_bytes",
]
