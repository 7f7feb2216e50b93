"""A fake Civitai on 127.0.0.1: the REST API subset modelshelf uses, with Civitai's redirects.

Routes (shapes follow the public API reference, developer.civitai.com):

- ``GET /api/v1/model-versions/{id}`` -> the version JSON (``id``, ``modelId``, ``name``,
  ``baseModel``, ``trainedWords``, ``model{name,type}``, ``files[]`` with ``sizeKB``, ``primary``,
  ``hashes{SHA256,AutoV2,...}``, ``metadata{fp,size,format}``, ``downloadUrl``; ``images[]``).
- ``GET /api/v1/models/{id}`` -> the model JSON, ``modelVersions`` newest first.
- ``GET /api/download/models/{id}[?type=...]`` -> 401 without the right token for models that
  need one (checked on ``Authorization: Bearer`` or ``?token=``; with ``login_redirect`` a 307
  to ``/login?...&reason=download-auth`` as Civitai also does), else a 302 to a signed-looking
  storage URL on the *other* loopback name (``localhost`` when the API was reached as
  ``127.0.0.1`` and vice versa), served as a :class:`LocalServer` file (Range, ETag, faults).
- ``GET /images/{version}/preview.png`` (also on the other name) -> a tiny real PNG.

Switches: :meth:`FakeCivitai.rate_limit` answers the next N API calls 429 with ``Retry-After``;
:meth:`FakeCivitai.fail_next` answers the next N with any status (403, 500, ...);
``maintenance = True`` answers an HTML page with status 200. Everything
lands in ``log`` with its headers, so tests can assert which host saw a token.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from modelshelf.testing.server import (
    Handler,
    LocalServer,
    Request,
    Response,
    json_response,
    query_value,
)

TOKEN = "civitai-test-token"
_ECOSYSTEMS = {"SD 1.5": "sd1", "SDXL 1.0": "sdxl", "Pony": "sdxl", "Illustrious": "sdxl",
               "Flux.1 D": "flux1", "Flux.1 S": "flux1"}
_FORMATS = {".safetensors": "SafeTensor", ".ckpt": "PickleTensor", ".pt": "PickleTensor",
            ".zip": "Other"}
_STAMP = "2025-01-01T00:00:00.000Z"


def tiny_png(rgb: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A valid 1x1 PNG, so a stored preview really is an image."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes(rgb))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + \
        chunk(b"IEND", b"")


@dataclass
class FakeFile:
    """One file of a version; ``type`` is Civitai's file type ("Model", "Training Data", ...)."""

    name: str
    data: bytes
    type: str = "Model"
    primary: bool = True
    file_id: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def entry(self, download_url: str) -> dict[str, Any]:
        sha = self.sha256
        suffix = "." + self.name.rsplit(".", 1)[-1] if "." in self.name else ""
        return {
            "id": self.file_id, "name": self.name, "type": self.type,
            "sizeKB": round(len(self.data) / 1024, 2),
            "metadata": {"format": _FORMATS.get(suffix, "Other"), "size": "pruned", "fp": "fp16"},
            "pickleScanResult": "Success", "pickleScanMessage": "No Pickle imports",
            "virusScanResult": "Success", "scannedAt": _STAMP,
            "hashes": {"AutoV1": sha[:8].upper(), "AutoV2": sha[:10].upper(),
                       "SHA256": sha.upper(), "CRC32": f"{zlib.crc32(self.data):08X}",
                       "AutoV3": sha[:12].upper()},
            "downloadUrl": download_url, "primary": self.primary,
        }


@dataclass
class FakeVersion:
    version_id: int
    files: list[FakeFile]
    name: str = "v1.0"
    base_model: str = "SD 1.5"
    trained_words: list[str] = field(default_factory=list)
    needs_token: bool = False  # the creator requires a logged-in download
    preview: bool = True


@dataclass
class FakeModel:
    model_id: int
    name: str
    type: str = "Checkpoint"
    versions: list[FakeVersion] = field(default_factory=list)  # newest first, like Civitai


def _other_host(host_header: str) -> str:
    host = host_header.rsplit(":", 1)[0]
    return "localhost" if host == "127.0.0.1" else "127.0.0.1"


class FakeCivitai(LocalServer):
    """``with FakeCivitai() as civ: civ.add_model(...)``; point MODELSHELF_CIVITAI_ENDPOINT at
    ``civ.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str = TOKEN) -> None:
        super().__init__(host, port)
        self.token = token
        self.models: dict[int, FakeModel] = {}
        self.versions: dict[int, tuple[FakeModel, FakeVersion]] = {}
        self.preview_bytes = tiny_png()
        self.maintenance = False  # API answers 200 with an HTML page, as behind a CDN outage
        self.login_redirect = False  # gated downloads redirect to /login instead of 401
        self.storage: LocalServer | None = None  # serve the bytes there (e.g. another port)
        self._failures: list[tuple[int, str | None]] = []
        self._fail_lock = threading.Lock()
        self.add_route("GET", r"/api/v1/model-versions/(\d+)", self._api(self._version))
        self.add_route("GET", r"/api/v1/models/(\d+)", self._api(self._model))
        self.add_route("GET", r"/api/download/models/(\d+)", self._api(self._download))
        self.add_route("GET", r"/images/(\d+)/preview\.png", self._preview)

    # -- content --------------------------------------------------------------------------------
    def add_model(self, model_id: int, name: str, *, type: str = "Checkpoint",
                  versions: list[FakeVersion]) -> FakeModel:
        model = FakeModel(model_id, name, type, list(versions))
        self.models[model_id] = model
        for version in versions:
            self._register(model, version)
        return model

    def add_version(self, model_id: int, version: FakeVersion) -> None:
        """Publish a newer version (it becomes the model's latest)."""
        model = self.models[model_id]
        model.versions.insert(0, version)
        self._register(model, version)

    def primary_bytes(self, version_id: int) -> bytes:
        _, version = self.versions[version_id]
        return next(f for f in version.files if f.primary or len(version.files) == 1).data

    def _register(self, model: FakeModel, version: FakeVersion) -> None:
        self.versions[version.version_id] = (model, version)
        for n, file in enumerate(version.files):
            file.file_id = file.file_id or version.version_id * 10 + n
            self.add_file(self.storage_path(version, file), file.data)

    @staticmethod
    def storage_path(version: FakeVersion, file: FakeFile) -> str:
        """Where the bytes live, on the storage host (no token ever needed there)."""
        return f"/storage/{version.version_id}/{file.sha256[:16]}/{quote(file.name)}"

    # -- switches -------------------------------------------------------------------------------
    def rate_limit(self, count: int, retry_after: str | None = "0") -> None:
        """The next ``count`` API calls answer 429 (with ``Retry-After`` unless None)."""
        self.fail_next(429, count, retry_after)

    def fail_next(self, status: int, count: int = 1, retry_after: str | None = None) -> None:
        with self._fail_lock:
            self._failures.extend([(status, retry_after)] * count)

    def _api(self, handler: Handler) -> Handler:
        """``handler`` behind the switches: maintenance and queued failures answer first."""

        def route(request: Request) -> Response:
            failure = self._failure()
            return handler(request) if failure is None else failure

        return route

    def _failure(self) -> Response | None:
        if self.maintenance:
            return Response(200, b"<html><body>We'll be right back</body></html>",
                            {"Content-Type": "text/html"})
        with self._fail_lock:
            if not self._failures:
                return None
            status, retry_after = self._failures.pop(0)
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return json_response({"error": f"HTTP {status}"}, status, headers)

    # -- JSON -----------------------------------------------------------------------------------
    def version_json(self, model: FakeModel, version: FakeVersion, host: str,
                     with_model: bool = True) -> dict[str, Any]:
        base = f"http://{host}"
        download = f"{base}/api/download/models/{version.version_id}"
        files = [f.entry(download if f.primary else f"{download}?type={quote(f.type)}")
                 for f in version.files]
        images = [{"url": f"http://{_other_host(host)}:{self.port}/images/"
                          f"{version.version_id}/preview.png",
                   "nsfwLevel": 1, "width": 1, "height": 1, "hash": "U00000fQfQfQfQfQfQfQfQfQfQfQ",
                   "type": "image", "hasMeta": False, "availability": "Public"}
                  ] if version.preview else []
        eco = _ECOSYSTEMS.get(version.base_model, "other")
        data: dict[str, Any] = {
            "id": version.version_id, "modelId": model.model_id, "name": version.name,
            "description": "<p>A fake model for tests.</p>", "baseModel": version.base_model,
            "baseModelType": "Standard",
            "air": f"urn:air:{eco}:{model.type.lower()}:civitai:{model.model_id}"
                   f"@{version.version_id}",
            "status": "Published", "availability": "Public", "nsfwLevel": 1,
            "createdAt": _STAMP, "updatedAt": _STAMP, "publishedAt": _STAMP,
            "trainedWords": list(version.trained_words),
            "stats": {"downloadCount": 1, "thumbsUpCount": 1, "thumbsDownCount": 0},
            "files": files, "images": images, "downloadUrl": download,
        }
        if with_model:
            data["model"] = {"name": model.name, "type": model.type, "nsfw": False,
                             "poi": False, "minor": False}
        return data

    # -- routes ---------------------------------------------------------------------------------
    def _version(self, request: Request) -> Response:
        found = self.versions.get(int(request.match[1]))
        if found is None:
            return json_response({"error": f"No model version with id {request.match[1]}"}, 404)
        return json_response(self.version_json(*found, host=request.header("Host")))

    def _model(self, request: Request) -> Response:
        model = self.models.get(int(request.match[1]))
        if model is None:
            return json_response({"error": f"No model with id {request.match[1]}"}, 404)
        host = request.header("Host")
        return json_response({
            "id": model.model_id, "name": model.name, "description": "<p>fake</p>",
            "type": model.type, "poi": False, "nsfw": False, "allowNoCredit": True,
            "allowCommercialUse": ["Image"], "allowDerivatives": True,
            "allowDifferentLicense": True, "stats": {"downloadCount": 1},
            "creator": {"username": "tester", "image": None}, "tags": ["test"],
            "modelVersions": [self.version_json(model, v, host, with_model=False)
                              for v in model.versions],
        })

    def _download(self, request: Request) -> Response:
        found = self.versions.get(int(request.match[1]))
        if found is None:
            return json_response({"error": "Model not found"}, 404)
        _, version = found
        if version.needs_token and not self._authorized(request) and self.login_redirect:
            return_url = quote(f"/model-versions/{version.version_id}", safe="")
            return Response(307, b"", {"Location": f"/login?returnUrl={return_url}"
                                                   "&reason=download-auth"})
        if version.needs_token and not self._authorized(request):
            return json_response({"error": "Unauthorized", "message": "The creator of this asset "
                                  "requires you to be logged in to download it"}, 401)
        wanted = query_value(request, "type")
        file = next((f for f in version.files if (f.type == wanted if wanted else f.primary)),
                    None)
        if file is None:
            return json_response({"error": "File not found"}, 404)
        path = self.storage_path(version, file)
        if self.storage is not None:
            self.storage.add_file(path, file.data)
            base = self.storage.url
        else:
            base = f"http://{_other_host(request.header('Host'))}:{self.port}"
        location = f"{base}{path}?X-Amz-Expires=86400&X-Amz-Signature=fake"
        return Response(302, b"", {"Location": location, "Content-Type": "text/plain"})

    def _preview(self, request: Request) -> Response:
        return Response(200, self.preview_bytes, {"Content-Type": "image/png"})

    def _authorized(self, request: Request) -> bool:
        header = request.header("Authorization")
        return header == f"Bearer {self.token}" or query_value(request, "token") == self.token
