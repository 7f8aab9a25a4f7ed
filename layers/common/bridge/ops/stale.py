"""F10: flag shops Bsale has stopped notifying ("your store is not receiving updates from Bsale")."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from bridge.models.shop import Shop
from bridge.observability import logger, metrics
from bridge.settings import settings
from bridge.store import shops


def flag_stale_shops(all_shops: list[Shop], now: int) -> list[str]:
    """Flag every shop whose last notification (or connection, if it never had one) is older than its threshold."""
    flagged: list[str] = []
    stale_count = 0
    for shop in all_shops:
        if not shop.bsale_account:  # Jumpseller + Facto only: Bsale never notifies it
            continue
        minutes = shop.options.stale_after_minutes or settings().stale_after_minutes
        last = shop.last_notification_at or shop.connected_at
        if now - last <= minutes * 60:
            continue
        stale_count += 1
        if shops.flag_stale(shop.shop_id, now):
            flagged.append(shop.shop_id)
            logger.warning("shop is not receiving updates from Bsale",
                           extra={"shop": shop.shop_id, "last_notification_at": shop.last_notification_at})
    metrics.add_metric(name="StaleShops", unit=MetricUnit.Count, value=stale_count)
    return flagged
