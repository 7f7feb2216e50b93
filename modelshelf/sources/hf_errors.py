"""``huggingface_hub`` / ``httpx2`` exceptions -> modelshelf errors, in one place.

``hf_raise_for_status`` already turns the Hub's ``X-Error-Code`` answers into typed exceptions;
this module only translates those types (a table, most specific first) into our tree with a
one-line message that names the reference and never the token. One Hub quirk needs care: an
anonymous request for a repo that does not exist *or* is private gets 401 RepoNotFound, so without
a token we cannot tell the two apart and say so (as :class:`TokenRequired`, the fixable reading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from modelshelf.errors import (
    BadContent,
    EntryNotFound,
    GatedRepo,
    ModelshelfError,
    NetworkError,
    OfflineError,
    RepoNotFound,
    RevisionNotFound,
    TokenRequired,
)

LOGIN_HINT = "set HF_TOKEN, run `hf auth login`, or pass --token"


@dataclass(frozen=True)
class _Context:
    ref: str
    repo_id: str
    endpoint: str
    revision: str | None
    had_token: bool

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc or self.endpoint


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _repo_not_found(exc: Exception, c: _Context) -> ModelshelfError:
    if not c.had_token:
        return TokenRequired(f"{c.ref}: repository not found, or it is private and you are not "
                             f"logged in ({LOGIN_HINT})")
    if _status(exc) == 401:
        return TokenRequired(f"{c.ref}: the Hub at {c.host} did not accept the token")
    return RepoNotFound(f"{c.ref}: repository not found (or your token has no access to it)")


def _gated(exc: Exception, c: _Context) -> ModelshelfError:
    page = f"{c.endpoint}/{c.repo_id}"
    if not c.had_token:
        return GatedRepo(f"{c.ref}: gated repository; log in ({LOGIN_HINT}) and accept its "
                         f"licence at {page}")
    return GatedRepo(f"{c.ref}: gated repository and this token has no access yet; accept the "
                     f"licence (or wait for approval) at {page}")


def _http(exc: Exception, c: _Context) -> ModelshelfError:
    status = _status(exc)
    if status in (401, 403):
        reason = "did not accept the token" if c.had_token else f"needs a token ({LOGIN_HINT})"
        return TokenRequired(f"{c.ref}: the Hub at {c.host} {reason}")
    return NetworkError(f"{c.ref}: the Hub at {c.host} answered HTTP {status}")


# Most specific first: GatedRepoError is a RepositoryNotFoundError, and every Hub error is an
# HfHubHTTPError.
_TABLE: tuple[tuple[type[BaseException], Callable[[Exception, _Context], ModelshelfError]], ...] = (
    (OfflineModeIsEnabled, lambda e, c: OfflineError(
        f"{c.ref}: offline mode is on (HF_HUB_OFFLINE) and it is not in the store")),
    (GatedRepoError, _gated),
    (RepositoryNotFoundError, _repo_not_found),
    (RevisionNotFoundError, lambda e, c: RevisionNotFound(
        f"{c.ref}: revision {c.revision or 'main'} not found")),
    (RemoteEntryNotFoundError, lambda e, c: EntryNotFound(f"{c.ref}: file not found")),
    (DisabledRepoError, lambda e, c: RepoNotFound(f"{c.ref}: the repository is disabled")),
    (HfHubHTTPError, _http),
    (httpx2.TimeoutException, lambda e, c: NetworkError(f"{c.ref}: {c.host} timed out")),
    (httpx2.TransportError, lambda e, c: NetworkError(f"{c.ref}: cannot reach {c.host} "
                                                      f"({type(e).__name__})")),
)


@contextmanager
def hub_errors(ref: str, repo_id: str, endpoint: str, revision: str | None,
               had_token: bool) -> Iterator[None]:
    """Run Hub calls; re-raise their failures as modelshelf errors (chained, token-free)."""
    context = _Context(ref, repo_id, endpoint, revision, had_token)
    try:
        yield
    except ModelshelfError:
        raise
    except Exception as exc:
        for kind, make in _TABLE:
            if isinstance(exc, kind):
                raise make(exc, context) from exc
        raise


@contextmanager
def hub_answer(ref: str, what: str) -> Iterator[None]:
    """Read one Hub answer (``what``: "model info", "tree listing"); a malformed one is
    :class:`BadContent` naming the reference and what was wrong.

    :mod:`modelshelf.sources.hf_protocol` reads the server's JSON field by field
    (``entry["oid"]``, ``lfs["oid"]``), so an answer of the wrong shape surfaces as the
    TypeError/KeyError/AttributeError/ValueError of that reading (a body that is no JSON is a
    ValueError too), or as the ValueError its checks of the fields raise. Only the reading of
    the answer runs in here, not our logic after it, so a bug of ours is not dressed up as the
    server's fault. The Hub's HTTP errors (one is a ValueError) and huggingface_hub's checks of
    our arguments pass through to :func:`hub_errors`.
    """
    try:
        yield
    except (HfHubHTTPError, HFValidationError):
        raise
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
        raise BadContent(f"{ref}: the Hub sent a malformed {what} ({detail})") from exc
