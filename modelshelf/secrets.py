"""Everything about secrets in one place: what a token looks like when shown, where it may go,
and how URLs and messages are cleaned before anyone sees them.

Three verbs, each meaning one thing:

* :func:`redact_url` drops everything of a URL that may be secret (user info, query, fragment):
  for error messages and state files, where the URL only has to say *which* file.
* :func:`public_url` masks only the credential parts (a password, ``?token=``-like values) and
  keeps the rest: the URL stays the model's identity and can be shown and stored.
* :func:`scrub` replaces known secret values anywhere in a text (the CLI's last line of defence
  before a message reaches the terminal).

Credentials are scoped by *origin* (:func:`origin`): scheme, host and port, as browsers and
httpx scope them. A redirect to the same host on another port, or from https to http, is another
origin and never receives the token.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry credentials in signed or tokenised download links (Civitai's
# ?token=, S3/GCS signatures, Azure SAS `sig`, API keys): never kept in the registry or printed.
SECRET_PARAMS = frozenset({
    "token", "access_token", "api_key", "apikey", "key", "auth", "password", "secret", "sig",
    "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
    "x-goog-signature", "x-goog-credential"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SHORTEST_SECRET = 4  # shorter values would mask innocent text ("a", "on") everywhere


class Secret:
    """A token that prints as ``***`` everywhere; ``.reveal()`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def origin(url: str) -> str | None:
    """``scheme://host:port`` (lower case, default port spelled out): the unit a credential is
    scoped to. None for a URL that is not http(s) or cannot be parsed (it gets no credential)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


@dataclass(frozen=True)
class Credentials:
    """Headers that prove who we are (Authorization, cookies, API keys) and the one origin they
    may be sent to. A Hub or Civitai redirect to a signed CDN URL elsewhere gets none: the signed
    URL itself is the credential there, and the user's token must not leak to the CDN."""

    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    origin: str | None = None

    @classmethod
    def for_url(cls, headers: Mapping[str, str], url: str) -> Credentials:
        """``headers`` scoped to the origin of ``url`` (e.g. the API endpoint that issued them)."""
        return cls(dict(headers), origin(url)) if headers else NO_CREDENTIALS

    def headers_for(self, url: str) -> Mapping[str, str]:
        """What to add to a request for ``url``: the headers on their own origin, else nothing."""
        if not self.headers or self.origin is None or origin(url) != self.origin:
            return {}
        return self.headers


NO_CREDENTIALS = Credentials()


def redact_url(url: str) -> str:
    """The URL without user info, query or fragment: signed CDN URLs carry secrets there."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return _userinfo_dropped(url.split("?", 1)[0].split("#", 1)[0])
    if ":" in host:
        host = f"[{host}]"
    if not parts.scheme:
        return url.split("?", 1)[0]
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.netloc else \
        f"{parts.scheme}:{parts.path}"


def _userinfo_dropped(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}{sep}{authority.rpartition('@')[2]}{slash}{path}"


def public_url(url: str) -> str:
    """``url`` with a password in it and the values of credential parameters masked: what may be
    stored, printed and used as the model's reference (the secret is no part of its identity)."""
    try:
        split = urlsplit(url)
        password = split.password
    except ValueError:
        return redact_url(url)
    netloc = split.netloc
    if password is not None:
        netloc = netloc.replace(f":{password}@", f":{MASK}@", 1)
    pairs = parse_qsl(split.query, keep_blank_values=True)
    if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
        query = urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs],
                          safe="*")
    else:
        query = split.query
    return urlunsplit((split.scheme, netloc, split.path, query, split.fragment))


def basic_login(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its ``user:password@``, and the Basic ``Authorization`` header those make
    (as wget and curl send them); no user info: ``url`` unchanged and no header. The header is
    meant for :meth:`Credentials.for_url`, so it goes to that origin alone."""
    try:
        split = urlsplit(url)
        user, password = split.username, split.password
    except ValueError:
        return url, {}
    if user is None:
        return url, {}
    login = f"{unquote(user)}:{unquote(password or '')}".encode()
    bare = urlunsplit((split.scheme, split.netloc.rpartition("@")[2], split.path, split.query,
                       split.fragment))
    return bare, {"Authorization": "Basic " + base64.b64encode(login).decode("ascii")}


def public_ref(ref: str) -> str:
    """A model reference as results show it and lock files record it: an http(s) URL through
    :func:`public_url` (a signed link's secret or a ``user:password`` is not echoed back or
    committed), any other reference (``hf:``, ``civitai:``, a path) as written."""
    return public_url(ref) if ref.lstrip().lower().startswith(("http:", "https:")) else ref


def mask_userinfo(url: str) -> str:
    """A proxy URL as shown: ``http://host:port``, or ``http://***@host:port`` when it carries
    ``user:password``."""
    scheme, sep, rest = url.rpartition("://")
    _userinfo, at, hostport = rest.partition("/")[0].rpartition("@")
    return f"{scheme}{sep}{MASK + '@' if at else ''}{hostport}"


def proxy_password(url: str) -> str | None:
    """The password in a ``[scheme://]user:password@host`` proxy URL, as written, if any."""
    userinfo, at, _host = url.partition("://")[2 if "://" in url else 0].partition("/")[0] \
        .rpartition("@")
    return userinfo.partition(":")[2] or None if at else None


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret value replaced by ``***`` (longest first,
    so a token that contains another is masked whole)."""
    for value in sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len,
                        reverse=True):
        text = text.replace(value, MASK)
    return text
