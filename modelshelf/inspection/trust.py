"""Whether a pulled model may be linked into views/ (and so reach apps) without the user's word.

modelshelf never loads a model, but the apps it links into do: ComfyUI or A1111 call
``torch.load`` on a ``.ckpt``/``.pt``/``.bin``, which runs whatever a pickle says. So a model is
linked at once only when no file of it can run code in an app: the inspection found it ``safe``,
or it could not analyse it (``unknown``) but every file is of a kind apps read without
unpickling (safetensors, GGUF, ONNX, configs). Anything else — ``unsafe``, or ``unknown`` with a
file an app would unpickle — is stored and registered, but linked only after ``pull
--allow-unsafe`` or ``modelshelf trust NAME``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from modelshelf.inspection.info import Info
from modelshelf.store import FileRecord

# Formats whose readers cannot run code (by content, whatever the file names say).
_CODE_FREE_FORMATS = frozenset({"safetensors", "gguf", "onnx"})
# Suffixes apps hand to torch.load / pickle / numpy(allow_pickle) / joblib: a file so named
# whose content we could not judge could be a pickle the apps would run.
_UNPICKLED_SUFFIXES = frozenset({".ckpt", ".pt", ".pt2", ".pth", ".bin", ".pkl", ".pickle",
                                 ".th", ".tar", ".npy", ".npz", ".joblib", ".zip", ".data"})


@dataclass(frozen=True)
class Verdict:
    """The inspection's safety status and whether that alone allows linking."""

    safety: str  # "safe" | "unsafe" | "unknown"
    linkable: bool
    reason: str  # why not linkable ("" when it is)


def judge(info: Info | None, files: Sequence[FileRecord],
          safety_of: Callable[[FileRecord], str]) -> Verdict:
    """The linking verdict for a model whose inspection gave ``info`` (None: not inspectable).

    ``safety_of`` judges one file of a multi-file model: a folder's verdict is "unknown" as
    soon as any file is (a README), so each file an app would unpickle is judged on its own.
    """
    status = str(info.safety.get("status", "unknown")) if info is not None else "unknown"
    if status == "safe":
        return Verdict(status, True, "")
    if status == "unsafe":
        findings = "; ".join(str(f) for f in list(info.safety.get("findings", ()))[:3]) if info else ""
        return Verdict(status, False, "UNSAFE pickle: an app loading it would run code"
                       + (f" ({findings})" if findings else ""))
    risky = [f for f in files if PurePosixPath(f.path).suffix.lower() in _UNPICKLED_SUFFIXES]
    if len(files) == 1:
        # A single file whose content is a code-free format stays so whatever its name says.
        unvetted = [] if info is not None and info.format in _CODE_FREE_FORMATS else risky
    else:
        unvetted = [f for f in risky if safety_of(f) != "safe"]
    if not unvetted:
        return Verdict(status, True, "")
    return Verdict(status, False, f"{unvetted[0].path} could not be analysed and apps may "
                   "unpickle it (running any code it holds)")


def trust_hint(name: str) -> str:
    """The one sentence every "not linked" message ends with."""
    return f"run `modelshelf trust {name}` (or pull with --allow-unsafe) to link it"
