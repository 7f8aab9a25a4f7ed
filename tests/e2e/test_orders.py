"""F7 through the local stack: Jumpseller order webhooks (signed, over HTTP) → SQS → worker → Bsale document.

Golden cases to the peso, Bsale's refusals, and the exactly-once proofs: concurrent duplicate deliveries, a
crash after Bsale made the document, an SQS replay of an old message, a step stuck in `creating`, a boleta
that must become a factura. Helpers here are shared with test_orders_stock.py.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import requests

from admin import main as admin
from bridge.documents.amounts import iva_of
from bridge.models.order_record import OrderRecord, OrderState
from bridge.orders import flow, protocol
from bridge.queue import WorkMessage
from bridge.store import held, links
from bridge.store import orders as records
from demo import DemoShop, connect_demo_shop
from devstack import LocalStack
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox, sign
from tests.e2e.conftest import eventually
from tests.e2e.faults import Crash

S = OrderState
_numbers = itertools.count(1)
VALID_RUT = "77.879.240-0"
FACTURA = {"Tipo de Documento": "factura", "Razón Social": "Ferretería Los Andes SpA",
           "Giro": "Venta de artículos de ferretería"}
FACTURA_BILLING = {"taxid": VALID_RUT, "address": "Av. Apoquindo", "street_number": 3000,
                   "municipality": "Las Condes", "city": "Santiago"}


@dataclass
class OrderShop:
    demo: DemoShop
    stack: LocalStack
    bsale_sandbox: BsaleSandbox
    jumpseller_sandbox: JumpsellerSandbox

    @property
    def code(self) -> str:
        return self.demo.code

    @property
    def store(self) -> Any:
        return self.demo.store

    @property
    def account(self) -> Any:
        return self.demo.bsale

    def link(self, *skus: str) -> None:
        """Make the SKUs' links the way production does: a Bsale stock notification links a variant."""
        for sku in skus:
            variant = self.demo.variant_id(sku)
            self.account.set_stock(variant, self.demo.office_id, self.account.stock_of(variant, self.demo.office_id))
        for sku in skus:
            eventually(lambda s=sku: links.by_sku(self.code, s))
        assert self.stack.drain(60)

    def order(self, lines: list[tuple[Any, ...]], **kwargs: Any) -> int:
        """A new order (Jumpseller takes its stock and sends order_pending_payment)."""
        specs = []
        for sku, qty, *discount in lines:
            found = self.store.find_sku(sku)
            assert found is not None, sku
            product, variant = found
            specs.append((product.id, variant.id if variant else None, qty, *discount))
        fields = kwargs.pop("fields", {})
        extra = [{"label": k, "value": v} for k, v in fields.items()]
        order_id = int(self.store.create_order(specs, additional_fields=extra, **kwargs).id)
        eventually(lambda: held.get(self.code, order_id))
        return order_id

    def pay(self, order_id: int) -> None:
        self.store.pay_order(order_id)

    def body(self, order_id: int) -> dict[str, Any]:
        return {"order": self.store.order(order_id).to_json(self.store)}

    def deliver(self, event: str, order_id: int, body: dict[str, Any] | None = None) -> requests.Response:
        """What Jumpseller sends: a signed POST of the order to the deployment's webhook URL."""
        raw = json.dumps(body or self.body(order_id), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Jumpseller-Event": event,
                   "Jumpseller-Store-Code": self.code, "Jumpseller-Hmac-Sha256": sign(self.store.hooks_token, raw)}
        return requests.post(f"{self.stack.api_url}/jumpseller/webhooks", data=raw, headers=headers, timeout=30)

    def record(self, order_id: int) -> OrderRecord | None:
        return records.get(self.code, order_id)

    def settled(self, order_id: int, *states: OrderState, timeout: float = 60) -> OrderRecord:
        def check() -> OrderRecord | None:
            found = self.record(order_id)
            return found if found is not None and found.state in states else None

        found = eventually(check, timeout=timeout)
        assert self.stack.drain(60)
        return found  # type: ignore[no-any-return]

    def documents(self, order_id: int) -> list[Any]:
        return [d for d in self.account.documents.values()
                if d.sales_id and d.sales_id.startswith(f"js-{self.code}-{order_id}")]

    def bsale_posts(self, path: str) -> list[Any]:
        return [r for r in self.bsale_sandbox.requests
                if r.credential == self.account.token and r.method == "POST" and path in r.path]

    def js_posts(self) -> int:
        return sum(1 for r in self.jumpseller_sandbox.requests
                   if r.credential == self.store.login and r.method == "POST")

    def stock(self, sku: str) -> float:
        return float(self.account.stock_of(self.demo.variant_id(sku), self.demo.office_id))


@pytest.fixture
def order_shop(stack: LocalStack, bsale: BsaleSandbox,
               jumpseller: JumpsellerSandbox) -> Iterator[Callable[..., OrderShop]]:
    """A freshly connected demo shop with these options, POL-S, POL-M and TAZA-1 linked."""

    def make(**options: Any) -> OrderShop:
        n = next(_numbers)
        demo = connect_demo_shop(stack.api_url, bsale, jumpseller, code=f"ord-{n}", cpn_id=8000 + n,
                                 options=options)
        demo.store.add_product("Notebook", sku="NB-1", stock=2, price=499990, notify=False)
        demo.store.add_product("Gorro", sku="GORRO-1", stock=4, price=7990, notify=False)
        shop = OrderShop(demo, stack, bsale, jumpseller)
        shop.link("POL-S", "POL-M", "TAZA-1")
        return shop

    yield make
    bsale.faults.clear()
    jumpseller.faults.clear()


def total_of(document: Any) -> int:
    """The Bsale document's total recomputed here: integer net lines, IVA once on the taxed net, exempt lines."""
    net = sum(Decimal(str(line.net_unit)) * Decimal(str(line.quantity)) for line in document.lines if line.tax_rate)
    exempt = sum(Decimal(str(line.net_unit)) * Decimal(str(line.quantity)) for line in document.lines
                 if not line.tax_rate)
    assert net == int(net) and exempt == int(exempt), "net lines are whole pesos"
    return int(net) + iva_of(int(net)) + int(exempt)


# ------------------------------------------------------------------------------------------------ golden cases


def test_golden_boleta_with_discount_and_shipping(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    # 2 × 9.990 with 1.000 off the line, 1 × 4.990, shipping 3.990, a 500 coupon: 27.460 paid
    order_id = shop.order([("POL-S", 2, 1000), ("TAZA-1", 1)], shipping=3990, discount=500)
    assert shop.store.order(order_id).total == 27460
    shop.pay(order_id)
    record = shop.settled(order_id, S.CREATED)
    [document] = shop.documents(order_id)
    assert shop.account.document_types[document.document_type_id].code_sii == "39"
    assert document.total_amount == 27460 == total_of(document)
    assert any(line.variant_id is None and line.comment.startswith("Despacho") for line in document.lines)  # no stock
    assert record.document is not None and record.document.number == document.number
    js_order = shop.store.order(order_id)
    assert js_order.documents[0]["external_id"] == str(document.id)
    assert js_order.documents[0]["url"] == record.document.url_pdf
    assert any(f"N° {document.number}" in h["message"] for h in js_order.history)


def test_golden_factura_with_a_valid_rut(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-M", 3), ("TAZA-1", 2, 990)], shipping=4500, fields=FACTURA,
                          billing=FACTURA_BILLING)
    shop.pay(order_id)
    shop.settled(order_id, S.CREATED)
    [document] = shop.documents(order_id)
    assert shop.account.document_types[document.document_type_id].code_sii == "33"
    assert document.client == {"code": "77879240-0", "company": "Ferretería Los Andes SpA",
                               "activity": "Venta de artículos de ferretería", "address": "Av. Apoquindo 3000",
                               "municipality": "Las Condes", "city": "Santiago", "companyOrPerson": 1,
                               "email": "cliente@example.com"}
    assert document.total_amount == 3 * 9990 + 2 * 4990 - 990 + 4500 == total_of(document)


def test_factura_with_an_invalid_rut_makes_no_document(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-M", 1)], fields=FACTURA, billing={**FACTURA_BILLING, "taxid": "12.345.678-9"})
    shop.pay(order_id)
    record = shop.settled(order_id, S.FAILED)
    assert record.error is not None and "El RUT «12.345.678-9» no es válido" in record.error.reason
    assert shop.bsale_posts("/v1/documents.json") == []
    assert held.held_by_sku(shop.code) == {"POL-M": 1}  # Bsale did not take it: still held


def test_mixed_zero_value_lines_are_left_off_the_document(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-S", 1), ("TAZA-1", 1, 4990)], shipping=0)  # the mug is a gift
    shop.pay(order_id)
    record = shop.settled(order_id, S.CREATED)
    [document] = shop.documents(order_id)
    assert [line.variant_id for line in document.lines] == [shop.demo.variant_id("POL-S")]
    assert document.total_amount == 9990 == total_of(document)
    assert any("Taza" in w and "a mano" in w for w in record.warnings)


def test_an_all_zero_order_is_skipped_with_its_reason(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    order_id = shop.order([("TAZA-1", 2, 9980)])
    shop.pay(order_id)
    record = shop.settled(order_id, S.SKIPPED)
    assert record.skip_reason
    assert shop.bsale_posts("/v1/") == []
    assert held.held_by_sku(shop.code) == {}


def test_an_unlinked_product_fails_then_retry_order_once_it_is_linked(
    order_shop: Callable[..., OrderShop], capsys: pytest.CaptureFixture[str]
) -> None:
    shop = order_shop()
    order_id = shop.order([("GORRO-1", 1), ("POL-S", 1)])
    shop.pay(order_id)
    record = shop.settled(order_id, S.FAILED)
    assert record.error is not None and record.error.reason == "Gorro no está sincronizado"
    # Fixed: the product now exists in Bsale and gets linked; then "Reintentar"
    shop.account.add_product("Gorro", [{"code": "GORRO-1", "stock": {shop.demo.office_id: 5}, "price": 7990}])
    shop.link("GORRO-1")
    assert admin(["retry-order", shop.code, str(order_id)]) == 0
    assert "created" in capsys.readouterr().out
    assert shop.record(order_id).state is S.CREATED  # type: ignore[union-attr]
    assert len(shop.documents(order_id)) == 1


def test_a_serial_numbered_product_needs_a_manual_document(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    order_id = shop.order([("NB-1", 1)])
    shop.pay(order_id)
    record = shop.settled(order_id, S.NEEDS_MANUAL)
    assert record.error is not None and "número de serie" in record.error.reason
    assert shop.bsale_posts("/v1/documents.json") == []


def test_bsale_out_of_stock_waits_for_a_person_then_retry_orders(
    order_shop: Callable[..., OrderShop], capsys: pytest.CaptureFixture[str]
) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-M", 2)])
    shop.account.set_stock(shop.demo.variant_id("POL-M"), shop.demo.office_id, 1)
    shop.pay(order_id)
    record = shop.settled(order_id, S.FAILED)
    error = record.error
    assert error is not None and error.upstream == 'There is no stock for this products: "POL-M"'
    assert error.reason.startswith("Bsale no tiene stock suficiente")
    capsys.readouterr()
    assert admin(["orders", shop.code, "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    failed = [o for o in listing["orders"] if o["state"] == "failed"]
    assert [o["order"] for o in failed] == [order_id]
    assert failed[0]["problem"]["upstream"] == 'There is no stock for this products: "POL-M"'
    assert listing["held"] == {"POL-M": 2}
    assert admin(["orders", shop.code]) == 0  # the table an operator reads says the same
    assert "Bsale dijo: «There is no stock" in capsys.readouterr().out
    shop.account.set_stock(shop.demo.variant_id("POL-M"), shop.demo.office_id, 10)
    assert admin(["retry-orders", shop.code]) == 0
    assert shop.record(order_id).state is S.CREATED  # type: ignore[union-attr]


def test_bsale_down_for_a_while_then_back(order_shop: Callable[..., OrderShop], bsale: BsaleSandbox) -> None:
    shop = order_shop()
    order_id = shop.order([("TAZA-1", 1)])
    bsale.faults.add(status=503, count=6, path_contains="/v1/documents.json")
    shop.pay(order_id)
    record = shop.settled(order_id, S.CREATED, timeout=90)
    assert len(shop.documents(order_id)) == 1 and not bsale.faults.pending
    assert record.last_error is None


# ------------------------------------------------------------------------------------------------ exactly once


def test_ten_concurrent_duplicate_order_paid_deliveries_make_one_document(
    order_shop: Callable[..., OrderShop], bsale: BsaleSandbox
) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-S", 1)])
    bsale.faults.slow(seconds=1.0, count=1, path_contains="/v1/documents.json")  # duplicates land mid-creation
    shop.store.pay_order(order_id)  # Jumpseller's own delivery
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(shop.deliver("order_paid", order_id).status_code))
               for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 10
    shop.settled(order_id, S.CREATED)
    assert len(shop.documents(order_id)) == 1
    assert len(shop.bsale_posts("/v1/documents.json")) == 1  # the state record stopped them, not just salesId


def test_a_crash_after_bsale_made_the_document_makes_no_second_one(
    order_shop: Callable[..., OrderShop], crash_at: Callable[[str], Crash]
) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-M", 1)])
    crashed = crash_at("document_posted")  # the worker dies after Bsale answered, before the record was saved
    shop.pay(order_id)
    record = shop.settled(order_id, S.CREATED)
    assert crashed
    assert len(shop.documents(order_id)) == 1
    # replayed by salesId (a 429 of the sandbox's rate limit made nothing, and the client retried it)
    assert [r.status for r in shop.bsale_posts("/v1/documents.json") if r.status != 429] == [201, 200]
    assert record.document is not None and record.document.replayed
    bodies = [r.body for r in shop.bsale_posts("/v1/documents.json") if r.status != 429]
    assert bodies[0] == bodies[1]


def test_an_sqs_replay_of_an_old_message_does_nothing_new(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop()
    order_id = shop.order([("TAZA-1", 1)])
    shop.pay(order_id)
    shop.settled(order_id, S.CREATED)
    bsale_calls, js_posts = len(shop.bsale_posts("/v1/")), shop.js_posts()
    old = WorkMessage(kind="jumpseller.webhook", shop_id=shop.code, subject=f"order {order_id}",
                      payload={"event": "order_paid", "body": shop.body(order_id)})
    for _ in range(2):
        shop.stack.client("sqs").send_message(QueueUrl=shop.stack.queue_url("OrderQueue"),
                                              MessageBody=old.model_dump_json())
    assert shop.stack.drain(60)
    assert len(shop.bsale_posts("/v1/")) == bsale_calls and shop.js_posts() == js_posts
    assert len(shop.documents(order_id)) == 1


def test_a_record_stuck_in_creating_is_recovered_by_retry_order_with_the_same_sales_id(
    order_shop: Callable[..., OrderShop], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = order_shop(document_mode="manual")
    order_id = shop.order([("POL-S", 1)])
    shop.pay(order_id)
    shop.settled(order_id, S.RECEIVED)  # manual mode: waits
    # A worker takes the step and dies right after Bsale made the document; its message never comes back
    from bridge.shops.context import open_shop

    dying = [True]

    def die(step: str) -> None:
        if dying:
            raise RuntimeError("dead")

    monkeypatch.setattr(protocol, "checkpoint", die)
    with pytest.raises(RuntimeError):
        flow.create_document(open_shop(shop.code), order_id, "sqs-gone")
    dying.clear()
    assert shop.record(order_id).state is S.CREATING  # type: ignore[union-attr]
    assert admin(["retry-order", shop.code, str(order_id)]) == 1  # its lease is not over: refused
    assert "busy" in capsys.readouterr().out
    assert admin(["retry-order", shop.code, str(order_id), "--force"]) == 0
    assert shop.record(order_id).state is S.CREATED  # type: ignore[union-attr]
    assert len(shop.documents(order_id)) == 1
    assert len({r.body["salesId"] for r in shop.bsale_posts("/v1/documents.json")}) == 1


def test_manual_mode_emits_on_request_once(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop(document_mode="manual")
    order_id = shop.order([("TAZA-1", 1)])
    shop.pay(order_id)
    shop.settled(order_id, S.RECEIVED)
    assert held.held_by_sku(shop.code) == {"TAZA-1": 1}  # not in Bsale yet: still held
    assert admin(["create-document", shop.code, str(order_id)]) == 0
    assert admin(["create-document", shop.code, str(order_id)]) == 0  # "ya tiene boleta": nothing new
    assert len(shop.documents(order_id)) == 1 and held.held_by_sku(shop.code) == {}


def test_a_boleta_that_must_become_a_factura_is_credited_first_and_never_doubled(
    order_shop: Callable[..., OrderShop], capsys: pytest.CaptureFixture[str]
) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-S", 1), ("TAZA-1", 1)], billing=FACTURA_BILLING)
    shop.pay(order_id)
    shop.settled(order_id, S.CREATED)
    [boleta] = shop.documents(order_id)
    # The shop changes the order to factura in Jumpseller (order API), which re-sends it as paid
    answer = requests.put(f"{shop.jumpseller_sandbox.url}/v1/orders/{order_id}.json",
                          auth=(shop.store.login, shop.store.auth_token), timeout=30,
                          json={"order": {"additional_fields": [{"label": k, "value": v}
                                                                for k, v in FACTURA.items()]}})
    assert answer.status_code == 200
    assert shop.deliver("order_paid", order_id).status_code == 200
    assert shop.stack.drain(60)
    assert len(shop.documents(order_id)) == 1  # the record stopped it: Bsale's salesId would not (per type)
    assert admin(["create-document", shop.code, str(order_id)]) == 1
    assert "--replace" in capsys.readouterr().out
    assert admin(["create-document", shop.code, str(order_id), "--replace"]) == 0
    record = shop.record(order_id)
    assert record is not None and record.state is S.CREATED and record.document is not None
    assert record.document.kind == "factura" and record.generation == 2
    [ret] = [r for r in shop.account.returns.values() if r.reference_document_id == boleta.id]
    factura = next(d for d in shop.documents(order_id) if d.id != boleta.id)
    # Each generation has its own salesId in Bsale: the factura's is the order's with the generation appended
    assert (boleta.sales_id, factura.sales_id) == (f"js-{shop.code}-{order_id}", f"js-{shop.code}-{order_id}-2")
    assert record.document.sales_id == factura.sales_id
    assert ret.credit_note_id < factura.id  # credited first
    assert factura.total_amount == boleta.total_amount == 9990 + 4990
    assert admin(["create-document", shop.code, str(order_id), "--replace"]) == 0  # already a factura
    assert len(shop.documents(order_id)) == 2 and len(shop.account.returns) == 1
