"""Benchmark: modelshelf's transfer engine against aria2c, curl and wget on one local file.

The file (random bytes, so nothing compresses) is served by modelshelf's test server on
127.0.0.1, once with a cap per connection (``--rate``, default 10 MB/s: what a throttled CDN link
looks like, the case segmented downloads exist for) and once uncapped. The capped table prints
the link limit beside the times: connections x per-connection rate, the fastest any tool with
that many connections can go once its connections are open. Every tool runs in a subprocess into a
fresh directory; tools alternate within each round, so noise from other work on the machine is
spread evenly. Reported: median wall time, MB/s, ratio to aria2c, and modelshelf's peak RSS.

    python bench/download.py                      # 1 GiB, 3 rounds, capped and uncapped
    python bench/download.py --size 256MiB --rounds 5 --modes capped --tools modelshelf,aria2c
    python bench/download.py --size 128M --rounds 1 --modes uncapped
    python bench/download.py --modes resume --rounds 5   # kill -9 at a third of 64 MiB, resume
    python bench/download.py --https --size 64MiB --modes capped --tools modelshelf,aria2c,curl

The ``resume`` mode runs ``download()`` in a child at the capped rate that kills itself
(SIGKILL, from its progress callback) once a third of a 64 MiB file has landed, resumes it, and
prints the bytes the server sent beyond the file's size over both runs: what the kill cost,
bytes that were in flight included (issue 9's goal: at most 15%).

modelshelf runs as ``modelshelf pull URL --home TMP`` when that CLI works (``--engine cli``),
else as ``download()`` in a subprocess (``--engine api``); ``auto`` picks the CLI if present.
aria2c is installed with apt when missing.

``--https`` serves the file over TLS with a throwaway self-signed certificate (made with the
``openssl`` CLI); every tool is told not to verify it (modelshelf through ``[sources.url]
verify_ssl = false``, the others with their own flag), so each still builds its TLS setup the
usual way, loading the system's CA store, and pays for every handshake.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelshelf.config import TransferSettings, parse_size
from modelshelf.testing.server import LocalServer, self_signed_context

_API_CHILD = """
import os, sys
from pathlib import Path
from modelshelf.transfer import NetworkPolicy, download
r = download(sys.argv[1], Path(sys.argv[2]), NetworkPolicy(
    connections=int(sys.argv[3]), verify_ssl="BENCH_NO_VERIFY" not in os.environ))
print(r.sha256, r.size, r.connections_used)
"""
_KILLED_CHILD = """
import os, signal, sys
from pathlib import Path
from modelshelf.transfer import NetworkPolicy, download

def kill_at_a_third(done, total):
    if total and done >= total // 3:
        os.kill(os.getpid(), signal.SIGKILL)

download(sys.argv[1], Path(sys.argv[2]), NetworkPolicy(connections=int(sys.argv[3])),
         progress=kill_at_a_third)
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_kib: int


Command = Callable[[str, Path], list[str]]


def aria2c(url: str, out: Path) -> list[str]:
    return ["aria2c", "-x16", "-s16", "-k1M", "-q", "--allow-overwrite=true",
            "--auto-file-renaming=false", "--check-certificate=false", "-d", str(out),
            "-o", "file.bin", url]


def curl(url: str, out: Path) -> list[str]:
    return ["curl", "-sS", "--fail", "--insecure", "-o", str(out / "file.bin"), url]


def wget(url: str, out: Path) -> list[str]:
    return ["wget", "-q", "--no-check-certificate", "-O", str(out / "file.bin"), url]


def modelshelf_cli(connections: int, python: str | None = None) -> Command:
    """``modelshelf pull``; with ``python``, that interpreter's modelshelf (``--baseline``)."""
    program = [python, "-m", "modelshelf"] if python else ["modelshelf"]
    return lambda url, out: [*program, "pull", url, "--home", str(out),
                             "--connections", str(connections)]


def modelshelf_api(connections: int, python: str | None = None) -> Command:
    return lambda url, out: [python or sys.executable, "-c", _API_CHILD, url, str(out),
                             str(connections)]


def smoke(command: Command, server: LocalServer, tmp: Path, env: dict[str, str]) -> bool:
    """Whether ``command`` really downloads 1 MiB (the CLI may be unfinished); also warms the
    bytecode cache so the first timed run is not the only one paying for it."""
    server.add_file("/smoke.bin", os.urandom(2**20))
    home = tmp / "smoke-home"
    try:
        timed(command(server.url + "/smoke.bin", home), env)
    except (RuntimeError, OSError) as exc:
        print(f"{exc}", file=sys.stderr)
        return False
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return True


def ensure_aria2() -> bool:
    if shutil.which("aria2c"):
        return True
    print("aria2c missing: apt-get install -y aria2", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "aria2"], check=False,
                   stdout=subprocess.DEVNULL)
    return shutil.which("aria2c") is not None


def child_env(tmp: Path) -> dict[str, str]:
    """Let Python children cache bytecode (in a temp dir) as an installed package would: with
    PYTHONDONTWRITEBYTECODE set, every ``modelshelf`` start recompiles its modules (~60 ms)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


# GNU time, if there, starts each tool: the peak RSS a wait4 reports is carried across exec
# from the process that forked, so from this one it would be at least this benchmark's own
# (VmHWM is per image, but only the tool itself could read it). From ``time`` it is time's
# few MiB, below any tool's.
_TIME = ["/usr/bin/time", "-f", "%M"] if os.path.exists("/usr/bin/time") else None


def timed(argv: list[str], env: dict[str, str]) -> Run:
    """Run to completion; wall time and the child's own peak RSS (0 without GNU time)."""
    began = time.perf_counter()
    child = subprocess.run([*(_TIME or []), *argv], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env, check=False)
    seconds = time.perf_counter() - began
    err = child.stderr.decode(errors="replace").strip()
    if child.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({child.returncode}): {err[:500]}")
    return Run(seconds, int(err.splitlines()[-1]) if _TIME else 0)


def largest_file(root: Path) -> int:
    return max((p.stat().st_size for p in root.rglob("*") if p.is_file()), default=0)


def make_source(path: Path, size: int) -> None:
    block = 8 * 2**20
    with path.open("wb") as fh:
        left = size
        while left:
            n = min(block, left)
            fh.write(os.urandom(n))
            left -= n


def resume_cost(server: LocalServer, tmp: Path, env: dict[str, str], size: int, rate: float,
                rounds: int, connections: int, python: str = sys.executable) -> list[float]:
    """Per round, the bytes served beyond ``size`` (as a fraction of it) for a download killed
    once a third of the file has landed, then resumed to the end."""
    source = tmp / "resume.bin"
    make_source(source, size)
    server.add_file("/resume.bin", source)
    url, staging = server.url + "/resume.bin", tmp / "resume-staging"
    extras = []
    for round_no in range(rounds):
        before = server.bytes_served("/resume.bin")
        server.faults.rate_per_connection = rate
        killed = subprocess.run([python, "-c", _KILLED_CHILD, url, str(staging),
                                 str(connections)], env=env, check=False)
        if killed.returncode != -signal.SIGKILL:
            raise RuntimeError(f"the download to kill ended with {killed.returncode}")
        server.faults.rate_per_connection = None
        timed(modelshelf_api(connections, python)(url, staging), env)
        shutil.rmtree(staging, ignore_errors=True)
        extras.append((server.bytes_served("/resume.bin") - before - size) / size)
        print(f"  round {round_no + 1} resume: {extras[-1]:.1%} extra", file=sys.stderr)
    return extras


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--rate", default="10MB", help="per-connection cap of the capped mode")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="capped,uncapped", help="capped,uncapped,resume")
    parser.add_argument("--resume-size", default="64MiB")
    parser.add_argument("--engine", choices=("auto", "cli", "api"), default="auto")
    parser.add_argument("--connections", type=int, default=TransferSettings.connections,
                        help="modelshelf's most connections per file (its default)")
    parser.add_argument("--tools", default="modelshelf,aria2c,curl,wget")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--https", action="store_true",
                        help="serve over TLS (self-signed; no tool verifies it)")
    parser.add_argument("--baseline", metavar="PYTHON",
                        help="also time the modelshelf installed for this interpreter (e.g. a "
                             "venv of main), as the tool 'baseline', alternating with the rest")
    args = parser.parse_args(argv)

    size, rate = parse_size(args.size), float(parse_size(args.rate))
    modes = [m for m in args.modes.split(",") if m in ("capped", "uncapped")]
    resume = "resume" in args.modes.split(",")
    wanted = [t for t in args.tools.split(",") if t in ("modelshelf", "aria2c", "curl", "wget")]
    if "aria2c" in wanted and not ensure_aria2():
        print("aria2c unavailable; skipping it", file=sys.stderr)
        wanted.remove("aria2c")
    wanted = [t for t in wanted if t == "modelshelf" or shutil.which(t)]
    if args.baseline:
        wanted.insert(1, "baseline")
    results: dict[str, dict[str, list[Run]]] = {m: {t: [] for t in wanted} for m in modes}
    with tempfile.TemporaryDirectory(prefix="modelshelf-bench-") as tmp, \
            LocalServer(tls=self_signed_context(Path(tmp)) if args.https else None) as server:
        env = child_env(Path(tmp))
        if args.https:
            config = Path(tmp) / "config.toml"
            config.write_text("[sources.url]\nverify_ssl = false\n")
            env["MODELSHELF_CONFIG"] = str(config)
            env["BENCH_NO_VERIFY"] = "1"  # for download() in a child (``--engine api``)
        os.chdir(tmp)  # ``python -c``/``-m`` children put their cwd first on sys.path
        engine = args.engine
        if engine == "auto":
            engine = "cli" if shutil.which("modelshelf") and smoke(
                modelshelf_cli(4), server, Path(tmp), env) else "api"
            if engine == "api":
                print("modelshelf pull does not work here; timing download()", file=sys.stderr)
        make_ms = modelshelf_cli if engine == "cli" else modelshelf_api
        smoke(make_ms(4), server, Path(tmp), env)
        for python in ([sys.executable, args.baseline] if args.baseline else [sys.executable]
                       ) if resume else []:
            extras = resume_cost(server, Path(tmp), env, parse_size(args.resume_size), rate,
                                 args.rounds, args.connections, python)
            print(f"\n{'baseline' if python == args.baseline else 'modelshelf'}: resume after "
                  f"kill -9 at a third of {args.resume_size} ({args.connections} x "
                  f"{rate / 1e6:g} MB/s): re-fetched {statistics.median(extras):.1%} extra "
                  f"(median of {len(extras)}; {min(extras):.1%}-{max(extras):.1%}); goal <= 15%")
        if not modes:
            return 0
        tools: dict[str, Command] = {"modelshelf": make_ms(args.connections), "aria2c": aria2c,
                                     "curl": curl, "wget": wget,
                                     "baseline": make_ms(args.connections, args.baseline)}
        source = Path(tmp) / "source.bin"
        make_source(source, size)
        server.add_file("/model.safetensors", source)
        url = server.url + "/model.safetensors"
        print(f"{size / 2**20:.0f} MiB, {args.rounds} rounds, modelshelf via {engine}",
              file=sys.stderr)
        for round_no in range(args.rounds):
            for mode in modes:
                server.faults.rate_per_connection = rate if mode == "capped" else None
                order = wanted[round_no % len(wanted):] + wanted[:round_no % len(wanted)]
                for tool in order:
                    out = Path(tmp) / f"out-{tool}"
                    out.mkdir()
                    try:
                        run = timed(tools[tool](url, out), env)
                        got = largest_file(out)
                        if got != size:
                            raise RuntimeError(f"{tool} wrote {got} bytes, expected {size}")
                    finally:
                        shutil.rmtree(out, ignore_errors=True)
                    results[mode][tool].append(run)
                    print(f"  round {round_no + 1} {mode:8s} {tool:10s} {run.seconds:7.2f} s",
                          file=sys.stderr)
    report(results, size, engine, args.json, rate, args.connections)
    return 0


def report(results: dict[str, dict[str, list[Run]]], size: int, engine: str,
           as_json: bool, rate: float, connections: int) -> None:
    """Medians, the spread (min-max) and ratios; capped, also each tool's link limit (its most
    connections x ``rate``: modelshelf ``connections``, aria2c 16, curl and wget 1) and the
    share of it each reached."""
    most = {"modelshelf": connections, "baseline": connections, "aria2c": 16, "curl": 1,
            "wget": 1}
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for mode, by_tool in results.items():
        medians = {t: statistics.median(r.seconds for r in runs) for t, runs in by_tool.items()
                   if runs}
        base = medians.get("aria2c")
        fastest = min(medians.values()) if medians else None
        capped = mode == "capped"
        print(f"\n{mode} ({f'{rate / 1e6:g} MB/s per connection' if capped else 'no cap'}):")
        if capped:
            for tool in medians:
                print(f"  link limit {tool + ':':11s} {most[tool]:2d} connections x "
                      f"{rate / 1e6:g} MB/s = {most[tool] * rate / 1e6:4.0f} MB/s, "
                      f"{size / (most[tool] * rate):.2f} s for the bytes alone")
        print(f"  {'tool':10s} {'median s':>9s} {'min-max s':>12s} {'MB/s':>7s} "
              f"{'of link':>8s} {'vs aria2c':>10s} {'vs fastest':>11s}")
        figures[mode] = {}
        for tool, seconds in medians.items():
            runs = [r.seconds for r in by_tool[tool]]
            ratio = seconds / base if base else float("nan")
            limit = most[tool] * rate if capped else None
            share = f"{size / seconds / limit:8.2f}" if limit else f"{'':8s}"
            print(f"  {tool:10s} {seconds:9.2f} {min(runs):5.2f}-{max(runs):<6.2f} "
                  f"{size / seconds / 1e6:7.0f} {share} {ratio:10.2f} "
                  f"{seconds / (fastest or seconds):11.2f}")
            figures[mode][tool] = {"median_seconds": round(seconds, 3),
                                   "min_seconds": round(min(runs), 3),
                                   "max_seconds": round(max(runs), 3),
                                   "mb_per_s": round(size / seconds / 1e6, 1),
                                   "ratio_to_aria2c": round(ratio, 3)}
            if limit:
                figures[mode][tool]["link_limit_mb_per_s"] = round(limit / 1e6, 1)
        ms = by_tool.get("modelshelf")
        if ms:
            peak = max(r.max_rss_kib for r in ms) / 1024
            print(f"  modelshelf peak RSS: {peak:.0f} MiB")
            figures[mode]["modelshelf"]["peak_rss_mib"] = round(peak, 1)
    if as_json:
        print(json.dumps({"size": size, "engine": engine, "rate": rate,
                          "results": figures}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
