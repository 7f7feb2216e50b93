"""How long to wait before trying again, and when to stop: exponential backoff with jitter.

Jitter (a random factor in [0.5, 1.5)) keeps sixteen connections that failed together from
hammering a recovering server in lockstep. The base delay is a parameter so tests run fast.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from modelshelf.errors import DownloadError, ModelshelfError
from modelshelf.secrets import redact_url
from modelshelf.transfer.http import TRANSIENT_ERRORS, BadAnswer, RetryableStatus, network_error

T = TypeVar("T")
MAX_DELAY = 30.0
# What is worth another try: a busy status or a transport hiccup (typed answers never are).
RETRYABLE: tuple[type[BaseException], ...] = (RetryableStatus, *TRANSIENT_ERRORS)


def final_error(exc: BaseException, url: str, tries: int) -> ModelshelfError:
    """The typed error once ``tries`` attempts all ended in ``exc`` (one of :data:`RETRYABLE`)."""
    if isinstance(exc, RetryableStatus):
        return exc.final(tries)
    if isinstance(exc, BadAnswer):  # the server answered, wrongly: not a network failure
        return DownloadError(f"{redact_url(url)}: {exc} ({tries} tries)")
    return network_error(url, exc, tries)


@dataclass(frozen=True)
class Backoff:
    """``tries`` attempts in all; the pause before attempt n+1 is about ``base * 2**(n-1)``."""

    tries: int = 6
    base: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def delay(self, failures: int) -> float:
        return min(MAX_DELAY, self.base * 2 ** max(0, failures - 1)) * (0.5 + random.random())

    def pause(self, failures: int, exc: BaseException) -> float:
        """The wait after ``exc``: the backoff, or longer when the server asked for it."""
        delay = self.delay(failures)
        return max(delay, exc.retry_after) if isinstance(exc, RetryableStatus) else delay

    def run(self, attempt: Callable[[], T], url: str) -> T:
        """Call ``attempt`` until it succeeds, retrying transport errors and busy statuses."""
        failures = 0
        while True:
            try:
                return attempt()
            except ModelshelfError:  # typed answers (404, bad page) are final, though OSErrors
                raise
            except RETRYABLE as exc:
                failures += 1
                if failures >= max(1, self.tries):
                    raise final_error(exc, url, failures) from None
                self.sleep(self.pause(failures, exc))
