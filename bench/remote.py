"""Benchmark: reading a blob from the team store (S3) — modelshelf's transfer engine over a
presigned URL against boto3's own TransferManager download, on the same S3 server.

moto's S3 server runs in its own process on 127.0.0.1 (a free port). One blob of random bytes
(``--size``) is uploaded through :class:`modelshelf.remote.RemoteStore` (the push path: create-only,
multipart above 64 MiB, parallel). Then each round downloads it both ways, alternating:

- modelshelf: ``download(Endpoint(presigned URL, sha256, size))``, segmented ranged GETs over
  ``--connections`` connections, the sha256 checked as the bytes stream in (what ``pull`` does);
- boto3: ``client.download_file`` with boto3's default TransferConfig (10 threads, 8 MiB parts;
  it checks no digest, so its figure is a lower bound for a verified read).

Reported: median wall time and MB/s per tool, the ratio modelshelf/boto3, and the upload time.

    python bench/remote.py                         # 256 MiB, 3 rounds
    python bench/remote.py --size 1GiB --rounds 5 --connections 16
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3

from modelshelf.config import RemoteSettings, parse_size
from modelshelf.remote import READ_PIECE, RemoteStore
from modelshelf.transfer import Endpoint, NetworkPolicy, download

BUCKET = "bench-remote"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto's S3 server did not start")


def make_blob(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * 2**20))
            fh.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def timed(run: Callable[[Path], None], tmp: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=tmp))
    start = time.perf_counter()
    run(out)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="256MiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--min-piece", default=None,
                        help="smallest ranged GET of the engine (default: what pull uses)")
    args = parser.parse_args()
    size = parse_size(args.size)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = start_moto(port)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-remote-") as name:
            tmp = Path(name)
            client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
            client.create_bucket(Bucket=BUCKET)
            remote = RemoteStore(RemoteSettings(f"s3://{BUCKET}/shelf", endpoint, "us-east-1"))
            blob = tmp / "blob"
            sha256 = make_blob(blob, size)
            start = time.perf_counter()
            remote.upload_blob(blob, sha256)
            upload = time.perf_counter() - start
            blob.unlink()
            # What pull uses for remote reads (TeamRoute.tune), unless --min-piece says otherwise.
            policy = NetworkPolicy(connections=args.connections,
                                   min_piece=parse_size(args.min_piece or str(READ_PIECE)))

            def modelshelf(out: Path) -> None:
                result = download(Endpoint(remote.blob_url(sha256), expected_sha256=sha256,
                                           expected_size=size), out, policy)
                assert result.sha256 == sha256

            def boto3_tm(out: Path) -> None:
                client.download_file(BUCKET, remote.blob_key(sha256), str(out / "blob"))

            tools = {"modelshelf": modelshelf, "boto3 TransferManager": boto3_tm}
            times: dict[str, list[float]] = {t: [] for t in tools}
            for _ in range(args.rounds):
                for tool, run in tools.items():
                    times[tool].append(timed(run, tmp))
                    for leftover in tmp.iterdir():
                        subprocess.run(["rm", "-rf", str(leftover)], check=True)
    finally:
        server.terminate()
        server.wait()
    mb = size / 1e6
    print(f"blob {args.size} ({size} bytes), {args.rounds} rounds, moto S3 server on 127.0.0.1; "
          f"upload (RemoteStore.upload_blob) {upload:.2f} s, {mb / upload:.0f} MB/s")
    print(f"{'tool':<24} {'median s':>9} {'MB/s':>7}")
    medians = {tool: statistics.median(t) for tool, t in times.items()}
    for tool, seconds in medians.items():
        print(f"{tool:<24} {seconds:>9.2f} {mb / seconds:>7.0f}")
    ratio = medians["boto3 TransferManager"] / medians["modelshelf"]
    print(f"modelshelf ({args.connections} connections, sha256 verified) vs boto3: "
          f"{ratio:.2f}x the throughput")


if __name__ == "__main__":
    main()
