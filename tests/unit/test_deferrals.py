"""Handing work back while a shop's quota is spent is bounded per queue, by count and by age."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge import queue
from bridge.queue import DeferralsExhausted, WorkMessage
from bridge.settings import settings


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, WorkMessage, int]]:
    log: list[tuple[str, WorkMessage, int]] = []
    monkeypatch.setattr(queue, "send", lambda url, message, delay_seconds=0: log.append((url, message, delay_seconds)))
    return log


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def set_limits(value: str) -> None:
        monkeypatch.setenv("DEFERRAL_LIMITS", value)
        settings.cache_clear()

    yield set_limits
    monkeypatch.delenv("DEFERRAL_LIMITS", raising=False)
    settings.cache_clear()


def message(**fields: Any) -> WorkMessage:
    return WorkMessage(kind="bsale.notification", shop_id="s1", payload={"topic": "stock"}, subject="stock 7",
                       **fields)


def test_a_deferral_carries_its_count_and_first_time_and_the_delay(sent: list[Any]) -> None:
    first = queue.defer("bsale", "url-b", message(), 2.2, "quota spent", now=1000)
    second = queue.defer("bsale", "url-b", first, 1.0, "quota spent", now=1003)
    assert [(url, m.deferred, m.first_deferred_at, delay) for url, m, delay in sent] == [
        ("url-b", 1, 1000, 3), ("url-b", 2, 1000, 1)]
    assert second.payload == {"topic": "stock"} and second.subject == "stock 7"


def test_the_count_bound_fails_the_work_with_its_reason(sent: list[Any], limits: Any) -> None:
    limits('{"bsale": {"count": 2}}')
    with pytest.raises(DeferralsExhausted) as raised:
        queue.defer("bsale", "url-b", message(deferred=2, first_deferred_at=1000), 1.0,
                    "Jumpseller still answers 429", now=1010)
    assert sent == []
    assert "Jumpseller still answers 429" in str(raised.value)
    assert "handed back 2 times over 10 s" in str(raised.value)
    # Below the bound it is still handed back; other queues keep their own defaults.
    queue.defer("bsale", "url-b", message(deferred=1, first_deferred_at=1000), 1.0, "x", now=1010)
    queue.defer("order", "url-o", message(deferred=50, first_deferred_at=1000), 1.0, "x", now=1010)
    assert len(sent) == 2


def test_the_age_bound_fails_the_work_however_few_the_deferrals(sent: list[Any], limits: Any) -> None:
    limits('{"order": {"minutes": 5}}')
    queue.defer("order", "url-o", message(deferred=3, first_deferred_at=1000), 1.0, "x", now=1000 + 299)
    with pytest.raises(DeferralsExhausted):
        queue.defer("order", "url-o", message(deferred=3, first_deferred_at=1000), 1.0, "x", now=1000 + 300)
    assert len(sent) == 1


def test_every_queue_of_the_dead_letter_registry_has_a_limit() -> None:
    from bridge.ops.dead_letters import NAMES

    assert set(queue.DEFERRAL_LIMITS) == set(NAMES)
