"""The content-addressed model store: blobs, SQLite registry, views, gc (see ``store.py``)."""

from modelshelf.staging import StalePartial
from modelshelf.store.blobs import ImportMode
from modelshelf.store.gc import Eviction, GcPlan, OrphanBlob
from modelshelf.store.records import TYPES, FileRecord, ModelRecord, NewModel, check_name
from modelshelf.store.repair import RepairReport
from modelshelf.store.store import Store
from modelshelf.store.usage import DiskUsage
from modelshelf.store.verify import VerifyFailure, VerifyReport

__all__ = [
    "TYPES", "DiskUsage", "Eviction", "FileRecord", "GcPlan", "ImportMode", "ModelRecord",
    "NewModel", "OrphanBlob", "RepairReport", "StalePartial", "Store", "VerifyFailure", "VerifyReport",
    "check_name",
]
