"""F6, F8, F9 through the local stack: held stock, consumptions when documents are off, cancellations."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from admin import main as admin
from bridge.models.order_record import OrderState
from bridge.store import held
from tests.e2e import test_orders
from tests.e2e.conftest import eventually
from tests.e2e.faults import Crash
from tests.e2e.test_orders import OrderShop

# The order fixtures live with the document tests.
order_shop = test_orders.order_shop

S = OrderState


# ------------------------------------------------------------------------------------------------ held stock (F6)


def test_pending_orders_hold_stock_once_and_the_push_to_jumpseller_subtracts_it(
    order_shop: Callable[..., OrderShop], capsys: pytest.CaptureFixture[str]
) -> None:
    shop = order_shop(document_mode="manual")
    first = shop.order([("POL-S", 2)])
    shop.order([("POL-S", 1), ("TAZA-1", 3)])
    assert held.held_by_sku(shop.code) == {"POL-S": 3, "TAZA-1": 3}
    # A duplicate delivery of order_pending_payment holds nothing more
    assert shop.deliver("order_pending_payment", first).status_code == 200
    assert shop.stack.drain(60)
    assert held.held_by_sku(shop.code) == {"POL-S": 3, "TAZA-1": 3}
    # Bsale's stock changes: Jumpseller gets Bsale's available minus what pending orders hold
    shop.account.set_stock(shop.demo.variant_id("POL-S"), shop.demo.office_id, 10)
    eventually(lambda: shop.demo.jumpseller_stock("POL-S") == 7)
    assert admin(["orders", shop.code]) == 0
    assert "held by pending orders: POL-S=3, TAZA-1=3" in capsys.readouterr().out


def test_paid_canceled_and_abandoned_release_exactly_what_they_held(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    paid = shop.order([("POL-M", 1)])
    canceled = shop.order([("TAZA-1", 2)])
    abandoned = shop.order([("TAZA-1", 1), ("POL-M", 1)])
    assert held.held_by_sku(shop.code) == {"POL-M": 2, "TAZA-1": 3}
    # Each releases its own units, no more and no less
    shop.pay(paid)
    shop.settled(paid, S.CREATED)
    assert held.held_by_sku(shop.code) == {"POL-M": 1, "TAZA-1": 3}
    shop.store.cancel_order(canceled)
    shop.settled(canceled, S.CANCELED)
    assert held.held_by_sku(shop.code) == {"POL-M": 1, "TAZA-1": 1}
    shop.store.abandon_order(abandoned)
    eventually(lambda: held.held_by_sku(shop.code) == {})
    # Late and repeated events release nothing more (and never below zero)
    for event, order_id in (("order_canceled", canceled), ("order_abandoned", abandoned), ("order_paid", paid),
                            ("order_pending_payment", canceled)):
        assert shop.deliver(event, order_id).status_code == 200
    assert shop.stack.drain(60)
    assert held.held_by_sku(shop.code) == {}
    assert held.active(shop.code) == []


def test_events_out_of_order_change_nothing_beyond_the_first_correct_effect(
    order_shop: Callable[..., OrderShop]
) -> None:
    shop = order_shop()
    shop.jumpseller_sandbox.faults.clear()
    # Given a canceled order whose paid and pending webhooks reach us after the cancellation
    order_id = shop.order([("POL-S", 1)])
    paid_body = {"order": {**shop.body(order_id)["order"], "status_enum": "paid", "status": "Paid"}}
    pending_body = shop.body(order_id)
    shop.store.cancel_order(order_id)
    shop.settled(order_id, S.CANCELED)
    assert shop.deliver("order_paid", order_id, paid_body).status_code == 200
    assert shop.deliver("order_pending_payment", order_id, pending_body).status_code == 200
    assert shop.stack.drain(60)
    # Then nothing was emitted and nothing stays held
    assert shop.record(order_id).state is S.CANCELED  # type: ignore[union-attr]
    assert shop.bsale_posts("/v1/") == [] and held.held_by_sku(shop.code) == {}


# ------------------------------------------------------------------------------------------------ no documents (F8)


def test_documents_off_a_paid_order_is_one_stock_consumption_even_across_a_crash(
    order_shop: Callable[..., OrderShop], crash_at: Callable[[str], Crash]
) -> None:
    shop = order_shop(documents=False)
    order_id = shop.order([("POL-S", 2), ("TAZA-1", 1)])
    before = (shop.stock("POL-S"), shop.stock("TAZA-1"))
    crashed = crash_at("consumption_posted")
    shop.pay(order_id)
    record = shop.settled(order_id, S.CONSUMED)
    assert crashed  # the first attempt died after Bsale made the consumption
    consumptions = [m for (kind, _), m in shop.account.movements.items() if kind == "consumption"]
    assert len(consumptions) == 1 and len(shop.bsale_posts("/v1/stocks/consumptions.json")) == 1
    assert consumptions[0].note == record.consumption.reference  # type: ignore[union-attr]
    assert (shop.stock("POL-S"), shop.stock("TAZA-1")) == (before[0] - 2, before[1] - 1)
    assert shop.bsale_posts("/v1/documents.json") == [] and held.held_by_sku(shop.code) == {}
    assert any("consumo de stock" in h["message"] for h in shop.store.order(order_id).history)


# ------------------------------------------------------------------------------------------------ cancellation (F9)


def test_canceled_after_its_document_gets_one_credit_note_for_all_lines(
    order_shop: Callable[..., OrderShop], crash_at: Callable[[str], Crash]
) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-S", 2), ("TAZA-1", 1)], shipping=2990)
    shop.pay(order_id)
    shop.settled(order_id, S.CREATED)
    before = shop.stock("POL-S")
    [sale] = shop.documents(order_id)
    crashed = crash_at("return_posted")
    shop.store.cancel_order(order_id)
    # Jumpseller (or a retry) repeats the cancellation meanwhile, concurrently
    threads = [threading.Thread(target=shop.deliver, args=("order_canceled", order_id)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = shop.settled(order_id, S.CREDITED)
    assert crashed
    returns = [r for r in shop.account.returns.values() if r.reference_document_id == sale.id]
    assert len(returns) == 1 and len(shop.bsale_posts("/v1/returns.json")) == 1
    [ret] = returns
    assert sorted((line.document_detail_id, line.quantity, line.unit_value) for line in ret.lines) == \
        sorted((line.id, line.quantity, 0.0) for line in sale.lines)
    assert ret.type == 0
    assert shop.stock("POL-S") == before + 2  # the return put the stock back
    assert record.credit_note is not None and record.document is not None
    assert record.document.credited_by == record.credit_note.id
    assert [d["document_type"] for d in shop.store.order(order_id).documents] == [1, 0]


def test_canceled_after_a_consumption_gets_its_stock_back_once(
    order_shop: Callable[..., OrderShop], crash_at: Callable[[str], Crash]
) -> None:
    shop = order_shop(documents=False)
    order_id = shop.order([("TAZA-1", 3)])
    shop.pay(order_id)
    shop.settled(order_id, S.CONSUMED)
    before = shop.stock("TAZA-1")
    crashed = crash_at("reception_posted")
    shop.store.cancel_order(order_id)
    shop.settled(order_id, S.RESTOCKED)
    assert crashed
    receptions = [m for (kind, _), m in shop.account.movements.items() if kind == "reception"]
    assert len(receptions) == 1 and shop.stock("TAZA-1") == before + 3
    assert shop.deliver("order_canceled", order_id).status_code == 200
    assert shop.stack.drain(60)
    assert len([m for (kind, _), m in shop.account.movements.items() if kind == "reception"]) == 1


def test_a_cancellation_that_bsale_refuses_waits_for_a_person_then_retry(
    order_shop: Callable[..., OrderShop], capsys: pytest.CaptureFixture[str]
) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-M", 1)])
    shop.pay(order_id)
    shop.settled(order_id, S.CREATED)
    shop.account.exhaust_folios("61")
    shop.store.cancel_order(order_id)
    record = shop.settled(order_id, S.FAILED)
    assert record.error is not None and record.error.code == "folios" and record.error.step == "credit"
    shop.account.exhaust_folios("61", exhausted=False)
    assert admin(["retry-order", shop.code, str(order_id)]) == 0
    assert "credited" in capsys.readouterr().out
    assert shop.record(order_id).state is S.CREDITED  # type: ignore[union-attr]
