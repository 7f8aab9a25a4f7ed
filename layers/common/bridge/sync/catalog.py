"""Both catalogs as SKU-keyed items, and the plan that links them (F2: who links, who does not, and why)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bridge.clients.bsale import BsaleClient
from bridge.clients.jumpseller import JumpsellerClient
from bridge.models.bsale import Product, Variant
from bridge.models.jumpseller import JsProduct, Target
from bridge.sync import rules


@dataclass(frozen=True)
class BsaleItem:
    variant_id: str
    sku: str | None
    name: str
    product_id: int | None
    allow_negative: bool
    untracked: bool  # Bsale does not count its stock (unlimited stock, or a product without stock control)
    problem: str | None  # why it cannot be linked whatever Jumpseller has (no SKU, pack, serial, inactive)


@dataclass(frozen=True)
class JsItem:
    sku: str | None
    target: Target
    name: str  # the product's name (sent back on product PUTs)
    price: float
    stock: int | None
    unlimited: bool


@dataclass(frozen=True)
class NotLinked:
    side: str  # "bsale" or "jumpseller"
    ident: str  # Bsale variant id, or Jumpseller product[/variant] id
    sku: str | None
    name: str
    reason: str


@dataclass
class LinkPlan:
    pairs: list[tuple[BsaleItem, JsItem]] = field(default_factory=list)
    not_linked: list[NotLinked] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = defaultdict(int)
        for item in self.not_linked:
            counted[item.reason] += 1
        return dict(sorted(counted.items()))


def bsale_item(variant: Variant) -> BsaleItem:
    product = variant.product if isinstance(variant.product, Product) else None
    base, description = (product.name if product else "").strip(), variant.description.strip()
    # Bsale descriptions often repeat the product name ("Polera" / "Polera S"): say it once.
    name = description if description.startswith(base) else f"{base} {description}".strip()
    return BsaleItem(
        variant_id=str(variant.id),
        sku=variant.code,
        name=name or f"variant {variant.id}",
        product_id=int(product.id) if product else None,
        allow_negative=bool(variant.allow_negative_stock),
        untracked=bool(variant.unlimited_stock or (product is not None and not product.stock_control)),
        problem=rules.unlinkable_reason(variant),
    )


def js_items(product: JsProduct) -> list[JsItem]:
    """The sellable units of a Jumpseller product: itself, or each of its variants."""
    if not product.variants:
        return [JsItem(product.sku, Target(product.id), product.name, product.price or 0, product.stock,
                       product.stock_unlimited)]
    return [JsItem(v.sku, Target(product.id, v.id), product.name, v.price if v.price is not None else
                   product.price or 0, v.stock, v.stock_unlimited) for v in product.variants]


def read_bsale(bsale: BsaleClient) -> Iterator[BsaleItem]:
    for raw in bsale.pages("/v1/variants.json", {"expand": "[product]"}):
        yield bsale_item(Variant.model_validate(raw))


def read_jumpseller(jumpseller: JumpsellerClient) -> Iterator[JsItem]:
    for product in jumpseller.products():
        yield from js_items(product)


def plan(bsale: Iterable[BsaleItem], jumpseller: Iterable[JsItem]) -> LinkPlan:
    """Pair every SKU present exactly once, and usable, on each side; say why every other one is not linked."""
    result = LinkPlan()
    by_sku_b: dict[str, list[BsaleItem]] = defaultdict(list)
    by_sku_j: dict[str, list[JsItem]] = defaultdict(list)
    for b in bsale:
        if b.sku is None:
            result.not_linked.append(NotLinked("bsale", b.variant_id, None, b.name, "no SKU in Bsale"))
        elif b.problem == rules.INACTIVE:
            # Reported, but never a duplicate of the active variant that took over its SKU.
            result.not_linked.append(NotLinked("bsale", b.variant_id, b.sku, b.name, b.problem))
        else:
            by_sku_b[b.sku].append(b)
    for j in jumpseller:
        if j.sku is None:
            result.not_linked.append(NotLinked("jumpseller", _ident(j.target), None, j.name, "no SKU in Jumpseller"))
        else:
            by_sku_j[j.sku].append(j)
    for sku in sorted(set(by_sku_b) | set(by_sku_j)):
        bs, js = by_sku_b.get(sku, []), by_sku_j.get(sku, [])
        reason = _pair_problem(bs, js)
        if reason is None:
            result.pairs.append((bs[0], js[0]))
            continue
        for b in bs:
            result.not_linked.append(NotLinked("bsale", b.variant_id, sku, b.name, reason))
        if not bs:
            for j in js:
                result.not_linked.append(NotLinked("jumpseller", _ident(j.target), sku, j.name, reason))
    return result


def _pair_problem(bs: list[BsaleItem], js: list[JsItem]) -> str | None:
    if len(bs) > 1:
        return "duplicate SKU in Bsale"
    if len(js) > 1:
        return "duplicate SKU in Jumpseller"
    if bs and bs[0].problem:
        return bs[0].problem
    if not js:
        return "missing in Jumpseller"
    if not bs:
        return "missing in Bsale"
    return None


def _ident(target: Target) -> str:
    return f"{target.product_id}/{target.variant_id}" if target.variant_id else str(target.product_id)
