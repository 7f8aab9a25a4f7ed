"""SQS event sources: long-poll a queue and invoke the function with Lambda's SQS batch events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devstack.events import sqs_event
from devstack.functions import Invocation, LocalFunction
from devstack.resources import QueueInfo

log = logging.getLogger("devstack")


@dataclass
class SqsSource:
    function: LocalFunction
    event_name: str
    queue: QueueInfo
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_concurrency: int = 2
    enabled: bool = True


class SqsPoller:
    """``maximum_concurrency`` threads, each receiving (long poll, 1 s) and invoking one batch at a time.

    Deletion follows Lambda: with ``ReportBatchItemFailures`` every record not listed in ``batchItemFailures``
    is deleted; without it the whole batch is deleted on success; after an error nothing is deleted and the
    messages come back after the queue's visibility timeout (or after ``retry_visibility_seconds`` when time
    compression is on), so SQS's redrive policy moves repeat failures to the DLQ.
    """

    def __init__(
        self,
        source: SqsSource,
        sqs: Any,
        stop: threading.Event,
        record: Callable[[Invocation], None],
        retry_visibility_seconds: int | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.source = source
        self.sqs = sqs
        self.stop_event = stop
        self.record = record
        self.retry_visibility_seconds = retry_visibility_seconds
        self.region = region
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(max(1, self.source.maximum_concurrency)):
            name = f"devstack-sqs-{self.source.function.logical_id}-{self.source.event_name}-{i}"
            thread = threading.Thread(target=self._loop, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            thread.join(timeout=timeout)

    def _loop(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            try:
                self.poll_once()
                failures = 0
            except (ClientError, BotoCoreError) as exc:
                if self.stop_event.is_set():
                    return
                failures += 1
                log.warning("polling %s failed (%s); retrying", self.source.queue.name, exc)
                self.stop_event.wait(min(5.0, 0.2 * 2**failures))
            except Exception:  # never let a poller die silently
                log.exception("poller for %s crashed; restarting", self.source.queue.name)
                self.stop_event.wait(1.0)

    def poll_once(self, wait_seconds: int = 1) -> Invocation | None:
        """Receive one batch and process it. Returns the invocation, or ``None`` when the queue was empty."""
        queue = self.source.queue
        response = self.sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=max(1, min(self.source.batch_size, 10)),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages") or []
        if not messages:
            return None
        function = self.source.function
        # Counted in flight before the invocation and until the deletes are done (drain relies on it).
        if function.on_invoke:
            function.on_invoke(function, True)
        try:
            return self._process(messages)
        finally:
            if function.on_invoke:
                function.on_invoke(function, False)

    def _process(self, messages: list[dict[str, Any]]) -> Invocation:
        queue = self.source.queue
        event = sqs_event(messages, queue.arn, self.region)
        record, result, error = self.source.function.run(event, kind="sqs")
        by_id = {m["MessageId"]: m for m in messages}
        failed_ids: list[str]
        if error is not None:
            failed_ids = list(by_id)
        elif self.source.report_batch_item_failures:
            failed_ids = self._reported_failures(result, by_id)
        else:
            failed_ids = []
        succeeded = [mid for mid in by_id if mid not in set(failed_ids)]
        self._delete(queue, [by_id[mid] for mid in succeeded])
        if failed_ids and self.retry_visibility_seconds is not None:
            self._make_visible(queue, [by_id[mid] for mid in failed_ids])
        record.succeeded, record.failed = succeeded, failed_ids
        record.ok = error is None and not failed_ids
        record.detail = f"{queue.logical_id}: {len(messages)} message(s), {len(succeeded)} ok"
        if failed_ids:
            retry_in = self.retry_visibility_seconds
            when = f"{retry_in} s" if retry_in is not None else f"{queue.visibility_timeout} s (visibility timeout)"
            record.detail += f", {len(failed_ids)} failed (retry in {when}"
            if queue.max_receive_count:
                counts = [int(by_id[m].get("Attributes", {}).get("ApproximateReceiveCount", 1)) for m in failed_ids]
                record.detail += f"; receive {max(counts)} of {queue.max_receive_count} before the DLQ"
            record.detail += ")"
        self.record(record)
        return record

    def _reported_failures(self, result: Any, by_id: dict[str, Any]) -> list[str]:
        """Lambda's rules for a ``ReportBatchItemFailures`` response: an invalid one fails the whole batch."""
        if result is None:
            return []
        if not isinstance(result, dict):
            return []
        items = result.get("batchItemFailures")
        if items is None:
            return []
        if not isinstance(items, list):
            log.warning("%s: batchItemFailures is not a list; the whole batch fails", self.source.function.logical_id)
            return list(by_id)
        failed: list[str] = []
        for item in items:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in by_id:
                log.warning(
                    "%s: batchItemFailures has an invalid itemIdentifier %r; the whole batch fails",
                    self.source.function.logical_id, identifier,
                )  # fmt: skip
                return list(by_id)
            if identifier not in failed:
                failed.append(identifier)
        return failed

    def _delete(self, queue: QueueInfo, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            response = self.sqs.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in response.get("Failed") or []:
                log.warning("could not delete a message from %s: %s", queue.name, failure.get("Message"))

    def _make_visible(self, queue: QueueInfo, messages: list[dict[str, Any]]) -> None:
        seconds = self.retry_visibility_seconds
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=queue.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
                    for i, m in enumerate(chunk)
                ],
            )
