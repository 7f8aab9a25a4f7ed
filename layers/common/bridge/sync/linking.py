"""Automatic linking by SKU (F2): links appear when both sides have a SKU and disappear when one loses it.

Triggers: a Bsale variant or product notification, a Jumpseller product webhook, or the first stock
notification of a variant never seen. A new link gets Bsale's stock (and price, when synced) at once; if the
event that made it stops first (a spent quota hands it back to the queue), the link says its first push is due
and the next event that sees it pushes.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from bridge.errors import UpstreamError
from bridge.models.bsale import Variant
from bridge.models.jumpseller import JsProduct
from bridge.observability import logger, metrics
from bridge.shops.context import ShopContext
from bridge.store import links
from bridge.store.links import Link
from bridge.sync import catalog, push
from bridge.sync.catalog import BsaleItem, JsItem


def new_link(ctx: ShopContext, b: BsaleItem, j: JsItem, *, first_push_due: bool = False) -> Link:
    """The link of a Bsale variant and a Jumpseller item, remembering what Jumpseller shows now."""
    return Link(
        shop_id=ctx.shop_id, variant_id=b.variant_id, sku=b.sku or "", js_product_id=j.target.product_id,
        js_variant_id=j.target.variant_id, js_name=j.name, js_price=j.price, allow_negative=b.allow_negative,
        untracked=b.untracked, pushed_stock=j.stock, pushed_unlimited=j.unlimited, first_push_due=first_push_due,
    )


def make_link(ctx: ShopContext, b: BsaleItem, j: JsItem, *, replace: bool = False) -> Link:
    """Save a new link (the first of racing events wins), or replace one whose shape changed (`replace`).
    Held stock belongs to pending orders, not to the link's shape, so a relink keeps it.
    The link is saved before its first push, which may not happen (quota, timeout): it says so until one does."""
    if not replace:
        return links.create(new_link(ctx, b, j, first_push_due=True))
    links.save(new_link(ctx, b, j, first_push_due=True))
    saved = links.get(ctx.shop_id, b.variant_id)
    assert saved is not None
    return saved


def push_truth(ctx: ShopContext, link: Link, observed: JsItem | None) -> str:
    """Write Bsale's stock (and price, when synced) to a link, only where Jumpseller differs."""
    started = push.version()
    link = links.get(ctx.shop_id, link.variant_id) or link  # read after the version (its held units)
    available = ctx.bsale.available_stock(link.variant_id, str(ctx.shop.office_id))
    price = ctx.bsale.price_of(str(ctx.shop.price_list_id), link.variant_id) if ctx.shop.options.sync_price else None
    change = push.sync(ctx, link, stock=push.Truth(available, started),
                       price=push.Truth(price, started) if price is not None else None, observed=observed)
    return change.describe()


def link_variant(ctx: ShopContext, variant: Variant, *, replace: bool = False) -> Link | str:
    """Link one Bsale variant to the Jumpseller product or variant with its SKU; or say why it cannot be."""
    item = catalog.bsale_item(variant)
    reason = item.problem
    matches: list[JsItem] = []
    if reason is None and item.sku:
        twins = [v for v in ctx.bsale.variants_by_code(item.sku) if catalog.bsale_item(v).problem is None]
        if len(twins) > 1:
            reason = "duplicate SKU in Bsale"
        else:
            matches = [j for product, _ in ctx.jumpseller.find_sku(item.sku) for j in catalog.js_items(product)
                       if j.sku == item.sku]
            reason = "missing in Jumpseller" if not matches else "duplicate SKU in Jumpseller" if len(matches) > 1 \
                else None
    if reason is not None:
        links.record_unlinked(ctx.shop_id, item.variant_id, item.sku, reason)
        return reason
    return make_link(ctx, item, matches[0], replace=replace)


def ensure_link(ctx: ShopContext, variant_id: str) -> Link | str:
    """The variant's link, made the first time it is needed; or the reason it has none."""
    link = links.get(ctx.shop_id, variant_id)
    if link is not None:
        return link
    return link_variant(ctx, ctx.bsale.variant(variant_id))


def refresh_variant(ctx: ShopContext, variant: Variant) -> str:
    """A Bsale variant changed (created, SKU edited, deactivated, pre-sale flag): relink it and push."""
    current = links.get(ctx.shop_id, str(variant.id))
    item = catalog.bsale_item(variant)
    if current is not None and item.problem is None and item.sku == current.sku:
        if (current.allow_negative, current.untracked) != (item.allow_negative, item.untracked):
            links.update_js_fields(current, allow_negative=item.allow_negative, untracked=item.untracked)
            current.allow_negative, current.untracked = item.allow_negative, item.untracked
        return push_truth(ctx, current, None)
    result = link_variant(ctx, variant, replace=current is not None)
    if isinstance(result, str):
        return f"variant {variant.id} not linked: {result}"
    return "linked; " + push_truth(ctx, result, _observed(result))


def on_jumpseller_product(ctx: ShopContext, event: str, body: dict[str, Any]) -> str:
    """A Jumpseller product was created, updated or deleted: follow its SKUs."""
    raw = body.get("product", body)
    product = JsProduct.model_validate(raw)
    before = set(links.variant_ids_of_js_product(ctx.shop_id, product.id))
    if event == "product_deleted":
        if _current(ctx, product.id) is not None:
            return f"product {product.id}: a late delete event, the product exists; links kept"
        gone = [v for v in before if (link := links.get(ctx.shop_id, v)) and link.js_product_id == product.id]
        for variant_id in gone:
            _unlink(ctx, variant_id, "missing in Jumpseller")
        return f"product {product.id} deleted: {len(gone)} link(s) removed"
    done: list[str] = []
    fresh: dict[str | None, JsItem] | None = None  # the product as Jumpseller has it now, read only if needed
    present = {j.sku for j in catalog.js_items(product) if j.sku}
    for j in catalog.js_items(product):
        if not j.sku:
            continue
        existing = links.by_sku(ctx.shop_id, j.sku)
        if existing:
            link = existing[0]
            if link.target != j.target or link.js_name != j.name or not _same(link.js_price, j.price):
                # Our own writes come back as product_updated: refreshing names and ids is all they cause.
                links.update_js_fields(link, js_product_id=j.target.product_id, js_variant_id=j.target.variant_id,
                                       js_name=j.name, js_price=j.price)
            if not link.first_push_due:
                continue
            # The event that made this link stopped before pushing (this may be that event again, handed back by
            # the queue): push now, or Jumpseller keeps showing its own stock.
        else:
            candidates = [v for v in ctx.bsale.variants_by_code(j.sku) if catalog.bsale_item(v).problem is None]
            if len(candidates) != 1:
                done.append(f"{j.sku}: {'missing in Bsale' if not candidates else 'duplicate SKU in Bsale'}")
                continue
        # The payload may be a late snapshot of a product deleted since: link only what exists now.
        if fresh is None:
            fresh = {i.sku: i for i in catalog.js_items(current)} if (current := _current(ctx, product.id)) else {}
        if j.sku not in fresh:
            done.append(f"{j.sku}: no longer in Jumpseller")
            continue
        linked = existing[0] if existing else make_link(ctx, catalog.bsale_item(candidates[0]), fresh[j.sku])
        done.append("linked " + push_truth(ctx, linked, fresh[j.sku]))
    leaving = [link for v in before if (link := links.get(ctx.shop_id, v)) and link.js_product_id == product.id
               and link.sku not in present]
    if leaving:
        # Webhooks arrive late and out of order: only the product as it is now may take a SKU away.
        current = _current(ctx, product.id)
        present = {j.sku for j in catalog.js_items(current) if j.sku} if current else set()
        for link in leaving:
            if link.sku not in present:
                _unlink(ctx, link.variant_id, "missing in Jumpseller")
                done.append(f"{link.sku} unlinked (SKU gone from the product)")
    return f"product {product.id}: " + ("; ".join(done) or "links up to date")


def _current(ctx: ShopContext, product_id: int) -> JsProduct | None:
    try:
        return ctx.jumpseller.product(product_id)
    except UpstreamError as exc:
        if exc.status_code == 404:
            return None
        raise


def _unlink(ctx: ShopContext, variant_id: str, reason: str) -> None:
    link = links.get(ctx.shop_id, variant_id)
    if link is None:
        return  # already unlinked by another event
    links.record_unlinked(ctx.shop_id, variant_id, link.sku, reason)
    logger.info("link removed", extra={"bsale_variant": variant_id, "reason": reason})


GONE_FROM_BSALE = "missing in Bsale"


def variant_gone(ctx: ShopContext, variant_id: str) -> str:
    """Bsale no longer has this variant (404): nothing can be synced for it. Its link goes (the catalog rule: a
    link disappears when one side loses the SKU) with the reason recorded; Jumpseller keeps what it shows."""
    link = links.get(ctx.shop_id, variant_id)
    links.record_unlinked(ctx.shop_id, variant_id, link.sku if link else None, GONE_FROM_BSALE)
    metrics.add_metric(name="VariantsGoneFromBsale", unit=MetricUnit.Count, value=1)
    logger.warning("notification for a variant Bsale no longer has: dropped",
                   extra={"bsale_variant": variant_id, "unlinked": link is not None})
    return f"variant {variant_id} is gone from Bsale" + (f"; {link.sku} unlinked" if link else "")


def _observed(link: Link) -> JsItem | None:
    return JsItem(link.sku, link.target, link.js_name, link.js_price, link.pushed_stock, link.pushed_unlimited)


def _same(a: float, b: float) -> bool:
    return abs(a - b) < 0.005
