"""One change a ``link``/``unlink`` plan would make, and one entry it refuses to touch: shared
by the link plans (``plan.py``) and the ``extra_model_paths.yaml`` plan (``comfyui.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Op = Literal["create", "replace", "remove"]


@dataclass(frozen=True)
class LinkAction:
    op: Op
    path: Path
    target: Path | None  # None for "remove"

    def to_json(self) -> dict[str, str | None]:
        return {"op": self.op, "path": str(self.path),
                "target": str(self.target) if self.target else None}


@dataclass(frozen=True)
class LinkConflict:
    path: Path
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": str(self.path), "reason": self.reason}
