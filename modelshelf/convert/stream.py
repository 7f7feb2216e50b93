"""Copy tensors chunk by chunk from source byte ranges into an open output, casting on the way.

Memory is bounded by a small pool of fixed-size buffers, whatever the model size. A reader thread
fills buffers with ``preadv`` while the calling thread casts and writes the previous ones: numpy
kernels and file I/O both release the GIL, so on two cores reading overlaps casting+writing and
the whole stays close to the time of reading and writing the bytes once.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelshelf.convert.casts import ITEMSIZE, Kernel, make_kernel
from modelshelf.convert.plan import TensorJob
from modelshelf.errors import FormatError

CHUNK = 4 * 2**20  # bytes of source per step: a multiple of every itemsize, small enough for cache
POOL = 4  # buffers in flight between the reader and the writer (peak ~ (POOL + 2) * CHUNK)

Progress = Callable[[int, int | None], None]


@dataclass
class _Chunk:
    job: TensorJob
    buf: np.ndarray  # uint8 view of the filled part of a pool buffer
    slot: int


_DONE = object()


def _chunks(job: TensorJob) -> Iterator[tuple[int, int]]:
    """(offset, length) of each source chunk of one tensor."""
    end = job.src_offset + job.src_nbytes
    for start in range(job.src_offset, end, CHUNK):
        yield start, min(CHUNK, end - start)


class _Reader(threading.Thread):
    """Reads every chunk of every job, in order, into pool buffers handed to the consumer."""

    def __init__(self, jobs: tuple[TensorJob, ...], fds: dict[Path, int]) -> None:
        super().__init__(name="modelshelf-convert-reader", daemon=True)
        self.jobs, self.fds = jobs, fds
        self.pool = [np.empty(CHUNK, np.uint8) for _ in range(POOL)]
        self.free: queue.Queue[int] = queue.Queue()
        for slot in range(POOL):
            self.free.put(slot)
        self.full: queue.Queue[object] = queue.Queue()
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for job in self.jobs:
                fd = self.fds[job.src_file]
                for offset, length in _chunks(job):
                    slot = self.free.get()
                    if self.stop.is_set():
                        return
                    view = self.pool[slot][:length]
                    got = os.preadv(fd, [memoryview(view)], offset)
                    if got != length:
                        raise FormatError(
                            f"{job.src_file}: tensor {job.name!r} runs past the end of the file"
                        )
                    self.full.put(_Chunk(job, view, slot))
            self.full.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self.full.put(exc)


def copy_tensors(
    jobs: tuple[TensorJob, ...], out_fd: int, total: int, progress: Progress | None
) -> None:
    """Write every job's (cast) bytes to ``out_fd`` at its current position, in job order."""
    kernels: dict[tuple[str, str], Kernel] = {}
    out_buf = np.empty(CHUNK * 2, np.uint8)  # widest growth: 2-byte -> 4-byte elements
    done = 0
    with ExitStack() as stack:
        fds = {}
        for file in dict.fromkeys(j.src_file for j in jobs):
            fds[file] = os.open(file, os.O_RDONLY)
            stack.callback(os.close, fds[file])
        reader = _Reader(jobs, fds)
        reader.start()
        try:
            while (item := reader.full.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, _Chunk)
                job = item.job
                if job.src_dtype == job.dst_dtype:
                    data = item.buf
                else:
                    key = (job.src_dtype, job.dst_dtype)
                    kernel = kernels.get(key) or kernels.setdefault(key, make_kernel(*key))
                    n = item.buf.size // ITEMSIZE[job.src_dtype] * ITEMSIZE[job.dst_dtype]
                    data = out_buf[:n]
                    kernel(item.buf, data)
                write_all(out_fd, data)
                reader.free.put(item.slot)
                done += item.buf.size
                if progress is not None:
                    progress(done, total)
        finally:
            reader.stop.set()
            reader.free.put(0)  # wake the reader if it waits for a buffer
            reader.join()


def write_all(fd: int, data: np.ndarray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
