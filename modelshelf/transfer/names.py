"""File names from what a server says (Content-Disposition) or from the URL.

A server chooses these names, so they are untrusted input: a name like ``../../.bashrc`` or one
with a NUL or a terminal escape must never reach the file system or the user's screen as is.
Parsing the header is this module's job; making the name safe is :mod:`modelshelf.naming`'s,
the one rule every layer uses (so ``pull --dry-run`` shows the name ``pull`` registers).
"""

from __future__ import annotations

import email.message
import re
from urllib.parse import unquote

from modelshelf.naming import file_name, file_name_from_url

_EXTENDED = re.compile(r"filename\*\s*=\s*([\w-]*)'[^']*'([^;\s]+)", re.IGNORECASE)


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
            return file_name(unquote(extended.group(2), encoding=extended.group(1) or
                                             "utf-8", errors="strict"))
        except (LookupError, UnicodeDecodeError):
            pass
    message = email.message.Message()
    message["Content-Disposition"] = header
    try:
        raw = message.get_filename()
    except (ValueError, LookupError):  # malformed encoding in filename*
        return None
    return file_name(raw) if raw else None


def pick_filename(disposition: str | None, url: str) -> str | None:
    """What a browser would save the file as: Content-Disposition first, then the URL."""
    return filename_from_disposition(disposition) or file_name_from_url(url)
