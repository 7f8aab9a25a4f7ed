"""The order flow step by step: DynamoDB in memory (moto), Bsale and Jumpseller sandboxes on loopback.

Component tests: the flow's functions are called directly (no queue), so crashes can be placed exactly
(`protocol.checkpoint` raising right after Bsale accepted a write) and attempts named (the SQS message id a
redelivery would carry). tests/e2e/test_orders*.py drive the same rules through the local stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bridge.errors import UpstreamError
from bridge.models.jumpseller_order import JumpsellerOrder
from bridge.models.order_record import OrderRecord, OrderState, Step
from bridge.orders import flow, protocol
from bridge.store import held, links
from bridge.store import orders as records
from bridge.store.links import Link
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox
from tests.unit.sandbox_shop import SandboxShop, new_shop, quick, sandboxes  # noqa: F401  (fixtures)

S = OrderState
VALID_RUT = "77.879.240-0"
FACTURA = {"Tipo de Documento": "factura", "Razón Social": "Ferretería Los Andes SpA", "Giro": "Ferretería"}


class World(SandboxShop):
    def link(self, *skus: str) -> None:
        for sku in skus:
            variant = self.account.variant_by_code(sku)
            found = self.store.find_sku(sku)
            assert variant is not None and found is not None, sku
            product, js_variant = found
            links.save(Link(shop_id=self.shop_id, variant_id=str(variant.id), sku=sku, js_product_id=product.id,
                            js_variant_id=js_variant.id if js_variant else None, js_name=product.name))

    def order(self, lines: list[tuple[str, int] | tuple[str, int, float]], **kwargs: Any) -> int:
        specs = []
        for sku, qty, *discount in lines:
            found = self.store.find_sku(sku)
            assert found is not None, sku
            product, variant = found
            specs.append((product.id, variant.id if variant else None, qty, *discount))
        fields = kwargs.pop("fields", {})
        extra = [{"label": k, "value": v} for k, v in fields.items()]
        return self.store.create_order(specs, additional_fields=extra, **kwargs).id

    def raw(self, order_id: int) -> dict[str, Any]:
        return self.store.order(order_id).to_json(self.store)

    def parsed(self, order_id: int) -> JumpsellerOrder:
        return JumpsellerOrder.model_validate(self.raw(order_id))

    def pending(self, order_id: int) -> flow.Result:
        return flow.on_pending(self.ctx, self.parsed(order_id))

    def paid(self, order_id: int, attempt: str = "m1") -> flow.Result:
        if self.store.order(order_id).status_enum == "pending_payment":
            self.store.pay_order(order_id)
        return flow.on_paid(self.ctx, self.parsed(order_id), self.raw(order_id), attempt)

    def canceled(self, order_id: int, attempt: str = "c1") -> flow.Result:
        if self.store.order(order_id).status_enum != "canceled":
            self.store.cancel_order(order_id)
        return flow.on_canceled(self.ctx, self.parsed(order_id), self.raw(order_id), attempt)

    def record(self, order_id: int) -> OrderRecord:
        found = records.get(self.shop_id, order_id)
        assert found is not None
        return found

    def documents(self, order_id: int) -> list[Any]:
        return [d for d in self.account.documents.values()
                if d.sales_id and d.sales_id.startswith(f"js-{self.shop_id}-{order_id}")]

    def posts(self, path: str) -> int:
        return len(self.bsale_posts(path))

    def bsale_posts(self, path: str) -> list[Any]:
        return [r for r in self.bsale.requests
                if r.credential == self.account.token and r.method == "POST" and path in r.path]

    def js_calls(self) -> int:
        return sum(1 for r in self.js.requests if r.credential == self.store.login)

    def stock(self, sku: str) -> float:
        variant = self.account.variant_by_code(sku)
        assert variant is not None
        return self.account.stock_of(variant.id, self.ctx.shop.office_id)

    def movements(self, kind: str) -> list[Any]:
        return [m for (k, _), m in self.account.movements.items() if k == kind]


@pytest.fixture
def world(table: str, sandboxes: tuple[BsaleSandbox, JumpsellerSandbox]) -> Iterator[Callable[..., World]]:  # noqa: F811
    bsale, js = sandboxes

    def make(**options: Any) -> World:
        w = new_shop(World, bsale, js, "unit", 9000, **options)
        w.store.add_product("Notebook", sku="NB-1", stock=2, price=499990, notify=False)
        w.store.add_product("Gorro", sku="GORRO-1", stock=4, price=7990, notify=False)
        w.link("POL-S", "POL-M", "TAZA-1")
        return w

    yield make
    bsale.faults.clear()
    violations = list(js.violations)
    js.violations.clear()
    assert violations == [], "the flow sent Jumpseller something its official OpenAPI spec rejects"


class Crash(Exception):
    """The worker dying right after Bsale accepted a write (nothing after it runs)."""


def crash_once(monkeypatch: pytest.MonkeyPatch, step: str) -> list[str]:
    seen: list[str] = []

    def checkpoint(at: str) -> None:
        if at == step and not seen:
            seen.append(at)
            raise Crash(at)

    monkeypatch.setattr(protocol, "checkpoint", checkpoint)
    return seen


# ------------------------------------------------------------------------------------------------- documents


def test_a_paid_order_becomes_one_boleta_attached_and_noted_in_jumpseller(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("POL-S", 2, 1000), ("TAZA-1", 1)], shipping=3990)
    assert w.pending(order_id).action == "held"
    assert held.held_by_sku(w.shop_id) == {"POL-S": 2, "TAZA-1": 1}
    stock_before = w.stock("POL-S")

    result = w.paid(order_id)

    assert result.action == "created"
    record = w.record(order_id)
    document = record.document
    assert record.state is S.CREATED and document is not None and document.kind == "boleta"
    [bsale_doc] = w.documents(order_id)
    assert bsale_doc.sales_id == f"js-{w.shop_id}-{order_id}" and bsale_doc.dispatched
    assert bsale_doc.total_amount == float(w.parsed(order_id).total) == 2 * 9990 - 1000 + 4990 + 3990
    assert document.number == bsale_doc.number and document.url_pdf and document.lines
    assert len(document.lines) == len(bsale_doc.lines)
    assert w.stock("POL-S") == stock_before - 2  # dispatch took the stock
    assert held.held_by_sku(w.shop_id) == {}  # Bsale knows the sale now: nothing held
    js_order = w.store.order(order_id)
    assert [d["document_type"] for d in js_order.documents] == [1]
    assert js_order.documents[0]["external_id"] == str(document.id)
    assert any(f"Boleta electrónica N° {document.number}" in h["message"] for h in js_order.history)


def test_duplicates_and_replays_of_order_paid_post_nothing_more(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("TAZA-1", 1)])
    w.paid(order_id, "m1")
    posts, js_calls = w.posts("/v1/documents.json"), w.js_calls()
    for attempt in ("m2", "m1", "m3"):
        assert w.paid(order_id, attempt).action == "unchanged"
    assert w.posts("/v1/documents.json") == posts == 1
    assert w.js_calls() == js_calls  # follow-ups were done once: not even a read


def test_a_crash_after_bsale_made_the_document_is_resumed_with_the_same_sales_id(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    order_id = w.order([("POL-M", 1)])
    crash_once(monkeypatch, "document_posted")
    with pytest.raises(Crash):
        w.paid(order_id, "m1")
    stuck = w.record(order_id)
    assert stuck.state is S.CREATING and stuck.claim_id == "m1" and len(w.documents(order_id)) == 1
    # A duplicate delivery while the claim is fresh leaves it to its holder
    assert w.paid(order_id, "m2").action == "in_progress"
    # The same message coming back resumes: same body, same salesId, Bsale answers 200 with the document
    result = w.paid(order_id, "m1")
    assert result.action == "created" and "replayed" in result.detail
    record = w.record(order_id)
    assert record.document is not None and record.document.replayed
    assert len(w.documents(order_id)) == 1
    assert w.posts("/v1/documents.json") == 2
    assert [r.status for r in w.bsale_posts("/v1/documents.json")] == [201, 200]


def test_a_step_stuck_in_creating_is_recovered_by_the_retry_command_never_with_a_new_sales_id(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    order_id = w.order([("TAZA-1", 2)])
    crash_once(monkeypatch, "document_posted")
    with pytest.raises(Crash):
        w.paid(order_id, "sqs-dead")  # and its message never comes back (say it was purged)
    assert flow.retry(w.ctx, order_id, "cli-1").action == "busy"  # within the lease, not forced
    result = flow.retry(w.ctx, order_id, "cli-2", force=True)
    assert result.action == "created"
    assert len(w.documents(order_id)) == 1
    bodies = [r.body for r in w.bsale_posts("/v1/documents.json")]
    assert len({b["salesId"] for b in bodies}) == 1 and bodies[0] == bodies[1]


def test_bsale_down_keeps_the_step_in_flight_and_the_next_attempt_finishes_it(
    world: Callable[..., World]
) -> None:
    w = world()
    order_id = w.order([("TAZA-1", 1)])
    w.bsale.faults.add(status=503, count=4, path_contains="/v1/documents.json")  # every in-call retry fails
    with pytest.raises(UpstreamError):
        w.paid(order_id, "m1")
    record = w.record(order_id)
    assert record.state is S.CREATING and record.claim_id is None  # let go: anyone may resume
    error = record.last_error
    assert error is not None and error.retryable and "503" in (error.upstream or "")
    assert w.paid(order_id, "m1").action == "created"
    assert len(w.documents(order_id)) == 1 and w.record(order_id).last_error is None


def test_no_stock_in_bsale_fails_with_its_words_then_retry_after_the_fix(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("POL-S", 2)])
    w.pending(order_id)
    variant = w.account.variant_by_code("POL-S")
    assert variant is not None
    w.account.set_stock(variant.id, w.ctx.shop.office_id, 1)
    result = w.paid(order_id)
    assert result.action == "failed"
    error = w.record(order_id).error
    assert error is not None and error.code == "no_stock" and error.step is Step.DOCUMENT
    assert error.upstream == 'There is no stock for this products: "POL-S"'
    assert "stock" in error.reason and not error.retryable
    assert held.held_by_sku(w.shop_id) == {"POL-S": 2}  # Bsale did not take it: still held
    assert any("No se emitió el documento" in h["message"] for h in w.store.order(order_id).history)
    assert w.paid(order_id, "m9").action == "unchanged"  # a replay changes nothing; a person must act
    w.account.set_stock(variant.id, w.ctx.shop.office_id, 10)
    assert flow.retry(w.ctx, order_id, "cli").action == "created"
    assert held.held_by_sku(w.shop_id) == {}


def test_factura_with_a_valid_rut(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("POL-M", 1)], fields=FACTURA, billing={"taxid": VALID_RUT, "municipality": "Las Condes"})
    assert w.paid(order_id).action == "created"
    [document] = w.documents(order_id)
    assert w.account.document_types[document.document_type_id].code_sii == "33"
    assert document.client["code"] == "77879240-0" and document.client["activity"] == "Ferretería"
    assert document.total_amount == 9990
    assert w.record(order_id).document.client is not None  # type: ignore[union-attr]


def test_factura_with_an_invalid_rut_sends_nothing_to_bsale(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("POL-M", 1)], fields=FACTURA, billing={"taxid": "12.345.678-9"})
    assert w.paid(order_id).action == "failed"
    error = w.record(order_id).error
    assert error is not None and error.code == "factura_data" and "no es válido" in error.reason
    assert w.posts("/v1/documents.json") == 0


def test_an_unlinked_product_fails_and_the_retry_succeeds_once_it_is_linked(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("GORRO-1", 1), ("TAZA-1", 1)])
    assert w.paid(order_id).action == "failed"
    error = w.record(order_id).error
    assert error is not None and error.reason == "Gorro no está sincronizado" and error.retryable
    w.account.add_product("Gorro", [{"code": "GORRO-1", "stock": {w.ctx.shop.office_id: 3}, "price": 7990}])
    w.link("GORRO-1")
    assert flow.retry(w.ctx, order_id, "cli").action == "created"
    assert len(w.documents(order_id)) == 1


def test_a_serial_numbered_product_is_marked_for_a_manual_document(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("NB-1", 1)])
    assert w.paid(order_id).action == "needs_manual"
    error = w.record(order_id).error
    assert error is not None and "número de serie" in error.reason
    assert w.posts("/v1/documents.json") == 0
    assert flow.resolve(w.shop_id, order_id, "boleta 991 emitida a mano").action == "resolved"
    assert w.record(order_id).state is S.RESOLVED


def test_an_all_zero_order_is_skipped_with_its_reason(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("TAZA-1", 1, 4990)])
    result = w.paid(order_id)
    assert result.action == "skipped" and w.record(order_id).skip_reason
    assert w.posts("/v1/documents.json") == 0


def test_manual_mode_waits_for_the_request(world: Callable[..., World]) -> None:
    w = world(document_mode="manual")
    order_id = w.order([("TAZA-1", 1)])
    w.pending(order_id)
    assert w.paid(order_id).action == "waiting"
    assert held.held_by_sku(w.shop_id) == {"TAZA-1": 1}
    assert flow.retry(w.ctx, order_id, "cli").action == "refused"
    assert flow.create_document(w.ctx, order_id, "cli").action == "created"
    assert flow.create_document(w.ctx, order_id, "cli2").action == "unchanged"
    assert len(w.documents(order_id)) == 1 and held.held_by_sku(w.shop_id) == {}


def test_a_boleta_that_must_become_a_factura_is_credited_first_and_never_doubled(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    order_id = w.order([("POL-S", 1)], billing={"taxid": VALID_RUT})
    assert w.paid(order_id).action == "created"
    # The customer asks for a factura afterwards; the shop fixes the order's fields in Jumpseller
    w.store.order(order_id).additional_fields = [{"label": k, "value": v, "id": i, "area": "other"}
                                                 for i, (k, v) in enumerate(FACTURA.items())]
    # A paid delivery carrying the factura choice makes nothing (salesId alone would not stop it: per type)
    assert w.paid(order_id, "m2").action == "unchanged"
    assert len(w.documents(order_id)) == 1
    refused = flow.create_document(w.ctx, order_id, "cli")
    assert refused.action == "refused" and "--replace" in refused.detail
    # The replacement crashes right after the credit note: resumed, it finds it and does not credit twice
    crash_once(monkeypatch, "return_posted")
    with pytest.raises(Crash):
        flow.create_document(w.ctx, order_id, "cli-1", replace=True)
    result = flow.retry(w.ctx, order_id, "cli-2", force=True)
    assert result.action == "created"
    record = w.record(order_id)
    assert record.document is not None and record.document.kind == "factura" and record.generation == 2
    assert [d.kind for d in record.previous_documents] == ["boleta", "nota de crédito"]
    assert record.previous_documents[0].credited_by == record.previous_documents[1].id
    codes = sorted(w.account.document_types[d.document_type_id].code_sii for d in w.account.documents.values()
                   if d.sales_id and d.sales_id.startswith(f"js-{w.shop_id}-{order_id}")
                   or d.reference_document_id in {x.id for x in w.documents(order_id)})
    assert codes == ["33", "39", "61"]
    # The factura went to Bsale under the second generation's salesId: the boleta's would be another key per type
    sent = {w.account.document_types[d.document_type_id].code_sii: d.sales_id for d in w.documents(order_id)}
    assert sent == {"39": f"js-{w.shop_id}-{order_id}", "33": f"js-{w.shop_id}-{order_id}-2"}
    assert record.document.sales_id == f"js-{w.shop_id}-{order_id}-2"
    assert len(w.account.returns) == 1  # the boleta was credited once, despite the crash
    assert flow.create_document(w.ctx, order_id, "cli-3", replace=True).action == "unchanged"


# ------------------------------------------------------------------------------------------------- no documents


def test_documents_off_takes_the_stock_by_one_consumption_even_across_a_crash(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world(documents=False)
    order_id = w.order([("POL-S", 2), ("TAZA-1", 1)])
    w.pending(order_id)
    before = w.stock("POL-S")
    crash_once(monkeypatch, "consumption_posted")
    with pytest.raises(Crash):
        w.paid(order_id, "m1")
    assert w.record(order_id).state is S.CONSUMING
    result = w.paid(order_id, "m1")
    assert result.action == "consumed" and "found" in result.detail
    assert len(w.movements("consumption")) == 1 and w.posts("/v1/stocks/consumptions.json") == 1
    assert w.stock("POL-S") == before - 2
    assert w.posts("/v1/documents.json") == 0 and held.held_by_sku(w.shop_id) == {}
    assert w.paid(order_id, "m2").action == "unchanged"
    assert len(w.movements("consumption")) == 1


def test_a_consumption_that_cannot_be_confirmed_waits_for_a_person(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world(documents=False)
    order_id = w.order([("TAZA-1", 1)])
    crash_once(monkeypatch, "consumption_posted")
    with pytest.raises(Crash):
        w.paid(order_id, "m1")
    from bridge.clients import bsale_documents
    monkeypatch.setattr(bsale_documents, "MAX_CONSUMPTIONS_SCANNED", 0)
    assert w.paid(order_id, "m1").action == "needs_manual"
    error = w.record(order_id).error
    assert error is not None and error.step is Step.CONSUMPTION_CHECK and "resolve-order" in error.reason
    assert len(w.movements("consumption")) == 1


# ------------------------------------------------------------------------------------------------- cancellation


def test_canceled_after_its_document_gets_one_credit_note_for_every_line(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    order_id = w.order([("POL-S", 2), ("TAZA-1", 1)], shipping=2990)
    w.paid(order_id)
    before = w.stock("POL-S")
    crash_once(monkeypatch, "return_posted")
    with pytest.raises(Crash):
        w.canceled(order_id, "c1")
    result = w.canceled(order_id, "c1")
    assert result.action == "credited" and "found" in result.detail
    [ret] = list(w.account.returns.values())
    [sale] = w.documents(order_id)
    assert ret.reference_document_id == sale.id and ret.type == 0
    assert sorted((line.document_detail_id, line.quantity) for line in ret.lines) == \
        sorted((line.id, line.quantity) for line in sale.lines)  # every line, full quantities (shipping too)
    assert all(line.unit_value == 0 for line in ret.lines)
    assert w.posts("/v1/returns.json") == 1 and w.stock("POL-S") == before + 2
    record = w.record(order_id)
    assert record.state is S.CREDITED and record.credit_note is not None
    # the document remembers what voided it: a retry or fix-rejected must not credit it again
    assert record.document is not None and record.document.credited_by == record.credit_note.id
    assert [d["document_type"] for d in w.store.order(order_id).documents] == [1, 0]
    assert w.canceled(order_id, "c2").action == "unchanged" and w.posts("/v1/returns.json") == 1


def test_canceled_after_a_consumption_gets_its_stock_back_once(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world(documents=False)
    order_id = w.order([("TAZA-1", 3)])
    w.paid(order_id)
    before = w.stock("TAZA-1")
    crash_once(monkeypatch, "reception_posted")
    with pytest.raises(Crash):
        w.canceled(order_id, "c1")
    assert w.canceled(order_id, "c1").action == "restocked"
    assert len(w.movements("reception")) == 1 and w.stock("TAZA-1") == before + 3
    assert w.canceled(order_id, "c2").action == "unchanged" and len(w.movements("reception")) == 1


def test_canceled_before_paid_and_the_late_paid_event_does_nothing(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("POL-M", 1)])
    w.pending(order_id)
    raw_paid = {**w.raw(order_id), "status_enum": "paid", "status": "Paid"}  # the paid event, delivered late
    assert w.canceled(order_id).action == "canceled"
    assert held.held_by_sku(w.shop_id) == {}
    late = flow.on_paid(w.ctx, JumpsellerOrder.model_validate(raw_paid), raw_paid, "m1")
    assert late.action == "unchanged" and w.posts("/v1/documents.json") == 0
    assert w.pending(order_id).action == "unchanged" and held.held_by_sku(w.shop_id) == {}


def test_paid_before_pending_leaves_nothing_held(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("POL-M", 1)])
    assert w.paid(order_id).action == "created"
    assert w.pending(order_id).action == "unchanged"
    assert held.held_by_sku(w.shop_id) == {}


def test_abandoned_only_releases(world: Callable[..., World]) -> None:
    w = world()
    order_id = w.order([("TAZA-1", 2)])
    w.pending(order_id)
    w.store.abandon_order(order_id)
    assert flow.on_abandoned(w.ctx, w.parsed(order_id)).action == "released"
    assert held.held_by_sku(w.shop_id) == {}
    assert records.get(w.shop_id, order_id) is None  # no order record: nothing ever reaches Bsale
    assert w.posts("/v1/") == 0


def test_a_cancel_waits_while_the_document_is_in_flight(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world()
    order_id = w.order([("TAZA-1", 1)])
    crash_once(monkeypatch, "document_posted")
    with pytest.raises(Crash):
        w.paid(order_id, "m1")
    with pytest.raises(flow.OrderBusy):
        w.canceled(order_id, "c1")
    w.paid(order_id, "m1")
    assert w.canceled(order_id, "c1").action == "credited"


def test_a_spent_api_quota_lets_go_of_the_step_for_the_deferred_copy(world: Callable[..., World]) -> None:
    from bridge.clients.http import RateLimited

    w = world()
    order_id = w.order([("TAZA-1", 1)])

    class SpentOnce:
        spent = True

        def wait(self) -> float:
            if self.spent:
                self.spent = False
                raise RateLimited(3.0)
            return 0.0

    w.ctx.bsale.pace = SpentOnce()
    with pytest.raises(RateLimited):
        w.paid(order_id, "sqs-1")  # the worker then sends a delayed copy of the message (another id)
    record = w.record(order_id)
    assert record.state is S.CREATING and record.claim_id is None
    assert record.last_error is not None and record.last_error.code == "rate_limited"
    assert w.paid(order_id, "sqs-2").action == "created"
    assert len(w.documents(order_id)) == 1


def test_concurrent_follow_ups_attach_the_document_once(world: Callable[..., World], atomic_writes: None) -> None:
    import threading

    from bridge import aws
    from bridge.store import keys
    from bridge.store.table import serialize

    w = world()
    order_id = w.order([("TAZA-1", 1)])
    w.paid(order_id)
    # Given a created order whose follow-ups are not done yet (as if its worker were just about to do them)
    w.store.order(order_id).documents.clear()
    w.store.order(order_id).history.clear()
    aws.client("dynamodb").update_item(TableName=table_name(), Key=serialize(keys.order(w.shop_id, order_id)),
                                       UpdateExpression="REMOVE done")
    record = w.record(order_id)
    # When duplicates run them concurrently (and one with an old copy of the record)
    threads = [threading.Thread(target=flow._follow_up, args=(w.ctx, record)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flow._follow_up(w.ctx, record)
    # Then Jumpseller got the document and the note once
    assert len(w.store.order(order_id).documents) == 1
    assert len(w.store.order(order_id).history) == 1
    assert sorted(w.record(order_id).done) == sorted([f"attach:{record.document.id}",  # type: ignore[union-attr]
                                                       f"note:{record.document.id}"])  # type: ignore[union-attr]


def table_name() -> str:
    from bridge.settings import settings

    return settings().table_name
