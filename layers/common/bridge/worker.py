"""The one SQS worker: what every queue's worker does with a batch, so each says only what it does with a message.

    lambda_handler = sqs_worker("order", lambda work: handle_jumpseller(work.message, attempt=...))

For every record of the batch (Lambda's partial batch response: a record that fails is retried alone):

- its message id is the log's correlation id, its body is read as a `WorkMessage`, and a failure is recorded under
  the message id (`failures_recorded`: `./dev admin dlq inspect` shows why) before SQS retries it;
- each shop the batch names is read from the table once, when its first record opens it (`shops_read_once`);
- time: a live queue's records run inside the invocation's time, each shop's in order and the shops side by side
  (`batch.TimeBox`, `batch.by_shop`); a bulk slice (one a batch) gets the time left and its calls end
  CALLS_MARGIN_SECONDS before the invocation does (it stops on its own budget well before);
- a shop whose API quota stays spent (`RateLimited`): the message goes back to its queue delayed, and other shops
  are served meanwhile, as often as the queue allows (`queue.defer`); then it fails into the dead letters with
  the reason (`DeferralsExhausted`);
- a shop no longer connected (`UnknownShop`, the app removed: `ShopDisconnected`): the message is dropped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge import queue
from bridge.batch import TimeBox, by_shop
from bridge.clients.http import RateLimited, calls_end_by
from bridge.errors import UnknownShop
from bridge.observability import logger, metrics
from bridge.queue import WorkMessage
from bridge.settings import settings
from bridge.shops.context import shops_read_once

CALLS_MARGIN_SECONDS = 10  # a bulk slice: to save the checkpoint and answer, after the last call

# The queues by their names in the dead-letter registry (bridge/ops/dead_letters.py), which name their deferral limits.
QUEUE_URLS: dict[str, Callable[[], str]] = {
    "bsale": lambda: settings().catalog_queue_url,
    "order": lambda: settings().order_queue_url,
    "sync": lambda: settings().sync_queue_url,
}


@dataclass(frozen=True)
class Work:
    """One record's work, as a worker sees it."""

    message: WorkMessage
    message_id: str  # SQS's: the same message coming back after a crash carries it again
    remaining_ms: int  # the invocation's time left when the record started


Handle = Callable[[Work], str]  # what a worker does with a message; answers the action taken


def sqs_worker(queue_name: str, handle: Handle, *, bulk: bool = False) -> Callable[[dict[str, Any], LambdaContext],
                                                                                    dict[str, Any]]:
    """The Lambda handler of the worker of `queue_name`: `handle` on every message, with every recipe above."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return run_batch(event, context, queue_name, handle, bulk=bulk)

    return lambda_handler


def run_batch(event: dict[str, Any], context: LambdaContext, queue_name: str, handle: Handle, *,
              bulk: bool = False) -> dict[str, Any]:
    """Every record of an SQS batch through `handle`; answers Lambda's partial batch response."""
    queue_url = QUEUE_URLS[queue_name]()
    box = None if bulk else TimeBox(queue_name, queue_url, context.get_remaining_time_in_millis)

    def record_handler(raw: dict[str, Any]) -> str:
        record = SQSRecord(raw)
        logger.set_correlation_id(record.message_id)
        message = WorkMessage.model_validate_json(record.body)
        remaining = context.get_remaining_time_in_millis()
        work = Work(message, record.message_id, remaining)
        # With its queue, the last attempt SQS allows also marks the message dead-lettered for its shop's status.
        with _failures_recorded(record.message_id, message, int(record.attributes.approximate_receive_count),
                                queue=queue_name):
            if box is not None:
                return box.run(message, lambda: served(queue_name, queue_url, work, handle))
            # No call may outlive the invocation, whatever the slice does.
            with calls_end_by(time.monotonic() + remaining / 1000 - CALLS_MARGIN_SECONDS):
                return served(queue_name, queue_url, work, handle)

    with shops_read_once():
        return by_shop(event, queue_name, record_handler)


@contextmanager
def _failures_recorded(message_id: str, message: WorkMessage, receive_count: int, *, queue: str) -> Iterator[None]:
    """`dead_letters.failures_recorded` around the work, imported by the first record that fails: the dead-letter
    module (its registry, listings and replays) is no part of a worker's cold start (issue 12)."""
    try:
        yield
    except Exception:
        from bridge.ops.dead_letters import failures_recorded

        with failures_recorded(message_id, message, receive_count, queue=queue):
            raise  # the same exception, recorded on its way out


def served(queue_name: str, queue_url: str, work: Work, handle: Handle) -> str:
    """`handle(work)`, with a spent quota handed back delayed and a shop no longer connected dropped."""
    message = work.message
    try:
        return handle(work)
    except UnknownShop:
        logger.warning("work for a shop that is no longer connected: dropped",
                       extra={"shop": message.shop_id, "kind": message.kind, "subject": message.subject})
        return "dropped"
    except RateLimited as exc:
        # Anything the handler had claimed was let go on the way out (bridge/orders/flow.py), so the copy resumes it.
        queue.defer(queue_name, queue_url, message, exc.seconds, exc.reason)
        logger.info("work deferred: the shop's API quota is spent",
                    extra={"shop": message.shop_id, "kind": message.kind, "subject": message.subject,
                           "seconds": math.ceil(exc.seconds), "reason": exc.reason})
        return "deferred"
