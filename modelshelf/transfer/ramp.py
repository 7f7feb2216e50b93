"""How many connections a transfer uses: start with a few, add more only while they pay.

Why not always the maximum (aria2c's ``-x16``)? More connections help only when each one is held
back by something outside this machine: a server or CDN that caps every connection (the usual
case for model hosts), or a long path where one TCP window cannot fill the link. They cannot help
when this process is the bottleneck: the receive loop holds the GIL between syscalls and the
sha256 thread needs most of a core, so at about a core of CPU more receiver threads only compete
with each other and with the hasher. Measured on 2 cores over loopback, 1 GiB, a fixed count of
connections: 2 took 0.89 s, 4 0.95 s, 16 1.09 s (curl 1.0 s); with a cap of 20 MB/s per
connection, 16 connections are 8x as fast as 2.

So: start with ``START`` connections and, every short window, look at two figures:

- the CPU this whole process used over the window (``time.process_time``, all threads): at
  ``CPU_BOUND`` cores or more *and* with each connection already moving ``FAST_CONNECTION`` or
  more, we are the bottleneck, and the count stays where it is. The per-connection test matters
  when one process runs several transfers (a repo's files fetched side by side) or is busy with
  start-up work: the CPU is then busy for reasons more connections do not worsen, while a
  connection held to 20 MB/s by a CDN still gains from company (measured: without it, 8 capped
  shards at once stayed at 2 connections each and ran no faster than huggingface_hub);
- the aggregate rate: after a step it must have grown by at least ``MIN_GAIN`` of what the step
  could give at best (4x the connections, 4x the rate); less means the link is already full and
  the ramp stops there.

Otherwise the count grows ``GROWTH``-fold: a per-connection cap is the common case, and every
window spent below the maximum costs time at that cap. The first look goes further: connections
each moving less than ``HELD_BACK`` while this process has CPU to spare are held back by
something remote, which is what ``-x16`` tools assume from the start, so the count jumps
straight to ``AT_ONCE`` (2 -> 16 about 0.03 s in; stepping 2 -> 8 -> 16 took 0.1 s, ~4% of a
256 MiB file at 10 MB/s per connection, and a third of a 32 MiB Hub shard's time). Past
``AT_ONCE`` the gain test decides again: the jump must have paid (a line that two connections
nearly filled stops at 16), and a per-connection cap keeps paying up to the limit, 32 by
default. ``huggingface_hub``'s Rust downloader runs up to 100 ranges of a file at once; aria2c
stops at 16 by design, so against a CDN that holds each connection to 10 MB/s it never passes
160 MB/s. Why a third
of ``FAST_CONNECTION`` and not all of it: on a machine busy with other work, uncapped loopback
connections slow below 100 MB/s with nothing remote to blame, and sixteen of them only compete
for the CPU (measured: 1 GiB took ~1 s longer). Faster connections than that keep the steps and
the gain test. The first window weighs CPU and the per-connection rate only, so it is the
shortest (two round trips of the first request: a connection still waiting for its answer
makes the others look slower, which errs towards the jump); later ones are longer, and never
shorter than a few round trips, so the gain test sees new connections' bytes rather than their
request latency. Connections once started are kept: they all steal the tail.
"""

from __future__ import annotations

from dataclasses import dataclass

START = 2
GROWTH = 4
AT_ONCE = 16  # where a first look that finds the connections held back jumps to
WINDOW = 0.05  # seconds
FIRST_WINDOW = 0.025  # the first look weighs CPU only, which shows at once
RTTS_PER_WINDOW = 4
RTTS_FIRST_WINDOW = 2  # the first look only needs the new connections' first bytes
CPU_BOUND = 0.6  # cores of CPU time per second of wall time
FAST_CONNECTION = 100e6  # bytes/s one connection moves when nothing remote holds it back
HELD_BACK = FAST_CONNECTION / 3  # a first look below this per connection: a remote cap
MIN_GAIN = 0.35


@dataclass(frozen=True)
class _Mark:
    at: float  # monotonic seconds
    received: int  # bytes received by all connections so far
    cpu: float | None  # process CPU seconds so far; None: not a fair measure now


class Ramp:
    """Feed it running totals with :meth:`update`; it answers how many connections to run."""

    def __init__(self, limit: int, *, start: int = START, rtt: float = 0.0) -> None:
        self.limit = max(1, limit)
        self.target = min(self.limit, max(1, start))
        self.window = max(WINDOW, RTTS_PER_WINDOW * rtt)
        self.first_window = max(FIRST_WINDOW, RTTS_FIRST_WINDOW * rtt)
        self.reason: str | None = None if self.target < self.limit else "limit"
        self._mark: _Mark | None = None
        self._last_rate: float | None = None  # aggregate bytes/s of the previous step
        self._last_count = 0

    @property
    def settled(self) -> bool:
        return self.reason is not None

    def hold(self, reason: str) -> None:
        """Open no more connections (e.g. the server refused one: it limits each client)."""
        self.reason = reason

    def update(self, now: float, received: int, cpu: float | None) -> int:
        """Running totals in (bytes received, process CPU seconds); the wanted count out.

        ``cpu`` is None while it would mislead: when resuming, the hasher first reads the part
        already on disk at a full core, which says nothing about what the network needs; the
        rate alone decides then."""
        mark = self._mark
        if self.settled:
            return self.target
        if mark is None:
            self._mark = _Mark(now, received, cpu)
            return self.target
        elapsed = now - mark.at
        if elapsed < (self.window if self._last_rate is not None else self.first_window):
            return self.target
        rate = (received - mark.received) / elapsed
        busy = 0.0 if cpu is None or mark.cpu is None else (cpu - mark.cpu) / elapsed
        if busy >= CPU_BOUND and rate / self.target >= FAST_CONNECTION:
            self.reason = "cpu"
        elif self._last_rate and rate - self._last_rate < \
                MIN_GAIN * self._last_rate * (self.target / self._last_count - 1):
            self.reason = "no gain"
        else:
            held_back = self._last_rate is None and rate / self.target < HELD_BACK
            self._last_rate, self._last_count = rate, self.target
            self.target = min(self.limit, AT_ONCE if held_back else self.target * GROWTH)
            if self.target == self.limit:
                self.reason = "limit"
        self._mark = _Mark(now, received, cpu)
        return self.target
