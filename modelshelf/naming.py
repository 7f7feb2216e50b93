"""Names that become files: one policy for every layer, so a plan and its result agree.

Two kinds of text turn into names on disk:

* names **someone else chose** (a server's Content-Disposition, the last segment of a URL, a
  Civitai file name): untrusted, so :func:`file_name` keeps one component and a portable
  alphabet (letters, digits, space and ``. - + ( ) [ ]``); everything else, ``? * # : " < > |``
  included, becomes ``_``. ``pull --dry-run`` and ``pull`` both call it, so the name a dry run
  shows is the name the pull registers.
* names **the user's own files** already have (a folder being adopted or imported):
  :func:`name_from` and :func:`path_from` change only what cannot be a name at all (separators,
  control characters, bytes that are not UTF-8), so the store mirrors what the user sees.

Both cut to :data:`MAX_NAME_BYTES`, leaving room for an atomic-replace temp suffix under the
255-byte limit of file systems.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

# A name becomes a file name (plus a suffix such as ".safetensors", plus the ".<name>.<8 hex>.tmp"
# of an atomic replace): filesystems allow 255 bytes, so keep well below.
MAX_NAME_BYTES = 200
# What no part of a path may hold: a backslash (a separator on Windows), control characters,
# and lone surrogates (the bytes of a name that is not UTF-8; SQLite text must be UTF-8).
UNSAFE_CHARS = r"\\\x00-\x1f\x7f\ud800-\udfff"
_UNNAMEABLE = re.compile(rf"[/{UNSAFE_CHARS}]+")
_NOT_PORTABLE = re.compile(r"[^\w.\-+()\[\] ]")
# Control, format (bidi overrides, zero-width), separators other than space, unassigned, private.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})
_MAX_SUFFIX = 20


def file_name(text: str) -> str | None:
    """A safe, portable single path component from a name someone else chose, or None when
    nothing is left: the last component only (``/`` and ``\\`` both separate), invisible
    characters dropped, whitespace runs made one space, other characters outside the portable
    alphabet made ``_``, no leading or trailing dots or spaces, cut to size keeping the suffix."""
    last = unicodedata.normalize("NFC", text).replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in last if unicodedata.category(ch) not in _INVISIBLE)
    kept = _NOT_PORTABLE.sub("_", " ".join(kept.split())).strip(" .")
    return _cut(kept) or None


def file_name_from_url(url: str) -> str | None:
    """The last segment of the URL's path, percent-decoded, through :func:`file_name`."""
    path = urlsplit(url).path
    return file_name(unquote(path.rstrip("/").rsplit("/", 1)[-1]))


def name_from(text: str, room: int = 0) -> str:
    """A model name from the name of a user's file or folder: separators, control characters
    and undecodable bytes become ``_``, outer spaces and leading dots go, and it is cut to fit
    (leaving ``room`` bytes for a suffix). An import or an adopt never fails on a name nobody
    chose."""
    name = _UNNAMEABLE.sub("_", text)
    name = name.encode()[:MAX_NAME_BYTES - room].decode("utf-8", "ignore")
    return name.strip().lstrip(".").strip() or "model"


def path_from(relative: str) -> str:
    """A file path inside a model, from a path found on disk: in each part, separators, control
    characters and undecodable bytes become ``_`` (a newline in a name breaks every line-based
    tool, and SQLite text must be UTF-8)."""
    return "/".join(_UNNAMEABLE.sub("_", part) for part in relative.split("/"))


def _cut(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    suffix = PurePosixPath(name).suffix
    if len(suffix.encode()) > _MAX_SUFFIX:
        suffix = ""
    stem = name[: len(name) - len(suffix)] if suffix else name
    room = MAX_NAME_BYTES - len(suffix.encode())
    return stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .") + suffix
