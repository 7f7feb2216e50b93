"""A direct http(s) download: one file, named after the URL, size and digest unknown up front.

Nothing is asked of the server here: the transfer engine probes it anyway (size, ranges, a
Content-Disposition name that beats the URL's) and ``pull --sha256`` supplies a digest when the
user has one. A token (``--token`` or ``[sources.url] token``) goes to the URL's own host only.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from modelshelf.config import Settings
from modelshelf.sources.base import Ref, RemoteFile, Resolution, ResolveOptions, SourceName

_UNSAFE = re.compile(r"[^\w.\-+()\[\] ]")
_MAX_NAME = 200
# Query parameters that carry credentials in signed or tokenised download links (Civitai's
# ?token=, S3/GCS signatures, Azure SAS `sig`, API keys): never kept in the registry or printed.
_SECRET_PARAMS = frozenset({
    "token", "access_token", "api_key", "apikey", "key", "auth", "password", "secret", "sig",
    "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
    "x-goog-signature", "x-goog-credential"})
MASK = "***"


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


def public_url(url: str) -> str:
    """``url`` with a password in it and the values of credential parameters masked: what may be
    stored, printed and used as the model's reference (the secret is no part of its identity)."""
    try:
        split = urlsplit(url)
        password = split.password
    except ValueError:
        return url
    netloc = split.netloc
    if password is not None:
        netloc = netloc.replace(f":{password}@", f":{MASK}@", 1)
    pairs = parse_qsl(split.query, keep_blank_values=True)
    if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
        query = urlencode([(k, MASK if k.lower() in _SECRET_PARAMS else v) for k, v in pairs],
                          safe="*")
    else:
        query = split.query
    return urlunsplit((split.scheme, netloc, split.path, query, split.fragment))


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def resolve(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
    url = str(ref.url)
    name = file_name_from_url(url)
    token = options.token_for(settings.source("url"))
    remote = RemoteFile(path=name, url=url, headers=bearer(token),
                        auth_host=urlsplit(url).hostname if token else None)
    return Resolution(ref=public_url(ref.raw), source=SourceName.URL,
                      name=PurePosixPath(name).stem or name, files=(remote,),
                      source_url=public_url(url))
