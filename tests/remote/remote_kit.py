"""What the remote-store tests share (a module, not conftest: conftest modules share one name)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "AKIASHELFTEST7Q2XZ9W1"
SECRET_KEY = "shelf+Secret/Key-4f9a2b7c1d8e3f6a0b5c9d2e7f1a4b8c"
REGION = "us-east-1"



@dataclass
class Team:
    """The bucket of one test, as boto3 sees it (to look behind modelshelf's back)."""

    client: Any
    bucket: str
    prefix: str
    config: Path
    endpoint: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def keys(self, under: str = "") -> dict[str, dict[str, Any]]:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.prefix}/{under}")
        return {o["Key"]: o for o in listed.get("Contents", [])}

    def blob_key(self, sha256: str) -> str:
        return f"{self.prefix}/blobs/sha256/{sha256[:2]}/{sha256}"

    def configure(self, **extra: object) -> None:
        lines = ["[remote]", f'url = "{self.url}"', f'endpoint_url = "{self.endpoint}"',
                 f'region = "{REGION}"']
        lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}"
                  for k, v in extra.items()]
        self.config.write_text("\n".join(lines) + "\n")

