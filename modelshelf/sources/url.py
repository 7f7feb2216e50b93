"""A direct http(s) download: one file, named after the URL, size and digest unknown up front.

Nothing is asked of the server here: the transfer engine probes it anyway (size, ranges, a
Content-Disposition name that beats the URL's) and ``pull --sha256`` supplies a digest when the
user has one. A token (``--token`` or ``[sources.url] token``) goes to the URL's own host only.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from modelshelf.config import Settings
from modelshelf.sources.base import Ref, RemoteFile, Resolution, ResolveOptions

_UNSAFE = re.compile(r"[^\w.\-+()\[\] ]")
_MAX_NAME = 200


def safe_filename(name: str, fallback: str = "download") -> str:
    """A name that is safe as one path component on every OS: no separators, no control
    characters, no leading dots (hidden files, ``..``), bounded length with the suffix kept."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > _MAX_NAME:
        suffix = PurePosixPath(name).suffix[:20]
        name = name[: _MAX_NAME - len(suffix)] + suffix
    return name or fallback


def file_name_from_url(url: str) -> str:
    """The sanitised last path part of ``url`` (``.../v1/model.safetensors?x=1`` -> the file)."""
    split = urlsplit(url)
    return safe_filename(unquote(split.path.rstrip("/").rsplit("/", 1)[-1]),
                         fallback=safe_filename(split.hostname or "", "download"))


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def resolve(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
    url = str(ref.url)
    name = file_name_from_url(url)
    configured = settings.source("url").token
    token = options.token or (configured.reveal() if configured else None)
    remote = RemoteFile(path=name, url=url, headers=bearer(token),
                        auth_host=urlsplit(url).hostname if token else None)
    return Resolution(ref=ref.raw, source="url", name=PurePosixPath(name).stem or name,
                      files=(remote,), source_url=url)
