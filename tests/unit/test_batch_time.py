"""A batch inside its invocation's time: no record starts without time for it, a slow shop's others wait."""

from __future__ import annotations

from typing import Any

import pytest

from bridge import batch, queue
from bridge.clients import http
from bridge.clients.http import OutOfTime
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


def test_after_a_failed_record_the_shops_others_wait(clock: Clock, sent: list[Any]) -> None:
    timebox = box(clock)

    def fails() -> str:
        raise UpstreamError("Bsale", "ReadTimeout: no answer", retryable=True)

    with pytest.raises(UpstreamError):
        timebox.run(message("a", 1), fails)
    assert timebox.run(message("a", 2), lambda: "written") == "handed back"
    assert timebox.run(message("b", 3), lambda: "written") == "written"
    assert [m.shop_id for m, _ in sent] == ["a"]
