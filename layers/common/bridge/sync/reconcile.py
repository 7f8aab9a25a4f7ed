"""F11: compare Bsale and Jumpseller for every linked product and fix the drift, page by page, resumably.

Phases, in order: check the shop's Jumpseller hooks (Jumpseller pauses or deletes hooks that keep failing)
and register again any that is missing; read every Jumpseller product page (what the store shows); read the
price list pages (when prices are synced); read the office's stock pages and fix each linked variant on the
way; then fix the linked variants Bsale listed no stock for (their stock is 0). Each page read is kept as a
chunk and the position as a checkpoint, so a slice that runs out of time hands over without reading anything
twice. A fix is one write per product or variant, and only where Jumpseller differs from Bsale.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from bridge.clients.jumpseller import PAGE_LIMIT
from bridge.models.jumpseller import Target
from bridge.observability import logger, metrics
from bridge.shops.connect import ensure_hooks
from bridge.shops.context import ShopContext
from bridge.store import jobs, links
from bridge.store.links import Link
from bridge.sync import catalog, push
from bridge.sync.catalog import JsItem
from bridge.sync.stock import Outcome

KIND = "reconcile"
CHECKPOINT_EVERY = 25  # pages; a crash loses at most this much reading
FIXES_KEPT = 500  # fixes listed in the result (all are counted)


class Run:
    """One reconcile run's working state, rebuilt from the checkpoint and chunks at each slice."""

    def __init__(self, ctx: ShopContext, run: str, checkpoint: dict[str, Any]) -> None:
        self.ctx, self.run = ctx, run
        self.cp = checkpoint or {"phase": "hooks", "page": 1, "offset": 0, "seen": [], "fixes": [],
                                 "counts": {}, "started": time.time()}
        # Taken before this slice reads the links (their held units) and Bsale's stock pages: a live change read
        # after it wins over this slice's older reading (sync/push.py).
        self.version = push.version()
        self.links = {link.variant_id: link for link in links.all_links(ctx.shop_id)}
        self.observed: dict[str, JsItem] = {}
        for chunk in jobs.chunks(ctx.shop_id, KIND, run, "js#"):
            self._observe(chunk)
        self.prices: dict[str, float] = {}
        for chunk in jobs.chunks(ctx.shop_id, KIND, run, "pr#"):
            self.prices.update(chunk)
        self.seen: set[str] = set(self.cp["seen"])
        self.pages_since_checkpoint = 0

    # -- bookkeeping -----------------------------------------------------------------------------------------
    def count(self, what: str, n: int = 1) -> None:
        self.cp["counts"][what] = self.cp["counts"].get(what, 0) + n

    def checkpoint(self, force: bool = False) -> None:
        self.pages_since_checkpoint += 1
        if force or self.pages_since_checkpoint >= CHECKPOINT_EVERY:
            self.cp["seen"] = sorted(self.seen)
            jobs.save_checkpoint(self.ctx.shop_id, KIND, self.run, self.cp)
            self.pages_since_checkpoint = 0

    def _observe(self, rows: list[list[Any]]) -> None:
        for sku, product_id, variant_id, name, price, stock, unlimited in rows:
            self.observed[sku] = JsItem(sku, Target(product_id, variant_id), name, price, stock, unlimited)

    # -- phases ----------------------------------------------------------------------------------------------
    def read_jumpseller_page(self) -> bool:
        page = self.cp["page"]
        products = self.ctx.jumpseller.products_page(page)
        rows = [[j.sku, j.target.product_id, j.target.variant_id, j.name, j.price, j.stock, j.unlimited]
                for product in products for j in catalog.js_items(product) if j.sku]
        jobs.put_chunk(self.ctx.shop_id, KIND, self.run, f"js#{page:06d}", rows, jobs.now())
        self._observe(rows)
        self.count("jumpseller_pages")
        self.cp["page"] = page + 1
        return len(products) == PAGE_LIMIT

    def read_price_page(self) -> bool:
        offset = self.cp["offset"]
        items, more = self.ctx.bsale.page(f"/v1/price_lists/{self.ctx.shop.price_list_id}/details.json", offset)
        prices = {str(item["variant"]["id"]): float(item.get("variantValueWithTaxes") or 0) for item in items}
        jobs.put_chunk(self.ctx.shop_id, KIND, self.run, f"pr#{offset:08d}", prices, jobs.now())
        self.prices.update(prices)
        self.count("bsale_pages")
        self.cp["offset"] = offset + len(items)
        return more

    def read_stock_page(self) -> bool:
        offset = self.cp["offset"]
        items, more = self.ctx.bsale.page("/v1/stocks.json", offset, {"officeid": self.ctx.shop.office_id})
        for row in items:
            variant_id = str(row["variant"]["id"])
            if str(row.get("office", {}).get("id", self.ctx.shop.office_id)) != str(self.ctx.shop.office_id):
                continue
            link = self.links.get(variant_id)
            if link is not None and variant_id not in self.seen:
                self.fix(link, float(row.get("quantityAvailable") or 0))
            self.seen.add(variant_id)
        self.count("bsale_pages")
        self.cp["offset"] = offset + len(items)
        return more

    def fix(self, link: Link, available: float) -> None:
        observed = self.observed.get(link.sku)
        if observed is None:
            links.record_unlinked(self.ctx.shop_id, link.variant_id, link.sku, "missing in Jumpseller")
            self.count("unlinked")
            return
        if observed.target != link.target:
            links.update_js_fields(link, js_product_id=observed.target.product_id,
                                   js_variant_id=observed.target.variant_id)
            link.js_product_id, link.js_variant_id = observed.target.product_id, observed.target.variant_id
        price = self.prices.get(link.variant_id) if self.ctx.shop.options.sync_price else None
        change = push.sync(self.ctx, link, stock=push.Truth(available, self.version),
                           price=push.Truth(price, self.cp.get("price_version") or self.version)
                           if price is not None else None, observed=observed)
        if change.action == "unchanged":
            read_at = self.cp.get("js_version")
            if read_at and (observed.name != link.js_name or not catalog_same(observed.price, link.js_price)):
                # Jumpseller's own name and price (product PUTs carry them), unless a price was claimed since
                # its pages were read.
                links.remember_shown(link, read_at, js_name=observed.name, js_price=observed.price)
            return
        if change.action == "superseded":
            self.count("superseded")
            return
        if change.action == "unlinked":  # gone from Jumpseller since its page was read
            self.count("unlinked")
            return
        self.count("fixed")
        if len(self.cp["fixes"]) < FIXES_KEPT:
            self.cp["fixes"].append(change.describe())


def check_hooks(ctx: ShopContext) -> list[str]:
    """Register again the hooks Jumpseller dropped; what was missing is reported in the run's result."""
    if not ctx.shop.webhook_url:
        return []
    restored = ensure_hooks(ctx.jumpseller, ctx.shop.webhook_url)
    if restored:
        metrics.add_metric(name="HooksRestored", unit=MetricUnit.Count, value=len(restored))
        logger.warning("Jumpseller hooks were missing and are registered again", extra={"events": restored})
    return restored


def catalog_same(a: float, b: float) -> bool:
    return abs(a - b) < 0.005


def run_slice(ctx: ShopContext, run_id: str, checkpoint: dict[str, Any], budget: Any) -> Outcome:
    run = Run(ctx, run_id, checkpoint)
    cp = run.cp
    while True:  # at least one step per slice, so even a tiny budget makes progress
        phase = cp["phase"]
        if phase == "hooks":
            cp["hooks_restored"] = check_hooks(ctx)
            cp.update(phase="jumpseller", js_version=push.version())  # before the first product page is read
        elif phase == "jumpseller":
            if not run.read_jumpseller_page():
                cp.update(phase="prices" if ctx.shop.options.sync_price else "stocks", offset=0,
                          price_version=push.version())  # before the first price page is read
        elif phase == "prices":
            if not run.read_price_page():
                cp.update(phase="stocks", offset=0)
        elif phase == "stocks":
            if not run.read_stock_page():
                cp["phase"] = "unseen"
        elif phase == "unseen":
            for variant_id, link in run.links.items():
                if variant_id not in run.seen:
                    run.fix(link, 0.0)  # Bsale lists no stock for it in this office: none to sell
                    run.seen.add(variant_id)
            cp["phase"] = "done"
        else:
            result = {"fixed": cp["counts"].get("fixed", 0), "fixes": cp["fixes"], "counts": cp["counts"],
                      "links": len(run.links), "seconds": round(time.time() - cp["started"], 1),
                      "hooks_restored": cp.get("hooks_restored", [])}
            jobs.finish(ctx.shop_id, KIND, run_id, result, jobs.now())
            return Outcome("done", f"{result['fixed']} fixed of {len(run.links)} linked")
        if budget.spent():
            break
        run.checkpoint()
    run.checkpoint(force=True)
    return Outcome("paused", f"phase {cp['phase']}; continues in a new slice")
