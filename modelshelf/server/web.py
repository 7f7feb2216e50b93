"""``modelshelf serve``: the local web page and the JSON API under ``/api/`` it is drawn from.

The page (``server/page/index.html``, package data: one file, no external assets, no build
step) reads the collection through a thin JSON layer over :class:`Shelf`:

- ``GET /api/models``, ``GET /api/models/<name>`` (detail: inspection, evidence, safety
  findings, fingerprints, Civitai trigger words), ``GET /api/models/<name>/preview``,
  ``GET /api/du``, ``GET /api/gc`` (the plan, never executed here);
- ``POST /api/pull {"ref": ...}`` (a background pull, polled at ``GET /api/jobs/<id>``),
  ``POST /api/models/<name>/pin`` and ``.../unpin``, ``DELETE /api/models/<name>``.

It listens on loopback, but every page open in the user's browser can send requests to
127.0.0.1, so: every request must name a loopback ``Host`` (a DNS-rebinding page names its own),
and a mutating one must carry the per-process token embedded in the page (``X-CSRF-Token``,
which a cross-site form cannot set) and, when the browser sends one, a loopback ``Origin``.
The page's Content-Security-Policy lets only its own inline script (by nonce) run.
"""

from __future__ import annotations

import hmac
import json
import secrets
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from modelshelf.api import Model, Shelf
from modelshelf.errors import ModelshelfError, NotFoundError, UsageError
from modelshelf.hashing import autov2
from modelshelf.server.jobs import Jobs
from modelshelf.server.threads import KeepAliveHandler, QuietHTTPServer, Serving

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_PREVIEW_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                  ".webp": "image/webp", ".gif": "image/gif"}
_MAX_BODY = 64 * 1024  # a pull reference, not an upload


class WebServer(Serving):
    """``with WebServer(shelf) as web: ... web.url`` (port 0: any free port), or
    ``serve_forever()`` in the foreground."""

    def __init__(self, shelf: Shelf, host: str = "127.0.0.1", port: int = 0) -> None:
        self.shelf = shelf
        self.jobs = Jobs(shelf)
        self.token = secrets.token_urlsafe(32)
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.web = self
        self.port: int = self._httpd.socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, nonce: str) -> bytes:
        """The page with this process's token and the response's script nonce filled in."""
        html = resources.files("modelshelf.server").joinpath("page/index.html").read_text("utf-8")
        return html.replace("__CSRF_TOKEN__", self.token).replace("__NONCE__", nonce).encode()

    def host_allowed(self, host: str) -> bool:
        """``Host`` is a loopback name with this server's port (or none: HTTP/1.0 tools)."""
        return host in {f"{name}:{self.port}" for name in _LOOPBACK} | set(_LOOPBACK)


class _HTTPServer(QuietHTTPServer):
    web: WebServer


class _Answer(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def model_row(model: Model) -> dict[str, Any]:
    """A table row: what ``ls --json`` says plus where it came from and when it was last used."""
    return {**model.to_json(), "source_kind": model.source, "last_used": model.last_used}


def model_detail(shelf: Shelf, model: Model) -> dict[str, Any]:
    """Everything the detail panel shows. The inspection re-reads only headers (no hashing:
    the store already knows every file's sha256, and AutoV2 is its first ten digits)."""
    try:
        info: dict[str, Any] = shelf.inspect_model(model.name).to_json()
    except (ModelshelfError, OSError) as exc:  # a damaged file still gets its registry facts
        info = {"error": str(exc)}
    training = info.get("training") or {}
    return {
        **model_row(model),
        "metadata": dict(model.metadata), "info": info,
        "fingerprints": [{"path": f.path, "size": f.size, "sha256": f.sha256,
                          "autov2": autov2(f.sha256)} for f in model.files],
        "trigger_words": list(training.get("trigger_words") or []),
        "preview": _preview_image(shelf, model.name) is not None,
    }


def _preview_image(shelf: Shelf, name: str) -> Path | None:
    """The model's stored preview (``meta/<name>/preview.<ext>``) in a type the page can show."""
    return next((p for p in sorted((shelf.store.meta_dir / name).glob("preview.*"))
                 if p.suffix.lower() in _PREVIEW_TYPES), None)


class _Handler(KeepAliveHandler):
    server: _HTTPServer

    def _dispatch(self) -> None:
        method = self.command
        web = self.server.web
        path = urlsplit(self.path).path
        try:
            self._raw = self._read_body() if method != "GET" else b""
            if not web.host_allowed(self.headers.get("Host", "")):
                raise _Answer(421, "this server answers only requests for 127.0.0.1")
            if method != "GET":
                self._check_mutation()
            if path == "/" and method == "GET":
                self._page()
                return
            parts = [unquote(p) for p in path.split("/")[1:]]
            if parts[:1] != ["api"]:
                raise _Answer(404, f"{path}: no such page")
            self._api(method, parts[1:])
        except _Answer as answer:
            self._json({"error": str(answer)}, answer.status)
        except ModelshelfError as exc:
            status = 404 if isinstance(exc, NotFoundError) else \
                400 if isinstance(exc, UsageError) else 409
            self._json({"error": str(exc)}, status)
        except Exception as exc:  # a bug: an answer, not a dropped connection
            self._json({"error": f"internal error: {type(exc).__name__}"}, 500)

    do_GET = do_POST = do_DELETE = _dispatch

    def _check_mutation(self) -> None:
        """The token (constant time) and, if sent, a loopback Origin (see the module docstring)."""
        web = self.server.web
        origin = self.headers.get("Origin")
        if origin is not None and not (origin.startswith("http://")
                                       and web.host_allowed(urlsplit(origin).netloc)):
            raise _Answer(403, "cross-origin request refused")
        token = self.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(token.encode(), web.token.encode()):
            raise _Answer(403, "missing or wrong X-CSRF-Token (reload the page)")

    def _api(self, method: str, parts: list[str]) -> None:
        shelf = self.server.web.shelf
        match method, parts:
            case "GET", ["models"]:
                self._json({"models": [model_row(m) for m in shelf.list()]})
            case "GET", ["models", name]:
                self._json(model_detail(shelf, shelf.get(name)))
            case "GET", ["models", name, "preview"]:
                self._preview(name)
            case "POST", ["models", name, ("pin" | "unpin") as action]:
                shelf.pin(name, action == "pin")
                self._json(model_row(shelf.get(name)))
            case "DELETE", ["models", name]:
                self._json({"name": name, "freed_bytes": shelf.remove(name)})
            case "GET", ["du"]:
                self._json(shelf.du().to_json())
            case "GET", ["gc"]:
                self._json({**shelf.gc().to_json(), "dry_run": True})
            case "POST", ["pull"]:
                ref = self._body().get("ref")
                if not isinstance(ref, str) or not ref.strip():
                    raise _Answer(400, 'pull: expected {"ref": "<reference>"}')
                self._json(self.server.web.jobs.start(ref.strip()).to_json(), 202)
            case "GET", ["jobs", job_id]:
                job = self.server.web.jobs.get(job_id)
                if job is None:
                    raise _Answer(404, f"no job {job_id}")
                self._json(job.to_json())
            case _:
                raise _Answer(404 if method == "GET" else 405,
                              f"{method} /api/{'/'.join(parts)}: no such API route")

    def _read_body(self) -> bytes:
        """Read up front, whatever the answer: a body left unread would be taken for the next
        request on this keep-alive connection."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            raise _Answer(413, "request body too large")
        return self.rfile.read(length)

    def _body(self) -> dict[str, Any]:
        if self.headers.get_content_type() != "application/json":
            raise _Answer(415, "expected a JSON body (Content-Type: application/json)")
        try:
            body = json.loads(self._raw or b"{}")
        except ValueError:
            raise _Answer(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise _Answer(400, "expected a JSON object")
        return body

    def _preview(self, name: str) -> None:
        shelf = self.server.web.shelf
        shelf.get(name)  # an unknown name is a 404 naming it, and no path outside meta/ is read
        image = _preview_image(shelf, name)
        if image is None:
            raise _Answer(404, f"{name}: no preview image")
        self._send(200, image.read_bytes(), _PREVIEW_TYPES[image.suffix.lower()])

    def _page(self) -> None:
        nonce = secrets.token_urlsafe(16)
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
               "base-uri 'none'; form-action 'none'")
        self._send(200, self.server.web.page(nonce), "text/html; charset=utf-8",
                   {"Content-Security-Policy": csp, "Cache-Control": "no-store"})

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

