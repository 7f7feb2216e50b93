"""Every error modelshelf raises, in one place.

Each class inherits from :class:`ModelshelfError` *and* from the built-in that fits, so callers can
``except FileNotFoundError`` without knowing us, and can tell failures apart by type rather than by
message text (pooch's everything-is-a-ValueError is what we avoid). ``exit_code`` is what the CLI
exits with: 2 for usage errors, 1 for everything that failed at run time (SPEC.md).

The tree::

    ModelshelfError
    ├── UsageError (ValueError)                 exit 2
    │   ├── BadReference                        a ref that fits no form
    │   └── ConfigError                         config.toml / env / flag value is wrong
    ├── SourceDisabled (PermissionError)        [sources.X] enabled = false
    ├── OfflineError (ConnectionError)          offline mode and the thing is not local
    ├── NotFoundError (FileNotFoundError)
    │   ├── ModelNotFound                       no such name in the registry
    │   ├── RemoteNotFound                      404 from a server
    │   │   ├── RepoNotFound / RevisionNotFound / EntryNotFound   (Hub)
    ├── AuthError (PermissionError)
    │   ├── TokenRequired                       401/403: log in / give a token
    │   └── GatedRepo                           Hub: licence not accepted / access not granted
    ├── NetworkError (ConnectionError)          host unreachable, reset, timeout after retries
    ├── DownloadError (OSError)
    │   ├── RemoteChanged                       the file changed under a resume or a transfer
    │   ├── BadContent                          an error page where a binary was expected
    │   └── SizeMismatch                        body shorter/longer than announced
    ├── HashMismatch (ValueError)
    ├── InsufficientSpace (OSError)
    ├── NameConflict (FileExistsError)          same name, other content, no --force
    ├── FormatError (ValueError)                a file claims a format but is broken
    ├── UnsafeFile (PermissionError)            a pickle that would run code
    ├── LockMismatch (ValueError)               content differs from models.toml.lock
    └── MissingExtra (ImportError)              e.g. torchvision: needs modelshelf[torch]
"""

from __future__ import annotations


class ModelshelfError(Exception):
    """Root of every error modelshelf raises on purpose."""

    exit_code: int = 1


class UsageError(ModelshelfError, ValueError):
    """The user asked for something malformed (bad flag, bad reference, bad value)."""

    exit_code = 2


class BadReference(UsageError):
    """A model reference that fits none of the forms SPEC.md lists."""


class ConfigError(UsageError):
    """A configuration value (file, environment, flag) that cannot be used."""


class SourceDisabled(ModelshelfError, PermissionError):
    """The source is switched off in config.toml."""


class OfflineError(ModelshelfError, ConnectionError):
    """Offline mode is on and the thing asked for is not in the store."""


class NotFoundError(ModelshelfError, FileNotFoundError):
    """Something named does not exist (locally or remotely)."""


class ModelNotFound(NotFoundError):
    """No model of that name in the registry."""


class RemoteNotFound(NotFoundError):
    """A server answered 404."""


class RepoNotFound(RemoteNotFound):
    """The Hub has no such repository (or it is private and no token was given)."""


class RevisionNotFound(RemoteNotFound):
    """The repository exists but the branch, tag or commit does not."""


class EntryNotFound(RemoteNotFound):
    """The repository and revision exist but the file does not."""


class AuthError(ModelshelfError, PermissionError):
    """The server refused us for lack of (valid) credentials."""


class TokenRequired(AuthError):
    """401/403: a token is needed, or the one given is not accepted."""


class GatedRepo(AuthError):
    """A gated Hub repository whose licence the user has not accepted."""


class NetworkError(ModelshelfError, ConnectionError):
    """A host could not be reached or kept failing after every retry."""


class DownloadError(ModelshelfError, OSError):
    """A transfer failed in a way that is not a network error."""


class RemoteChanged(DownloadError):
    """The remote file changed (ETag/Last-Modified/size) during or between transfers."""


class BadContent(DownloadError):
    """The server sent something that is not the file (an HTML/JSON error page)."""


class SizeMismatch(DownloadError):
    """The body's length differs from what the server (or the source) announced."""


class HashMismatch(ModelshelfError, ValueError):
    """The bytes' sha256 differs from the expected digest."""


class InsufficientSpace(ModelshelfError, OSError):
    """Not enough free disk space for the transfer (checked before, or hit during)."""


class NameConflict(ModelshelfError, FileExistsError):
    """A model of that name exists with other content; ``--force`` replaces it.

    ``clash`` says what collides and ``advice`` what to do, apart: a caller that knows better
    advice (``pull`` names a free name, never ``--force``, which deletes the other model)
    replaces it, rather than cutting the message at a "; " a path may hold too.
    """

    def __init__(self, clash: str, advice: str = "") -> None:
        super().__init__(f"{clash}; {advice}" if advice else clash)
        self.clash, self.advice = clash, advice


class ModelPinned(ModelshelfError, PermissionError):
    """The model is pinned: removing it needs ``--force`` (or ``unpin`` first)."""


class RegistryDamaged(ModelshelfError, FileNotFoundError):
    """The registry is missing or unreadable while blobs exist; ``modelshelf repair`` rebuilds it."""


class FormatError(ModelshelfError, ValueError):
    """A file claims a format (magic bytes) but its structure is broken."""


class UnsafeFile(ModelshelfError, PermissionError):
    """A pickle whose opcodes would import or call something outside the allow-list."""


class LockMismatch(ModelshelfError, ValueError):
    """What was fetched differs from what the lock file pins."""


class MissingExtra(ModelshelfError, ImportError):
    """An optional dependency group is needed, e.g. ``pip install 'modelshelf[torch]'``."""


def os_error_text(exc: OSError) -> str:
    """An OS error as ``path: reason``: ``str()`` of an OSError carries ``[Errno N]`` noise,
    and a library error that is also an OSError already reads right."""
    if isinstance(exc, ModelshelfError):
        return str(exc)
    return f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
