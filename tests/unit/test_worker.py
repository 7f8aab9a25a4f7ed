"""The one SQS worker (bridge/worker.py): the recipes every queue's worker shares, done once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bridge import queue, worker
from bridge.clients import http
from bridge.clients.http import RateLimited
from bridge.errors import ShopDisconnected, UnknownShop
from bridge.ops import dead_letters
from bridge.queue import WorkMessage


@dataclass
class Context:
    left_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.left_ms


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, WorkMessage, int]]:
    log: list[tuple[str, WorkMessage, int]] = []
    monkeypatch.setattr(queue, "send", lambda url, message, delay_seconds=0: log.append((url, message, delay_seconds)))
    monkeypatch.setattr(worker, "QUEUE_URLS", {"bsale": lambda: "bsale-url", "order": lambda: "order-url",
                                               "sync": lambda: "sync-url"})
    return log


@pytest.fixture
def failures(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int | None]]:
    log: list[tuple[str, str, int | None]] = []

    def record(message_id: str, message: WorkMessage, error: Any, receive_count: int | None = None,
               now: int | None = None, *, queue: str) -> None:
        # `queue` is required: without it the last attempt would not mark the shop's dead letter (status counts)
        assert queue in worker.QUEUE_URLS, queue
        log.append((message_id, error if isinstance(error, str) else f"{type(error).__name__}: {error}", receive_count))

    monkeypatch.setattr(dead_letters, "record_failure", record)
    return log


def record(message_id: str, shop: str = "s1", receives: int = 1) -> dict[str, Any]:
    message = WorkMessage(kind="bsale.notification", shop_id=shop, payload={"n": message_id},
                          subject=f"stock {message_id}")
    return {"messageId": message_id, "receiptHandle": "h", "body": message.model_dump_json(),
            "attributes": {"ApproximateReceiveCount": str(receives)},
            "messageAttributes": {"shop_id": {"stringValue": shop, "dataType": "String"}}}


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@pytest.mark.parametrize("queue_name", ["bsale", "order", "sync"])
def test_each_message_reaches_the_handler_with_its_id_and_the_time_left(sent: list[Any], queue_name: str) -> None:
    seen: list[tuple[str, str, int]] = []

    def handle(work: worker.Work) -> str:
        seen.append((work.message.payload["n"], work.message_id, work.remaining_ms))
        return "done"

    answer = worker.run_batch(batch(record("m1"), record("m2", shop="s2")), Context(), queue_name, handle,  # type: ignore[arg-type]
                              bulk=queue_name == "sync")
    assert answer == {"batchItemFailures": []}
    assert sorted(seen) == [("m1", "m1", 60_000), ("m2", "m2", 60_000)] and sent == []


@pytest.mark.parametrize(("queue_name", "bulk"), [("bsale", False), ("order", False), ("sync", True)])
def test_a_spent_quota_hands_the_message_back_delayed_and_counted(sent: list[Any], failures: list[Any],
                                                                 queue_name: str, bulk: bool) -> None:
    def handle(work: worker.Work) -> str:
        raise RateLimited(2.2, "the shop's Jumpseller quota is spent")

    answer = worker.run_batch(batch(record("m1")), Context(), queue_name, handle, bulk=bulk)  # type: ignore[arg-type]
    assert answer == {"batchItemFailures": []} and failures == []
    [(url, message, delay)] = sent
    assert (url, message.payload, message.deferred, delay) == (f"{queue_name}-url", {"n": "m1"}, 1, 3)


def test_past_the_queues_bound_the_deferral_fails_and_the_reason_is_recorded(sent: list[Any],
                                                                              failures: list[Any]) -> None:
    raw = record("m1", receives=2)
    raw["body"] = WorkMessage.model_validate_json(raw["body"]).model_copy(update={"deferred": 100}).model_dump_json()

    def handle(work: worker.Work) -> str:
        raise RateLimited(1.0, "Jumpseller still answers 429")

    answer = worker.run_batch(batch(raw), Context(), "bsale", handle)  # type: ignore[arg-type]
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]} and sent == []
    [(message_id, error, receives)] = failures
    assert message_id == "m1" and "DeferralsExhausted" in error and "Jumpseller still answers 429" in error
    assert receives == 2


@pytest.mark.parametrize("gone", [UnknownShop("no shop 's1' is connected"), ShopDisconnected("app removed")])
@pytest.mark.parametrize(("queue_name", "bulk"), [("bsale", False), ("order", False), ("sync", True)])
def test_a_shop_no_longer_connected_is_dropped(monkeypatch: pytest.MonkeyPatch, sent: list[Any], failures: list[Any],
                                               gone: Exception, queue_name: str, bulk: bool) -> None:
    actions: list[str] = []
    real = worker.served

    def served(*args: Any) -> str:
        actions.append(real(*args))
        return actions[-1]

    def handle(work: worker.Work) -> str:
        raise gone

    monkeypatch.setattr(worker, "served", served)
    answer = worker.run_batch(batch(record("m1")), Context(), queue_name, handle, bulk=bulk)  # type: ignore[arg-type]
    assert answer == {"batchItemFailures": []} and actions == ["dropped"] and sent == [] and failures == []


def test_any_other_failure_is_recorded_and_retried_alone(sent: list[Any], failures: list[Any]) -> None:
    def handle(work: worker.Work) -> str:
        if work.message_id == "bad":
            raise ValueError("boom")
        return "done"

    answer = worker.run_batch(batch(record("ok"), record("bad", shop="s2", receives=3)), Context(), "order",  # type: ignore[arg-type]
                              handle)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert failures == [("bad", "ValueError: boom", 3)]


def test_a_bulk_slices_calls_end_before_the_invocation_does(sent: list[Any]) -> None:
    seen: list[float | None] = []

    def handle(work: worker.Work) -> str:
        seen.append(http.seconds_left())
        return "done"

    worker.run_batch(batch(record("m1")), Context(left_ms=900_000), "sync", handle, bulk=True)  # type: ignore[arg-type]
    [left] = seen
    assert left is not None and 900 - worker.CALLS_MARGIN_SECONDS - 1 < left <= 900 - worker.CALLS_MARGIN_SECONDS


def test_the_handler_is_wrapped_for_lambda(sent: list[Any]) -> None:
    handler = worker.sqs_worker("bsale", lambda work: "done")
    lambda_context = type("C", (), {"function_name": "f", "memory_limit_in_mb": 128, "invoked_function_arn": "arn",
                                    "aws_request_id": "r", "get_remaining_time_in_millis": lambda self: 60_000})()
    assert handler(batch(record("m1")), lambda_context) == {"batchItemFailures": []}


@pytest.mark.parametrize("queue_name", ["bsale", "order"])
def test_a_batch_reads_each_of_its_shops_once(monkeypatch: pytest.MonkeyPatch, sent: list[Any],
                                              queue_name: str) -> None:
    from bridge.shops import context
    from bridge.store import shops

    reads: list[str] = []

    def require(shop_id: str) -> str:
        reads.append(shop_id)
        return f"shop {shop_id} read {len(reads)}"

    monkeypatch.setattr(shops, "require", require)
    seen: dict[str, set[object]] = {}

    def handle(work: worker.Work) -> str:
        seen.setdefault(work.message.shop_id, set()).add(context.read_shop(work.message.shop_id))
        return "done"

    four = batch(record("m1"), record("m2", shop="s2"), record("m3"), record("m4", shop="s2"))
    assert worker.run_batch(four, Context(), queue_name, handle) == {"batchItemFailures": []}  # type: ignore[arg-type]
    assert sorted(reads) == ["s1", "s2"] and all(len(shop) == 1 for shop in seen.values())
    worker.run_batch(batch(record("m5")), Context(), queue_name, handle)  # type: ignore[arg-type]
    assert sorted(reads) == ["s1", "s1", "s2"]  # the next batch reads the shop again (a change shows there)
    context.read_shop("s1")
    assert len(reads) == 4  # outside a batch (the panel, a CLI): every call reads
