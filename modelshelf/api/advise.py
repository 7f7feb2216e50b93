"""``advise --apply``: carry out the advice that is safe to carry out, as a plan first (like gc).

Safe means nothing is lost: a conversion writes a NEW registered model (``NAME-fp16``,
``NAME-safetensors``) and leaves the original where it is. Replacing in place would break every
app folder and workflow that names the original file, and a cast can overflow (values beyond
fp16's range become inf: ``convert`` reports them) — so the user checks the new model, then
``rm``s the old one. Removing unused models and de-duplicating stay suggestions: they delete.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from modelshelf.convert import convert
from modelshelf.errors import ModelshelfError
from modelshelf.inspection.advice import Advice
from modelshelf.store import FileRecord, NewModel

if TYPE_CHECKING:
    from modelshelf.api import Shelf

# action -> (suffix of the new model's name, dtype to cast floating tensors to)
APPLIERS: dict[str, tuple[str, str | None]] = {
    "convert-fp16": ("fp16", "fp16"),
    "to-safetensors": ("safetensors", None),
}


@dataclass(frozen=True)
class Step:
    model: str
    action: str
    new_name: str
    saves_bytes: int
    status: str = "planned"  # planned | exists | done | error
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "action": self.action, "new_name": self.new_name,
                "saves_bytes": self.saves_bytes, "status": self.status, "error": self.error}


def plan(shelf: Shelf, advice: Advice) -> list[Step]:
    """One step per model and safe suggestion; a new name already taken is ``exists`` (so a
    second ``--apply`` does nothing twice)."""
    steps = []
    for m in advice.models:
        for s in m.suggestions:
            if s.safe_to_apply and s.action in APPLIERS:
                new_name = f"{m.name}-{APPLIERS[s.action][0]}"
                taken = shelf.store.find(new_name) is not None
                steps.append(Step(m.name, s.action, new_name, s.saves_bytes,
                                  "exists" if taken else "planned"))
    return steps


def execute(shelf: Shelf, steps: list[Step]) -> list[Step]:
    """Carry out the planned steps; one failure is that step's result, never the others'."""
    done = []
    for step in steps:
        if step.status != "planned":
            done.append(step)
            continue
        try:
            _convert_to_new_model(shelf, step)
        except (ModelshelfError, OSError) as exc:
            done.append(replace(step, status="error", error=str(exc)))
            continue
        done.append(replace(step, status="done"))
    return done


def _convert_to_new_model(shelf: Shelf, step: Step) -> None:
    store = shelf.store
    record = store.get(step.model)
    (file,) = record.files
    dtype = APPLIERS[step.action][1]
    stem = PurePosixPath(file.path).stem
    # Written in the store's staging area (same filesystem), then moved into the blobs.
    with tempfile.TemporaryDirectory(dir=store.staging_dir, prefix="advise-") as tmp:
        out = Path(tmp) / f"{stem}-{dtype or 'converted'}.safetensors"
        convert(store.blob_path(file.sha256), out, dtype=dtype)
        new_file = store.import_file(out, mode="move")
    new_path = str(PurePosixPath(file.path).with_name(out.name))
    store.add_model(NewModel(
        name=step.new_name, type=record.type, architecture=record.architecture,
        format="safetensors", source="local", source_ref=f"advise:{record.name}",
        source_url=None, revision=None,
        files=(FileRecord(new_path, new_file.sha256, new_file.size),),
        metadata={"converted_from": record.name, "dtype": dtype}))
