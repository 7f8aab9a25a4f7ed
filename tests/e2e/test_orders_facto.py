"""F15 through the local stack: Jumpseller order webhooks (signed, over HTTP) → SQS → worker → Facto (SOAP).

Two shapes: Jumpseller + Facto without Bsale, and Jumpseller + Bsale (stock) + Facto (documents). The Facto
sandbox, like Facto, does not deduplicate: every emission it counts is a legal document. Exactly once is proven
against it: duplicate and concurrent deliveries, a connection cut after Facto made the document, status 1 then a
retry, status 2; cancel → exactly one credit note. The PDF kept by the stack stays reachable after Facto's link
expired.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from admin import main as admin
from bridge.models.order_record import OrderRecord, OrderState
from bridge.store import orders as records
from demo import FactoShop, connect_facto_shop
from devstack import LocalStack
from sandboxes import FakeClock
from sandboxes.bsale import BsaleSandbox
from sandboxes.facto import Emitted, FactoSandbox
from sandboxes.jumpseller import JumpsellerSandbox, sign
from tests.e2e.conftest import eventually
from tests.e2e.faults import Crash

S = OrderState
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def facto_clock() -> FakeClock:
    import time

    return FakeClock(start=time.time())


@pytest.fixture(scope="module")
def facto(facto_clock: FakeClock) -> Iterator[FactoSandbox]:
    with FactoSandbox(clock=facto_clock) as sandbox:
        yield sandbox


@dataclass
class Shop:
    shop: FactoShop
    stack: LocalStack
    facto: FactoSandbox
    jumpseller: JumpsellerSandbox

    @property
    def code(self) -> str:
        return self.shop.code

    def order(self, lines: list[tuple[str, int]], **kwargs: Any) -> int:
        specs = []
        for sku, qty in lines:
            found = self.shop.store.find_sku(sku)
            assert found is not None, sku
            product, variant = found
            specs.append((product.id, variant.id if variant else None, qty))
        fields = kwargs.pop("fields", {})
        extra = [{"label": k, "value": v} for k, v in fields.items()]
        return int(self.shop.store.create_order(specs, additional_fields=extra, **kwargs).id)

    def total(self, order_id: int) -> int:
        return int(round(self.shop.store.order(order_id).to_json(self.shop.store)["total"]))

    def deliver(self, event: str, order_id: int) -> requests.Response:
        raw = json.dumps({"order": self.shop.store.order(order_id).to_json(self.shop.store)},
                         ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Jumpseller-Event": event,
                   "Jumpseller-Store-Code": self.code,
                   "Jumpseller-Hmac-Sha256": sign(self.shop.store.hooks_token, raw)}
        return requests.post(f"{self.stack.api_url}/jumpseller/webhooks", data=raw, headers=headers, timeout=30)

    def record(self, order_id: int) -> OrderRecord | None:
        return records.get(self.code, order_id)

    def settled(self, order_id: int, *states: OrderState, timeout: float = 20) -> OrderRecord:
        def check() -> OrderRecord | None:
            found = self.record(order_id)
            return found if found is not None and found.state in states else None

        found: OrderRecord = eventually(check, timeout=timeout)
        assert self.stack.drain(60)
        return found

    def emitted(self, order_id: int, tipo: int | None = None) -> list[Emitted]:
        return [d for d in self.facto.emitted(tipo=tipo)
                if d.external_id in (f"js-{self.code}-{order_id}", f"js-{self.code}-{order_id}-nc")]

    def js_order(self, order_id: int) -> Any:
        return self.shop.store.order(order_id)


@pytest.fixture
def facto_shop(stack: LocalStack, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox,
               facto: FactoSandbox) -> Iterator[Callable[..., Shop]]:
    def make(*, with_bsale: bool = False, **options: Any) -> Shop:
        n = next(_numbers)
        shop = connect_facto_shop(stack.api_url, jumpseller, facto, code=f"fac-{n}",
                                  bsale=bsale if with_bsale else None, cpn_id=9000 + n, options=options)
        return Shop(shop, stack, facto, jumpseller)

    yield make
    facto.faults.clear()


def admin_run(*args: str) -> int:
    return admin([*args])


def test_facto_only_shop_paid_boleta_then_canceled_makes_exactly_one_credit_note(
        facto_shop: Callable[..., Shop], facto_clock: FakeClock) -> None:
    shop = facto_shop()
    order_id = shop.order([("POL-M", 2), ("TAZA-1", 1)])
    shop.shop.store.pay_order(order_id)
    record = shop.settled(order_id, S.CREATED)
    [boleta] = shop.emitted(order_id)
    assert (boleta.tipo, boleta.status, boleta.total) == (39, 0, shop.total(order_id))
    assert boleta.request.opciones == {"valores_brutos": "1"}
    assert {d["sku"] for d in boleta.request.detalles if "sku" in d} == {"POL-M", "TAZA-1"}
    document = record.document
    assert document is not None and (document.number, document.provider) == (boleta.folio, "facto")
    assert set(document.files) == {"pdf", "xml"}
    # Jumpseller: the document attached once, with the stack's lasting link, and a note in the history
    [attached] = eventually(lambda: shop.js_order(order_id).documents)
    assert attached["public_id"] == f"39-{boleta.folio}"
    assert attached["url"].startswith(f"{shop.stack.api_url}/documents/")
    assert any("emitida en Facto" in h["message"] for h in shop.js_order(order_id).history)
    # 31 days later Facto's own link is gone; the stack's still serves the PDF
    facto_clock.advance(31 * 86400)
    assert requests.get(document.links["dte_pdf"], timeout=30).status_code == 404
    kept = requests.get(attached["url"], timeout=30)
    assert kept.status_code == 200 and kept.content.startswith(b"%PDF")
    assert f"folio {boleta.folio}".encode() in kept.content

    shop.shop.store.cancel_order(order_id)
    record = shop.settled(order_id, S.CREDITED)
    shop.deliver("order_canceled", order_id)  # a duplicate cancellation
    assert shop.stack.drain(60)
    [note] = shop.emitted(order_id, tipo=61)
    assert note.request.referencias[0] == {"docreferencia_tipo": "39", "docreferencia_folio": str(boleta.folio),
                                           "codigo_referencia": "1",
                                           "descripcion": f"Anulación del pedido Jumpseller {order_id}"}
    assert note.total == boleta.total and note.request.encabezado["receptor_rut"] == "76123456-0"
    assert record.credit_note is not None and record.credit_note.number == note.folio


def test_bsale_keeps_the_stock_facto_emits_then_cancel_gives_credit_note_and_reception(
        facto_shop: Callable[..., Shop]) -> None:
    shop = facto_shop(with_bsale=True)
    demo = shop.shop.bsale
    assert demo is not None
    variant = demo.variant_id("POL-M")
    demo.bsale.set_stock(variant, demo.office_id, 10)  # a notification: links POL-M
    eventually(lambda: shop.stack.drain(5))
    before = float(demo.bsale.stock_of(variant, demo.office_id))
    order_id = shop.order([("POL-M", 3)])
    shop.shop.store.pay_order(order_id)
    record = shop.settled(order_id, S.CONSUMED)
    assert [d.tipo for d in shop.emitted(order_id)] == [39]
    assert record.document is not None and record.consumption is not None and record.consumption.id is not None
    assert float(demo.bsale.stock_of(variant, demo.office_id)) == before - 3
    assert not [d for d in demo.bsale.documents.values() if d.sales_id and str(order_id) in d.sales_id]

    shop.shop.store.cancel_order(order_id)
    record = shop.settled(order_id, S.RESTOCKED)
    assert [d.tipo for d in shop.emitted(order_id)] == [39, 61]
    assert float(demo.bsale.stock_of(variant, demo.office_id)) == before
    assert record.reception is not None and record.credit_note is not None


def test_ten_concurrent_deliveries_make_one_emission(facto_shop: Callable[..., Shop]) -> None:
    shop = facto_shop()
    order_id = shop.order([("POL-S", 1)])
    shop.shop.store.pay_order(order_id)
    threads = [threading.Thread(target=shop.deliver, args=("order_paid", order_id)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shop.settled(order_id, S.CREATED)
    assert len(shop.emitted(order_id)) == 1


def test_a_connection_cut_after_facto_made_the_document_waits_for_a_person(
        facto_shop: Callable[..., Shop], capsys: pytest.CaptureFixture[str]) -> None:
    shop = facto_shop()
    order_id = shop.order([("POL-S", 1)])
    shop.facto.next_outcome("drop_after_create")
    shop.shop.store.pay_order(order_id)
    record = shop.settled(order_id, S.NEEDS_MANUAL)
    assert record.error is not None and record.error.code == "facto_unknown"
    assert f"js-{shop.code}-{order_id}" in record.error.reason
    # replays and a plain retry never emit again
    for _ in range(3):
        shop.deliver("order_paid", order_id)
    assert shop.stack.drain(60)
    assert admin_run("retry-order", shop.code, str(order_id)) != 0 or shop.record(order_id).state is S.NEEDS_MANUAL
    [made] = shop.emitted(order_id)  # the one Facto made: 0 further emissions
    # the operator finds it in Facto's portal and records it; a later cancellation credits it
    assert admin_run("resolve-order", shop.code, str(order_id), "--note", "visto en Facto",
                     "--folio", str(made.folio)) == 0
    record = shop.settled(order_id, S.CREATED)
    assert record.document is not None and record.document.number == made.folio
    shop.shop.store.cancel_order(order_id)
    shop.settled(order_id, S.CREDITED)
    assert [d.tipo for d in shop.emitted(order_id)] == [39, 61]


def test_status_1_fails_with_factos_words_and_the_retry_emits_once(facto_shop: Callable[..., Shop]) -> None:
    shop = facto_shop()
    order_id = shop.order([("POL-S", 1)])
    shop.facto.next_outcome("status1", message="No existen folios disponibles para el tipo de documento 39")
    shop.shop.store.pay_order(order_id)
    record = shop.settled(order_id, S.FAILED)
    assert record.error is not None and record.error.code == "facto_refused"
    assert record.error.upstream == "No existen folios disponibles para el tipo de documento 39"  # verbatim
    assert "folios" in record.error.reason and shop.emitted(order_id) == []
    assert any("Facto: «No existen folios" in h["message"] for h in shop.js_order(order_id).history)
    assert admin_run("retry-order", shop.code, str(order_id)) == 0
    shop.settled(order_id, S.CREATED)
    assert len(shop.emitted(order_id)) == 1


def test_status_2_is_a_draft_never_emitted_again(facto_shop: Callable[..., Shop]) -> None:
    shop = facto_shop()
    order_id = shop.order([("POL-S", 1)])
    shop.facto.next_outcome("status2")
    shop.shop.store.pay_order(order_id)
    record = shop.settled(order_id, S.NEEDS_MANUAL)
    assert record.error is not None and record.error.code == "facto_draft"
    assert record.error.upstream is not None and "no fue posible enviar al S.I.I." in record.error.upstream
    assert record.draft is not None and record.document is None
    for _ in range(3):
        shop.deliver("order_paid", order_id)
    assert shop.stack.drain(60)
    admin_run("retry-order", shop.code, str(order_id))  # refused without --force
    assert [d.status for d in shop.emitted(order_id)] == [2]
    assert shop.record(order_id).state is S.NEEDS_MANUAL  # type: ignore[union-attr]


def test_a_worker_killed_right_after_facto_answered_never_emits_again(
        facto_shop: Callable[..., Shop], crash_at: Callable[[str], Crash]) -> None:
    shop = facto_shop()
    order_id = shop.order([("POL-S", 1)])
    crashed = crash_at("facto_emitted")  # the worker dies after Facto answered, before the record was saved
    shop.shop.store.pay_order(order_id)
    record = shop.settled(order_id, S.NEEDS_MANUAL, timeout=40)  # SQS brings the message back: it stops there
    assert crashed and record.error is not None and record.error.code == "facto_unknown"
    assert len(shop.emitted(order_id)) == 1


def test_golden_factura_through_the_stack(facto_shop: Callable[..., Shop]) -> None:
    shop = facto_shop()
    fields = {"Tipo de Documento": "factura", "Razón Social": "Ferretería Los Andes & Cía <Ltda>",
              "Giro": "Venta de artículos de ferretería"}
    billing = {"taxid": "77.879.240-0", "address": "Av. Apoquindo", "street_number": 3000,
               "municipality": "Las Condes", "city": "Santiago"}
    order_id = shop.order([("POL-M", 3), ("TAZA-1", 2)], fields=fields, billing=billing, shipping=4500)
    shop.shop.store.pay_order(order_id)
    shop.settled(order_id, S.CREATED)
    [factura] = shop.emitted(order_id)
    head, totals = factura.request.encabezado, factura.request.totales
    assert factura.tipo == 33 and factura.status == 0
    assert head["receptor_rut"] == "77879240-0" and head["receptor_razon"] == "Ferretería Los Andes & Cía <Ltda>"
    assert (head["receptor_comuna"], head["receptor_ciudad"]) == ("Las Condes", "Santiago")
    assert head["identificador_externo_doc"] == f"js-{shop.code}-{order_id}"
    paid = shop.total(order_id)
    afecto, iva = int(totals["total_afecto"]), int(totals["total_iva"])
    assert iva == (afecto * 19 + 50) // 100
    assert afecto + iva + int(totals["total_exento"]) == int(totals["total_final"]) == paid


def test_dev_local_shows_a_facto_shop(stack: LocalStack, jumpseller: JumpsellerSandbox, facto: FactoSandbox,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from demo import show_facto_shop

    show_facto_shop(stack, jumpseller, facto)
    shown = capsys.readouterr().out
    assert "Facto shop 'demo-facto' (Jumpseller + Facto, no Bsale)" in shown
    assert "→ Facto boleta N°" in shown


def test_a_credit_note_of_unknown_outcome_is_never_emitted_again(facto_shop: Callable[..., Shop]) -> None:
    shop = facto_shop()
    order_id = shop.order([("POL-S", 1)])
    shop.shop.store.pay_order(order_id)
    shop.settled(order_id, S.CREATED)
    shop.facto.next_outcome("drop_after_create")
    shop.shop.store.cancel_order(order_id)
    record = shop.settled(order_id, S.NEEDS_MANUAL)
    assert record.error is not None and (record.error.code, record.error.step) == ("facto_unknown", "credit")
    for _ in range(3):
        shop.deliver("order_canceled", order_id)
    assert shop.stack.drain(60)
    admin_run("retry-order", shop.code, str(order_id))  # refused without --force
    assert [d.tipo for d in shop.emitted(order_id)] == [39, 61]  # the one Facto made, never a second
    assert shop.record(order_id).state is S.NEEDS_MANUAL  # type: ignore[union-attr]
