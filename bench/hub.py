"""Benchmark: ``modelshelf pull hf:ORG/REPO`` against huggingface_hub on a local fake Hub.

A repo of N shards (default 8 x 32 MiB, issue 9's case) plus small JSON files is served by
:class:`modelshelf.testing.hub.FakeHub` on 127.0.0.1, LFS bytes redirected to ``localhost`` like
the real Hub's CDN, optionally capped per connection (default 10 MB/s, what one stream from a
far CDN often gets). Each contender runs as a subprocess with a fresh store and Hub cache:

* ``modelshelf pull hf:org/bench`` (the CLI, HF_ENDPOINT pointing at the fake Hub),
* ``huggingface_hub.snapshot_download("org/bench")`` with its default settings,
* ``hf download org/bench``,
* the floor every one of them pays: a Python process that imports ``huggingface_hub`` and exits
  (modelshelf resolves through it too), with no request made.

It prints the wall time of each and the ratios; the goal is modelshelf >= 3x faster than
snapshot_download when capped and never slower uncapped. Beside them: the link limits
(files at once x connections per file x the per-connection cap) and the ratio once the floor is
taken off both sides, which is what the download machinery decides. ``--shards 2 --shard-size 16MiB`` runs it
small. Usage, from the repo root: ``python -m bench.hub [--shards N] [--shard-size SIZE]
[--rate SIZE|0] [--json]`` (``-m`` keeps ``bench/`` off ``sys.path``, where script names such as
``inspect.py`` would shadow the standard library).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelshelf.config import TransferSettings, parse_size
from modelshelf.testing.hub import FakeHub

REPO = "org/bench"
SNAPSHOT = "from huggingface_hub import snapshot_download; snapshot_download('org/bench')"
FLOOR = "from huggingface_hub import HfApi"
FLOOR_TOOL = "floor (import)"
# Files fetched at once x connections per file: snapshot_download's 8 workers with one stream
# each; modelshelf's files side by side (api/pull.py) with up to --connections each (trees
# before 2026-12-05, the usual baselines, opened at most 16).
LINKS = {"snapshot_download": (8, 1), "hf download": (8, 1),
         "modelshelf pull": (4, TransferSettings.connections), "baseline pull": (4, 16)}


@dataclass(frozen=True)
class Timing:
    tool: str
    scenario: str
    seconds: float | None  # None when the tool failed
    error: str | None = None


def make_shards(folder: Path, shards: int, shard_size: int) -> dict[str, Path]:
    """Distinct incompressible shards written from one random block (fast to make, unique sha)."""
    block = os.urandom(min(shard_size, 16 * 2**20))
    files: dict[str, Path] = {}
    for i in range(shards):
        path = folder / f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        with path.open("wb") as fh:
            fh.write(i.to_bytes(8, "little"))
            left = shard_size - 8
            while left > 0:
                fh.write(block[:left])
                left -= min(left, len(block))
        files[path.name] = path
    return files


def small_files(shards: Sequence[str]) -> dict[str, bytes]:
    index = {"metadata": {}, "weight_map": {f"layer.{i}": name for i, name in enumerate(shards)}}
    return {
        "config.json": json.dumps({"model_type": "llama", "hidden_size": 4096}).encode(),
        "generation_config.json": b'{"do_sample": true}',
        "tokenizer_config.json": b'{"model_max_length": 4096}',
        "model.safetensors.index.json": json.dumps(index).encode(),
    }


def contenders(endpoint: str, baseline: str | None = None) -> dict[str, list[str]]:
    """Each tool's command; ``baseline``: the modelshelf installed for that interpreter (e.g. a
    venv of main), timed beside this tree's."""
    return {
        "modelshelf pull": [sys.executable, "-m", "modelshelf", "pull", f"hf:{REPO}"],
        **({"baseline pull": [baseline, "-m", "modelshelf", "pull", f"hf:{REPO}"]}
           if baseline else {}),
        "snapshot_download": [sys.executable, "-c", SNAPSHOT],
        "hf download": [shutil.which("hf") or "hf", "download", REPO],
        FLOOR_TOOL: [sys.executable, "-c", FLOOR],
    }


def run_one(tool: str, argv: list[str], endpoint: str, scenario: str, scratch: Path,
            timeout: float) -> Timing:
    """One cold run: a fresh store and Hub cache, nothing shared with the previous tool."""
    home = scratch / "run"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(home / "hf"),
           "MODELSHELF_HOME": str(home / "shelf"), "MODELSHELF_CONFIG": os.devnull,
           "NO_PROXY": "127.0.0.1,localhost", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    # Bytecode cached as an installed package has it: with PYTHONDONTWRITEBYTECODE set, an
    # editable checkout recompiles every module at each start (0.2-0.5 s on a busy machine).
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "MODELSHELF_OFFLINE", "HF_HUB_CACHE",
                "PYTHONDONTWRITEBYTECODE"):
        env.pop(var, None)
    os.sync()  # the previous run's dirty pages must not be written back on this run's clock
    began = time.perf_counter()
    try:
        # cwd: ``python -m`` puts it first on sys.path, where this tree would shadow a baseline
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=scratch)
    except subprocess.TimeoutExpired:
        return Timing(tool, scenario, None, f"timed out after {timeout:.0f}s")
    elapsed = time.perf_counter() - began
    shutil.rmtree(home, ignore_errors=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return Timing(tool, scenario, None, last[:200])
    return Timing(tool, scenario, elapsed)


def median(runs: list[Timing]) -> Timing:
    """The median run; any failure wins, so a flaky tool is never reported as fast."""
    failed = [t for t in runs if t.seconds is None]
    if failed:
        return failed[0]
    return sorted(runs, key=lambda t: t.seconds or 0.0)[len(runs) // 2]


def report(timings: list[Timing], total_bytes: int, rate: float) -> str:
    lines = [f"{'scenario':<10} {'tool':<18} {'seconds':>8} {'MB/s':>8}  vs modelshelf"]
    for scenario in dict.fromkeys(t.scenario for t in timings):
        rows = [t for t in timings if t.scenario == scenario]
        ours = next((t.seconds for t in rows if t.tool == "modelshelf pull"), None)
        for t in rows:
            if t.seconds is None:
                lines.append(f"{scenario:<10} {t.tool:<18} {'failed':>8}  {t.error}")
                continue
            if t.tool == FLOOR_TOOL:
                lines.append(f"{scenario:<10} {t.tool:<18} {t.seconds:>8.2f}")
                continue
            mbps = total_bytes / t.seconds / 1e6
            ratio = f"{t.seconds / ours:.2f}x" if ours and t.tool != "modelshelf pull" else ""
            lines.append(f"{scenario:<10} {t.tool:<18} {t.seconds:>8.2f} {mbps:>8.1f}  {ratio}")
        theirs = next((t.seconds for t in rows if t.tool == "snapshot_download"), None)
        floor = next((t.seconds for t in rows if t.tool == FLOOR_TOOL), None)
        if ours and theirs:
            goal = 3.0 if scenario == "capped" else 1.0
            verdict = "met" if theirs / ours >= goal else "NOT met"
            beyond = (f"; {(theirs - floor) / (ours - floor):.2f}x beyond the floor"
                      if floor and ours > floor else "")
            lines.append(f"{scenario:<10} goal: >= {goal:.0f}x snapshot_download: {verdict} "
                         f"({theirs / ours:.2f}x{beyond})")
        base = next((t.seconds for t in rows if t.tool == "baseline pull"), None)
        if base and theirs:
            lines.append(f"{scenario:<10} baseline pull: {theirs / base:.2f}x snapshot_download")
        if scenario == "capped":
            limits = ", ".join(f"{tool} {files} x {conns} x {rate / 1e6:g} MB/s = "
                               f"{files * conns * rate / 1e6:.0f} MB/s"
                               for tool, (files, conns) in LINKS.items()
                               if any(t.tool == tool for t in rows))
            lines.append(f"{scenario:<10} link limits: {limits}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--shard-size", default="32MiB")
    parser.add_argument("--rate", default="10MB",
                        help="per-connection cap of the capped scenario (0: only uncapped)")
    parser.add_argument("--scenarios", default="capped,uncapped")
    parser.add_argument("--tools", default=f"modelshelf pull,snapshot_download,hf download,"
                                           f"{FLOOR_TOOL}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; the median counts")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", action="store_true", help="print the timings as JSON")
    parser.add_argument("--baseline", metavar="PYTHON",
                        help="also time `PYTHON -m modelshelf pull` (e.g. a venv of main)")
    args = parser.parse_args(argv)
    shard_size, rate = parse_size(args.shard_size), parse_size(args.rate)
    scenarios = [s for s in args.scenarios.split(",") if s and (s != "capped" or rate)]
    wanted = [t.strip() for t in args.tools.split(",")]

    with tempfile.TemporaryDirectory(prefix="modelshelf-bench-hub-") as tmp:
        scratch = Path(tmp)
        shards = make_shards(scratch, args.shards, shard_size)
        total = args.shards * shard_size
        smalls = small_files(list(shards))
        total += sum(len(b) for b in smalls.values())
        timings: list[Timing] = []
        with FakeHub() as hub:
            hub.add_repo(REPO, {**smalls, **shards})
            tools = {k: v for k, v in contenders(hub.url, args.baseline).items()
                     if k in wanted or k == "baseline pull"}
            for tool, command in tools.items():  # untimed: fills the bytecode cache
                run_one(tool, command, hub.url, "warm-up", scratch, args.timeout)
            for scenario in scenarios:
                hub.faults.rate_per_connection = rate if scenario == "capped" else None
                runs: dict[str, list[Timing]] = {tool: [] for tool in tools}
                for _ in range(args.repeat):  # interleaved, so load drifts hit every tool alike
                    for tool, command in tools.items():
                        timing = run_one(tool, command, hub.url, scenario, scratch, args.timeout)
                        runs[tool].append(timing)
                        if not args.json:
                            shown = f"{timing.seconds:.2f}s" if timing.seconds else timing.error
                            print(f"  {scenario} {tool}: {shown}", file=sys.stderr)
                timings += [median(tool_runs) for tool_runs in runs.values()]
    if args.json:
        print(json.dumps({"shards": args.shards, "shard_size": shard_size, "rate": rate,
                          "repeat": args.repeat,
                          "total_bytes": total,
                          "timings": [t.__dict__ for t in timings]}, indent=2))
    else:
        print(f"{args.shards} x {shard_size / 2**20:.0f} MiB shards + {len(smalls)} JSON files, "
              f"cap {rate / 1e6:.0f} MB/s per connection (capped scenario)")
        print(report(timings, total, rate))
    return 0 if all(t.seconds is not None for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
