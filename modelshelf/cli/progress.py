"""Progress bars on stderr, only when stderr is a terminal (SPEC: nothing otherwise).

The transfer engine knows nothing of rich: it calls ``callback(done, total)``; this module turns
those calls into one rich task per file of a shared live display.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the CLI imports the library lazily, to start fast
    from modelshelf.api.pull import ProgressFactory
    from modelshelf.transfer import ProgressCallback


@contextmanager
def progress_bars(stream: TextIO | None = None, enabled: bool = True) -> Iterator[ProgressFactory | None]:
    stream = stream or sys.stderr
    if not enabled or not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    lock = threading.Lock()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(),
                  console=Console(file=stream), transient=False) as bars:

        def factory(label: str, total: int | None) -> ProgressCallback:
            with lock:
                task = bars.add_task(label, total=total)

            def update(done_bytes: int, total_bytes: int | None) -> None:
                bars.update(task, completed=done_bytes, total=total_bytes)

            return update

        yield factory
