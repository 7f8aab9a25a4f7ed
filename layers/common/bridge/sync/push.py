"""Every write of Bsale's truth to a linked Jumpseller product or variant: only what differs, in one call,
behind one guard. The live stock and price paths, the first push of a new link, reconcile and manual overwrite
all write through `sync`; order events call `resync`.

The guard. Workers overlap on one variant (duplicate notifications, a reconcile slice, an order event). Each
caller takes a *version* (ns clock) before it reads the link and Bsale, so a later version has seen every change
an earlier one saw (Bsale's stock and the link's `held`). `sync` then:
1. claims each kind it decides (stock, price) with its version, on the link (store/links.py `claim`); a claim
   already taken by a later version means a newer read decides: stand down, write nothing;
2. compares the truth with what Jumpseller shows and PUTs only what differs;
3. remembers what Jumpseller now shows, only if its claims still stand (`record_if_claimed`). If they do not, a
   newer reader overlapped the write and ours may have landed after its one: read Jumpseller again and fix it
   (`resync`, a few times at most), so the newest truth is what stays.
A caller that compares with a reading of Jumpseller (`observed`: reconcile, manual overwrite) and finds nothing
to write stops before 1: it writes and remembers nothing, so it cannot undo a newer change, and a reconcile of a
shop in sync makes no DynamoDB write per SKU (issue 12). Only the drifted SKUs are claimed.

What Jumpseller shows. Jumpseller moves stock itself: it takes an order's units when the order becomes
`pending_payment` and gives them back on cancel or abandon (F6). So the link's memory of Jumpseller's stock
(`pushed_stock`) cannot come from our writes alone, and when Jumpseller moved relative to our writes cannot be
known (a write can land between its move and the webhook that reports it). Hence every order event ends with
a `resync` of each of the order's variants (a `stock.resync` message on the catalog queue, orders/worker.py): read
Bsale, the link (`held`) and Jumpseller itself, write only if Jumpseller differs from max(0, available − held),
and remember what Jumpseller shows. Between order events only this bridge
moves Jumpseller's stock, so a stock notification compares with the memory and costs no Jumpseller read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bridge.errors import UpstreamError
from bridge.models.jumpseller import JsProduct
from bridge.shops.context import ShopContext
from bridge.store import links
from bridge.store.links import Link
from bridge.sync import catalog, rules
from bridge.sync.catalog import JsItem

REPAIRS = 3  # reads of Jumpseller after losing a claim mid-write, before giving up (SQS then retries)
MISSING = "missing in Jumpseller"
SUPERSEDED = "a newer read of this variant decides"


@dataclass(frozen=True)
class Truth:
    """A value read from Bsale (available stock, or price with taxes) and the version taken before reading it."""

    value: float
    version: int


def version() -> int:
    """The version of reads about to begin: take it BEFORE reading the link and Bsale."""
    return time.time_ns()


@dataclass(frozen=True)
class Change:
    sku: str
    fields: dict[str, Any]  # what was written
    before: dict[str, Any]  # what Jumpseller showed (read, or remembered)
    note: str = ""
    action: str = "written"  # written | unchanged | superseded | unlinked

    def describe(self) -> str:
        if self.note and not self.fields:
            return f"{self.sku}: {self.note}"
        parts = [f"{k} {self.before.get(k)} → {v}" for k, v in self.fields.items() if k != "stock_unlimited"]
        if "stock_unlimited" in self.fields and self.fields["stock_unlimited"] != self.before.get("stock_unlimited"):
            parts.append("unlimited" if self.fields["stock_unlimited"] else "limited")
        return f"{self.sku}: " + ", ".join(parts) + (f" ({self.note})" if self.note else "")


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
    """(fields to write, what they replace). Compared with what Jumpseller showed when it was read, else with
    what the link remembers Jumpseller shows."""
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


def sync(
    ctx: ShopContext,
    link: Link,
    *,
    stock: Truth | None = None,
    price: Truth | None = None,
    observed: JsItem | None = None,
    fresh: bool = False,
    repairs: int = REPAIRS,
    stock_claimed: bool = False,
) -> Change:
    """Make Jumpseller show Bsale's `stock` (available units) and/or `price`, writing only what differs.

    `link` must have been read after the truths' versions were taken. `observed`: what Jumpseller showed (else the
    link's memory is compared); `fresh`: it was read just now, after the versions, so it is worth remembering.
    `stock_claimed`: the caller claimed stock at `stock.version` already, and `link` is what that claim returned.
    """
    if observed is not None and not fresh and not link.first_push_due:
        # Compared with what Jumpseller showed when read: where nothing differs nothing is written or remembered,
        # so nothing newer can be undone and no claim is due. A reconcile of a shop in sync claims nothing.
        fields, before = changes_for(
            link, stock=desired_stock(ctx, link, stock.value) if stock is not None else None,
            price=price.value if price is not None else None, observed=observed)
        if not fields:
            return Change(link.sku, {}, before, f"already {_shown(before)}", "unchanged")
    claims: dict[str, int] = {}
    claimed: Link | None = None
    lost = False
    for kind, truth in (("stock", stock), ("price", price)):
        if truth is not None:
            if kind == "stock" and stock_claimed:
                claims[kind], claimed = truth.version, link
            elif (now := links.claim(link, kind, truth.version)) is not None:
                claims[kind], claimed = truth.version, now
            else:
                lost = True
    if claimed is None or (fresh and lost):
        if fresh:
            # This read of Jumpseller is how its own move (an order's) reaches the memory; the newer claimant may
            # only compare with the memory, so read again rather than leave it stale.
            return _look_again(ctx, link, repairs, Change(link.sku, {}, {}, "", "superseded"))
        return Change(link.sku, {}, {}, SUPERSEDED, "superseded")
    if observed is None:
        # Compared with the memory as it stands once the claim is ours (the claim returns it): it includes
        # whatever an earlier claimant recorded after our first read, and nobody older can record from now on.
        link = claimed
    fields, before = changes_for(
        link,
        stock=desired_stock(ctx, link, stock.value) if stock is not None and "stock" in claims else None,
        price=price.value if price is not None and "price" in claims else None,
        observed=observed,
    )
    shown: dict[str, Any] = {}  # what Jumpseller shows after this call, for each kind claimed
    if fresh and observed is not None:
        if "stock" in claims:
            shown.update(pushed_stock=observed.stock, pushed_unlimited=observed.unlimited)
        if "price" in claims:
            shown["js_price"] = observed.price
    if "stock" in claims and claimed.first_push_due:
        shown["first_push_due"] = False  # this decision is the new link's first push (linking.make_link)
    if not fields:
        if shown and not links.record_if_claimed(link, claims, shown) and fresh:
            # A newer reader took over, but it may trust a memory that Jumpseller's own move made stale (it
            # compares without reading): read again, so what Jumpseller shows is remembered.
            return _look_again(ctx, link, repairs, Change(link.sku, {}, before, "", "unchanged"))
        return Change(link.sku, {}, before, f"already {_shown(before)}", "unchanged")
    name = observed.name if observed else link.js_name
    current_price = observed.price if observed else link.js_price
    try:
        ctx.jumpseller.write(link.target, fields, name=name, current_price=current_price)
    except UpstreamError as exc:
        if exc.status_code != 404:
            raise
        # The product or variant is gone from Jumpseller (its delete event may still be on its way): unlink.
        links.record_unlinked(ctx.shop_id, link.variant_id, link.sku, MISSING)
        return Change(link.sku, {}, before, "gone from Jumpseller: unlinked", "unlinked")
    if "stock_unlimited" in fields or "stock" in fields:
        shown.update(pushed_unlimited=bool(fields.get("stock_unlimited", False)), pushed_stock=fields.get("stock"))
    if "price" in fields:
        shown["js_price"] = fields["price"]
    shown["js_name"] = name
    # A product PUT carries the price too (the spec requires it): if a price was claimed since this link was read,
    # that price write may be what this PUT just replaced.
    carried = {"price": link.price_read_at} if link.target.variant_id is None and "price" not in claims else None
    if links.record_if_claimed(link, claims, shown, carried):
        return Change(link.sku, fields, before)
    # A newer read overlapped this write, and this older truth may have landed last: look again and fix.
    return _look_again(ctx, link, repairs, Change(link.sku, fields, before))


def _look_again(ctx: ShopContext, link: Link, repairs: int, done: Change) -> Change:
    if repairs <= 0:
        raise RuntimeError(f"{link.sku}: newer reads kept overlapping; trying again later")
    repaired = resync(ctx, link.variant_id, repairs=repairs - 1)
    after = repaired.describe() if repaired else "unlinked"
    return Change(done.sku, done.fields, done.before, f"overlapped by a newer read; then {after}", done.action)


def resync(ctx: ShopContext, variant_id: str, *, repairs: int = REPAIRS) -> Change | None:
    """Read Bsale, the link and Jumpseller itself, and write where Jumpseller differs (None: not linked).

    For when Jumpseller may have moved the stock itself (order events), or a write may have landed out of order.
    """
    started = version()
    link = links.get(ctx.shop_id, variant_id)
    if link is None:
        return None
    available = ctx.bsale.available_stock(variant_id, str(ctx.shop.office_id))
    bsale_price = (ctx.bsale.price_of(str(ctx.shop.price_list_id), variant_id)
                   if ctx.shop.options.sync_price else None)
    observed = _read(ctx, link)
    if observed is None:
        links.record_unlinked(ctx.shop_id, variant_id, link.sku, MISSING)
        return Change(link.sku, {}, {}, "gone from Jumpseller: unlinked", "unlinked")
    # Without price sync Jumpseller's own price is the truth: claiming it only keeps the memory the product PUTs
    # carry up to date.
    price = bsale_price if bsale_price is not None else observed.price
    return sync(ctx, link, stock=Truth(available, started), price=Truth(price, started), observed=observed,
                fresh=True, repairs=repairs)


def _read(ctx: ShopContext, link: Link) -> JsItem | None:
    """What Jumpseller shows now for the link's product or variant (None: it is gone)."""
    try:
        product: JsProduct = ctx.jumpseller.product(link.js_product_id)
    except UpstreamError as exc:
        if exc.status_code == 404:
            return None
        raise
    return next((item for item in catalog.js_items(product) if item.target == link.target), None)


def _shown(before: dict[str, Any]) -> str:
    stock = "unlimited" if before.get("stock_unlimited") else before.get("stock")
    return f"stock {stock}, price {before.get('price')}"
