"""Writing Bsale's truth to one linked Jumpseller product or variant: only what differs, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.errors import UpstreamError
from bridge.shops.context import ShopContext
from bridge.store import links
from bridge.store.links import Link
from bridge.sync import rules
from bridge.sync.catalog import JsItem


@dataclass(frozen=True)
class Change:
    sku: str
    fields: dict[str, Any]  # what was written
    before: dict[str, Any]  # what Jumpseller showed (or what we last wrote, when it was not read)
    note: str = ""

    def describe(self) -> str:
        if self.note:
            return f"{self.sku}: {self.note}"
        parts = [f"{k} {self.before.get(k)} → {v}" for k, v in self.fields.items() if k != "stock_unlimited"]
        if "stock_unlimited" in self.fields and self.fields["stock_unlimited"] != self.before.get("stock_unlimited"):
            parts.append("unlimited" if self.fields["stock_unlimited"] else "limited")
        return f"{self.sku}: " + ", ".join(parts)


def desired_stock(ctx: ShopContext, link: Link, available: float) -> tuple[int | None, bool]:
    return rules.stock_to_push(available, link.held, allow_negative=link.allow_negative,
                               presale=ctx.shop.options.presale, untracked=link.untracked)


def changes_for(
    link: Link,
    *,
    stock: tuple[int | None, bool] | None = None,
    price: float | None = None,
    observed: JsItem | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields to write, what they replace). Compared with what Jumpseller showed when it was read (reconcile),
    else with what this bridge wrote last (a live notification: no extra read)."""
    if observed is not None:
        before: dict[str, Any] = {"stock": observed.stock, "stock_unlimited": observed.unlimited,
                                  "price": observed.price}
    else:
        before = {"stock": link.pushed_stock, "stock_unlimited": link.pushed_unlimited, "price": link.js_price}
    fields: dict[str, Any] = {}
    if stock is not None:
        count, unlimited = stock
        if unlimited:
            if not before["stock_unlimited"]:
                fields["stock_unlimited"] = True
        elif before["stock_unlimited"] or before["stock"] != count:
            fields.update({"stock_unlimited": False, "stock": count})
    if price is not None and not rules.same_price(price, before["price"]):
        fields["price"] = price
    return fields, before


def write(ctx: ShopContext, link: Link, fields: dict[str, Any], before: dict[str, Any],
          observed: JsItem | None = None) -> Change:
    """Send the fields and remember them on the link (and the product's name, as Jumpseller showed it)."""
    name = observed.name if observed else link.js_name
    current_price = observed.price if observed else link.js_price
    try:
        ctx.jumpseller.write(link.target, fields, name=name, current_price=current_price)
    except UpstreamError as exc:
        if exc.status_code != 404:
            raise
        # The product or variant is gone from Jumpseller (its delete event may still be on its way): unlink.
        links.record_unlinked(ctx.shop_id, link.variant_id, link.sku, "missing in Jumpseller")
        return Change(link.sku, {}, before, note="gone from Jumpseller: unlinked")
    remembered: dict[str, Any] = {"js_name": name, "js_price": fields.get("price", current_price)}
    if "stock_unlimited" in fields or "stock" in fields:
        remembered["pushed_unlimited"] = bool(fields.get("stock_unlimited", False))
        remembered["pushed_stock"] = fields.get("stock")
    links.update_js_fields(link, **remembered)
    return Change(link.sku, fields, before)
