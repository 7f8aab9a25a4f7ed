"""One SQS batch inside its invocation's time, where a slow or failing shop cannot hold the others up (F16).

A worker runs each record of its batch through `TimeBox.run`:

- Every outside call ends by the invocation's deadline less a margin to report the batch (`calls_end_by`), so
  no batch outlives its function's timeout, whatever an API does.
- A record is started only while enough time is left for one; the others are handed back at once, unchanged
  (sent again as they are): they were not started, so they lose nothing and count no failure. A record whose
  calls ran out of time is handed back the same way (the workers are idempotent).
- Each shop's records run in order, and the shops of a batch side by side (`by_shop`, one thread per shop):
  a shop whose API makes its record wait never delays another shop's record of the same batch.
- Once a call of a shop got no answer in time (or one of its records took long), that shop's other records
  in the batch are handed back delayed (a deferral, bounded per queue by `queue.defer`), so the other shops'
  records go first. The process remembers it for SLOW_SHOP_DELAY seconds: meanwhile that shop's records in
  later batches are handed back without a call, then one is tried again (`probe`); a shop remembered slow is
  also tried last in its batch (`slow_last`).

Handing back re-sends rather than reporting a batch item failure: a failure would count a receive against
the message (and wait out the queue's visibility timeout) for a delay that is not its fault.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bridge import queue
from bridge.clients.http import NoAnswer, OutOfTime, calls_end_by
from bridge.observability import logger
from bridge.queue import WorkMessage

T = TypeVar("T")

MAX_LANES = 10  # shops served side by side in one batch (a batch holds at most 10 records)

REPORT_SECONDS = 2.0  # kept after the calls' deadline: hand back what is left and answer the batch
START_SECONDS = 9.0  # no record is started with less than this left (one whole impatient call, and more)
SLOW_SECONDS = 10.0  # a record taking longer than this marks its shop slow (as does a call with no answer)
SLOW_SHOP_DELAY = 10  # seconds before a slow shop's handed-back records come back (and it is tried again)

# Shops found slow by this process (a warm Lambda instance serves many batches), per queue: (queue, shop) →
# until when (monotonic) their records are handed back without a call.
_slow_until: dict[tuple[str, str], float] = {}
_slow_lock = threading.Lock()


def remember_slow(queue_name: str, shop_id: str, seconds: float) -> None:
    with _slow_lock:
        _slow_until[(queue_name, shop_id)] = time.monotonic() + seconds


def forget_slow(queue_name: str, shop_id: str) -> None:
    with _slow_lock:
        _slow_until.pop((queue_name, shop_id), None)


def known_slow(queue_name: str, shop_id: str) -> float | None:
    """Until when (monotonic) this shop is known slow; None if it is not (or no longer remembered)."""
    with _slow_lock:
        return _slow_until.get((queue_name, shop_id))


def probe(queue_name: str, shop_id: str, seconds: float) -> bool:
    """Whether this caller may try a shop known slow now: only once its time is up, and only one caller (the
    others keep handing its records back until that one try says whether it is back)."""
    with _slow_lock:
        until = _slow_until.get((queue_name, shop_id))
        if until is not None and time.monotonic() < until:
            return False
        _slow_until[(queue_name, shop_id)] = time.monotonic() + seconds
        return True


def shop_of(record: dict[str, Any]) -> str:
    """The shop of a raw SQS record: its message attribute (set by queue.send), else its body."""
    attribute = (record.get("messageAttributes") or {}).get("shop_id") or {}
    if attribute.get("stringValue"):
        return str(attribute["stringValue"])
    try:
        return str(json.loads(record.get("body") or "{}").get("shop_id") or "")
    except (ValueError, AttributeError):
        return ""


def slow_last(event: dict[str, Any], queue_name: str) -> dict[str, Any]:
    """The batch with the records of shops known slow moved to its end (order within a standard queue is not
    promised anyway), so the other shops' records never wait behind a slow shop's call."""
    records = list(event.get("Records") or [])
    records.sort(key=lambda record: known_slow(queue_name, shop_of(record)) is not None)
    return {**event, "Records": records}


def by_shop(event: dict[str, Any], queue_name: str, handle: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    """Run `handle` on every record of an SQS batch: each shop's records in order, the shops side by side.

    Answers Lambda's partial batch response: the records whose `handle` raised are retried by SQS alone.
    """
    lanes: dict[str, list[dict[str, Any]]] = {}
    for record in slow_last(event, queue_name)["Records"]:
        lanes.setdefault(shop_of(record), []).append(record)
    failed: list[str] = []

    def lane(records: list[dict[str, Any]]) -> None:
        for record in records:
            try:
                handle(record)
            except Exception as exc:  # the handler recorded why (failures_recorded); SQS retries this one
                logger.info("record failed; SQS retries it",
                            extra={"message_id": record.get("messageId"), "error": type(exc).__name__})
                failed.append(str(record.get("messageId")))

    if len(lanes) <= 1:
        for records in lanes.values():
            lane(records)
    else:
        # Each lane in a copy of the caller's context: the batch's reads (shops_read_once) go along.
        runs = [(contextvars.copy_context(), records) for records in lanes.values()]
        with ThreadPoolExecutor(max_workers=min(len(lanes), MAX_LANES), thread_name_prefix="shop-lane") as pool:
            list(pool.map(lambda run: run[0].run(lane, run[1]), runs))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


@dataclass
class TimeBox:
    queue: str  # the queue's name in the dead-letter registry (its deferral limits)
    queue_url: str
    remaining_ms: Callable[[], int]  # the Lambda context's get_remaining_time_in_millis
    start_seconds: float = START_SECONDS
    slow_seconds: float = SLOW_SECONDS
    slow_delay: int = SLOW_SHOP_DELAY
    slow_shops: set[str] = field(default_factory=set)
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.remaining_ms() / 1000 - REPORT_SECONDS

    def left(self) -> float:
        return self._deadline - time.monotonic()

    def run(self, message: WorkMessage, work: Callable[[], T]) -> T | str:
        """`work()` for this record, or "handed back" when there is no time for it or its shop is slow."""
        until = known_slow(self.queue, message.shop_id)
        waits = until is not None and not probe(self.queue, message.shop_id, self.slow_delay)
        if message.shop_id in self.slow_shops or waits:
            queue.defer(self.queue, self.queue_url, message, self.slow_delay,
                        "the shop's APIs were slow or failing; its other work waits so other shops go first")
            return self._handed_back("shop slow or failing", message, self.slow_delay)
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
        except NoAnswer:
            self._slow(message.shop_id)  # its API gave no answer in time
            raise
        except Exception:
            # A quick failure (a 4xx, a 5xx for one product) is the record's, not the shop's: SQS retries it
            # and dead-letters it if it keeps failing. Only a failure that took long marks the shop slow.
            if time.monotonic() - started > self.slow_seconds:
                self._slow(message.shop_id)
            raise
        if time.monotonic() - started > self.slow_seconds:
            self._slow(message.shop_id)
        elif until is not None:
            forget_slow(self.queue, message.shop_id)  # tried again, and quick: it is back
        return result

    def _slow(self, shop_id: str) -> None:
        self.slow_shops.add(shop_id)
        remember_slow(self.queue, shop_id, self.slow_delay)

    def _handed_back(self, why: str, message: WorkMessage, delay: int) -> str:
        logger.info("handed back to the queue", extra={"why": why, "shop": message.shop_id,
                                                       "subject": message.subject, "delay": delay})
        return "handed back"
