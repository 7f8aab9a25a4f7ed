"""Bsale stock → Jumpseller for one variant (F3, F5): read the truth, write it only when it differs."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bridge.clients.bsale import BsaleNotFound
from bridge.models.bsale import BsaleNotification
from bridge.observability import add_work_keys
from bridge.shops.context import ShopContext
from bridge.store import links
from bridge.sync import linking, push


@dataclass(frozen=True)
class Outcome:
    action: str  # written | unchanged | superseded | unlinked | dropped | recorded | linked | failed
    detail: str = ""


def sync_variant_stock(ctx: ShopContext, variant_id: str) -> Outcome:
    link = linking.ensure_link(ctx, variant_id)
    if isinstance(link, str):
        return Outcome("unlinked", link)
    add_work_keys(sku=link.sku)
    read_at = time.time_ns()
    available = ctx.bsale.available_stock(variant_id, str(ctx.shop.office_id))
    fields, before = push.changes_for(link, stock=push.desired_stock(ctx, link, available))
    if not fields:
        return Outcome("unchanged", f"{link.sku} = {before['stock']}")
    # Two workers on one variant (duplicate notifications) must not let the older read land last.
    if not links.claim_stock_write(link, read_at):
        return Outcome("superseded", "a newer read of this variant already wrote")
    return Outcome("written", push.write(ctx, link, fields, before).describe())


def on_stock_notification(ctx: ShopContext, notification: BsaleNotification) -> Outcome:
    if notification.office_id is not None and notification.office_id != str(ctx.shop.office_id):
        return Outcome("dropped", f"office {notification.office_id} is not the shop's office")
    return sync_variant_stock(ctx, notification.resource_id)


def on_document_notification(ctx: ShopContext, notification: BsaleNotification) -> Outcome:
    """A sale (at Bsale's point of sale, or ours) moved stock: re-read every linked variant it names."""
    if notification.office_id is not None and notification.office_id != str(ctx.shop.office_id):
        return Outcome("dropped", f"office {notification.office_id} is not the shop's office")
    variant_ids = sorted(set(ctx.bsale.document_variant_ids(notification.resource_id)))
    outcomes = []
    for variant_id in variant_ids:
        if links.get(ctx.shop_id, variant_id) is None:
            continue  # not linked: nothing in Jumpseller to correct (linking happens on variant/product events)
        try:
            outcomes.append(sync_variant_stock(ctx, variant_id))
        except BsaleNotFound as exc:
            if exc.what != "variant":
                raise
            outcomes.append(Outcome("dropped", linking.variant_gone(ctx, variant_id)))  # the others still sync
    written = [o.detail for o in outcomes if o.action == "written"]
    return Outcome("written" if written else "unchanged",
                   f"document {notification.resource_id}: {len(outcomes)} linked variant(s); " + "; ".join(written))
