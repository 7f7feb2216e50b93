"""Civitai: a model version -> its primary file, the published SHA256, and a snapshot of the page.

Uses the public REST API (``/api/v1/model-versions/{id}``, ``/api/v1/models/{id}``) at
``[sources.civitai] endpoint`` / ``MODELSHELF_CIVITAI_ENDPOINT``. What Civitai says is kept twice:
trimmed in ``Resolution.metadata`` (for the registry) and verbatim in ``extras`` (``civitai.json``
and the first preview image) so the store keeps it beside the model even after the model is
deleted upstream.

Tokens: the API token goes to the API's origin only (scheme, host and port). ``downloadUrl``
lives there and redirects to a storage host with a signed URL; the token must not follow it
there, so the :class:`RemoteFile`'s credentials name the API origin and the transfer engine
enforces it (and httpx drops ``Authorization`` on cross-origin redirects for our own calls).
Before handing the file over we ask the download endpoint once without following the redirect:
that is where Civitai says "log in to download", and it lets us say so in words instead of a
bare 401 mid-pull.

``sizeKB`` is a rounded float, not a size to verify against; the exact size comes from one
byte of the storage URL (``Content-Range``), asked without the token. If storage will not say,
the size stays unknown (the engine takes Content-Length) and ``metadata["size_estimate"]``
holds Civitai's rounded figure.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from modelshelf.config import DEFAULT_ENDPOINTS, Settings
from modelshelf.errors import BadContent, NetworkError, RemoteNotFound, TokenRequired
from modelshelf.naming import file_name
from modelshelf.secrets import Credentials
from modelshelf.sources.base import Ref, RemoteFile, Resolution, ResolveOptions, SourceName
from modelshelf.sources.url import bearer
from modelshelf.transfer.http import RETRYABLE_STATUSES, answer_error
from modelshelf.transfer.retry import Backoff

# Civitai model `type` -> SPEC `type`. Types that are not model weights for an app map to other.
TYPES: Mapping[str, str] = {
    "Checkpoint": "checkpoints",
    "LORA": "loras",
    "LoCon": "loras",
    "DoRA": "loras",
    "LyCORIS": "loras",
    "TextualInversion": "embeddings",
    "VAE": "vae",
    "Controlnet": "controlnet",
    "Upscaler": "upscale_models",
    "MotionModule": "other",
    "Hypernetwork": "other",
    "AestheticGradient": "other",
    "Poses": "other",
    "Wildcards": "other",
    "Workflows": "other",
    "Detection": "other",
    "Other": "other",
}

# Civitai `baseModel` -> SPEC `architecture`, by prefix of the name with spaces removed and
# lowered ("SDXL 1.0" -> "sdxl1.0"); first match wins, so specific prefixes come first.
# Names not listed give no hint: identification decides from the file (never guess).
ARCHITECTURES: Sequence[tuple[str, str]] = (
    ("sd1", "sd15"),
    ("sd2", "sd2"),
    ("sdxl", "sdxl"),
    ("ponyv7", "auraflow"),
    ("pony", "sdxl"),
    ("illustrious", "sdxl"),
    ("noobai", "sdxl"),
    ("sd3", "sd3"),
    ("flux.1d", "flux-dev"),
    ("flux.1krea", "flux-dev"),
    ("flux.1s", "flux-schnell"),
    ("flux.1", "flux"),
    ("flux.2", "flux2"),
    ("auraflow", "auraflow"),
    ("chroma", "chroma"),
    ("hunyuanvideo", "hunyuan-video"),
    ("wanvideo", "wan"),
    ("ltxv", "ltxv"),
    ("qwen", "qwen-image"),
    ("zimage", "z-image"),
)

MAX_TRIES = 4  # per API call, for 429 / 5xx / connection errors
RETRY_BASE_DELAY = 0.5
MAX_PREVIEW_BYTES = 16 * 2**20
_IMAGE_SUFFIXES: Mapping[str, str] = {"image/jpeg": "jpeg", "image/png": "png",
                                      "image/webp": "webp", "image/gif": "gif"}
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")

sleep = time.sleep  # the one clock this module waits on; tests swap it to observe waits


def type_of(civitai_type: str | None) -> str | None:
    return TYPES.get(civitai_type or "")


def architecture_of(base_model: str | None) -> str | None:
    key = re.sub(r"\s+", "", base_model or "").lower()
    return next((arch for prefix, arch in ARCHITECTURES if key and key.startswith(prefix)), None)


class Answer:
    """A typed reader of one JSON object of a Civitai answer, so its shape is checked in one
    place: each getter gives the field if it has the type we use it as, ``None`` if it is absent
    or null, and otherwise raises :class:`BadContent` naming the reference and the field. An
    odd answer (``baseModel`` an object, ``files`` a string, ``sizeKB`` a string) is then the
    server's fault in one line, not a TypeError wherever the value happens to be used."""

    def __init__(self, data: object, label: str, path: str = "") -> None:
        self.label = label
        self.path = path  # where in the answer this object is: "", "model", "files[0].hashes"
        if not isinstance(data, Mapping):
            raise self._wrong(path or "the answer", data, "an object")
        self.data: Mapping[str, Any] = data

    def _wrong(self, field: str, value: object, expected: str) -> BadContent:
        return BadContent(f"{self.label}: Civitai sent {field} = {_shown(value)}, "
                          f"expected {expected}")

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _field(self, key: str, kinds: type | tuple[type, ...], expected: str) -> Any:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and expected != "a boolean"):
            raise self._wrong(self._at(key), value, expected)
        return value

    def text(self, key: str) -> str | None:
        return self._field(key, str, "a string")

    def integer(self, key: str) -> int | None:
        return self._field(key, int, "an integer")

    def size(self, key: str) -> float | None:
        """A non-negative finite number (Python's json also reads ``Infinity``)."""
        value = self._field(key, (int, float), "a number")
        if value is not None and not 0 <= value < 2**53:
            raise self._wrong(self._at(key), value, "a size")
        return value

    def flag(self, key: str) -> bool | None:
        return self._field(key, bool, "a boolean")

    def values(self, key: str) -> list[Any]:
        return self._field(key, list, "a list") or []

    def table(self, key: str) -> Answer:
        """The object at ``key`` (an empty one when absent)."""
        return Answer(self._field(key, Mapping, "an object") or {}, self.label, self._at(key))

    def tables(self, key: str) -> list[Answer]:
        return [Answer(item, self.label, f"{self._at(key)}[{i}]")
                for i, item in enumerate(self.values(key))]


def _shown(value: object) -> str:
    """A server's value in an error: short, one line, its type visible."""
    text = " ".join(json.dumps(value, ensure_ascii=True, default=repr).split())
    return text if len(text) <= 40 else text[:37] + "..."


def primary_file(version: Answer) -> Answer | None:
    """The file a version's download button gives: ``primary``, else the first model file."""
    files = version.tables("files")
    return (next((f for f in files if f.flag("primary")), None)
            or next((f for f in files if f.text("type") == "Model"), None)
            or (files[0] if files else None))


class _Api:
    """The few API calls one resolution makes, with one policy for retries and errors."""

    def __init__(self, ref: Ref, settings: Settings, options: ResolveOptions) -> None:
        conf = settings.source("civitai")
        self.endpoint = (conf.endpoint or DEFAULT_ENDPOINTS["civitai"]).rstrip("/")
        self.host = urlsplit(self.endpoint).hostname or ""
        self.label = ref.raw
        self.token = options.token_for(conf)
        self.credentials = Credentials.for_url(bearer(self.token), self.endpoint)
        self.backoff = Backoff(MAX_TRIES, RETRY_BASE_DELAY, sleep=lambda seconds: sleep(seconds))
        self.client = httpx.Client(timeout=conf.timeout_seconds, verify=conf.verify_ssl,
                                   follow_redirects=True, headers={"User-Agent": "modelshelf"})

    def __enter__(self) -> _Api:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.client.close()

    def get(self, url: str, what: str, *, follow: bool = True) -> httpx.Response:
        """GET ``url`` (body read unless ``follow`` is False: then only the status matters),
        retried on busy answers and broken connections by the transfer engine's own policy
        (:class:`~modelshelf.transfer.retry.Backoff`), so both wait and give up alike."""

        def attempt() -> httpx.Response:
            try:
                response = self._send(url, follow)
            except httpx.TransportError as exc:  # retried like the engine's socket errors
                raise ConnectionError(f"{type(exc).__name__}: {exc}") from None
            if response.status_code in RETRYABLE_STATUSES:
                raise answer_error(response.status_code, url, "",
                                   response.headers.get("Retry-After"))
            return self._checked(response, what)

        return self.backoff.run(attempt, url)

    def _send(self, url: str, follow: bool) -> httpx.Response:
        auth = self.credentials.headers_for(url)
        request = self.client.build_request("GET", url, headers=auth)
        response = self.client.send(request, stream=True, follow_redirects=follow)
        if follow:
            response.read()
        response.close()
        return response

    def _checked(self, response: httpx.Response, what: str) -> httpx.Response:
        status = response.status_code
        if status in (401, 403):
            raise self._refused(status)
        if status == 404:
            raise RemoteNotFound(f"{self.label}: Civitai has no {what} (404 from {self.host})")
        if status >= 400:
            raise NetworkError(f"{self.label}: {self.host} answered HTTP {status} for {what}")
        return response

    def check_download(self, url: str, version_id: int) -> int | None:
        """Ask the download endpoint once, without following it: a gated model answers 401/403
        (raised by :meth:`get`) or redirects anonymous callers to its login page
        (``/login?...&reason=download-auth``) instead of to the bytes. Otherwise the redirect
        names the storage URL, and one byte from it gives the file's exact size."""
        response = self.get(url, f"download of model version {version_id}", follow=False)
        if not response.is_redirect:
            return None
        location = response.url.join(response.headers.get("Location", ""))
        if location.path.rstrip("/").endswith("/login"):
            raise self._refused(response.status_code)
        return self._size_at(str(location))

    def _size_at(self, url: str) -> int | None:
        """The total from ``Content-Range`` of a one-byte request, sent without credentials
        (the storage host must never see the token). Unknown is fine: the engine probes too."""
        try:
            with self.client.stream("GET", url, headers={"Range": "bytes=0-0"}) as response:
                total = response.headers.get("Content-Range", "").rpartition("/")[2]
                if response.status_code == 206 and total.isdigit():
                    return int(total)
                length = response.headers.get("Content-Length", "")
                return int(length) if response.status_code == 200 and length.isdigit() else None
        except (httpx.HTTPError, httpx.InvalidURL):
            return None

    def _refused(self, status: int) -> TokenRequired:
        if self.token:
            return TokenRequired(f"{self.label}: Civitai refused the API token for this model "
                                 f"(HTTP {status}); check CIVITAI_API_TOKEN or --token")
        return TokenRequired(f"{self.label}: this model needs a Civitai API token "
                             "(set CIVITAI_API_TOKEN or --token)")

    def json(self, path: str, what: str) -> tuple[dict[str, Any], bytes]:
        response = self.get(self.endpoint + path, what)
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            kind = response.headers.get("Content-Type", "?")
            raise BadContent(f"{self.label}: {self.host} sent {kind} where the JSON of {what} "
                             "was expected")
        return data, response.content

    def latest_version(self, model_id: int) -> int:
        model, _ = self.json(f"/api/v1/models/{model_id}", f"model {model_id}")
        versions = Answer(model, self.label).tables("modelVersions")
        latest = versions[0].integer("id") if versions else None
        if latest is None:
            raise RemoteNotFound(f"{self.label}: Civitai model {model_id} has no published version")
        return latest

    def preview(self, images: Sequence[Any]) -> tuple[str, bytes] | None:
        """The first still image, if it can be had cheaply; a missing preview (or an image entry
        of an odd shape: previews are decoration) is not an error."""
        url = next((i["url"] for i in images if isinstance(i, Mapping)
                    and isinstance(i.get("url"), str) and i.get("type", "image") == "image"), None)
        if not url or urlsplit(url).scheme not in ("http", "https"):
            return None
        try:
            with self.client.stream("GET", url) as response:
                suffix = _IMAGE_SUFFIXES.get(
                    response.headers.get("Content-Type", "").split(";")[0].strip())
                if response.status_code != 200 or suffix is None:
                    return None
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_PREVIEW_BYTES:
                        return None
                return suffix, bytes(data)
        except (httpx.HTTPError, httpx.InvalidURL):
            return None


def _trimmed(version: Answer) -> dict[str, Any]:
    """The version JSON minus its HTML description and all but a few image entries."""
    kept = {k: v for k, v in version.data.items() if k != "description"}
    kept["images"] = version.values("images")[:3]
    return kept


def _pinned(options: ResolveOptions) -> int | None:
    """``civitai:model/ID`` with ``--revision VERSION_ID`` (or a lock file's pin): that version."""
    revision = (options.revision or "").strip()
    return int(revision) if revision.isdigit() else None


def resolve(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
    """``civitai:VERSION`` as is; ``civitai:model/ID`` at the pinned or else latest version."""
    with _Api(ref, settings, options) as api:
        version_id = ref.version_id or _pinned(options) or api.latest_version(ref.model_id or 0)
        data, raw = api.json(f"/api/v1/model-versions/{version_id}",
                             f"model version {version_id}")
        # Everything used from the answer is read (and so its shape checked) before more I/O.
        version = Answer(data, ref.raw)
        chosen = primary_file(version)
        url = (chosen.text("downloadUrl") or version.text("downloadUrl")) if chosen else None
        if chosen is None or url is None:
            raise RemoteNotFound(f"{ref.raw}: Civitai model version {version_id} has no files")
        name = file_name(chosen.text("name") or "") or f"civitai-{version_id}"
        sha256 = chosen.table("hashes").text("SHA256") or ""
        size_kb = chosen.size("sizeKB")
        type_hint = type_of(version.table("model").text("type"))
        architecture_hint = architecture_of(version.text("baseModel"))
        model_id = version.integer("modelId")
        metadata = _trimmed(version)
        size = api.check_download(url, version_id)
        preview = api.preview(version.values("images"))
        endpoint, credentials = api.endpoint, api.credentials
    if size_kb is not None:
        metadata["size_estimate"] = round(size_kb * 1024)
    extras = {"civitai.json": raw}
    if preview is not None:
        extras[f"preview.{preview[0]}"] = preview[1]
    remote = RemoteFile(path=name, url=url, size=size,
                        sha256=sha256.lower() if _HEX64.fullmatch(sha256) else None,
                        credentials=credentials)
    return Resolution(
        ref=ref.raw, source=SourceName.CIVITAI, name=PurePosixPath(name).stem or name, files=(remote,),
        revision=str(version_id),
        source_url=f"{endpoint}/models/{model_id}?modelVersionId={version_id}",
        type_hint=type_hint, architecture_hint=architecture_hint,
        metadata=metadata, extras=extras)
