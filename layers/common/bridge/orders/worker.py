"""What the order worker does with one queued Jumpseller webhook: route it, then act on the order's record.

Routing uses the webhook's event and the order's `status_enum`, never the translated labels. The four order
events registered at connect map to one action each; `order_updated` / `order_shipped` (if a shop registers
them) act as the event their `status_enum` names, which the state record makes harmless when it repeats.
Events can arrive late, twice or out of order (paid before pending, canceled before paid): every action is
defined on the order's record so that only the first correct effect happens (see bridge/orders/flow.py).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from bridge import queue
from bridge.models.jumpseller_order import JumpsellerOrder, OrderStatus, parse_order_webhook
from bridge.observability import logger, metrics, work_keys
from bridge.orders import flow
from bridge.queue import WorkMessage
from bridge.redact import scrub_text
from bridge.settings import settings
from bridge.shops.context import ShopContext, open_shop
from bridge.store import held, shops


class Action(StrEnum):
    HOLD = "hold"
    PAID = "paid"
    CANCEL = "cancel"
    ABANDON = "abandon"
    IGNORE = "ignore"


EVENT_ACTIONS = {
    "order_pending_payment": Action.HOLD,
    "order_paid": Action.PAID,
    "order_canceled": Action.CANCEL,
    "order_abandoned": Action.ABANDON,
}
STATUS_ACTIONS = {
    OrderStatus.PENDING_PAYMENT: Action.HOLD,
    OrderStatus.PAID: Action.PAID,
    OrderStatus.CANCELED: Action.CANCEL,
    OrderStatus.ABANDONED: Action.ABANDON,
}


def route(event: str, status: OrderStatus | None) -> Action:
    """The action for an order event; for the generic events, the one the order's status_enum names."""
    if event in EVENT_ACTIONS:
        return EVENT_ACTIONS[event]
    if event in ("order_updated", "order_shipped") and status is not None:
        return STATUS_ACTIONS[status]
    return Action.IGNORE


def handle_jumpseller(message: WorkMessage, attempt: str | None = None) -> str:
    """Act on one webhook. `attempt` is the SQS message id: the same message coming back may resume its step.

    Retryable failures raise (SQS retries, then dead-letters); everything else is recorded on the order.
    A spent quota or a shop no longer connected raise too: the worker hands the message back or drops it.
    """
    event = str(message.payload.get("event"))
    body = message.payload.get("body")
    if not event.startswith("order_"):
        with work_keys(shop=message.shop_id, event=event, subject=message.subject):
            shops.record_event(message.shop_id, f"jumpseller-{event}", message.subject.replace(" ", "-"),
                               message.payload, int(time.time()))
            logger.info("Jumpseller event recorded")
        return "recorded"
    try:
        order = parse_order_webhook(body if isinstance(body, dict) else {})
    except ValidationError as exc:
        with work_keys(shop=message.shop_id, event=event, subject=message.subject):
            shops.record_event(message.shop_id, "jumpseller-unreadable", message.subject.replace(" ", "-") or "order",
                               {"event": event, "problems": exc.error_count()}, int(time.time()))
            logger.warning("order webhook does not parse: recorded, not retried")
        return "rejected"
    with work_keys(shop=message.shop_id, order=order.id, event=event):
        return _handle(message, event, order, attempt or flow.new_attempt("message"))


def status_enum(raw: dict[str, Any]) -> OrderStatus | None:
    """The order's `status_enum` as sent. Never derived from the translated `status` / `status_name` labels."""
    value = raw.get("status_enum")
    return OrderStatus(value) if value in {s.value for s in OrderStatus} else None


def _handle(message: WorkMessage, event: str, order: JumpsellerOrder, attempt: str) -> str:
    raw: dict[str, Any] = dict((message.payload.get("body") or {}).get("order") or {})
    action = route(event, status_enum(raw))
    if action is Action.IGNORE:
        logger.info("order event ignored", extra={"status_enum": raw.get("status_enum")})
        return "ignored"
    ctx = open_shop(message.shop_id, webhook=True)  # a shop no longer connected: dropped (bridge/worker.py)
    # A spent quota raises out of here: the worker hands the message back, delayed (bridge/worker.py); any step
    # it had claimed was let go, so the copy resumes it.
    if action is Action.HOLD:
        result = flow.on_pending(ctx, order)
    elif action is Action.PAID:
        result = flow.on_paid(ctx, order, raw, attempt)
    elif action is Action.CANCEL:
        result = flow.on_canceled(ctx, order, raw, attempt)
    else:
        result = flow.on_abandoned(ctx, order)
    _restore_stock(ctx, order)
    if result.action in ("failed", "needs_manual"):
        # FailedDocumentsAlarm: the customer is owed a tax document (or the stock movement) until a person acts.
        metrics.add_metric(name="FailedDocuments", unit=MetricUnit.Count, value=1)
        # Facto may hold a document the order does not record: a draft (status 2) or an unknown outcome.
        code = result.record.error.code if result.record is not None and result.record.error else ""
        if code == "facto_draft":
            metrics.add_metric(name="FactoDrafts", unit=MetricUnit.Count, value=1)
        elif code == "facto_unknown":
            metrics.add_metric(name="FactoUnknownOutcomes", unit=MetricUnit.Count, value=1)
    elif result.action in ("created", "consumed", "credited", "restocked"):
        metrics.add_metric(name=f"Orders{result.action.capitalize()}", unit=MetricUnit.Count, value=1)
        if result.action == "created":
            # The dashboard's document latency: from the paid order's webhook acknowledged to its boleta or
            # factura made (whole seconds), deferrals and retries included.
            metrics.add_metric(name="DocumentLatency", unit=MetricUnit.Seconds,
                               value=max(0, int(time.time()) - message.received_at))
    logger.info("order event handled", extra={"action": result.action, "detail": scrub_text(result.detail)[:300]})
    return result.action


def _restore_stock(ctx: ShopContext, order: JumpsellerOrder) -> None:
    """Every order event: Jumpseller took or gave back the order's units itself, and held units may have moved,
    so Jumpseller must show max(0, available − held) again for the order's variants (sync/push.py says why).
    One catalog message per variant: each is a few calls, deferred on its own when the shop's quota is spent,
    so an order of many lines never makes this message too big to get through."""
    for variant_id in held.order_variants(ctx.shop_id, order.id, [p.sku for p in order.products if p.sku]):
        queue.send(settings().catalog_queue_url, WorkMessage(
            kind="stock.resync", shop_id=ctx.shop_id, payload={"variant_id": variant_id, "order": order.id},
            subject=f"stock {variant_id} after order {order.id}"))
