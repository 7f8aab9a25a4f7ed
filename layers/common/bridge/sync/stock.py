"""Bsale stock → Jumpseller for one variant (F3, F5): read the truth, write it only when it differs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bridge.clients.bsale import BsaleNotFound
from bridge.models.bsale import BsaleNotification
from bridge.observability import add_work_keys
from bridge.shops.context import ShopContext
from bridge.store import held, links
from bridge.sync import linking, push


@dataclass(frozen=True)
class Outcome:
    action: str  # written | unchanged | superseded | unlinked | dropped | recorded | linked | failed
    detail: str = ""


def sync_variant_stock(ctx: ShopContext, variant_id: str) -> Outcome:
    started = push.version()  # before the link (its held units) and Bsale are read: see sync/push.py
    # The live path's one link call: the claim returns the link as it stands (sync/push.py's guard, taken first).
    link, claimed = links.claim_variant(ctx.shop_id, variant_id, "stock", started)
    if link is None:
        made = linking.ensure_link(ctx, variant_id)  # not linked yet: link it (its first push claims as usual)
        if isinstance(made, str):
            return Outcome("unlinked", made)
        link = made
    elif not claimed:
        add_work_keys(sku=link.sku)
        return Outcome("superseded", f"{link.sku}: {push.SUPERSEDED}")
    add_work_keys(sku=link.sku)
    available = ctx.bsale.available_stock(variant_id, str(ctx.shop.office_id))
    change = push.sync(ctx, link, stock=push.Truth(available, started), stock_claimed=claimed)
    return Outcome(change.action, change.describe())


def after_order_event(ctx: ShopContext, order_id: int, skus: Iterable[str] = ()) -> list[Outcome]:
    """Jumpseller took or gave back the order's units itself, and its held units may have moved: make Jumpseller
    show max(0, available − held) again for every linked variant the order names, reading what it shows."""
    outcomes = []
    for variant_id in held.order_variants(ctx.shop_id, order_id, skus):
        outcomes.append(resync_variant(ctx, variant_id))
    return outcomes


def resync_variant(ctx: ShopContext, variant_id: str) -> Outcome:
    change = push.resync(ctx, variant_id)
    if change is None:
        return Outcome("unlinked", f"variant {variant_id} is not linked")
    add_work_keys(sku=change.sku)
    return Outcome(change.action, change.describe())


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
