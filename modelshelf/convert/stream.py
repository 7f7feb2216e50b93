"""Copy tensors chunk by chunk from source byte ranges into an open output, casting on the way.

A three-stage pipeline: a reader thread fills buffers with ``preadv``, the calling thread casts,
a writer thread writes. numpy kernels and file I/O release the GIL, so on two cores reading,
casting and writing overlap and the whole stays close to the time of moving the bytes once.
Buffers come from fixed pools and go back when the next stage is done with them, so memory is
bounded (~ ``POOL`` x ``CHUNK`` x 3 plus kernel scratch) whatever the model size; the pools'
queues are also the back-pressure between the stages.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from modelshelf.convert.casts import ITEMSIZE, Kernel, make_kernel, new_infinities
from modelshelf.convert.plan import TensorJob
from modelshelf.errors import FormatError

CHUNK = 4 * 2**20  # bytes of source per step: a multiple of every itemsize, ~L2-friendly kernels
POOL = 3  # buffers per pool in flight between two stages

Progress = Callable[[int, int | None], None]


class _Pool:
    """A fixed set of equal buffers; ``take`` blocks until one is given back."""

    def __init__(self, count: int, size: int) -> None:
        self.buffers = [np.empty(size, np.uint8) for _ in range(count)]
        self.free: queue.Queue[int] = queue.Queue()
        for slot in range(count):
            self.free.put(slot)

    def take(self) -> tuple[int, np.ndarray]:
        slot = self.free.get()
        return slot, self.buffers[slot]

    def give(self, slot: int) -> None:
        self.free.put(slot)


@dataclass
class _Chunk:
    job: TensorJob
    data: np.ndarray  # uint8 view of the filled part of a pool buffer
    release: Callable[[], None]  # hands the buffer back to its pool


_DONE = object()  # end of the reader's queue


def _chunks(job: TensorJob) -> Iterator[tuple[int, int]]:
    """(offset, length) of each source chunk of one tensor."""
    end = job.src_offset + job.src_nbytes
    for start in range(job.src_offset, end, CHUNK):
        yield start, min(CHUNK, end - start)


class _Reader(threading.Thread):
    """Reads every chunk of every job, in order; its queue ends with ``_DONE`` or the error."""

    def __init__(self, jobs: tuple[TensorJob, ...], fds: dict[Path, int]) -> None:
        super().__init__(name="modelshelf-convert-reader", daemon=True)
        self.jobs, self.fds = jobs, fds
        self.pool = _Pool(POOL, CHUNK)
        self.out: queue.Queue[object] = queue.Queue()
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            self._read_all()
            self.out.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self.out.put(exc)

    def _read_all(self) -> None:
        for job in self.jobs:
            fd = self.fds[job.src_file]
            for offset, length in _chunks(job):
                slot, buf = self.pool.take()
                if self.stop.is_set():
                    return
                view = buf[:length]
                if os.preadv(fd, [view.data], offset) != length:
                    raise FormatError(
                        f"{job.src_file}: tensor {job.name!r} runs past the end of the file"
                    )
                self.out.put(_Chunk(job, view, partial(self.pool.give, slot)))

    def next(self) -> _Chunk | None:
        item = self.out.get()
        if isinstance(item, BaseException):
            raise item
        return item if isinstance(item, _Chunk) else None


class _Writer(threading.Thread):
    """Writes chunks in arrival order (one writer keeps the output sequential).

    After a write error it keeps draining and releasing buffers, so the other stages never
    wait forever on a pool; the caller sees ``error`` and stops.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(name="modelshelf-convert-writer", daemon=True)
        self.fd = fd
        self.inbox: queue.Queue[_Chunk | None] = queue.Queue()
        self.error: BaseException | None = None

    def run(self) -> None:
        while (chunk := self.inbox.get()) is not None:
            if self.error is None:
                try:
                    write_all(self.fd, chunk.data)
                except BaseException as exc:
                    self.error = exc
            chunk.release()

    def check(self) -> None:
        if self.error is not None:
            raise self.error


def copy_tensors(
    jobs: tuple[TensorJob, ...], out_fd: int, total: int, progress: Progress | None
) -> dict[str, int]:
    """Write every job's (cast) bytes to ``out_fd`` at its current position, in job order.
    Returns ``{tensor: values the cast pushed past the target's range}`` (see
    :func:`~modelshelf.convert.casts.new_infinities`); empty when nothing overflowed."""
    kernels: dict[tuple[str, str], Kernel] = {}
    overflowed: dict[str, int] = {}
    casted = _Pool(POOL, CHUNK * 2)  # widest growth: 2-byte -> 4-byte elements
    done = 0
    with ExitStack() as stack:
        fds = {}
        for file in dict.fromkeys(j.src_file for j in jobs):
            fds[file] = os.open(file, os.O_RDONLY)
            stack.callback(os.close, fds[file])
        reader, writer = _Reader(jobs, fds), _Writer(out_fd)
        reader.start()
        writer.start()
        try:
            while (chunk := reader.next()) is not None:
                writer.check()
                done += chunk.data.size
                if chunk.job.src_dtype != chunk.job.dst_dtype:
                    chunk = _cast(chunk, casted, kernels, overflowed)
                writer.inbox.put(chunk)
                if progress is not None:
                    progress(done, total)
        finally:
            reader.stop.set()
            reader.pool.give(0)  # wake the reader if it waits for a buffer
            writer.inbox.put(None)
            writer.join()
            reader.join()
        writer.check()
    return overflowed


def _cast(chunk: _Chunk, pool: _Pool, kernels: dict[tuple[str, str], Kernel],
          overflowed: dict[str, int]) -> _Chunk:
    """Cast a read chunk into a buffer of ``pool`` (counting values that overflowed into
    ``overflowed``); the read buffer goes straight back."""
    job = chunk.job
    key = (job.src_dtype, job.dst_dtype)
    kernel = kernels.get(key) or kernels.setdefault(key, make_kernel(*key))
    n = chunk.data.size // ITEMSIZE[job.src_dtype] * ITEMSIZE[job.dst_dtype]
    slot, buf = pool.take()
    kernel(chunk.data, buf[:n])
    if lost := new_infinities(chunk.data, job.src_dtype, buf[:n], job.dst_dtype):
        overflowed[job.name] = overflowed.get(job.name, 0) + lost
    chunk.release()
    return _Chunk(job, buf[:n], lambda: pool.give(slot))


def write_all(fd: int, data: np.ndarray | bytes) -> None:
    view = data.data if isinstance(data, np.ndarray) else memoryview(data)
    while view:
        view = view[os.write(fd, view):]
