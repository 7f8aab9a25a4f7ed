"""One SQS batch inside its invocation's time, where a slow or failing shop cannot hold the others up (F16).

A worker runs each record of its batch through `TimeBox.run`:

- Every outside call ends by the invocation's deadline less a margin to report the batch (`calls_end_by`), so
  no batch outlives its function's timeout, whatever an API does.
- A record is started only while enough time is left for one; the others are handed back at once, unchanged
  (sent again as they are): they were not started, so they lose nothing and count no failure. A record whose
  calls ran out of time is handed back the same way (the workers are idempotent).
- Once a record of a shop was slow or failed, that shop's other records in the batch are handed back delayed
  (a deferral, bounded per queue by `queue.defer`), so the other shops' records go first.

Handing back re-sends rather than reporting a batch item failure: a failure would count a receive against
the message (and wait out the queue's visibility timeout) for a delay that is not its fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bridge import queue
from bridge.clients.http import OutOfTime, calls_end_by
from bridge.observability import logger
from bridge.queue import WorkMessage

T = TypeVar("T")

REPORT_SECONDS = 2.0  # kept after the calls' deadline: hand back what is left and answer the batch
START_SECONDS = 8.0  # no record is started with less than this left (a few calls of an impatient client)
SLOW_SECONDS = 3.0  # a record taking longer than this marks its shop slow for the rest of the batch
SLOW_SHOP_DELAY = 10  # seconds before a slow shop's handed-back records come back


@dataclass
class TimeBox:
    queue: str  # the queue's name in the dead-letter registry (its deferral limits)
    queue_url: str
    remaining_ms: Callable[[], int]  # the Lambda context's get_remaining_time_in_millis
    start_seconds: float = START_SECONDS
    slow_seconds: float = SLOW_SECONDS
    slow_delay: int = SLOW_SHOP_DELAY
    slow_shops: set[str] = field(default_factory=set)
    handed_back: int = 0
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.remaining_ms() / 1000 - REPORT_SECONDS

    def left(self) -> float:
        return self._deadline - time.monotonic()

    def run(self, message: WorkMessage, work: Callable[[], T]) -> T | str:
        """`work()` for this record, or "handed back" when there is no time for it or its shop is slow."""
        if message.shop_id in self.slow_shops:
            queue.defer(self.queue, self.queue_url, message, self.slow_delay,
                        "the shop's APIs were slow or failing; its other work waits so other shops go first")
            return self._handed_back("shop slow or failing in this batch", message, self.slow_delay)
        if self.left() < self.start_seconds:
            queue.send(self.queue_url, message)
            return self._handed_back("no time left in this invocation", message, 0)
        started = time.monotonic()
        try:
            with calls_end_by(self._deadline):
                result = work()
        except OutOfTime:
            queue.send(self.queue_url, message)
            return self._handed_back("ran out of time in this invocation", message, 0)
        except Exception:
            self.slow_shops.add(message.shop_id)
            raise
        if time.monotonic() - started > self.slow_seconds:
            self.slow_shops.add(message.shop_id)
        return result

    def _handed_back(self, why: str, message: WorkMessage, delay: int) -> str:
        self.handed_back += 1
        logger.info("handed back to the queue", extra={"why": why, "shop": message.shop_id,
                                                       "subject": message.subject, "delay": delay})
        return "handed back"
