"""Where a model should run: a GPU's memory and a disk budget, given as sizes or by profile name.

Profiles are data: :data:`PROFILES` holds common cards and hosted notebooks, and a user adds or
overrides one in config.toml (``[profiles.NAME] gpu = "24GB" disk = "500GB"``). Flags win over
the profile they are given with, so ``--profile t4 --disk 30GB`` is a T4 with a smaller disk.

Built-in VRAM is in binary units (GiB), which is what a "24 GB" card really holds; sizes typed
on the command line are parsed like every other size in modelshelf (``24GB`` decimal, ``24GiB``
binary), so a user who wants the exact card types its profile name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from modelshelf.config import parse_size
from modelshelf.errors import ConfigError, UsageError

GIB: Final = 2**30


@dataclass(frozen=True)
class Target:
    """What to fit into; ``None`` means "not given": that side is not judged."""

    name: str  # the profile name, or "custom" for bare --gpu/--disk
    gpu_bytes: int | None
    disk_bytes: int | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "gpu_bytes": self.gpu_bytes, "disk_bytes": self.disk_bytes,
                "note": self.note}


# name -> (VRAM, disk or None, note). Hosted notebooks have a disk too; cards do not.
PROFILES: Final[Mapping[str, tuple[int, int | None, str]]] = {
    "3060": (12 * GIB, None, "GeForce RTX 3060 12 GB"),
    "3090": (24 * GIB, None, "GeForce RTX 3090"),
    "4060-ti-16": (16 * GIB, None, "GeForce RTX 4060 Ti 16 GB"),
    "4090": (24 * GIB, None, "GeForce RTX 4090"),
    "5090": (32 * GIB, None, "GeForce RTX 5090"),
    "a6000": (48 * GIB, None, "RTX A6000"),
    "l4": (24 * GIB, None, "NVIDIA L4"),
    "t4": (16 * GIB, None, "Tesla T4 (about 15 GiB usable)"),
    "a100-40": (40 * GIB, None, "A100 40 GB"),
    "a100-80": (80 * GIB, None, "A100 80 GB"),
    "h100": (80 * GIB, None, "H100 80 GB"),
    "colab-free": (15 * GIB, 78 * 10**9, "Colab free tier: a T4 (15 GiB usable), ~78 GB disk"),
    "kaggle": (15 * GIB, 20 * 10**9, "Kaggle notebook: a T4 (15 GiB usable), 20 GB working disk"),
    # Apple silicon shares memory; macOS lets the GPU wire about two thirds of it by default.
    "mac-m2-16": (int(16 * GIB * 2 / 3), None, "Mac M2 16 GB unified memory (~2/3 for the GPU)"),
    "mac-m3-36": (int(36 * GIB * 2 / 3), None, "Mac M3 Pro 36 GB unified memory (~2/3 for the GPU)"),
}


def all_profiles(user: Mapping[str, Mapping[str, int | None]] | None = None) -> dict[str, Target]:
    """Built-in profiles, then the user's ``[profiles.NAME]`` (a same name replaces)."""
    out = {name: Target(name, gpu, disk, note) for name, (gpu, disk, note) in PROFILES.items()}
    for name, sizes in (user or {}).items():
        out[name] = Target(name, sizes.get("gpu"), sizes.get("disk"), "from config.toml")
    return out


def flag_size(flag: str, text: str) -> int:
    """A size given on the command line; no size, or zero, is a usage error naming the flag."""
    try:
        size = parse_size(text)
    except ConfigError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    if size <= 0:
        raise UsageError(f"{flag} {text!r}: expected a positive size such as 24GB or 24GiB")
    return size


def resolve_target(profile: str | None = None, gpu: str | None = None, disk: str | None = None,
                   user: Mapping[str, Mapping[str, int | None]] | None = None) -> Target:
    """The target from ``--profile``/``--gpu``/``--disk``; flags override the profile's sizes."""
    base = Target("custom", None, None)
    if profile is not None:
        profiles = all_profiles(user)
        key = profile.strip().lower()
        if key not in profiles:
            close = difflib.get_close_matches(key, list(profiles), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"--profile {profile!r}: unknown profile{hint}; known: "
                             + ", ".join(sorted(profiles)))
        base = profiles[key]
    gpu_bytes = flag_size("--gpu", gpu) if gpu is not None else base.gpu_bytes
    disk_bytes = flag_size("--disk", disk) if disk is not None else base.disk_bytes
    if gpu_bytes is None and disk_bytes is None:
        raise UsageError("advise: give --gpu SIZE, --disk SIZE or --profile NAME "
                         "(e.g. --profile 4090, --gpu 48GB --disk 50GB)")
    return Target(base.name, gpu_bytes, disk_bytes, base.note)
