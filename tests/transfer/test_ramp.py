"""How many connections a transfer opens, and how far receivers may run ahead of the hasher."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelshelf.testing.server import LocalServer
from modelshelf.transfer import Endpoint, NetworkPolicy, download
from modelshelf.transfer.hasher import PrefixHasher
from modelshelf.transfer.pieces import Scheduler
from modelshelf.transfer.ramp import CPU_BOUND, Ramp

from .conftest import MIB, sha


def steps(ramp: Ramp, rate_of: Any, cpu_per_s: float | None, seconds: float = 2.0,
          ) -> list[tuple[float, int]]:
    """Feed ``ramp`` a synthetic transfer ticking every 10 ms: ``rate_of(n)`` bytes/s with n
    connections, ``cpu_per_s`` cores busy (None: unknown). Returns (when, count) each time the
    count changed."""
    now = received = cpu = 0.0
    changes = [(0.0, ramp.target)]
    while now < seconds:
        wanted = ramp.update(now, int(received), None if cpu_per_s is None else cpu)
        if wanted != changes[-1][1]:
            changes.append((now, wanted))
        now += 0.01
        received += rate_of(wanted) * 0.01
        cpu += (cpu_per_s or 0.0) * 0.01
    return changes


def drive(ramp: Ramp, rate_of: Any, cpu_per_s: float | None) -> list[int]:
    """The counts the ramp asked for, in order."""
    return [count for _, count in steps(ramp, rate_of, cpu_per_s)]


def test_per_connection_cap_jumps_to_the_limit_at_the_first_look() -> None:
    """Connections held far below what this process could take, CPU to spare: a remote cap,
    which more connections beat, so all of them open at once (as aria2c -x16 starts)."""
    ramp = Ramp(16)
    assert drive(ramp, lambda n: n * 20e6, cpu_per_s=0.05) == [2, 16]
    assert ramp.reason == "limit"


def test_past_sixteen_more_connections_open_only_while_they_pay() -> None:
    """A per-connection cap keeps paying: 16, then the limit, 0.08 s in (aria2c stays at 16).
    A line that the jump to sixteen did not fill much further (30 MB/s in all, 20 on two
    connections) stops at 16."""
    capped = steps(Ramp(32), lambda n: n * 10e6, cpu_per_s=0.05)
    assert [count for _, count in capped] == [2, 16, 32] and capped[-1][0] < 0.1
    full_line = Ramp(32)
    assert drive(full_line, lambda n: min(n * 10e6, 30e6), cpu_per_s=0.05) == [2, 16]
    assert full_line.reason == "no gain"


def test_cpu_bound_transfer_keeps_its_few_connections() -> None:
    ramp = Ramp(16)
    assert drive(ramp, lambda n: 1e9, cpu_per_s=CPU_BOUND + 0.5) == [2]
    assert ramp.reason == "cpu"


def test_saturated_link_stops_the_ramp() -> None:
    """Fast connections (no remote cap) that a few of already fill the link: stop growing."""
    ramp = Ramp(32)
    assert drive(ramp, lambda n: min(n, 3) * 150e6, cpu_per_s=0.1) == [2, 8]
    assert ramp.reason == "no gain"


def test_fast_connections_grow_step_by_step_to_the_limit() -> None:
    ramp = Ramp(16)
    assert drive(ramp, lambda n: n * 150e6, cpu_per_s=0.1) == [2, 8, 16]
    assert ramp.reason == "limit"


def test_without_a_cpu_figure_the_rate_alone_decides() -> None:
    """While a resume's hasher reads the old part at a full core, CPU says nothing."""
    assert drive(Ramp(16), lambda n: n * 20e6, cpu_per_s=None) == [2, 16]
    assert drive(Ramp(16), lambda n: 1e9, cpu_per_s=None) == [2, 8]


def test_a_limit_below_the_start_is_used_as_is() -> None:
    ramp = Ramp(1)
    assert ramp.settled and drive(ramp, lambda n: n * 1e6, cpu_per_s=0.0) == [1]


def test_long_round_trips_lengthen_the_window() -> None:
    """A new connection spends its first round trip waiting: no verdict before a few of them
    (two for the first look, which weighs CPU and the per-connection rate only; four after)."""
    changes = steps(Ramp(16, rtt=0.2), lambda n: n * 150e6, cpu_per_s=0.05)
    assert [count for _, count in changes] == [2, 8, 16]
    assert changes[1][0] >= 0.4 and changes[2][0] - changes[1][0] >= 0.8


def test_capped_server_gets_every_connection(server: LocalServer, payload: bytes,
                                             staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    server.faults.rate_per_connection = 2e6  # far from CPU-bound: more connections pay
    result = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging, fast)
    assert result.path.read_bytes() == payload
    assert result.connections_used == fast.connections


def test_receivers_wait_for_a_lagging_hasher() -> None:
    hashed = [0]
    sched = Scheduler([(0, 8 * MIB)], [], min_piece=MIB // 4, max_piece=MIB, workers=1)
    sched.pace(lambda: hashed[0], ahead=MIB)
    for _ in range(2):  # two finished pieces: 2 MiB written, nothing hashed
        piece = sched.take()
        assert piece is not None
        piece.pos = piece.end
        sched.release(piece)
    taken: list[Any] = []
    waiter = threading.Thread(target=lambda: taken.append(sched.take()), daemon=True)
    waiter.start()
    waiter.join(0.2)
    assert not taken  # held back...
    hashed[0] = MIB + 1
    waiter.join(5)
    assert taken and taken[0] is not None and taken[0].start == 2 * MIB  # ...until it catches up


def test_a_finished_hasher_never_holds_receivers_back(tmp_path: Path) -> None:
    part = tmp_path / "part"
    part.write_bytes(b"x" * 1000)
    hasher = PrefixHasher(part, lambda: 1000).start()
    hasher.finish(1000)
    assert hasher.reached() > 2**40


def test_a_server_that_limits_connections_still_serves_the_file(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    """A server that answers 503 to a client's connections past its limit (as many file hosts
    do): the file still arrives, over the connections it lets through."""
    server.add_file("/m.bin", payload)
    server.faults.rate_per_connection = 2e6  # slow connections: the ramp opens all it may
    server.faults.max_in_flight = 3
    policy = replace(fast, connections=16)
    result = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging,
                      policy)
    assert result.path.read_bytes() == payload
