"""File names from what a server says (Content-Disposition) or from the URL, made safe to use.

A server chooses these names, so they are untrusted input: a name like ``../../.bashrc`` or one
with a NUL or a terminal escape must never reach the file system or the user's screen as is.
"""

from __future__ import annotations

import email.message
import re
import unicodedata
from urllib.parse import unquote, urlsplit

_EXTENDED = re.compile(r"filename\*\s*=\s*([\w-]*)'[^']*'([^;\s]+)", re.IGNORECASE)
_MAX_NAME_BYTES = 255  # NAME_MAX on every file system we care about
# Control, format (bidi overrides, zero-width), separators other than space, unassigned, private.
_BANNED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})


def sanitize_filename(name: str) -> str | None:
    """Return a safe single path component derived from ``name``, or None if nothing is left.

    Only the last path component survives (``/`` and ``\\`` both count as separators); control
    and invisible characters are dropped; leading dots are removed so the name is neither
    hidden nor ``.``/``..``; it is cut to 255 UTF-8 bytes, keeping the extension.
    """
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in last if unicodedata.category(ch) not in _BANNED_CATEGORIES)
    kept = " ".join(kept.split())  # tabs, runs of spaces -> one space; trims both ends
    kept = kept.lstrip(".").strip()
    if not kept:
        return None
    return _truncate(kept)


def _truncate(name: str) -> str:
    if len(name.encode()) <= _MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > 16:
        stem, ext = name, ""
    room = _MAX_NAME_BYTES - len(ext.encode()) - (1 if ext else 0)
    stem = stem.encode()[:room].decode(errors="ignore").rstrip()
    return f"{stem}.{ext}" if ext else stem


def filename_from_disposition(header: str | None) -> str | None:
    """The (RFC 6266 / 5987) file name in a Content-Disposition header, sanitised.

    ``filename*=UTF-8''...`` wins over ``filename=`` as the RFC says; the plain form (quoted or
    not, with escapes) is left to the stdlib email parser.
    """
    if not header:
        return None
    extended = _EXTENDED.search(header)  # email's parser would take the first filename instead
    if extended:
        try:
            return sanitize_filename(unquote(extended.group(2), encoding=extended.group(1) or
                                             "utf-8", errors="strict"))
        except (LookupError, UnicodeDecodeError):
            pass
    message = email.message.Message()
    message["Content-Disposition"] = header
    try:
        raw = message.get_filename()
    except (ValueError, LookupError):  # malformed encoding in filename*
        return None
    return sanitize_filename(raw) if raw else None


def filename_from_url(url: str) -> str | None:
    """The last segment of the URL path, percent-decoded and sanitised."""
    path = urlsplit(url).path
    return sanitize_filename(unquote(path.rstrip("/").rsplit("/", 1)[-1]))


def pick_filename(disposition: str | None, url: str) -> str | None:
    """What a browser would save the file as: Content-Disposition first, then the URL."""
    return filename_from_disposition(disposition) or filename_from_url(url)
