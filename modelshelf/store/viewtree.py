"""The store's own ``views/<type>/``: the registry rendered as ordinary files apps can open.

Single-file model -> ``views/<type>/<name><suffix>``; multi-file model ->
``views/<type>/<name>/<relative path>``. Entries are links to blobs, so they cost no space and
never point at bytes the registry does not vouch for.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from modelshelf.store.linking import LinkKind, place_link, shows
from modelshelf.store.records import TYPES, NewModel

BlobPath = Callable[[str], Path]


class ViewTree:
    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure_type_folders(self) -> None:
        """Every type folder always exists, so app links to them never dangle."""
        for type_ in TYPES:
            (self.root / type_).mkdir(parents=True, exist_ok=True)

    def path(self, model: NewModel) -> Path:
        """The file (single-file model) or folder (multi-file model) apps are pointed at."""
        folder = self.root / model.type
        if not model.is_single_file:
            return folder / model.name
        suffix = PurePosixPath(model.files[0].path).suffix
        name = model.name if model.name.endswith(suffix) else model.name + suffix
        return folder / name

    def entries(self, model: NewModel) -> dict[Path, str]:
        """View path -> sha256, for every file of the model; none for a model not linked
        (unsafe or unknown until trusted), so nothing builds, repairs or verifies them."""
        if not model.linked:
            return {}
        base = self.path(model)
        if model.is_single_file:
            return {base: model.files[0].sha256}
        return {base.joinpath(*f.path.split("/")): f.sha256 for f in model.files}

    def build(self, model: NewModel, blob_path: BlobPath) -> dict[Path, LinkKind]:
        """Create or repair every entry of the model; entries already right are left alone."""
        made: dict[Path, LinkKind] = {}
        for entry, sha256 in self.entries(model).items():
            blob = blob_path(sha256)
            if not shows(entry, blob):
                made[entry] = place_link(blob, entry)
        return made

    def remove(self, model: NewModel) -> None:
        base = self.path(model)
        if model.is_single_file:
            base.unlink(missing_ok=True)
        else:
            shutil.rmtree(base, ignore_errors=True)

