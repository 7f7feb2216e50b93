"""The chaos campaign: seeded steps of pulls under injected faults, SIGKILLed clients, concurrent
clients with ``gc``/``rm`` beside them — and the store's invariants checked after every step.

One seed fixes everything random (the catalogue's bytes, the order of steps, which fault hits
which pull, when a kill lands); the only other input is timing, which decides where a kill or a
race falls. A failure names the seed and the step: ``CAMPAIGN_SEED=<seed>`` replays it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from modelshelf.cli.main import main
from modelshelf.store import Store
from modelshelf.testing.server import Faults, LocalServer

from .invariants import Broken, check_output, check_store
from .world import Item, World

SEED_VARIABLE = "CAMPAIGN_SEED"
# Fault kinds whose bugs are being fixed on other branches (issue 8): left out of the default
# mix so the campaign stays green here; `--known-bugs` (known_bugs=True) puts them back. Each
# has a minimal strict-xfail test in test_known_bugs.py. (The gzip and range-past-total bugs
# were listed here until their fixes merged.)
KNOWN_BUGS: dict[str, str] = {}


@dataclass(frozen=True)
class FaultKind:
    """How to set one kind of fault on a server, and what a client must make of it."""

    name: str
    arm: Callable[[Faults, random.Random], None]
    recoverable: bool  # a client must end with the right file (exit 0), not an error
    needs_digest: bool = False  # only detectable when the sha256 is known beforehand


def _burst(f: Faults, rng: random.Random) -> None:
    f.error_burst, f.error_status = rng.randint(1, 3), rng.choice((500, 502, 503, 504))


def _reset(f: Faults, rng: random.Random) -> None:
    f.resets, f.reset_after = rng.randint(1, 3), rng.randint(1, 256) * 1024


def _rst(f: Faults, rng: random.Random) -> None:
    f.rst_resets, f.reset_after = rng.randint(1, 3), rng.randint(1, 256) * 1024


def _long_length(f: Faults, rng: random.Random) -> None:
    f.bad_length, f.length_delta = 1, rng.randint(1, 4096)


def _stall(f: Faults, rng: random.Random) -> None:
    f.stall_after, f.stall_seconds = rng.randint(0, 64) * 1024, 3.0


def _set(**values: object) -> Callable[[Faults, random.Random], None]:
    def arm(f: Faults, rng: random.Random) -> None:
        for key, value in values.items():
            setattr(f, key, value)
    return arm


FAULT_KINDS: tuple[FaultKind, ...] = (
    FaultKind("none", _set(), recoverable=True),
    FaultKind("5xx-burst", _burst, recoverable=True),
    FaultKind("reset-mid-body", _reset, recoverable=True),
    FaultKind("rst-mid-body", _rst, recoverable=True),
    FaultKind("range-ignored", _set(ignore_range=True), recoverable=True),
    FaultKind("content-length-too-long", _long_length, recoverable=True),
    FaultKind("stall", _stall, recoverable=True),
    FaultKind("corrupt-byte", _set(corrupt_once=1), recoverable=False, needs_digest=True),
    FaultKind("remote-changed", _set(change_midway=1), recoverable=False),
    FaultKind("short-206", _set(bad_length=1, length_delta=1024), recoverable=True),
    FaultKind("range-past-total", _set(bad_range=1), recoverable=False),
    FaultKind("gzip", _set(gzip_bodies=1), recoverable=False),
)
_COUNTERS = ("error_burst", "resets", "rst_resets", "bad_length", "bad_range", "gzip_bodies",
             "corrupt_once", "change_midway")


@dataclass
class Summary:
    seed: int
    steps: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)  # kind -> times it fired
    pulls_ok: int = 0
    pulls_failed: int = 0
    kills: int = 0  # SIGKILLs that landed while the client ran
    concurrent_clients: int = 0
    checks: int = 0  # invariant checks passed
    bytes_verified: int = 0  # bytes re-hashed by the checks (all of them, every time)
    errors: Counter[str] = field(default_factory=Counter)  # first words of one-line errors
    seconds: float = 0.0

    def table(self) -> str:
        rows = [("seed", str(self.seed)), ("steps", str(sum(self.steps.values()))),
                *((f"  step {k}", str(v)) for k, v in sorted(self.steps.items())),
                ("faults injected", str(sum(self.faults.values()))),
                *((f"  fault {k}", str(v)) for k, v in sorted(self.faults.items())),
                ("pulls ok / failed cleanly", f"{self.pulls_ok} / {self.pulls_failed}"),
                ("SIGKILLs survived", str(self.kills)),
                ("concurrent clients", str(self.concurrent_clients)),
                ("invariant checks passed", str(self.checks)),
                ("bytes re-hashed by checks", str(self.bytes_verified)),
                ("bytes lost", "0"),
                ("seconds", f"{self.seconds:.1f}")]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


class Campaign:
    """``Campaign(world).run(steps)``; raises :class:`Broken` (naming seed and step) on a
    violated invariant, returns the :class:`Summary` otherwise."""

    def __init__(self, world: World, *, known_bugs: bool = False,
                 max_seconds: float | None = None) -> None:
        self.world = world
        self.rng = random.Random(world.seed ^ 0x5EED)
        self.summary = Summary(world.seed)
        self.max_seconds = max_seconds
        self.kinds = [k for k in FAULT_KINDS if known_bugs or k.name not in KNOWN_BUGS]
        self._fault_bag: list[FaultKind] = []
        self._step_bag: list[str] = []
        self._doing = ""  # what the current step is doing, for the failure message

    # -- driving --------------------------------------------------------------------------------
    def run(self, steps: int) -> Summary:
        started = time.monotonic()
        actions: dict[str, Callable[[], None]] = {
            "pull": self.pull_step, "kill": self.kill_step, "concurrent": self.concurrent_step,
            "rm": self.rm_step, "gc": self.gc_step}
        for number in range(1, steps + 1):
            if self.max_seconds is not None and time.monotonic() - started > self.max_seconds:
                break
            kind = self._next_step()
            self._doing = kind
            try:
                actions[kind]()
                self.world.note_changes()
                self._check()
            except Broken as exc:
                raise Broken(f"seed {self.world.seed} step {number} ({self._doing}): {exc} "
                             f"[replay: {SEED_VARIABLE}={self.world.seed}]") from None
            finally:
                self.world.calm()
            self.summary.steps[kind] += 1
        self.gc_step()  # always end with a collection and the orphan check
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def _next_step(self) -> str:
        """Steps come from a shuffled bag, so even a short run has every kind of step."""
        if not self._step_bag:
            self._step_bag = ["pull", "pull", "pull", "kill", "concurrent", "rm", "gc"]
            self.rng.shuffle(self._step_bag)
        return self._step_bag.pop()

    def _next_fault(self, item: Item) -> FaultKind:
        if not self._fault_bag:
            self._fault_bag = list(self.kinds)
            self.rng.shuffle(self._fault_bag)
        for i, kind in enumerate(self._fault_bag):
            if item.digest_published or not kind.needs_digest:
                return self._fault_bag.pop(i)
        return FAULT_KINDS[0]

    def _check(self, after_gc: bool = False) -> None:
        facts = check_store(self.world.home, self.world.items, after_gc=after_gc)
        self.summary.checks += 1
        self.summary.bytes_verified += facts.bytes_verified

    # -- clients --------------------------------------------------------------------------------
    def cli(self, *args: str) -> Outcome:
        """One `modelshelf` command in this process (fast: no interpreter start-up)."""
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, self.world.env, clear=True), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return Outcome(code, out.getvalue(), err.getvalue())

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "modelshelf", *args], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.world.env)

    def _registered(self) -> dict[str, str]:
        """source reference -> model name, for what is in the store now."""
        return {m.source_ref: m.name for m in Store(self.world.home).list()}

    def _pulled(self, outcome: Outcome, refs: int) -> None:
        check_output(outcome.code, outcome.out, outcome.err, refs)
        results = json.loads(outcome.out)["results"]
        for result in results:
            if result["status"] == "ok":
                self.summary.pulls_ok += 1
            else:
                self.summary.pulls_failed += 1
                self.summary.errors[" ".join(str(result["error"]).split()[:3])] += 1

    # -- steps ----------------------------------------------------------------------------------
    def pull_step(self) -> None:
        item = self.rng.choice(self.world.items)
        name = self._registered().get(item.ref)
        if name is not None:  # make the pull transfer again
            self._removed(self.cli("--json", "rm", name))
        kind = self._next_fault(item)
        kind.arm(item.server.faults, self.rng)
        self._doing = f"pull {item.ref} with fault {kind.name}"
        armed = {c: getattr(item.server.faults, c) for c in _COUNTERS}
        item.server.clear_log()
        outcome = self.cli("--json", "pull", item.ref, *item.args)
        self._count_fault(kind, item.server, armed)
        self._pulled(outcome, 1)
        if kind.recoverable and outcome.code != 0:
            raise Broken(f"{kind.name} on {item.ref} should be survived, got exit "
                         f"{outcome.code}: {outcome.err.strip()}")

    def _count_fault(self, kind: FaultKind, server: LocalServer, armed: dict[str, int]) -> None:
        fired = sum(armed[c] - getattr(server.faults, c) for c in _COUNTERS)
        if kind.name == "stall":
            fired = int(server._stalled)
        elif kind.name == "range-ignored":
            fired = int(any(r.method == "GET" and r.range for r in server.log))
        if fired and kind.name != "none":
            self.summary.faults[kind.name] += fired

    def _removed(self, outcome: Outcome) -> None:
        check_output(outcome.code, outcome.out, outcome.err, 1)
        if outcome.code != 0:
            raise Broken(f"rm failed: {outcome.err.strip()}")

    def kill_step(self) -> None:
        """SIGKILL a pulling client at a random moment, check, then pull again: all must work."""
        chosen = self.rng.sample(self.world.items, self.rng.randint(1, 3))
        registered = self._registered()
        for item in chosen:
            if item.ref in registered:
                self._removed(self.cli("--json", "rm", registered[item.ref]))
        for server in self.world.servers:  # slow enough that a kill can land mid-transfer
            server.faults.rate_per_connection = self.rng.choice((0.5, 1.0, 2.0)) * 2**20
        refs = [i.ref for i in chosen if not i.args]
        refs = refs or [chosen[0].ref]
        proc = self.spawn("--json", "pull", *refs)
        time.sleep(self.rng.uniform(0.05, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            self.summary.kills += 1
        proc.communicate()
        self._check()  # what the killed client left must already be consistent
        self.world.calm()
        outcome = self.cli("--json", "pull", *refs)
        self._pulled(outcome, len(refs))
        if outcome.code != 0:
            raise Broken(f"pull after a kill failed: {outcome.err.strip()}")

    def concurrent_step(self) -> None:
        """2-4 clients on overlapping references, light faults, and gc or rm running beside."""
        pool = self.rng.sample(self.world.items, min(5, len(self.world.items)))
        armed = {}
        for server in self.world.servers:
            server.faults.error_burst = self.rng.randint(0, 2)
            server.faults.resets = self.rng.randint(0, 2)
            armed[server] = (server.faults.error_burst, server.faults.resets)
        clients = []
        for _ in range(self.rng.randint(2, 4)):
            picked = [i.ref for i in self.rng.sample(pool, self.rng.randint(2, 4)) if not i.args]
            clients.append((self.spawn("--json", "pull", *picked), max(1, len(picked))))
        self.summary.concurrent_clients += len(clients)
        time.sleep(self.rng.uniform(0.0, 1.0))
        registered = sorted(self._registered().values())
        if registered and self.rng.random() < 0.5:
            side = self.spawn("--json", "rm", self.rng.choice(registered))
        else:
            side = self.spawn("--json", "gc")
        for proc, refs in clients:
            out, err = proc.communicate(timeout=120)
            self._pulled(Outcome(proc.returncode, out, err), refs)
        out, err = side.communicate(timeout=120)
        check_output(side.returncode, out, err, 1)
        for server, (bursts, resets) in armed.items():
            self.summary.faults["5xx-burst"] += bursts - server.faults.error_burst
            self.summary.faults["reset-mid-body"] += resets - server.faults.resets

    def rm_step(self) -> None:
        registered = sorted(self._registered().values())
        if registered:
            self._removed(self.cli("--json", "rm", self.rng.choice(registered)))

    def gc_step(self) -> None:
        """``gc`` as a user runs it, then as it would run an hour later (no grace for fresh
        orphans, none for partials): afterwards not one unreferenced byte may remain."""
        outcome = self.cli("--json", "gc")
        check_output(outcome.code, outcome.out, outcome.err, 1)
        Store(self.world.home).gc_plan(grace=0, stale_after=0).execute()
        self._check(after_gc=True)


def seed_from_env(default: int | None = None) -> int:
    """``CAMPAIGN_SEED`` when set (a replay), else ``default``, else a fresh random seed."""
    value = os.environ.get(SEED_VARIABLE)
    if value:
        return int(value)
    return default if default is not None else random.SystemRandom().randrange(2**32)


def run_campaign(root: Path, seed: int, steps: int, *, known_bugs: bool = False,
                 max_seconds: float | None = None,
                 echo: Callable[[str], object] = print) -> Summary:
    echo(f"chaos campaign seed={seed} steps={steps} (replay: {SEED_VARIABLE}={seed})")
    with World(seed, root) as world:
        return Campaign(world, known_bugs=known_bugs, max_seconds=max_seconds).run(steps)


__all__: Sequence[str] = ("KNOWN_BUGS", "Campaign", "Summary", "run_campaign", "seed_from_env")
