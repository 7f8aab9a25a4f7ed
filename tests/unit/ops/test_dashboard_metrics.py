"""The dashboard's own metrics: each emitted at its one place, with the value the panel plots.

UpstreamThrottled (bridge/clients/http.py), PropagationLatency (bridge/sync/worker.py), DocumentLatency
(bridge/orders/worker.py). The workers' collaborators are replaced, so only the emission is under test.
"""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
import requests

from bridge.clients import http as http_module
from bridge.clients.bsale import BsaleClient
from bridge.clients.http import Pace
from bridge.models.jumpseller_order import JumpsellerOrder
from bridge.observability import metrics
from bridge.orders import worker as order_worker
from bridge.orders.protocol import Result
from bridge.queue import WorkMessage
from bridge.sync import worker as catalog_worker
from bridge.sync.stock import Outcome


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, float]]:
    seen: list[tuple[str, str, float]] = []

    def add_metric(name: str, unit: Any, value: float, **_: Any) -> None:
        seen.append((name, str(getattr(unit, "value", unit)), value))

    monkeypatch.setattr(metrics, "add_metric", add_metric)
    return seen


def named(seen: list[tuple[str, str, float]], name: str) -> list[tuple[str, str, float]]:
    return [m for m in seen if m[0] == name]


# ------------------------------------------------------------------------------------------- 429s

class Scripted:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = self.statuses.pop(0)
        response._content = b'{"items": [{"quantityAvailable": 2.0, "variant": {"id": "7"}, "office": {"id": "1"}}]}'
        return response


def test_every_429_answer_is_counted_once(monkeypatch: pytest.MonkeyPatch, emitted: list[Any]) -> None:
    monkeypatch.setattr(http_module.time, "sleep", lambda _: None)
    client = BsaleClient("tok", "http://bsale.test", session=Scripted([429, 429, 200]))  # type: ignore[arg-type]
    client.pace = Pace(1000)
    assert client.available_stock("7", "1") == 2
    assert named(emitted, "UpstreamThrottled") == [("UpstreamThrottled", "Count", 1), ("UpstreamThrottled", "Count", 1)]


def test_other_errors_are_not_429s(monkeypatch: pytest.MonkeyPatch, emitted: list[Any]) -> None:
    monkeypatch.setattr(http_module.time, "sleep", lambda _: None)
    client = BsaleClient("tok", "http://bsale.test", session=Scripted([503, 200]))  # type: ignore[arg-type]
    client.pace = Pace(1000)
    client.available_stock("7", "1")
    assert named(emitted, "UpstreamThrottled") == []


# ------------------------------------------------------------------------------------------- propagation latency

def catalog(monkeypatch: pytest.MonkeyPatch, action: str, kind: str, age: int) -> None:
    monkeypatch.setattr(catalog_worker, "open_shop", lambda *a, **k: object())
    monkeypatch.setattr(catalog_worker, "_act", lambda ctx, message: Outcome(action, ""))
    message = WorkMessage(kind=kind, shop_id="s1", payload={}, received_at=int(time.time()) - age)  # type: ignore[arg-type]
    catalog_worker.handle_catalog_event(message)


def test_a_bsale_change_written_to_jumpseller_reports_its_age(monkeypatch: pytest.MonkeyPatch,
                                                              emitted: list[Any]) -> None:
    catalog(monkeypatch, "written", "bsale.notification", age=42)
    [(_, unit, value)] = named(emitted, "PropagationLatency")
    assert unit == "Seconds" and 42 <= value <= 43


@pytest.mark.parametrize(("action", "kind"), [("unchanged", "bsale.notification"), ("dropped", "bsale.notification"),
                                              ("written", "stock.resync"), ("linked", "jumpseller.webhook")])
def test_nothing_propagated_reports_no_latency(monkeypatch: pytest.MonkeyPatch, emitted: list[Any],
                                               action: str, kind: str) -> None:
    catalog(monkeypatch, action, kind, age=42)
    assert named(emitted, "PropagationLatency") == []


# ------------------------------------------------------------------------------------------- document latency

def paid(monkeypatch: pytest.MonkeyPatch, action: str, age: int) -> None:
    monkeypatch.setattr(order_worker, "open_shop", lambda *a, **k: object())
    monkeypatch.setattr(order_worker.flow, "on_paid", lambda *a, **k: Result(action))
    monkeypatch.setattr(order_worker, "_restore_stock", lambda *a, **k: None)
    message = WorkMessage(kind="jumpseller.webhook", shop_id="s1", received_at=int(time.time()) - age,
                          payload={"event": "order_paid", "body": {"order": {"id": 5}}})
    order_worker._handle(message, "order_paid", cast(JumpsellerOrder, object()), "attempt-1")


def test_a_document_made_reports_the_time_since_the_payment_arrived(monkeypatch: pytest.MonkeyPatch,
                                                                     emitted: list[Any]) -> None:
    paid(monkeypatch, "created", age=90)
    [(_, unit, value)] = named(emitted, "DocumentLatency")
    assert unit == "Seconds" and 90 <= value <= 91
    assert named(emitted, "OrdersCreated")


@pytest.mark.parametrize("action", ["consumed", "failed", "in_progress", "unchanged"])
def test_no_document_made_reports_no_document_latency(monkeypatch: pytest.MonkeyPatch, emitted: list[Any],
                                                      action: str) -> None:
    paid(monkeypatch, action, age=90)
    assert named(emitted, "DocumentLatency") == []
