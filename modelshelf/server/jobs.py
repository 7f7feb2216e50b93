"""Background pulls for the web page: ``POST /api/pull`` starts one, ``GET /api/jobs/<id>`` polls it.

A pull takes minutes and an HTTP request must answer at once, so each pull runs on its own daemon
thread and records its progress (bytes done / total over all its files) in a :class:`Job` the page
reads every half second. The result is the same :class:`PullResult` the CLI's ``--json`` prints.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from modelshelf.api import PullResult, Shelf
from modelshelf.api.models import PullStatus
from modelshelf.transfer import ProgressCallback


@dataclass
class Job:
    """One pull: its reference, per-file progress, and once finished its outcome."""

    id: str
    ref: str
    files: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # path -> (done, total)
    result: PullResult | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, path: str, size: int | None) -> ProgressCallback:
        """The pipeline's ``ProgressFactory``: one callback per file."""
        with self.lock:
            self.files[path] = (0, size)

        def update(done_bytes: int, total_bytes: int | None) -> None:
            with self.lock:
                self.files[path] = (done_bytes, size if total_bytes is None else total_bytes)

        return update

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            files = dict(self.files)
            result = self.result
        totals = [t for _, t in files.values()]
        state = "running" if result is None else (
            "done" if result.status == PullStatus.OK else "failed")
        return {
            "id": self.id, "ref": self.ref, "state": state,
            "done_bytes": sum(d for d, _ in files.values()),
            # unknown until every file's size is: the page shows an indeterminate bar meanwhile
            "total_bytes": None if None in totals or not totals else sum(t or 0 for t in totals),
            "files": len(files),
            "error": result.error if result is not None else None,
            "model": result.model.name if result is not None and result.model else None,
        }


class Jobs:
    """The pulls this server started (kept for the life of the process: a handful at most)."""

    def __init__(self, shelf: Shelf) -> None:
        self.shelf = shelf
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, ref: str) -> Job:
        job = Job(secrets.token_hex(8), ref)
        with self._lock:
            self._jobs[job.id] = job

        def run() -> None:
            result = self.shelf.pull_result(ref, progress=job.progress)
            with job.lock:
                job.result = result

        threading.Thread(target=run, name=f"modelshelf-web-pull-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
