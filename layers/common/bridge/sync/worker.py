"""What the Bsale worker does with one queued notification."""

from __future__ import annotations

import time

from bridge.errors import UnknownShop, UpstreamError
from bridge.models.bsale import BsaleNotification
from bridge.observability import logger, work_keys
from bridge.queue import WorkMessage
from bridge.shops.context import open_shop
from bridge.store import shops
from bridge.sync.stock import Outcome, on_stock_notification


def handle_bsale(message: WorkMessage) -> Outcome:
    """Act on one notification. Retryable failures raise (SQS retries, then dead-letters); others are recorded."""
    notification = BsaleNotification.model_validate(message.payload)
    with work_keys(shop=message.shop_id, topic=notification.topic, bsale_resource=notification.resource_id):
        return _handle(message, notification)


def _handle(message: WorkMessage, notification: BsaleNotification) -> Outcome:
    try:
        ctx = open_shop(message.shop_id)
    except UnknownShop:
        logger.warning("notification for a shop that is no longer connected: dropped")
        return Outcome("dropped", "shop not connected")
    try:
        if notification.topic == "stock":
            outcome = on_stock_notification(ctx, notification)
        else:
            # Price, product, variant and document notifications are handled by the catalog sync.
            shops.record_event(ctx.shop_id, f"bsale-{notification.topic}", notification.resource_id,
                               message.payload, int(time.time()))
            outcome = Outcome("recorded", f"{notification.topic} {notification.resource_id}")
    except UpstreamError as exc:
        if exc.retryable:
            raise
        # Retrying cannot help (Bsale or Jumpseller refused): keep the reason where the shop's status shows it.
        shops.record_event(ctx.shop_id, "problem", f"{notification.topic}-{notification.resource_id}",
                           {"reason": exc.reason, "notification": message.payload}, int(time.time()))
        logger.error("notification could not be applied", extra={"reason": exc.reason})
        return Outcome("failed", exc.reason)
    logger.info("notification handled", extra={"action": outcome.action, "detail": outcome.detail})
    return outcome
