"""How many connections a transfer uses: start with a few, add more only while they pay.

Why not always the maximum (aria2c's ``-x16``)? More connections help only when each one is held
back by something outside this machine: a server or CDN that caps every connection (the usual
case for model hosts), or a long path where one TCP window cannot fill the link. They cannot help
when this process is the bottleneck. Our receive loop holds the GIL between syscalls and the sha256
thread needs most of a core, so at about a core of CPU more receiver threads only compete with each
other and the hasher. Measured on 2 cores over loopback, 1 GiB: 2 connections 0.88 s, 3 1.13 s,
4 1.19 s, 16 1.33 s (curl 1.01 s); with a 20 MB/s cap per connection, 16 connections are 8x as
fast as 2.

So: start with ``START`` connections and, every short window, look at two figures:

- the CPU this process used over the window: at ``CPU_BOUND`` cores or more we are the bottleneck,
  and the count stays where it is;
- the aggregate rate: after a step it must have grown by at least ``MIN_GAIN`` of what the step
  could give at best (4x the connections, 4x the rate); less means the link is already full and
  the ramp stops there.

Otherwise the count grows ``GROWTH``-fold (a per-connection cap is the common case, and every
window spent below it costs time: 2 -> 8 -> 16 takes two windows). The window is a tenth of a
second, or a few request round trips on slow paths, so a bad figure from one new connection's
first request does not decide. Connections once started are kept: they still steal the tail.
"""

from __future__ import annotations

from dataclasses import dataclass

START = 2
GROWTH = 4
WINDOW = 0.1  # seconds
RTTS_PER_WINDOW = 4
CPU_BOUND = 0.6  # cores of CPU time per second of wall time
MIN_GAIN = 0.35


@dataclass(frozen=True)
class _Mark:
    at: float  # monotonic seconds
    received: int  # bytes received by all connections so far
    cpu: float  # process CPU seconds so far


class Ramp:
    """Feed it running totals with :meth:`update`; it answers how many connections to run."""

    def __init__(self, limit: int, *, start: int = START, rtt: float = 0.0) -> None:
        self.limit = max(1, limit)
        self.target = min(self.limit, max(1, start))
        self.window = max(WINDOW, RTTS_PER_WINDOW * rtt)
        self.reason: str | None = None if self.target < self.limit else "limit"
        self._mark: _Mark | None = None
        self._last_rate: float | None = None  # aggregate bytes/s of the previous step
        self._last_count = 0

    @property
    def settled(self) -> bool:
        return self.reason is not None

    def update(self, now: float, received: int, cpu: float) -> int:
        """Running totals in (bytes received, process CPU seconds); the wanted count out."""
        mark = self._mark
        if self.settled:
            return self.target
        if mark is None:
            self._mark = _Mark(now, received, cpu)
            return self.target
        elapsed = now - mark.at
        if elapsed < self.window:
            return self.target
        rate = (received - mark.received) / elapsed
        busy = (cpu - mark.cpu) / elapsed
        if busy >= CPU_BOUND:
            self.reason = "cpu"
        elif self._last_rate and rate - self._last_rate < \
                MIN_GAIN * self._last_rate * (self.target / self._last_count - 1):
            self.reason = "no gain"
        else:
            self._last_rate, self._last_count = rate, self.target
            self.target = min(self.limit, self.target * GROWTH)
            if self.target == self.limit:
                self.reason = "limit"
        self._mark = _Mark(now, received, cpu)
        return self.target
