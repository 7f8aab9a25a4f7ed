"""F19: the SII's verdict on every document the bridge made, watched at a bounded cost per shop and tick.

Component tests like test_flow.py (moto in memory, the sandboxes on loopback, the flow called directly);
tests/e2e/test_sii.py drives the same through the local stack and the schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bridge.clients import bsale as bsale_client
from bridge.models.order_record import OrderState
from bridge.ops import status
from bridge.orders import flow, sii
from bridge.store import shops
from bridge.store import sii as watched
from tests.unit.orders import test_flow
from tests.unit.orders.test_flow import World, crash_once

# The order flow's world (moto, the sandboxes, a connected shop), shared with test_flow.py.
sandboxes, quick, world = test_flow.sandboxes, test_flow.quick, test_flow.world

S = OrderState
REJECTION = "Rechazado - Error en RUT Receptor (RCH-07)"


def tick(w: World) -> sii.Tick:
    return sii.watch_shop(w.ctx, int(time.time()))


def health(w: World) -> status.ShopHealth:
    if shops.get(w.shop_id) is None:
        shops.save(w.ctx.shop, "unit-notify-hash")
    return status.shop_health(w.shop_id)


def bsale_reads(w: World) -> int:
    return sum(1 for r in w.bsale.requests if r.credential == w.account.token and r.method == "GET")


def history(w: World, order_id: int) -> list[str]:
    return [h["message"] for h in w.store.order(order_id).history]


def test_nothing_outstanding_costs_no_call(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("POL-S", 1)])
    assert w.paid(order_id).action == "created"  # the sandbox accepts at once: nothing to follow
    record = w.record(order_id)
    assert record.document is not None and record.document.sii_status == "accepted"
    before = bsale_reads(w)
    assert tick(w).calls == 0 and bsale_reads(w) == before


def test_an_accepted_document_is_followed_until_accepted_then_forgotten(world: Callable[..., World]) -> None:
    w = world()
    w.account.decide_sii(0)
    order_ids = [w.order([("POL-S", 1)]) for _ in range(3)]
    for order_id in order_ids:
        assert w.paid(order_id).action == "created"
        assert w.record(order_id).document.sii_status == "sent"  # type: ignore[union-attr]
    assert len(watched.outstanding(w.shop_id)) == 3

    before = bsale_reads(w)
    first = tick(w)

    assert first.calls == 2 == bsale_reads(w) - before  # one "sent" list, one "rejected" list: not one per document
    assert len(first.accepted) == 3 and first.rejected == [] and first.overdue == []
    for order_id in order_ids:
        record = w.record(order_id)
        assert record.state is S.CREATED and record.document.sii_status == "accepted"  # type: ignore[union-attr]
    assert watched.outstanding(w.shop_id) == []
    assert tick(w).calls == 0


def test_a_rejection_waits_for_a_person_once_and_fix_rejected_credits_and_reissues_once(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    w.account.decide_sii(2, message=REJECTION)
    order_id = w.order([("POL-S", 1), ("TAZA-1", 1)])
    assert w.paid(order_id).action == "created"
    [boleta] = w.documents(order_id)

    first = tick(w)

    assert first.rejected == [boleta.id]
    record = w.record(order_id)
    assert record.state is S.REJECTED and record.error is not None
    assert record.error.code == "sii_rejected" and record.error.upstream == REJECTION  # verbatim
    assert "El SII rechazó la boleta" in record.error.reason and "fix-rejected" in record.error.reason
    assert record.document is not None and record.document.sii_status == "rejected"
    assert record.document.sii_message == REJECTION
    notes = [m for m in history(w, order_id) if REJECTION in m]
    assert len(notes) == 1
    seen = health(w)
    assert [(p.order_id, p.state, p.upstream) for p in seen.order_problems] == [(order_id, "rejected", REJECTION)]
    assert seen.sii_documents == {"rejected by the SII": 1}

    # A replayed tick (or a retry of the order) changes nothing and notes nothing again
    assert tick(w).calls == 0
    assert flow.retry(w.ctx, order_id, "cli").action == "unchanged"
    assert len([m for m in history(w, order_id) if REJECTION in m]) == 1
    assert w.record(order_id).state is S.REJECTED

    # The operator fixes it; the SII accepts from now on. A crash after the credit note is resumed, not doubled.
    w.account.decide_sii(0)
    crash_once(monkeypatch, "return_posted")
    with pytest.raises(Exception, match="return_posted"):
        flow.fix_rejected(w.ctx, order_id, "cli-1")
    result = flow.fix_rejected(w.ctx, order_id, "cli-2")
    if result.action == "busy" or result.action == "in_progress":
        result = flow.retry(w.ctx, order_id, "cli-3", force=True)
    assert result.action == "created", result
    record = w.record(order_id)
    assert record.state is S.CREATED and record.generation == 2
    assert record.document is not None and record.document.sales_id == f"js-{w.shop_id}-{order_id}-2"
    returns = [r for r in w.account.returns.values() if r.reference_document_id == boleta.id]
    assert len(returns) == 1
    assert len(w.documents(order_id)) == 2  # the rejected boleta and its replacement
    assert flow.fix_rejected(w.ctx, order_id, "cli-4").action == "refused"
    assert len(w.documents(order_id)) == 2 and len(returns) == 1
    # The credit note (already accepted when read back) and the new boleta are followed too
    note = w.record(order_id).previous_documents[-1]
    assert note.kind == "nota de crédito" and note.sii_status == "accepted"
    followed = tick(w)
    assert followed.accepted == [record.document.id] and followed.rejected == []
    assert w.record(order_id).document.sii_status == "accepted"  # type: ignore[union-attr]


def test_a_document_still_sent_past_the_limit_is_flagged_once(world: Callable[..., World]) -> None:
    w = world(sii_overdue_after_minutes=0)
    w.account.decide_sii(1)  # the SII never answers
    order_id = w.order([("POL-S", 1)])
    assert w.paid(order_id).action == "created"
    [boleta] = w.documents(order_id)

    first = tick(w)
    second = tick(w)

    assert first.overdue == [boleta.id] and first.still_overdue == 1
    assert second.overdue == [] and second.still_overdue == 1  # flagged once; the gauge stays while it lasts
    record = w.record(order_id)
    assert record.state is S.CREATED and record.document is not None and record.document.sii_overdue_at
    seen = health(w)
    assert [(d.order_id, d.number) for d in seen.sii_overdue] == [(order_id, boleta.number)]
    assert "1 document(s) not decided by the SII in time" in seen.one_line()
    # The SII answers at last: the flag goes
    w.account.set_informed_sii(boleta.id, 0)
    assert len(tick(w).accepted) == 1
    assert health(w).sii_overdue == []


def test_the_default_limit_does_not_flag_a_fresh_document(world: Callable[..., World]) -> None:
    w = world()
    w.account.decide_sii(1)
    assert w.paid(w.order([("POL-S", 1)])).action == "created"
    result = tick(w)
    assert result.overdue == [] and result.still_overdue == 0 and result.outstanding == 1


def test_long_lists_fall_back_to_a_bounded_number_of_reads(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world(sii_overdue_after_minutes=0)
    w.account.decide_sii(1)
    order_ids = [w.order([("TAZA-1", 1)]) for _ in range(4)]
    for order_id in order_ids:
        assert w.paid(order_id).action == "created"
    for document in w.documents(order_ids[0]) + w.documents(order_ids[1]):
        w.account.set_informed_sii(document.id, 0)
    # Pages of one document and one page per list: the "sent" list cannot say which documents left it
    monkeypatch.setattr(bsale_client, "PAGE_LIMIT", 1)
    monkeypatch.setattr(sii, "LIST_PAGES", 1)
    monkeypatch.setattr(sii, "READS_PER_TICK", 2)

    first = tick(w)

    assert first.calls == 1 + 1 + 2  # two list pages, then two documents read one by one
    assert first.undecided == 4 - 1 - 2
    # Only a document known to be still "sent" is flagged late; the one not told apart this tick is not
    assert len(first.overdue) == 4 - len(first.accepted) - first.undecided
    decided = len(first.accepted)
    second = tick(w)
    assert second.calls <= 1 + 1 + 2
    assert decided + len(second.accepted) == 2  # the longest unchecked are read first: both accepted in 2 ticks


def test_a_rejected_credit_note_waits_for_a_person_and_is_not_fixed_automatically(
    world: Callable[..., World]
) -> None:
    w = world()
    order_id = w.order([("POL-S", 1)])
    assert w.paid(order_id).action == "created"
    w.account.decide_sii(2, message="Rechazado - Referencia inválida")
    assert w.canceled(order_id).action == "credited"
    first = tick(w)
    record = w.record(order_id)
    assert len(first.rejected) == 1 and record.state is S.REJECTED
    assert record.credit_note is not None and record.credit_note.sii_status == "rejected"
    assert record.error is not None and "nota de crédito" in record.error.reason
    assert flow.fix_rejected(w.ctx, order_id, "cli").action == "refused"
    assert flow.resolve(w.shop_id, order_id, "NC emitida a mano").action == "resolved"


def test_a_rejected_order_canceled_afterwards_is_credited(world: Callable[..., World]) -> None:
    w = world()
    w.account.decide_sii(2, message=REJECTION)
    order_id = w.order([("POL-S", 1)])
    assert w.paid(order_id).action == "created"
    tick(w)
    assert w.record(order_id).state is S.REJECTED
    w.account.decide_sii(0)
    assert w.canceled(order_id).action == "credited"
    assert len(w.account.returns) == 1


def test_a_document_without_a_known_verdict_shows_as_sent_never_accepted() -> None:
    from bridge.models.order_record import IssuedDocument

    facto = IssuedDocument(id=991, kind="boleta", code_sii="39", number=991, provider="facto")  # Facto status 0
    assert facto.sii_label == "sent to the SII"
    assert facto.model_copy(update={"sii_status": "sent"}).sii_label == "sent to the SII"
    assert facto.model_copy(update={"sii_status": "accepted"}).sii_label == "accepted by the SII"
    assert facto.model_copy(update={"sii_status": "rejected"}).sii_label == "rejected by the SII"
