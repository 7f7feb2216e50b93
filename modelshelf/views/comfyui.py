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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf.errors import UsageError
from modelshelf.store.linking import write_atomic
from modelshelf.views.actions import LinkAction, LinkConflict, Op
from modelshelf.views.apps import APPS

YAML_NAME = "extra_model_paths.yaml"
SECTION = "modelshelf"
BEGIN = ("# >>> modelshelf: written by `modelshelf link comfyui --extra-paths`; edits in here "
         "are replaced >>>")
END = "# <<< modelshelf <<<"
# Our block, with the blank line we put before it.
_BLOCK = re.compile(rf"(?:^\n)?^{re.escape(BEGIN)}\n.*?^{re.escape(END)}\n?", re.M | re.S)
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
    root = next((p for p in list(dest.parents)[:4] if _has_any(p, _ROOT_MARKERS)), None)
    if root is not None:
        what = "ComfyUI's models folder" if dest == root / "models" else \
            f"a folder inside ComfyUI ({root})"
        raise UsageError(f"link comfyui: {dest} is {what}, not its root; pass {root} instead")
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
        try:
            if not self.actions or _read(self.path) != self.old:
                return 0
        except ValueError:
            return 0  # became unreadable since the plan: not ours to touch
        if self.new is None:  # only our section was in it: nothing of the user's to back up
            self.path.unlink()
            return 1
        if self.old is not None:
            write_atomic(self.path.with_name(f"{self.path.name}.bak"), self.old.encode("utf-8"),
                         like=self.path)
        write_atomic(self.path, self.new.encode("utf-8"),
                     like=self.path if self.old is not None else None)
        return 1


def plan_extra_paths(views: Path, dest: Path, *, remove: bool = False) -> YamlPlan:
    """Merge (or with ``remove``, take out) our section of ``DEST/extra_model_paths.yaml``.

    A file that is not UTF-8 YAML, or that has a ``modelshelf:`` section we did not write, is
    a conflict: left exactly as it is.
    """
    path = dest / YAML_NAME
    if path.is_symlink():
        path = path.resolve()  # a dotfiles-managed yaml: write through to the real file
    try:
        old = _read(path)
        _check_yaml(old or "")
    except ValueError as exc:
        return YamlPlan("comfyui", dest, path, None, None, (LinkConflict(path, str(exc)),))
    text = old or ""
    ours = _BLOCK.search(text)
    rest = _BLOCK.sub("", text) if ours else text
    if _USER_SECTION.search(rest):
        reason = f"it has a {SECTION}: section modelshelf did not write"
        return YamlPlan("comfyui", dest, path, old, old, (LinkConflict(path, reason),))
    if remove:
        new = rest if rest.strip() else None
        return YamlPlan("comfyui", dest, path, old, new if ours else old)
    gap = "\n" if rest.strip() else ""  # a blank line between the user's text and ours
    if ours:
        new = text[:ours.start()] + gap + section_text(views) + text[ours.end():]
    else:
        new = rest + ("\n" if rest and not rest.endswith("\n") else "") + gap + section_text(views)
    _check_yaml(new)
    notes = (f"ComfyUI reads {YAML_NAME} at start-up: restart it to see the models (listed "
             "without a modelshelf/ prefix).",)
    doubled = [rel for rel in APPS["comfyui"].links.values() if (dest / rel).is_symlink()]
    warnings = (f"{dest / doubled[0]} and other modelshelf links are there too: ComfyUI will "
                "list each model twice (`modelshelf unlink comfyui DIR` removes both, then "
                "link the way you want)",) if doubled else ()
    return YamlPlan("comfyui", dest, path, old, new, notes=notes, warnings=warnings)


def _check_yaml(text: str) -> None:
    """A file ComfyUI could not load is not ours to append to (our section might end up
    inside the user's broken value): ``ValueError`` saying where it breaks.

    PyYAML is imported here, not at the top: only linking into ComfyUI reads YAML, and its
    import (~12 ms, most of it compiling the resolver's patterns) would be paid by every
    ``pull`` of a URL, a Civitai or a local file, which imports this module to keep views in
    step (a Hub pull loads it anyway, through ``huggingface_hub.utils``)."""
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"it is not valid YAML{where}; fix it first") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ValueError("it is not a YAML mapping of sections; fix it first")


def _read(path: Path) -> str | None:
    """The file's exact text (line endings kept), None if there is none."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
