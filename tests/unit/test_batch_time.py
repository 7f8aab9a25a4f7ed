"""A batch inside its invocation's time: no record starts without time for it, a slow shop's others wait."""

from __future__ import annotations

from typing import Any

import pytest

from bridge import batch, queue
from bridge.clients import http
from bridge.clients.http import NoAnswer, OutOfTime
from bridge.errors import UpstreamError
from bridge.queue import WorkMessage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(batch.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(http.time, "monotonic", fake.monotonic)
    return fake


@pytest.fixture(autouse=True)
def forget_slow_shops() -> None:
    batch._slow_until.clear()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[WorkMessage, int]]:
    log: list[tuple[WorkMessage, int]] = []
    monkeypatch.setattr(queue, "send", lambda url, message, delay_seconds=0: log.append((message, delay_seconds)))
    return log


def message(shop: str, n: int) -> WorkMessage:
    return WorkMessage(kind="bsale.notification", shop_id=shop, payload={"n": n}, subject=f"stock {n}")


def box(clock: Clock, seconds: float = 30.0) -> batch.TimeBox:
    started = clock.now
    return batch.TimeBox("bsale", "url", lambda: int((started + seconds - clock.now) * 1000))


def test_calls_end_before_the_invocation_does(clock: Clock, sent: list[Any]) -> None:
    timebox = box(clock)
    seen: list[float | None] = []
    assert timebox.run(message("a", 1), lambda: seen.append(http.seconds_left()) or "done") == "done"
    assert seen == [30.0 - batch.REPORT_SECONDS] and sent == []


def test_records_are_not_started_without_time_and_go_back_unchanged_at_once(clock: Clock, sent: list[Any]) -> None:
    timebox = box(clock)
    clock.now += 30.0 - batch.REPORT_SECONDS - batch.START_SECONDS + 0.5  # less than START_SECONDS left
    ran: list[int] = []
    assert timebox.run(message("b", 2), lambda: ran.append(2)) == "handed back"
    assert ran == [] and [(m.payload, m.deferred, delay) for m, delay in sent] == [({"n": 2}, 0, 0)]


def test_work_that_runs_out_of_time_goes_back_whole(clock: Clock, sent: list[Any]) -> None:
    timebox = box(clock)

    def work() -> str:
        raise OutOfTime("Bsale")

    assert timebox.run(message("b", 3), work) == "handed back"
    assert [(m.payload, delay) for m, delay in sent] == [({"n": 3}, 0)]
    assert timebox.slow_shops == set()  # its shop was not at fault


def test_after_a_slow_record_the_shops_others_wait_and_other_shops_go_on(clock: Clock, sent: list[Any]) -> None:
    timebox = box(clock)

    def slow() -> str:
        clock.now += batch.SLOW_SECONDS + 0.1
        return "written"

    assert timebox.run(message("a", 1), slow) == "written"
    ran: list[str] = []
    assert timebox.run(message("a", 2), lambda: ran.append("a")) == "handed back"
    assert timebox.run(message("b", 3), lambda: ran.append("b") or "written") == "written"
    assert ran == ["b"]
    assert [(m.shop_id, m.payload, m.deferred, delay) for m, delay in sent] == [
        ("a", {"n": 2}, 1, batch.SLOW_SHOP_DELAY)]  # a deferral: counted, so bounded


def test_after_a_call_with_no_answer_the_shops_others_wait(clock: Clock, sent: list[Any]) -> None:
    timebox = box(clock)

    def fails() -> str:
        raise NoAnswer("Bsale", "ReadTimeout: no answer")

    with pytest.raises(NoAnswer):
        timebox.run(message("a", 1), fails)
    assert timebox.run(message("a", 2), lambda: "written") == "handed back"
    assert timebox.run(message("b", 3), lambda: "written") == "written"
    assert [m.shop_id for m, _ in sent] == ["a"]


def test_the_process_remembers_a_slow_shop_for_a_while_then_tries_it_again(clock: Clock, sent: list[Any]) -> None:
    def slow() -> str:
        clock.now += batch.SLOW_SECONDS + 0.1
        return "written"

    assert box(clock).run(message("a", 1), slow) == "written"
    # A later batch hands the shop's records back without a call while it is remembered slow
    ran: list[int] = []
    assert box(clock).run(message("a", 2), lambda: ran.append(2)) == "handed back"
    assert ran == [] and [m.shop_id for m, _ in sent] == ["a"]
    # Once that time has passed, one is tried again (one only: meanwhile the others still go back)
    clock.now += batch.SLOW_SHOP_DELAY + 0.1
    during: list[str] = []

    def probing() -> str:
        during.append(str(box(clock).run(message("a", 9), lambda: "written")))
        return "written"

    assert box(clock).run(message("a", 3), probing) == "written"
    assert during == ["handed back"]
    # It was quick, so the shop is forgotten
    assert batch.known_slow("bsale", "a") is None
    assert box(clock).run(message("a", 4), lambda: "written") == "written"


@pytest.mark.parametrize("error", [UpstreamError("Jumpseller", "500 one product", retryable=True),
                                   KeyError("a bug of ours")])
def test_a_quick_failure_is_the_records_not_the_shops(clock: Clock, sent: list[Any], error: Exception) -> None:
    timebox = box(clock)

    def fails() -> str:
        raise error

    with pytest.raises(type(error)):
        timebox.run(message("a", 1), fails)
    # SQS retries that one (and dead-letters it if it keeps failing); the shop's others go on
    assert timebox.run(message("a", 2), lambda: "written") == "written"
    assert sent == [] and batch.known_slow("bsale", "a") is None


def test_a_batch_puts_the_records_of_shops_known_slow_last(clock: Clock) -> None:
    def record(shop: str, n: int, attribute: bool = True) -> dict[str, Any]:
        body = message(shop, n).model_dump_json()
        attributes = {"shop_id": {"stringValue": shop, "dataType": "String"}} if attribute else {}
        return {"messageId": f"m{n}", "body": body, "messageAttributes": attributes}

    batch.remember_slow("bsale", "a", 10)
    event = {"Records": [record("a", 1), record("b", 2), record("a", 3, attribute=False), record("c", 4)]}
    assert [r["messageId"] for r in batch.slow_last(event, "bsale")["Records"]] == ["m2", "m4", "m1", "m3"]
    # Per queue: the order worker does not hold a shop slow because the catalog worker found it so
    assert [r["messageId"] for r in batch.slow_last(event, "order")["Records"]] == ["m1", "m2", "m3", "m4"]


def raw(shop: str, n: int) -> dict[str, Any]:
    return {"messageId": f"m{n}", "body": message(shop, n).model_dump_json(),
            "messageAttributes": {"shop_id": {"stringValue": shop, "dataType": "String"}}}


def test_shops_of_a_batch_run_side_by_side_each_in_order() -> None:
    import threading

    b_done = threading.Event()
    seen: list[str] = []

    def handle(record: dict[str, Any]) -> None:
        message_id = record["messageId"]
        if message_id == "m1":  # shop a's first record waits for shop b's: run one after the other, it never would
            assert b_done.wait(timeout=30), "shop b's record waited behind shop a's"
        seen.append(message_id)
        if message_id == "m4":
            b_done.set()

    answer = batch.by_shop({"Records": [raw("a", 1), raw("a", 2), raw("b", 3), raw("b", 4)]}, "bsale", handle)
    assert answer == {"batchItemFailures": []}
    assert seen.index("m1") < seen.index("m2") and seen.index("m3") < seen.index("m4") < seen.index("m1")


def test_a_batch_reports_only_the_records_that_failed() -> None:
    def handle(record: dict[str, Any]) -> None:
        if record["messageId"] in ("m2", "m3"):
            raise UpstreamError("Bsale", "503", retryable=True)

    answer = batch.by_shop({"Records": [raw("a", 1), raw("a", 2), raw("b", 3), raw("c", 4)]}, "bsale", handle)
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == ["m2", "m3"]
