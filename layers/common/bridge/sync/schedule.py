"""What the schedule starts: a reconcile of every shop whose period has passed, and the SII watches.

Each reads only the shops whose due item says so (bridge/store/due.py: a Query on time, then those shops), never
every shop: a tick costs what is due, whatever the size of the fleet. A tick run twice queues nothing twice: a job
is queued only through its record's conditional start (`request`), which refuses while one is running.
"""

from __future__ import annotations

from typing import Any

from bridge.models.shop import Shop
from bridge.store import due, jobs, shops
from bridge.sync.jobs import RECONCILE, SII_WATCH, request


def reconcile_due_at(shop: Shop, record: dict[str, Any] | None) -> int:
    """When the shop's next reconcile is due: its period after the last one started (any: scheduled or asked for);
    at once if it never had one."""
    if record is None:
        return 0
    return int(record.get("started_at", 0)) + shop.options.reconcile_every_minutes * 60


def queue_due_reconciles(now: int) -> list[str]:
    found = due.listed(due.RECONCILE, now)
    if not found:
        return []
    ids = [item.shop_id for item in found]
    by_id, records = shops.get_many(ids), jobs.get_many(ids, RECONCILE)
    started = []
    for item in found:
        shop = by_id.get(item.shop_id)
        if shop is None or not shop.bsale_account:  # Facto only: no catalog to reconcile
            due.drop(item)
            continue
        period = shop.options.reconcile_every_minutes * 60
        if shop.disconnected_at is not None:  # the app was removed: nothing calls its store; installing again
            due.move(item, now + period)      # marks it due at once (store.shops.mark_reconnected)
            continue
        at = reconcile_due_at(shop, records.get(shop.shop_id))
        if at > now:  # reconciled since the item was written (a resync asked for by hand)
            due.move(item, at)
        elif request(shop.shop_id, RECONCILE, reason="schedule") is not None:
            started.append(shop.shop_id)
            due.move(item, now + period)  # the run started at or after `now`
        # else one is still running: the item stays due and the next tick asks again, as it would have before
    return started


def queue_sii_watches(now: int) -> list[str]:
    """F19: one SII verdict watch (bridge/orders/sii.py) per shop with documents outstanding, on the sync queue like
    a reconcile, unless the previous one is still running. A document's watch marks its shop due
    (`sii.follow`); the watch that finds nothing left outstanding removes the mark, so a shop with nothing to watch
    costs the tick nothing. A shop without Bsale (Jumpseller + Facto) has nothing to watch: Facto reports no
    later verdict (README, F19)."""
    found = due.listed(due.SII, now)
    by_id = shops.get_many([item.shop_id for item in found]) if found else {}
    queued = []
    for item in found:
        shop = by_id.get(item.shop_id)
        if shop is None or not shop.bsale_account:
            due.drop(item)
        elif request(shop.shop_id, SII_WATCH, reason="schedule") is not None:
            queued.append(shop.shop_id)
    return queued
