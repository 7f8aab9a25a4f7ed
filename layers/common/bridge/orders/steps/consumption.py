"""Documents off: the paid order's units taken out of Bsale by a stock consumption.

Bsale does not deduplicate consumptions. Each carries a note unique to the order, saved in the record before
sending. An attempt that resumes a `consuming` record (so an earlier one may have reached Bsale) first reads the
office's consumptions for that note; found: recorded, not sent. When that search cannot be completed the order
goes to `needs_manual` instead of risking a second one.
"""

from __future__ import annotations

from typing import Any

from bridge.clients import bsale_documents
from bridge.models.jumpseller_order import JumpsellerOrder
from bridge.models.order_record import OrderError, OrderRecord, OrderState, Step, StockMove
from bridge.orders import followups, protocol
from bridge.orders.problems import problem
from bridge.orders.protocol import Done, ExactlyOnceStep, ForAPerson, Result, to_int
from bridge.orders.steps.bsale_document import resolve_links
from bridge.shops.context import ShopContext
from bridge.store import held
from bridge.store import orders as records

S = OrderState


def stock_lines(ctx: ShopContext, order: JumpsellerOrder) -> tuple[dict[int, int], list[OrderError]]:
    """Bsale variant → units of the order's products, or why they cannot be taken out of Bsale."""
    resolved = resolve_links(ctx, order)
    lines: dict[int, int] = {}
    problems: list[OrderError] = []
    for product in order.products:
        if product.qty <= 0:
            continue
        link = resolved.get((product.sku or "").strip())
        if link is None:
            problems.append(problem("not_synced", f"{product.name} no está sincronizado", Step.CONSUMPTION,
                                    retryable=True))
        elif link.serial:
            problems.append(problem("serial_product", f"{product.name} tiene número de serie en Bsale: descuenta "
                                                      "su stock a mano en Bsale", Step.CONSUMPTION))
        else:
            lines[link.variant_id] = lines.get(link.variant_id, 0) + product.qty
    return lines, problems


def consume(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    order = JumpsellerOrder.model_validate(record.order)
    lines, problems = stock_lines(ctx, order)
    now = protocol.now()
    if problems:
        manual = any(p.code == "serial_product" for p in problems)
        error = problems[0].model_copy(update={"reason": "; ".join(p.reason for p in problems),
                                               "retryable": all(p.retryable for p in problems)})
        return protocol.fail(ctx, order.id, from_states, S.NEEDS_MANUAL if manual else S.FAILED, error)
    if not lines:
        reason = "El pedido no tiene productos que descontar del stock de Bsale"
        moved = records.move(ctx.shop_id, order.id, from_states=from_states, to=S.SKIPPED, now=now,
                             sets={"skip_reason": reason}, what=reason)
        held.release(ctx.shop_id, order.id, "skipped", now)
        return Result("skipped", reason, moved)
    note = f"Pedido Jumpseller {order.id} ({record.sales_id})"
    body = {"note": note, "officeId": ctx.shop.office_id,
            "details": [{"quantity": qty, "variantId": variant} for variant, qty in sorted(lines.items())]}
    return protocol.begin(ctx, STEP, order.id, attempt, from_states=from_states,
                          sets={"intent": {"body": body}, "error": None,
                                "consumption": StockMove(reference=note, lines=sorted(lines.items()))},
                          what=f"consumption «{note}»")


class Consumption(ExactlyOnceStep):
    step = Step.CONSUMPTION
    in_flight = S.CONSUMING

    def perform(self, ctx: ShopContext, record: OrderRecord, *, look_first: bool) -> Done | ForAPerson:
        body: dict[str, Any] = (record.intent or {})["body"]
        note = str(body["note"])
        made: dict[str, Any] | None = None
        if look_first:  # an earlier attempt may have reached Bsale: look before sending again
            made, complete = bsale_documents.find_consumption(ctx.bsale, ctx.shop.office_id, note)
            if made is None and not complete:
                return ForAPerson(S.NEEDS_MANUAL, problem(
                    "consumption_unconfirmed",
                    f"No se pudo confirmar si el stock de este pedido ya se descontó en Bsale. Busca en los consumos "
                    f"de stock de la sucursal uno con la nota «{note}»: si está, marca el pedido como resuelto "
                    "(resolve-order); si no está, reintenta con --force.", Step.CONSUMPTION_CHECK))
        replayed = made is not None
        if made is None:
            made = bsale_documents.create_consumption(ctx.bsale, body)
            protocol.crash_window("consumption_posted")
        move = (record.consumption or StockMove(reference=note)).model_copy(update={"id": to_int(made.get("id"))})
        return Done(S.CONSUMED, {"consumption": move, "last_error": None, "error": None},
                    f"consumption {move.id}" + (" (found, made earlier)" if replayed else ""), found=replayed)

    def finish(self, ctx: ShopContext, settled: OrderRecord, done: Done, attempt: str) -> Result:
        move = settled.consumption
        assert move is not None
        followups.follow_up(ctx, settled)
        return Result("consumed", f"consumption {move.id}" + (" (found, not sent again)" if done.found else ""),
                      settled)


STEP = Consumption()
