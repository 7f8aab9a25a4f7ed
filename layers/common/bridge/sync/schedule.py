"""What the schedule starts for the catalog: a reconcile of every shop whose period has passed."""

from __future__ import annotations

from bridge.models.shop import Shop
from bridge.store import jobs
from bridge.sync.jobs import RECONCILE, SII_WATCH, request


def reconcile_due(shop: Shop, now: int) -> bool:
    record = jobs.get(shop.shop_id, RECONCILE)
    if record is None:
        return True
    return now - int(record.get("started_at", 0)) >= shop.options.reconcile_every_minutes * 60


def queue_due_reconciles(all_shops: list[Shop], now: int) -> list[str]:
    started = []
    for shop in all_shops:
        # Facto only (no catalog to reconcile), or the app was removed (nothing calls its store)
        if not shop.bsale_account or shop.disconnected_at is not None:
            continue
        if reconcile_due(shop, now) and request(shop.shop_id, RECONCILE, reason="schedule") is not None:
            started.append(shop.shop_id)
    return started


def queue_sii_watches(all_shops: list[Shop], now: int) -> list[str]:
    """F19: one SII verdict watch per shop and tick (bridge/orders/sii.py), on the sync queue like a reconcile,
    unless the previous one is still running. The schedule itself only writes each shop's job record; a shop with
    no document outstanding costs its job one table query and no Bsale call. A shop without Bsale (Jumpseller +
    Facto) has nothing to watch: Facto reports no later verdict (README, F19)."""
    return [shop.shop_id for shop in all_shops
            if shop.bsale_account and request(shop.shop_id, SII_WATCH, reason="schedule") is not None]
