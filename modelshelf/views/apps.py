"""Where each app looks for each model type: the layouts ``link APP DIR`` knows, as data.

Two styles:

- ``dir``: one symlink per type, ``<app folder>/modelshelf`` -> ``<store>/views/<type>``. It
  stays live (a ``pull`` or ``rm`` shows up in the app at once, and ``rm`` really frees the
  bytes). ComfyUI (``folder_paths.recursive_search``) and AUTOMATIC1111/Forge
  (``modules.util.walk_files``) walk model folders with ``os.walk(..., followlinks=True)``,
  so models appear as ``modelshelf/<file>`` in their lists.
- ``files``: real folders holding one link per model file (hard links; symlinks across
  filesystems). For scanners that do not follow directory symlinks, and for bind-mounting a
  folder into a container where a symlink's target would not exist. It is a snapshot: run
  ``link`` again after ``pull``/``rm`` to sync (until then a hard link keeps a removed model's
  bytes alive).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from modelshelf.store import TYPES

Style = Literal["dir", "files"]

# Types ComfyUI has a models/ folder for: its own names, which are ours, less the two it lacks.
_COMFYUI_TYPES = tuple(t for t in TYPES if t not in ("llm", "other"))


@dataclass(frozen=True)
class AppLayout:
    name: str
    style: Style
    links: Mapping[str, str]  # our type -> path relative to DIR where its models appear
    marker: str | None        # a folder a real install has; missing -> warn about DIR
    notes: tuple[str, ...] = ()


APPS: Mapping[str, AppLayout] = {
    "comfyui": AppLayout(
        "comfyui", "dir", {t: f"models/{t}/modelshelf" for t in _COMFYUI_TYPES}, "models",
        ("ComfyUI lists the models as modelshelf/<name>; new pulls appear after a refresh (R).",)),
    "a1111": AppLayout(
        "a1111", "dir", {
            "checkpoints": "models/Stable-diffusion/modelshelf",
            "diffusion_models": "models/Stable-diffusion/modelshelf-diffusion_models",  # Forge
            "vae": "models/VAE/modelshelf",
            "loras": "models/Lora/modelshelf",
            "embeddings": "embeddings/modelshelf",
            "controlnet": "models/ControlNet/modelshelf",
            "ipadapter": "models/ControlNet/modelshelf-ipadapter",  # sd-webui-controlnet
            "upscale_models": "models/ESRGAN/modelshelf",
            "text_encoders": "models/text_encoder/modelshelf",  # Forge (FLUX/SD3 encoders)
        }, "models",
        ("AUTOMATIC1111/Forge list the models under modelshelf/; press the refresh button "
         "beside a model list after a pull.",)),
    "invokeai": AppLayout(
        "invokeai", "files", {t: t for t in TYPES if t not in {"llm", "other"}}, None,
        ("In InvokeAI open Model Manager > Add Models > Scan Folder, enter DIR/<type> (e.g. "
         "DIR/loras), and install with 'In-place install' ticked so InvokeAI uses these files "
         "instead of copying them.",
         "Run `modelshelf link invokeai DIR` again after pull/rm to sync the folder.")),
    "flat": AppLayout(
        "flat", "files", {t: t for t in TYPES}, None,
        ("DIR/<type>/ holds ordinary files (hard links into the store); run `modelshelf link "
         "flat DIR` again after pull/rm to sync.",)),
}
