"""Bsale price → Jumpseller (F4): the price with taxes of the shop's price list, when the shop syncs prices."""

from __future__ import annotations

from bridge.models.bsale import BsaleNotification
from bridge.observability import add_work_keys
from bridge.shops.context import ShopContext
from bridge.sync import linking, push
from bridge.sync.stock import Outcome


def on_price_notification(ctx: ShopContext, notification: BsaleNotification) -> Outcome:
    if not ctx.shop.options.sync_price:
        return Outcome("dropped", "price sync is off for this shop")
    if notification.price_list_id is not None and notification.price_list_id != str(ctx.shop.price_list_id):
        return Outcome("dropped", f"price list {notification.price_list_id} is not the shop's")
    started = push.version()  # before the link and Bsale are read: see sync/push.py
    link = linking.ensure_link(ctx, notification.resource_id)
    if isinstance(link, str):
        return Outcome("unlinked", link)
    add_work_keys(sku=link.sku)
    price = ctx.bsale.price_of(str(ctx.shop.price_list_id), notification.resource_id)
    if price is None:
        return Outcome("unchanged", f"{link.sku} has no price in list {ctx.shop.price_list_id}")
    change = push.sync(ctx, link, price=push.Truth(price, started))
    return Outcome(change.action, change.describe())
