"""F19 on the local stack: the schedule queues each shop's SII watch on the sync queue, the sync worker reads the
verdicts from the Bsale sandbox (which decides later, like the SII) and acts on them; the operator fixes a rejected
document with one command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from admin import main as admin
from bridge.models.order_record import OrderState
from bridge.observability import metrics
from bridge.store import jobs
from bridge.sync.jobs import SII_WATCH
from devstack import LocalStack
from tests.e2e import test_orders
from tests.e2e.conftest import eventually
from tests.e2e.test_orders import OrderShop

S = OrderState
REJECTION = "Rechazado - Error en RUT Receptor (RCH-07)"

# The order tests' shop (connected, three SKUs linked), shared with test_orders.py.
order_shop = test_orders.order_shop


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, float]]]:
    """The metrics the stack's functions emit (they run in this process), as (name, value)."""
    seen: list[tuple[str, float]] = []
    original = metrics.add_metric

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append((str(kwargs.get("name", args[0] if args else "")), float(kwargs.get("value", 0))))
        return original(*args, **kwargs)

    monkeypatch.setattr(metrics, "add_metric", recording)
    yield seen


def tick(shop: OrderShop) -> dict[str, Any]:
    """Fire the schedule once and wait for this shop's SII watch to be done; return what it found."""
    before = jobs.get(shop.code, SII_WATCH)
    answer = shop.stack.fire_schedule("ScheduledSyncFunction")
    assert shop.code in answer["sii_watches"]
    return finished(shop, before)


def watch_again(shop: OrderShop) -> dict[str, Any]:
    """Run this shop's SII watch once more without the schedule (a replayed or operator-queued job)."""
    from bridge.sync.jobs import request

    before = jobs.get(shop.code, SII_WATCH)
    assert request(shop.code, SII_WATCH, reason="replay") is not None
    return finished(shop, before)


def finished(shop: OrderShop, before: dict[str, Any] | None) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        record = jobs.get(shop.code, SII_WATCH)
        fresh = record is not None and (before is None or record["run_id"] != before["run_id"])
        return jobs.result_of(record) if fresh and record and record.get("status") == "done" else None

    result = eventually(done, timeout=60)
    assert shop.stack.drain(60)
    return result  # type: ignore[no-any-return]


def total(seen: list[tuple[str, float]], name: str) -> float:
    return sum(value for metric, value in seen if metric == name)


def notes(shop: OrderShop, order_id: int, text: str) -> int:
    return sum(1 for h in shop.store.order(order_id).history if text in h["message"])


def test_an_accepted_document_is_followed_and_nothing_is_flagged(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    shop.account.decide_sii(0)  # "sent" when made, accepted by the time the watch looks
    order_id = shop.order([("POL-S", 1)])
    shop.pay(order_id)
    record = shop.settled(order_id, S.CREATED)
    assert record.document is not None and record.document.sii_status == "sent"

    result = tick(shop)

    assert result["accepted"] == 1 and result["rejected"] == [] and result["overdue"] == []
    assert result["calls"] == 2  # the "sent" list and the "rejected" list
    record = shop.settled(order_id, S.CREATED)
    assert record.document is not None and record.document.sii_status == "accepted"
    # Nothing outstanding any more: the schedule queues no watch for this shop (no job, no Bsale call)
    assert shop.code not in shop.stack.fire_schedule("ScheduledSyncFunction")["sii_watches"]
    assert watch_again(shop)["calls"] == 0  # and a watch run anyway finds nothing to ask Bsale
    assert admin(["sii-watch", shop.code]) == 0  # the operator's "look now": nothing to report
    assert admin(["status", shop.code, "--no-dead-letters"]) == 0


def test_a_rejection_is_flagged_once_and_fix_rejected_makes_one_credit_note_and_one_new_document(
    order_shop: Callable[..., OrderShop], emitted: list[tuple[str, float]], capsys: pytest.CaptureFixture[str],
) -> None:
    shop = order_shop()
    shop.account.decide_sii(2, message=REJECTION)
    order_id = shop.order([("POL-S", 1), ("TAZA-1", 1)])
    shop.pay(order_id)
    shop.settled(order_id, S.CREATED)
    [boleta] = shop.documents(order_id)

    result = tick(shop)

    assert result["rejected"] == [boleta.id]
    assert total(emitted, "SiiRejectedDocuments") == 1  # the alarm's metric
    record = shop.settled(order_id, S.REJECTED)
    assert record.error is not None and record.error.upstream == REJECTION and record.error.code == "sii_rejected"
    assert notes(shop, order_id, REJECTION) == 1  # the Jumpseller order's history says so
    capsys.readouterr()
    assert admin(["status", shop.code, "--no-dead-letters"]) == 1
    assert f"order {order_id} rejected" in (out := capsys.readouterr().out) and f"SII: {REJECTION}" in out
    assert admin(["orders", shop.code, "--state", "rejected", "--json"]) == 0
    (rejected,) = json.loads(capsys.readouterr().out)["orders"]
    assert (rejected["order"], rejected["state"]) == (order_id, "rejected")
    assert (rejected["problem"]["code"], rejected["problem"]["upstream"]) == ("sii_rejected", REJECTION)
    assert admin(["orders", shop.code, "--state", "rejected"]) == 0
    assert f"El SII dijo: «{REJECTION}»" in capsys.readouterr().out

    # A replay of the schedule queues nothing (the verdict settled the document), and a replayed watch flags
    # nothing twice
    emitted.clear()
    assert shop.code not in shop.stack.fire_schedule("ScheduledSyncFunction")["sii_watches"]
    assert watch_again(shop)["rejected"] == []
    assert total(emitted, "SiiRejectedDocuments") == 0
    assert notes(shop, order_id, REJECTION) == 1
    assert shop.record(order_id).state is S.REJECTED  # type: ignore[union-attr]

    # The operator fixes it (the SII accepts from now on): one credit note, one new document, the next salesId
    shop.account.decide_sii(0)
    assert admin(["fix-rejected", shop.code, str(order_id)]) == 0
    assert admin(["fix-rejected", shop.code, str(order_id)]) == 1  # again: refused, nothing made
    record = shop.settled(order_id, S.CREATED)
    returns = [r for r in shop.account.returns.values() if r.reference_document_id == boleta.id]
    documents = shop.documents(order_id)
    assert len(returns) == 1 and len(documents) == 2
    [new] = [d for d in documents if d.id != boleta.id]
    assert new.sales_id == f"js-{shop.code}-{order_id}-2" and returns[0].credit_note_id < new.id
    assert record.document is not None and record.document.id == new.id and record.generation == 2
    assert tick(shop)["accepted"] == 1  # the new document is followed too
    assert len(shop.documents(order_id)) == 2 and len(shop.account.returns) == 1


def test_a_document_stuck_in_sent_past_the_limit_is_flagged_once(
    order_shop: Callable[..., OrderShop], emitted: list[tuple[str, float]], stack: LocalStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shop = order_shop(sii_overdue_after_minutes=0)
    shop.account.decide_sii(1)  # the SII never answers
    order_id = shop.order([("POL-S", 1)])
    shop.pay(order_id)
    shop.settled(order_id, S.CREATED)
    [boleta] = shop.documents(order_id)

    first = tick(shop)

    assert first["overdue"] == [boleta.id] and first["still_overdue"] == 1
    assert total(emitted, "SiiOverdueDocuments") >= 1
    record = shop.record(order_id)
    assert record is not None and record.document is not None and record.document.sii_overdue_at
    capsys.readouterr()
    assert admin(["status", shop.code, "--no-dead-letters"]) == 1
    assert "not decided by the SII" in capsys.readouterr().out
    second = tick(shop)  # a replay: flagged once, still counted by the gauge
    assert second["overdue"] == [] and second["still_overdue"] == 1
    capsys.readouterr()
    assert admin(["sii-watch", shop.code, "--json"]) == 1  # the operator's "look now" says it is still late
    assert json.loads(capsys.readouterr().out)["still_overdue"] == 1
    shop.account.set_informed_sii(boleta.id, 0)
    assert tick(shop)["accepted"] == 1
