"""F10: flag shops Bsale has stopped notifying ("your store is not receiving updates from Bsale").

The tick reads only the shops whose stale item is due (bridge/store/due.py): a shop is looked at when the
threshold has passed since the notification it had when last looked at. A notification since then only makes
the true deadline later, so the item is early, never late: the tick moves it to the deadline and reads nothing
else of that shop until then. A stale shop's item stays due, so every tick counts it (`StaleShops` is a gauge)
until a notification clears the flag and the next tick moves the item on.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from bridge.models.shop import Shop
from bridge.observability import logger, metrics
from bridge.settings import settings
from bridge.store import due, shops


def stale_deadline(shop: Shop) -> int:
    """The last second the shop may go without a notification (or since it connected, if it never had one)."""
    minutes = shop.options.stale_after_minutes or settings().stale_after_minutes
    return (shop.last_notification_at or shop.connected_at) + minutes * 60


def flag_stale_shops(now: int) -> list[str]:
    """Flag every shop whose last notification (or connection, if it never had one) is older than its threshold."""
    found = due.listed(due.STALE, now)
    by_id = shops.get_many([item.shop_id for item in found]) if found else {}
    flagged: list[str] = []
    stale_count = 0
    for item in found:
        shop = by_id.get(item.shop_id)
        if shop is None or not shop.bsale_account:  # Jumpseller + Facto only: Bsale never notifies it
            due.drop(item)
            continue
        deadline = stale_deadline(shop)
        if now <= deadline:
            due.move(item, deadline + 1)
            continue
        stale_count += 1
        if shops.flag_stale(shop.shop_id, now):
            flagged.append(shop.shop_id)
            logger.warning("shop is not receiving updates from Bsale",
                           extra={"shop": shop.shop_id, "last_notification_at": shop.last_notification_at})
    metrics.add_metric(name="StaleShops", unit=MetricUnit.Count, value=stale_count)
    return flagged
