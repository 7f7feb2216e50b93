"""A team store on S3-compatible object storage: blobs by sha256 plus one manifest per reference.

Layout under ``s3://bucket/prefix``::

    blobs/sha256/ab/<hex>          the bytes, named by their digest (like the local store)
    refs/<sha256 of the ref>.json  one resolved reference: source, revision, files, metadata

A machine that finds a reference's manifest needs no internet to pull it; one that knows a
file's digest (the Hub publishes LFS digests) fetches those bytes from here instead of the
source. This layer only moves objects and manifests; the pull pipeline (``modelshelf.api``)
decides when. Reads go through modelshelf's own transfer engine with presigned URLs, so
:meth:`RemoteStore.blob_url` is all a reader needs; the engine checks the sha256.

Blob writes are create-only: ``If-None-Match: *`` on ``PutObject`` and
``CompleteMultipartUpload``, so two machines pushing the same digest never rewrite an object.
A server that refuses the header (older MinIO/Ceph) gets HEAD-then-put, which still skips every
blob already there but leaves a window where two writers race (both write the same bytes).

Credentials are boto3's own chain (environment, ``~/.aws`` files, instance roles); none pass
through modelshelf's config, and error texts carry the S3 error code, never a key.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from modelshelf.config import RemoteSettings
from modelshelf.errors import AuthError, ConfigError, MissingExtra, NetworkError, NotFoundError
from modelshelf.hashing import parse_sha256
from modelshelf.store import FileRecord

MANIFEST_FORMAT = 1
MAX_MANIFEST_BYTES = 16 * 2**20  # a manifest is a few KB; more is hostile or broken
MULTIPART_THRESHOLD = 64 * 2**20
UPLOAD_CONCURRENCY = 8
# Ranged GETs from the remote no smaller than this: S3 prices and throttles per request, and
# each request has a fixed cost (boto3 reads 8 MiB parts). bench/remote.py, 64 MiB on moto,
# 16 connections: 1 MiB pieces 29 MB/s, 8 MiB 60 MB/s, 16 MiB 82 MB/s (boto3 113 MB/s).
READ_PIECE = 16 * 2**20
URL_LIFETIME = 6 * 3600  # a presigned GET must outlive a slow multi-GB transfer and its retries
_AUTH_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                         "ExpiredToken", "InvalidToken", "AllAccessDisabled"})
_NOT_SUPPORTED = frozenset({"NotImplemented", "InvalidArgument", "InvalidRequest"})


@dataclass(frozen=True)
class RefManifest:
    """One resolved reference as the team store keeps it (JSON; read as hostile input)."""

    ref: str  # the canonical reference (the registry's source_ref)
    source: str
    name: str
    revision: str | None
    files: tuple[FileRecord, ...]
    type: str = "other"
    architecture: str = "unknown"
    source_url: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> bytes:
        return json.dumps({
            "format": MANIFEST_FORMAT, "ref": self.ref, "source": self.source, "name": self.name,
            "revision": self.revision, "type": self.type, "architecture": self.architecture,
            "source_url": self.source_url, "metadata": dict(self.metadata),
            "files": [f.to_json() for f in self.files],
        }, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> RefManifest:
        """Parse a manifest; anything malformed is a :class:`ConfigError` naming the object
        (a damaged remote must not turn into a traceback or a model with odd files)."""
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"not a format-{MANIFEST_FORMAT} manifest")
            files = tuple(_manifest_file(f) for f in doc["files"])
            if not files:
                raise ValueError("no files")
            optional = {k: doc.get(k) for k in ("revision", "source_url")}
            if not all(v is None or isinstance(v, str) for v in optional.values()):
                raise ValueError("revision/source_url must be strings")
            metadata = doc.get("metadata", {})
            if not isinstance(metadata, dict):
                raise ValueError("metadata must be an object")
            return cls(ref=_text(doc, "ref"), source=_text(doc, "source"), name=_text(doc, "name"),
                       files=files, type=_text(doc, "type"),
                       architecture=_text(doc, "architecture"), metadata=metadata, **optional)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{where}: damaged remote manifest ({exc})") from None


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _manifest_file(entry: Any) -> FileRecord:
    path, size = entry["path"], entry["size"]
    if not isinstance(path, str) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"bad file entry {entry!r:.200}")
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts:
        raise ValueError(f"file path {path!r:.200} leaves the model")
    return FileRecord(path, parse_sha256(str(entry["sha256"])), size)


def ref_digest(ref: str) -> str:
    """The manifest's object name: a reference holds ``/``, ``:`` and ``@``, which S3 keys
    allow but some gateways and consoles mangle; a digest is safe everywhere."""
    return hashlib.sha256(ref.encode()).hexdigest()


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix/``) (prefix may be empty)."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise ConfigError(f"[remote] url {url!r}: expected s3://bucket/prefix")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class RemoteStore:
    """The team store behind ``[remote] url``; one boto3 client, safe to share across threads."""

    def __init__(self, settings: RemoteSettings, client: Any | None = None) -> None:
        if not settings.url:
            raise ConfigError("no remote store configured: set [remote] url = \"s3://bucket/prefix\" "
                              "in config.toml (or MODELSHELF_REMOTE)")
        self.url = settings.url
        self.bucket, self.prefix = split_url(settings.url)
        self.client = client if client is not None else _client(settings)
        self.create_only = True  # until the server refuses If-None-Match
        self._signed: set[str] = set()  # the URLs of blob_url, to tell our reads from others
        self._lock = threading.Lock()
        self.client.meta.events.register("before-parameter-build.s3.PutObject", self._guard)
        self.client.meta.events.register(
            "before-parameter-build.s3.CompleteMultipartUpload", self._guard)

    # -- names -------------------------------------------------------------------------------
    def blob_key(self, sha256: str) -> str:
        return f"{self.prefix}blobs/sha256/{sha256[:2]}/{sha256}"

    def ref_key(self, ref: str) -> str:
        return f"{self.prefix}refs/{ref_digest(ref)}.json"

    def _guard(self, params: dict[str, Any], **_: Any) -> None:
        """Make every blob write create-only, including the TransferManager's multipart
        completion, which takes no ``IfNoneMatch`` argument of its own."""
        if self.create_only and str(params.get("Key", "")).startswith(f"{self.prefix}blobs/"):
            params.setdefault("IfNoneMatch", "*")

    # -- blobs -------------------------------------------------------------------------------
    def has_blob(self, sha256: str) -> bool:
        return self._exists(self.blob_key(sha256))

    def blob_url(self, sha256: str) -> str:
        """A presigned GET for the transfer engine (Range requests stay valid: the signature
        covers the method and the key, not the Range header)."""
        url: str = self._call(self.client.generate_presigned_url, "get_object",
                              Params={"Bucket": self.bucket, "Key": self.blob_key(sha256)},
                              ExpiresIn=URL_LIFETIME)
        self._signed.add(url)
        return url

    def signed(self, url: str) -> bool:
        """Whether ``url`` is a read from this remote (it gets :data:`READ_PIECE` pieces)."""
        return url in self._signed

    def upload_blob(self, path: Path, sha256: str) -> bool:
        """Upload ``path`` as blob ``sha256`` unless the remote has it; True if bytes moved.

        Large files go multipart and parallel through boto3's TransferManager."""
        key = self.blob_key(sha256)
        if self._exists(key):
            return False
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                                multipart_chunksize=MULTIPART_THRESHOLD,
                                max_concurrency=UPLOAD_CONCURRENCY)
        try:
            self._call(self.client.upload_file, str(path), self.bucket, key, Config=config)
        except _Refused as exc:
            if exc.code == "PreconditionFailed":
                return False  # another machine wrote it first: same digest, same bytes
            if exc.code in _NOT_SUPPORTED and self.create_only:
                with self._lock:
                    self.create_only = False  # this server has no conditional writes
                return self.upload_blob(path, sha256)
            raise exc.error from None
        return True

    # -- manifests ---------------------------------------------------------------------------
    def read_manifest(self, ref: str) -> RefManifest | None:
        key = self.ref_key(ref)
        try:
            body = self._get(key)
        except _Refused as exc:
            if exc.code in ("NoSuchKey", "404"):
                return None
            raise exc.error from None
        return RefManifest.from_json(body, f"{self.url} {key}")

    def write_manifest(self, manifest: RefManifest) -> None:
        """Replace the reference's manifest: a branch moves, and the newest resolution wins."""
        self._call(self.client.put_object, Bucket=self.bucket, Key=self.ref_key(manifest.ref),
                   Body=manifest.to_json(), ContentType="application/json")

    def manifests(self) -> Iterator[RefManifest]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(lambda: list(paginator.paginate(Bucket=self.bucket,
                                                           Prefix=f"{self.prefix}refs/")))
        for page in pages:
            for obj in page.get("Contents", ()):
                if obj["Key"].endswith(".json") and obj["Size"] <= MAX_MANIFEST_BYTES:
                    yield RefManifest.from_json(self._get(obj["Key"]), f"{self.url} {obj['Key']}")

    # -- plumbing ----------------------------------------------------------------------------
    def _exists(self, key: str) -> bool:
        try:
            self._call(self.client.head_object, Bucket=self.bucket, Key=key)
        except _Refused as exc:
            if exc.code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise exc.error from None
        return True

    def _get(self, key: str) -> bytes:
        response = self._call(self.client.get_object, Bucket=self.bucket, Key=key)
        if int(response.get("ContentLength") or 0) > MAX_MANIFEST_BYTES:
            raise ConfigError(f"{self.url} {key}: a manifest over {MAX_MANIFEST_BYTES} bytes")
        body: bytes = response["Body"].read(MAX_MANIFEST_BYTES + 1)
        return body

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one boto3 call; its failures become modelshelf errors that name the remote and
        the S3 error code (never a key), or :class:`_Refused` for the caller to judge."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "unknown"))
            raise _Refused(code, self._error(code)) from None
        except S3UploadFailedError as exc:
            code = next((c for c in ("PreconditionFailed", *_NOT_SUPPORTED, *_AUTH_CODES)
                         if f"({c})" in str(exc)), "upload failed")
            raise _Refused(code, self._error(code)) from None
        except NoCredentialsError:
            raise AuthError(f"{self.url}: no AWS credentials found (AWS_ACCESS_KEY_ID/"
                            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials)") from None
        except BotoCoreError as exc:
            raise NetworkError(f"{self.url}: {type(exc).__name__}") from None

    def _error(self, code: str) -> Exception:
        if code in _AUTH_CODES or code == "403":
            return AuthError(f"{self.url}: access refused ({code}); check the AWS credentials")
        if code == "NoSuchBucket":
            return NotFoundError(f"{self.url}: no such bucket {self.bucket}")
        return NetworkError(f"{self.url}: the S3 server answered {code}")


class _Refused(Exception):
    """An S3 error code, with the user-facing error to raise if the caller cannot use it."""

    def __init__(self, code: str, error: Exception) -> None:
        super().__init__(code)
        self.code = code
        self.error = error


def _client(settings: RemoteSettings) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingExtra("the remote store needs boto3: pip install 'modelshelf[s3]'") from None
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
                          # SigV4 presigned URLs: the key id travels in X-Amz-Credential, a
                          # parameter every redaction knows, not SigV2's AWSAccessKeyId.
                          config=Config(signature_version="s3v4",
                                        max_pool_connections=UPLOAD_CONCURRENCY * 2,
                                        retries={"max_attempts": 5, "mode": "standard"}))


__all__ = ["READ_PIECE", "RefManifest", "RemoteStore", "ref_digest", "split_url"]
