"""Who fetches which bytes: pieces handed out in file order, and work stealing at the end.

Pieces are cut in file order so the completed prefix of the file (what the hasher follows) moves
forward steadily and the digest is ready moments after the last byte lands. The cost of a piece
is one request (a round trip with the connection idle), so the piece size grows with what the
connections measure: about 32 round trips' worth of bytes, between ``4 * min_piece`` and
``max_piece``. When nothing is left to cut, an idle connection takes the back half of the piece
with the most bytes left (the slowest), so one slow connection never holds up the end of the file.
No new piece is cut while too many finished bytes wait for the hasher (:meth:`Scheduler.pace`).
Receivers report every write (:meth:`Scheduler.landed`), which is what saves the resume state
by bytes rather than only by time (:meth:`Scheduler.checkpoint`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from modelshelf.transfer.ranges import Span, merge, prefix_end

# Resume checkpoints (see Scheduler.checkpoint): every 1/64 of the file, between 1 and 64 MiB,
# and at most ~60 a second per transfer: replacing the state file costs 0.1-3 ms of I/O on this
# ext4 (its rename-over flush), spent by the receiver that saves, and a repo's files save side
# by side. Measured, 64 MiB at 16 x 10 MB/s killed at a third: with the engine's half-second
# timer alone the resume fetched that whole third again; with these, 5-12% of the file,
# in-flight bytes included (``python bench/download.py --modes resume``).
CHECKPOINT_MIN = 2**20
CHECKPOINT_MAX = 64 * 2**20
CHECKPOINT_INTERVAL = 0.016
_ALIGN = 64 * 1024
_PACE_POLL = 0.005  # seconds between looks at the hasher while held back
_RTTS_PER_PIECE = 32
_EWMA = 0.3


@dataclass(eq=False)
class Piece:
    """Bytes ``[start, end)``; ``pos`` is the next byte to write. Only the owner moves ``pos``;
    only the scheduler (under its lock) moves ``end`` down when it gives the tail to another."""

    start: int
    end: int
    pos: int
    requested_end: int = 0  # the end the owner's current request asked for
    rtt: float = 0.0  # how long the owner's current request waited for its answer

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    @property
    def complete(self) -> bool:
        return self.pos >= self.end


def checkpoint_bytes(size: int) -> int:
    """Save the resume state each time this many more bytes have landed: 1/64 of the file (a
    kill costs at most ~1.5% of it on top of what was in flight and the interval's worth)."""
    return max(CHECKPOINT_MIN, min(CHECKPOINT_MAX, size // 64))


class Scheduler:
    """Hands out pieces of the ``gaps`` (the bytes still missing) to worker threads."""

    def __init__(self, gaps: list[Span], done: list[Span], *, min_piece: int, max_piece: int,
                 workers: int, stealing: bool = True) -> None:
        self._cond = threading.Condition()
        self._todo: deque[Span] = deque(gaps)
        self._active: set[Piece] = set()
        self._pieces: list[Piece] = []  # handed out and not yet released
        self._done_before = list(done)
        self._min = min_piece
        self._max = max_piece
        self._stealing = stealing
        self.workers = max(1, workers)  # connections started (the ramp raises it)
        self.refused = 0  # of those, the ones the server turned away (:meth:`retire`)
        self._rate: float | None = None  # bytes/s of one connection
        self._rtt: float | None = None  # request -> first header byte
        self._hashed: Callable[[], int] | None = None
        self._ahead = 0
        self._pace_from = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._save: Callable[[], None] | None = None
        self._save_every = 0
        self._save_interval = 0.0
        self._unsaved = 0  # bytes landed since the last checkpoint
        self._saved_at = 0.0
        self._saving = threading.Lock()

    def pace(self, hashed: Callable[[], int], ahead: int) -> None:
        """Cut no new piece while more than ``ahead`` finished bytes wait for the hasher.

        Counted from the completed prefix (what the hasher could read), not from where the
        next piece starts: sixteen connections at 20 MB/s keep ``16 * piece_size`` bytes in
        flight ahead of the prefix, and holding them back would slow a transfer the hasher
        keeps up with easily.

        Why: when the network outruns sha256 (loopback, 10 Gbit/s), running far ahead gains
        nothing, since the digest is needed before the file counts, and costs twice. On a few
        cores the receivers take CPU the hasher then lacks, and the hasher ends up alone on one
        core after the last byte (measured: 0.25-0.35 s of hashing left at the end of a 1 GiB
        loopback download on 2 cores). And the hasher reads what was just written back from
        the page cache; gigabytes ahead on a machine short of RAM, those pages are evicted and
        read again from disk. The bound starts once the hasher has passed the prefix that was
        already on disk (a resume), so fetching overlaps hashing an old partial.
        """
        self._hashed, self._ahead = hashed, ahead
        self._pace_from = self.prefix()

    def checkpoint(self, every: int, save: Callable[[], None], min_interval: float) -> None:
        """Call ``save`` each time ``every`` more bytes have landed, at most once per
        ``min_interval`` seconds, from the receiver whose write crossed the mark.

        Why not only the engine's half-second timer: whatever landed since the last save is
        fetched again after a ``kill -9``, and at 16 x 10 MB/s half a second is 80 MB, more
        than many whole files. Counting bytes bounds that loss by size whatever the rate; the
        interval bounds the cost of saving when the network is fast (loopback, 1 GB/s).
        """
        self._save, self._save_every, self._save_interval = save, every, min_interval

    def landed(self, nbytes: int) -> None:
        """A receiver wrote ``nbytes``; maybe save. Counted without the lock: a count lost to a
        race only delays a save a little, and this runs for every buffer received."""
        if self._save is None:
            return
        self._unsaved += nbytes
        if self._unsaved < self._save_every:
            return
        now = time.monotonic()
        if now - self._saved_at < self._save_interval or not self._saving.acquire(False):
            return
        try:
            self._unsaved, self._saved_at = 0, now
            self._save()
        finally:
            self._saving.release()

    # -- handing out work -------------------------------------------------------------------
    @property
    def piece_size(self) -> int:
        floor = min(self._max, 4 * self._min)
        if self._rate is None or self._rtt is None:
            return floor
        return int(max(floor, min(self._max, self._rate * self._rtt * _RTTS_PER_PIECE)))

    def take(self) -> Piece | None:
        """The next piece to fetch; blocks while others still work; None when all is done."""
        with self._cond:
            while not self.stop.is_set():
                if self._held_back():
                    self._cond.wait(_PACE_POLL)
                    continue
                piece = self._cut() or self._steal()
                if piece is not None:
                    self._active.add(piece)
                    self._pieces.append(piece)
                    return piece
                if not self._active:
                    return None
                self._cond.wait(0.1)
            return None

    def _held_back(self) -> bool:
        if self._hashed is None or not self._todo:
            return False
        hashed = self._hashed()
        return hashed >= self._pace_from and self.prefix() - hashed > self._ahead

    def claim(self, piece: Piece) -> None:
        """Register a piece already requested (the first one, whose answer told us the size)."""
        with self._cond:
            start, end = self._todo.popleft()
            if (start, end) != (piece.start, piece.end):
                self._todo.appendleft((piece.end, end))
            self._active.add(piece)
            self._pieces.append(piece)

    def _cut(self) -> Piece | None:
        if not self._todo:
            return None
        start, end = self._todo.popleft()
        # Taper: near the end, pieces shrink so every connection finishes at about the same
        # time and the hasher trails the last byte by little.
        left = sum(e - s for s, e in self._todo) + end - start
        size = min(self.piece_size, max(self._min, left // (self.workers - self.refused)))
        cut = start + size if self._stealing else end
        if end - cut < self._min:  # never leave a runt behind
            cut = end
        if cut < end:
            self._todo.appendleft((cut, end))
        return Piece(start, cut, start)

    def _steal(self) -> Piece | None:
        if not self._stealing or not self._active:
            return None
        victim = max(self._active, key=lambda p: p.remaining)
        if victim.remaining < 2 * self._min:
            return None
        middle = victim.pos + victim.remaining // 2
        middle -= middle % _ALIGN if middle - victim.pos > _ALIGN else 0
        tail = Piece(middle, victim.end, middle)
        victim.end = middle
        return tail

    def release(self, piece: Piece) -> None:
        """The owner is done with ``piece`` (complete, or abandoned because we stop)."""
        with self._cond:
            self._active.discard(piece)
            self._pieces.remove(piece)
            # Finished bytes join the merged list, which stays short (neighbours coalesce), so
            # done_spans() costs O(connections) however many pieces the file took.
            self._done_before = merge([*self._done_before, (piece.start, piece.pos)])
            if not piece.complete:
                self._todo.appendleft((piece.pos, piece.end))
            self._cond.notify_all()

    def retire(self) -> bool:
        """Whether a connection the server refused (a 429 or 5xx) may leave rather than retry.

        Many hosts limit each client's connections and answer the ones past the limit with 503
        (or 429): retried, each would give up after its tries and fail the whole transfer, though
        the connections let in are fetching the file. So a refused connection leaves while
        another is still running, and its piece goes back to the others; the last one keeps
        retrying as a lone connection always did. It also sheds load from a server that says it
        is busy."""
        with self._cond:
            if self.workers - self.refused <= 1:
                return False
            self.refused += 1
            return True

    def fail(self, error: BaseException) -> None:
        """Stop everyone; the first error is the one reported."""
        with self._cond:
            if self.error is None:
                self.error = error
            self.stop.set()
            self._cond.notify_all()

    def observe(self, nbytes: int, seconds: float, rtt: float) -> None:
        """Feed one finished request's figures into the piece-size estimate."""
        if seconds <= 0 or nbytes < self._min:
            return
        rate = nbytes / seconds
        with self._cond:
            self._rate = rate if self._rate is None else (1 - _EWMA) * self._rate + _EWMA * rate
            self._rtt = rtt if self._rtt is None else (1 - _EWMA) * self._rtt + _EWMA * rtt

    # -- what is done -------------------------------------------------------------------------
    def done_spans(self) -> list[Span]:
        with self._cond:
            return merge([*self._done_before, *((p.start, p.pos) for p in self._pieces)])

    def prefix(self) -> int:
        """End of the gap-free completed prefix: how far the hasher may read."""
        return prefix_end(self.done_spans())
