"""What the schedule starts for the catalog: a reconcile of every shop whose period has passed."""

from __future__ import annotations

from bridge.models.shop import Shop
from bridge.store import jobs
from bridge.sync.jobs import RECONCILE, request


def reconcile_due(shop: Shop, now: int) -> bool:
    record = jobs.get(shop.shop_id, RECONCILE)
    if record is None:
        return True
    return now - int(record.get("started_at", 0)) >= shop.options.reconcile_every_minutes * 60


def queue_due_reconciles(all_shops: list[Shop], now: int) -> list[str]:
    started = []
    for shop in all_shops:
        if shop.disconnected_at is not None:  # the app was removed: nothing calls its store
            continue
        if reconcile_due(shop, now) and request(shop.shop_id, RECONCILE, reason="schedule") is not None:
            started.append(shop.shop_id)
    return started
