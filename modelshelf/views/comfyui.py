"""ComfyUI specifics: is DIR really a ComfyUI root, and its ``extra_model_paths.yaml``.

Facts from ComfyUI's own source: ``main.py`` loads ``extra_model_paths.yaml`` from the ComfyUI
root (beside ``main.py``) at start-up; ``utils/extra_config.py`` reads each top-level section,
takes ``base_path`` (``~`` and env vars expanded, relative to the yaml's folder) and adds every
other ``key: path`` as a search folder for that folder type (unknown keys, e.g. ``ipadapter``
for ComfyUI_IPAdapter_plus, become new types). ``folder_paths.py`` maps the legacy names
``clip`` -> ``text_encoders`` and ``unet`` -> ``diffusion_models``.

The yaml is merged by text, not by a YAML round trip: PyYAML (the only YAML library installed,
via huggingface_hub) drops comments and reorders keys, and ruamel.yaml would be a new dependency
for one section. Our section sits between two marker comments and is the only text replaced;
every other byte of the user's file stays as it was. A ``modelshelf:`` section without our
markers is the user's own, and is reported as a conflict, never rewritten.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.errors import UsageError
from modelshelf.views.actions import LinkAction, LinkConflict, Op
from modelshelf.views.apps import APPS

YAML_NAME = "extra_model_paths.yaml"
SECTION = "modelshelf"
BEGIN = "# >>> modelshelf (written by `modelshelf link comfyui --extra-paths`; edit outside) >>>"
END = "# <<< modelshelf <<<"
_BLOCK = re.compile(rf"^{re.escape(BEGIN)}\n.*?^{re.escape(END)}\n?", re.M | re.S)
_USER_SECTION = re.compile(rf"^{SECTION}\s*:", re.M)
_ROOT_MARKERS = ("main.py", "comfy")           # what a ComfyUI root has
_MODELS_MARKERS = ("checkpoints", "loras")      # what its models/ folder has
# ComfyUI Desktop's base folder: no main.py (the code is inside the app), these two instead.
_DESKTOP_MARKERS = ("models", "custom_nodes")


def check_root(dest: Path, *, force: bool) -> None:
    """Refuse a DIR that is not a ComfyUI root, in one line saying what to pass instead.

    The usual mistake is ``~/ComfyUI/models``: linking there would make
    ``models/models/loras/modelshelf``, which ComfyUI never reads.
    """
    if not dest.is_dir():
        raise UsageError(f"link comfyui: {dest} is not a folder (give the ComfyUI folder, the "
                         "one with main.py)")
    if _has_any(dest, _ROOT_MARKERS) or all(os.path.isdir(dest / d) for d in _DESKTOP_MARKERS):
        return
    if dest.name == "models" and _has_any(dest.parent, _ROOT_MARKERS):
        raise UsageError(f"link comfyui: {dest} is ComfyUI's models folder, not its root; pass "
                         f"{dest.parent} instead")
    if _has_any(dest, _MODELS_MARKERS):
        raise UsageError(f"link comfyui: {dest} looks like a models folder (it has checkpoints/ "
                         "or loras/ but no main.py); pass the ComfyUI folder that holds it")
    if not force:
        raise UsageError(f"link comfyui: {dest} is not a ComfyUI install (no main.py or comfy/); "
                         "pass the ComfyUI folder, or --force to link there anyway")


def _has_any(folder: Path, names: tuple[str, ...]) -> bool:
    return any(os.path.lexists(folder / name) for name in names)


def section_text(views: Path) -> str:
    """Our section: every ComfyUI folder type mapped to its ``views/<type>`` folder."""
    lines = [BEGIN, f"{SECTION}:", f"    base_path: {json.dumps(str(views))}"]
    lines += [f"    {type_}: {type_}" for type_ in APPS["comfyui"].links]
    lines.append(END)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class YamlPlan:
    """``link comfyui DIR --extra-paths`` (or its ``unlink``): one file to write or leave.

    Shaped like ``LinkPlan`` (``actions``, ``conflicts``, ``to_json``, ``execute``) so the CLI
    shows both the same way.
    """

    app: str
    dest: Path
    path: Path
    old: str | None         # the file's text now (None: no file)
    new: str | None         # what it should hold (None: delete it, nothing else was in it)
    conflicts: tuple[LinkConflict, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def actions(self) -> tuple[LinkAction, ...]:
        if self.conflicts or self.new == self.old:
            return ()
        op: Op = "remove" if self.new is None else "create" if self.old is None else "replace"
        return (LinkAction(op, self.path, None),)

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "dest": str(self.dest), "style": "yaml",
                "actions": [a.to_json() for a in self.actions],
                "conflicts": [c.to_json() for c in self.conflicts],
                "unchanged": 0 if self.actions or self.conflicts else 1,
                "notes": list(self.notes), "warnings": list(self.warnings)}

    def execute(self) -> int:
        """Write (temp + rename), keeping the previous file as ``<name>.bak``; re-checks that
        the file did not change since the plan."""
        if not self.actions or _read(self.path) != self.old:
            return 0
        if self.old is not None:
            shutil.copy2(self.path, self.path.with_name(f"{self.path.name}.bak"))
        if self.new is None:
            self.path.unlink()
            return 1
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        temp.write_text(self.new)
        if self.old is not None:
            shutil.copymode(self.path, temp)
        os.replace(temp, self.path)
        return 1


def plan_extra_paths(views: Path, dest: Path, *, remove: bool = False) -> YamlPlan:
    """Merge (or with ``remove``, take out) our section of ``DEST/extra_model_paths.yaml``."""
    path = dest / YAML_NAME
    old = _read(path)
    text = old or ""
    ours = _BLOCK.search(text)
    rest = _BLOCK.sub("", text) if ours else text
    if _USER_SECTION.search(rest):
        reason = f"it has a {SECTION}: section modelshelf did not write"
        return YamlPlan("comfyui", dest, path, old, old, (LinkConflict(path, reason),))
    if remove:
        new = rest if rest.strip() else None
        return YamlPlan("comfyui", dest, path, old, new if ours else old)
    block = section_text(views)
    if ours:
        new = text[:ours.start()] + block + text[ours.end():]
    else:
        new = rest + ("" if not rest or rest.endswith("\n\n") else
                      "\n" if rest.endswith("\n") else "\n\n") + block
    notes = (f"ComfyUI reads {YAML_NAME} at start-up: restart it to see the models (listed "
             "without a modelshelf/ prefix).",)
    return YamlPlan("comfyui", dest, path, old, new, notes=notes)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
