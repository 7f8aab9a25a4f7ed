"""Manual sync (F2), the three options of the product: link only; import; link and overwrite.

Reads both catalogs whole, pairs SKUs (catalog.plan), saves and removes links, and reports every SKU that
is not linked or not imported, with its reason and counts per reason. Import creates in Jumpseller, with
their variants, the Bsale products whose SKUs Jumpseller lacks entirely. Overwrite pushes Bsale's stock and
price to every linked product where Jumpseller differs. Writes are idempotent: a run cut short and run again
finds what it already linked or created and does not repeat it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from bridge.models.jumpseller import Target
from bridge.shops.context import ShopContext
from bridge.store import jobs, links
from bridge.sync import catalog, linking, push, rules
from bridge.sync.catalog import BsaleItem, JsItem, NotLinked
from bridge.sync.stock import Outcome

KIND = "manual"
MISSING_IN_JUMPSELLER = "missing in Jumpseller"


def run(ctx: ShopContext, run_id: str, mode: str, budget: Any) -> Outcome:
    started = time.time()
    read_from = push.version()  # before Bsale's stock and prices and the links are read: see sync/push.py
    bsale_items = list(catalog.read_bsale(ctx.bsale))
    js_items = list(catalog.read_jumpseller(ctx.jumpseller))
    plan = catalog.plan(bsale_items, js_items)
    created: list[str] = []
    not_imported: list[NotLinked] = []
    pairs = list(plan.pairs)

    if mode == "import":
        stocks, prices = _stocks(ctx), _prices(ctx)
        new_pairs, created, not_imported = _import(ctx, plan.not_linked, bsale_items, stocks, prices)
        pairs += new_pairs
        imported = {b.variant_id for b, _ in new_pairs}
        plan.not_linked = [n for n in plan.not_linked if not (n.side == "bsale" and n.ident in imported)]

    existing = {link.variant_id: link for link in links.all_links(ctx.shop_id)}
    fresh, changed = [], []
    for b, j in pairs:
        link = existing.get(b.variant_id)
        if link is None:
            fresh.append(linking.new_link(ctx, b, j))
        elif (link.sku, link.target, link.allow_negative, link.untracked) != (b.sku, j.target, b.allow_negative,
                                                                              b.untracked):
            changed.append(linking.new_link(ctx, b, j))
    links.save_many(fresh, changed)
    unlinked = [(n.ident, n.sku, n.reason) for n in plan.not_linked if n.side == "bsale"]
    gone = set(existing) - {b.variant_id for b, _ in pairs} - {ident for ident, _, _ in unlinked}
    unlinked += [(variant_id, existing[variant_id].sku, "missing in Bsale") for variant_id in sorted(gone)]
    links.record_unlinked_many(ctx.shop_id, unlinked)

    written: list[str] = []
    if mode in ("overwrite", "import"):
        stocks = stocks if mode == "import" else _stocks(ctx)
        prices = prices if mode == "import" else _prices(ctx)
        written = _overwrite(ctx, pairs, stocks, prices, read_from)

    report = {
        "mode": mode,
        "linked": len(pairs),
        "created_in_jumpseller": created,
        "written": written,
        "not_linked": [asdict(n) for n in plan.not_linked],
        "not_imported": [asdict(n) for n in not_imported],
        "counts": plan.counts(),
        "seconds": round(time.time() - started, 1),
    }
    jobs.finish(ctx.shop_id, KIND, run_id, report, jobs.now())
    return Outcome("done", f"{mode}: {len(pairs)} linked, {len(created)} created, {len(plan.not_linked)} not linked")


def _stocks(ctx: ShopContext) -> dict[str, float]:
    rows = ctx.bsale.pages("/v1/stocks.json", {"officeid": ctx.shop.office_id})
    return {str(row["variant"]["id"]): float(row.get("quantityAvailable") or 0) for row in rows}


def _prices(ctx: ShopContext) -> dict[str, float]:
    rows = ctx.bsale.pages(f"/v1/price_lists/{ctx.shop.price_list_id}/details.json")
    return {str(row["variant"]["id"]): float(row.get("variantValueWithTaxes") or 0) for row in rows}


def _overwrite(ctx: ShopContext, pairs: list[tuple[BsaleItem, JsItem]], stocks: dict[str, float],
               prices: dict[str, float], read_from: int) -> list[str]:
    written = []
    for b, j in pairs:
        link = links.get(ctx.shop_id, b.variant_id)
        if link is None:
            continue
        price = prices.get(b.variant_id) if ctx.shop.options.sync_price else None
        change = push.sync(ctx, link, stock=push.Truth(stocks.get(b.variant_id, 0.0), read_from),
                           price=push.Truth(price, read_from) if price is not None else None, observed=j)
        if change.fields:
            written.append(change.describe())
    return written


def _import(
    ctx: ShopContext, not_linked: list[NotLinked], bsale_items: list[BsaleItem], stocks: dict[str, float],
    prices: dict[str, float],
) -> tuple[list[tuple[BsaleItem, JsItem]], list[str], list[NotLinked]]:
    """Create in Jumpseller each Bsale product none of whose SKUs Jumpseller has."""
    missing = {n.ident for n in not_linked if n.side == "bsale" and n.reason == MISSING_IN_JUMPSELLER}
    by_product: dict[int | None, list[BsaleItem]] = defaultdict(list)
    for item in bsale_items:
        if item.problem is None and item.sku:
            by_product[item.product_id].append(item)
    pairs: list[tuple[BsaleItem, JsItem]] = []
    created: list[str] = []
    refused: list[NotLinked] = []
    for product_id, variants in by_product.items():
        if not any(v.variant_id in missing for v in variants):
            continue
        if not all(v.variant_id in missing for v in variants):
            for v in variants:
                if v.variant_id in missing:
                    refused.append(NotLinked("bsale", v.variant_id, v.sku, v.name,
                                             "product exists in Jumpseller with other SKUs: add this variant there"))
            continue
        unpriced = [v for v in variants if v.variant_id not in prices]
        if unpriced:
            refused += [NotLinked("bsale", v.variant_id, v.sku, v.name, "no price in the shop's price list")
                        for v in unpriced]
            continue
        pairs += _create(ctx, product_id, variants, stocks, prices)
        created.append(f"{variants[0].name.split(' ')[0] if len(variants) > 1 else variants[0].name} "
                       f"({', '.join(v.sku or '' for v in variants)})")
    return pairs, created, refused


def _create(ctx: ShopContext, product_id: int | None, variants: list[BsaleItem], stocks: dict[str, float],
            prices: dict[str, float]) -> list[tuple[BsaleItem, JsItem]]:
    def stock_of(v: BsaleItem) -> dict[str, Any]:
        count, unlimited = rules.stock_to_push(stocks.get(v.variant_id, 0.0), 0, allow_negative=v.allow_negative,
                                               presale=ctx.shop.options.presale, untracked=v.untracked)
        return {"stock_unlimited": True} if unlimited else {"stock": count, "stock_unlimited": False}

    first = variants[0]
    if len(variants) == 1:
        fields = {"name": first.name, "price": prices[first.variant_id], "sku": first.sku, **stock_of(first),
                  "status": "available"}
        product = ctx.jumpseller.create_product(fields)
        return [(first, catalog.js_items(product)[0])]
    base_name = _common_name([v.name for v in variants])
    product = ctx.jumpseller.create_product({"name": base_name, "price": prices[first.variant_id],
                                             "status": "available"})
    pairs = []
    for v in variants:
        label = v.name.removeprefix(base_name).strip() or (v.sku or v.variant_id)
        created = ctx.jumpseller.create_variant(product.id, {
            "sku": v.sku, "price": prices[v.variant_id], **stock_of(v),
            "options": [{"name": "Variante", "option_type": "option", "value": label}],
        })
        pairs.append((v, JsItem(v.sku, Target(product.id, created.id), base_name, prices[v.variant_id],
                                created.stock, created.stock_unlimited)))
    return pairs


def _common_name(names: list[str]) -> str:
    words = [name.split() for name in names]
    common = []
    for group in zip(*words, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    return " ".join(common) or names[0]
