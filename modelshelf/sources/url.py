"""A direct http(s) download: one file, named after the URL, size and digest unknown up front.

Nothing is asked of the server here: the transfer engine probes it anyway (size, ranges, a
Content-Disposition name that beats the URL's) and ``pull --sha256`` supplies a digest when the
user has one. A token (``--token`` or ``[sources.url] token``), else a ``user:password@`` written into
the URL (sent as Basic auth, as wget and curl do), goes to the URL's own origin only (scheme, host
and port).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlsplit

from modelshelf.config import Settings
from modelshelf.naming import file_name, file_name_from_url
from modelshelf.secrets import Credentials, basic_login, public_url
from modelshelf.sources.base import Ref, RemoteFile, Resolution, ResolveOptions, SourceName


def url_file_name(url: str) -> str:
    """The name a download from ``url`` gets before the server says otherwise: the URL's last
    segment as :mod:`modelshelf.naming` makes it safe (the engine applies the same rule, so a
    dry run and the pull agree), else the host name."""
    return (file_name_from_url(url) or file_name(urlsplit(url).hostname or "")
            or "download")


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def resolve(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
    url, login = basic_login(str(ref.url))
    name = url_file_name(url)
    token = options.token_for(settings.source("url"))
    # A token the user gave explicitly beats a login written into the URL.
    headers = bearer(token) or login
    remote = RemoteFile(path=name, url=url, credentials=Credentials.for_url(headers, url))
    return Resolution(ref=public_url(ref.raw), source=SourceName.URL,
                      name=PurePosixPath(name).stem or name, files=(remote,),
                      source_url=public_url(str(ref.url)))
