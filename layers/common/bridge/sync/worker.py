"""What the catalog worker does with one queued event (Bsale notification or Jumpseller product webhook)."""

from __future__ import annotations

import time

from aws_lambda_powertools.metrics import MetricUnit

from bridge.clients.bsale import BsaleNotFound
from bridge.errors import UpstreamError
from bridge.models.bsale import BsaleNotification
from bridge.observability import logger, metrics, work_keys
from bridge.queue import WorkMessage
from bridge.shops.context import ShopContext, open_shop
from bridge.store import shops
from bridge.sync import linking, price, stock
from bridge.sync.stock import Outcome


def handle_catalog_event(message: WorkMessage) -> Outcome:
    """Act on one event. Retryable failures raise (SQS retries, then dead-letters); others are recorded.

    A spent quota or a shop no longer connected raise too: the worker hands the message back or drops it
    (bridge/worker.py)."""
    with work_keys(shop=message.shop_id, subject=message.subject):
        ctx = open_shop(message.shop_id, webhook=True, impatient=True)
        try:
            outcome = _act(ctx, message)
        except BsaleNotFound as exc:
            if exc.what != "variant":
                raise
            return Outcome("dropped", linking.variant_gone(ctx, exc.ident))
        except UpstreamError as exc:
            if exc.retryable:
                raise
            # Retrying cannot help (Bsale or Jumpseller refused): keep the reason where the shop's status shows it.
            shops.record_event(ctx.shop_id, "problem", message.subject.replace(" ", "-"),
                               {"reason": exc.reason, "event": message.payload}, int(time.time()))
            logger.error("event could not be applied", extra={"reason": exc.reason})
            return Outcome("failed", exc.reason)
        if message.kind == "bsale.notification" and outcome.action == "written":
            # The dashboard's propagation latency: from Bsale's notification acknowledged to Jumpseller written
            # (whole seconds: received_at is), deferrals and retries included.
            metrics.add_metric(name="PropagationLatency", unit=MetricUnit.Seconds,
                               value=max(0, int(time.time()) - message.received_at))
        logger.info("event handled", extra={"action": outcome.action, "detail": outcome.detail})
        return outcome


def _act(ctx: ShopContext, message: WorkMessage) -> Outcome:
    if message.kind == "stock.resync":
        return stock.resync_variant(ctx, str(message.payload["variant_id"]))
    if message.kind == "jumpseller.webhook":
        event = str(message.payload.get("event"))
        return Outcome("linked", linking.on_jumpseller_product(ctx, event, dict(message.payload.get("body") or {})))
    notification = BsaleNotification.model_validate(message.payload)
    if notification.topic == "stock":
        return stock.on_stock_notification(ctx, notification)
    if notification.topic == "document":
        return stock.on_document_notification(ctx, notification)
    if notification.topic == "price":
        return price.on_price_notification(ctx, notification)
    if notification.topic == "variant":
        return Outcome("linked", linking.refresh_variant(ctx, ctx.bsale.variant(notification.resource_id)))
    if notification.topic == "product":
        results = [linking.refresh_variant(ctx, v) for v in ctx.bsale.variants_of_product(notification.resource_id)]
        return Outcome("linked", "; ".join(results) or "product without variants")
    shops.record_event(ctx.shop_id, f"bsale-{notification.topic}", notification.resource_id, message.payload,
                       int(time.time()))
    return Outcome("recorded", f"{notification.topic} {notification.resource_id}")
