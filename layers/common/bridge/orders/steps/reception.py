"""Cancellation after a consumption: the units go back into Bsale by a stock reception.

Found again by `documentNumber` (`js-<shop>-<id>-anulacion`, a documented filter) before every send.
"""

from __future__ import annotations

from typing import Any

from bridge.clients import bsale_documents
from bridge.models.order_record import OrderRecord, OrderState, Step, StockMove
from bridge.orders import protocol
from bridge.orders.protocol import Done, ExactlyOnceStep, ForAPerson, Result, to_int
from bridge.shops.context import ShopContext

S = OrderState


def restock(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    consumption = record.consumption
    assert consumption is not None
    reference = f"{record.sales_id}-anulacion"
    body = {
        "document": "Anulación pedido Jumpseller", "documentNumber": reference, "officeId": ctx.shop.office_id,
        "note": f"Pedido Jumpseller {record.order_id} cancelado ({reference})",
        "details": [{"quantity": qty, "variantId": variant} for variant, qty in consumption.lines],
    }
    return protocol.begin(ctx, STEP, record.order_id, attempt, from_states=from_states,
                          sets={"intent": {"body": body}, "error": None,
                                "reception": StockMove(reference=reference, lines=consumption.lines)},
                          what=f"reception {reference}")


class Reception(ExactlyOnceStep):
    step = Step.RESTOCK
    in_flight = S.RESTOCKING

    def perform(self, ctx: ShopContext, record: OrderRecord, *, look_first: bool) -> Done | ForAPerson:
        body: dict[str, Any] = (record.intent or {})["body"]
        reference = str(body["documentNumber"])
        earlier = [r for r in bsale_documents.receptions_numbered(ctx.bsale, reference)
                   if str(r.get("documentNumber") or "") == reference]
        made = earlier[0] if earlier else bsale_documents.create_reception(ctx.bsale, body)
        if not earlier:
            protocol.crash_window("reception_posted")
        move = (record.reception or StockMove(reference=reference)).model_copy(update={"id": to_int(made.get("id"))})
        return Done(S.RESTOCKED, {"reception": move, "last_error": None},
                    f"reception {move.id}" + (" (found)" if earlier else ""), found=bool(earlier))

    def finish(self, ctx: ShopContext, settled: OrderRecord, done: Done, attempt: str) -> Result:
        move = settled.reception
        assert move is not None
        return protocol.undone(ctx, settled, "restocked", f"reception {move.id}", found=done.found)


STEP = Reception()
