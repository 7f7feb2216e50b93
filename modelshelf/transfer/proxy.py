"""Which HTTP proxy a connection goes through, and the errors that name it.

The choice is plain data handed down by the caller (the settings read ``*_proxy``/``NO_PROXY``);
nothing here reads the environment. The rules are those of curl, requests and urllib: the
scheme's own proxy, else ``all``'s; ``NO_PROXY`` (host, domain suffix, ``host:port`` or ``*``)
bypasses it through ``urllib.request.proxy_bypass_environment``. Loopback is not special.

Proxy credentials (``http://user:pass@proxy:3128``) become a ``Proxy-Authorization`` header for
the proxy alone: on every request for plain-http targets (the proxy forwards them), only in the
``CONNECT`` request for https ones (the tunnel's contents are the origin's). Errors show the
proxy as ``http://***@host:port``; the URL itself is never printed.
"""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit
from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]  # not in typeshed

from modelshelf.errors import AuthError, ConfigError
from modelshelf.secrets import mask_userinfo

# How http.client reports a CONNECT answered with anything but 200 (an OSError, no status field).
_TUNNEL_FAILED = re.compile(r"Tunnel connection failed: (\d{3})\s*(.*)")


@dataclass(frozen=True)
class Proxy:
    """One forward proxy: where to connect, how to show it, what to tell it."""

    host: str
    port: int
    shown: str  # http://host:port, or http://***@host:port when it has credentials
    authorization: str | None = field(default=None, repr=False)  # "Basic ..." or None

    def headers(self) -> dict[str, str]:
        """The headers meant for the proxy alone (never for the origin)."""
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}


@dataclass(frozen=True)
class ProxyRules:
    """Proxy URLs by target scheme (``http``, ``https``, ``all`` as fallback) and ``NO_PROXY``.

    URLs are parsed when a target needs one, so an unusable ``all_proxy`` (socks5://...) only
    fails the downloads that would go through it.
    """

    urls: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold passwords
    no_proxy: str = ""

    def choose(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for a connection to ``scheme://host:port``, or None to go direct."""
        url = self.urls.get(scheme) or self.urls.get("all")
        if not url or proxy_bypass_environment(f"{host}:{port}", {"no": self.no_proxy}):
            return None
        return parse_proxy(url)


NO_PROXIES = ProxyRules()


def parse_proxy(url: str) -> Proxy:
    """An ``http://[user:pass@]host[:port]`` proxy URL (scheme optional, as curl allows)."""
    url = url if "://" in url else f"http://{url}"
    parts = urlsplit(url)
    userinfo, at, _hostport = parts.netloc.rpartition("@")
    shown = mask_userinfo(url)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"proxy {shown}: malformed proxy URL") from None
    if parts.scheme != "http":
        raise ConfigError(f"proxy {shown}: only http:// proxies are supported")
    if not parts.hostname:
        raise ConfigError(f"proxy {shown}: no host in the proxy URL")
    authorization = None
    if at:
        user, _, password = userinfo.partition(":")
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return Proxy(parts.hostname, port or 80, shown, authorization)


class ProxyUnreachable(ConnectionError):
    """The proxy refused, timed out or would not open the tunnel: transient, so retried, and
    the final error names the proxy rather than only the origin."""


def proxy_auth_error(proxy: Proxy) -> AuthError:
    """A 407: final, no retry cures it."""
    cause = ("credentials not accepted" if proxy.authorization
             else "it asks for credentials (put user:password in the proxy URL)")
    return AuthError(f"proxy {proxy.shown}: HTTP 407, proxy authentication required: {cause}")


def connect_error(proxy: Proxy, exc: OSError) -> AuthError | ProxyUnreachable:
    """What a failure to reach the proxy or open its tunnel means, naming the proxy."""
    tunnel = _TUNNEL_FAILED.search(str(exc))
    if tunnel is not None and tunnel.group(1) == "407":
        return proxy_auth_error(proxy)
    if tunnel is not None:
        cause = f"CONNECT answered HTTP {tunnel.group(1)} {tunnel.group(2)}".rstrip()
    elif isinstance(exc, ConnectionRefusedError):
        cause = "connection refused"
    elif isinstance(exc, TimeoutError | socket.timeout):
        cause = "timed out"
    else:
        cause = str(exc) or type(exc).__name__
    return ProxyUnreachable(f"proxy {proxy.shown}: {cause}")
