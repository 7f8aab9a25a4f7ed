"""Bsale stock → Jumpseller, for one variant: read the truth, write it only when it differs."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bridge.models.bsale import BsaleNotification
from bridge.observability import add_work_keys
from bridge.shops.context import ShopContext
from bridge.store import links
from bridge.store.links import Link
from bridge.sync import rules


@dataclass(frozen=True)
class Outcome:
    action: str  # written | unchanged | superseded | unlinked | dropped
    detail: str = ""


def ensure_link(ctx: ShopContext, variant_id: str) -> Link | str:
    """The variant's link, found by SKU in Jumpseller the first time; or the reason it has none."""
    link = links.get(ctx.shop_id, variant_id)
    if link is not None:
        return link
    variant = ctx.bsale.variant(variant_id)
    reason = rules.unlinkable_reason(variant)
    if reason is None:
        assert variant.code is not None
        matches = ctx.jumpseller.find_sku(variant.code)
        if not matches:
            reason = "missing in Jumpseller"
        elif len(matches) > 1:
            reason = "duplicate SKU in Jumpseller"
    if reason is not None:
        links.record_unlinked(ctx.shop_id, variant_id, variant.code, reason)
        return reason
    product, target = matches[0]
    js_variant = next((v for v in product.variants if v.id == target.variant_id), None)
    link = Link(
        shop_id=ctx.shop_id,
        variant_id=variant_id,
        sku=variant.code or "",
        js_product_id=target.product_id,
        js_variant_id=target.variant_id,
        js_name=product.name,
        js_price=(js_variant.price if js_variant else product.price) or 0,
        allow_negative=bool(variant.allow_negative_stock or variant.unlimited_stock),
    )
    links.save(link)
    return link


def sync_variant_stock(ctx: ShopContext, variant_id: str) -> Outcome:
    link = ensure_link(ctx, variant_id)
    if isinstance(link, str):
        return Outcome("unlinked", link)
    add_work_keys(sku=link.sku)
    read_at = time.time_ns()
    available = ctx.bsale.available_stock(variant_id, str(ctx.shop.office_id))
    stock, unlimited = rules.stock_to_push(
        available, link.held, allow_negative=link.allow_negative, presale=ctx.shop.options.presale
    )
    if link.pushed_stock == stock and link.pushed_unlimited == unlimited:
        return Outcome("unchanged", f"{link.sku} = {stock}")
    if not links.claim_stock_write(link, read_at):
        return Outcome("superseded", "a newer read of this variant already wrote")
    ctx.jumpseller.set_stock(link.target, stock, name=link.js_name, price=link.js_price, unlimited=unlimited)
    links.record_pushed_stock(link, stock, unlimited, read_at)
    shown = "unlimited" if unlimited else str(stock)
    return Outcome("written", f"{link.sku}: {link.pushed_stock} → {shown}")


def on_stock_notification(ctx: ShopContext, notification: BsaleNotification) -> Outcome:
    if notification.office_id is not None and notification.office_id != str(ctx.shop.office_id):
        return Outcome("dropped", f"office {notification.office_id} is not the shop's office")
    return sync_variant_stock(ctx, notification.resource_id)
