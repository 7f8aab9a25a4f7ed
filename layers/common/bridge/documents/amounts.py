"""Document lines whose total equals what the customer paid, to the peso.

Jumpseller prices are gross CLP (19 % IVA included); Bsale document lines are net. How the SII, and so Bsale,
totals a document (reference/facto_dte.md B.5): each line's net amount is an integer, IVA is computed once on
the net total, `IVA = round(net × 0.19)`, and `total = net + IVA + exempt`. Two facts follow.

1. Per-line conversion drifts. Rounding each gross price to net and adding IVA on the sum misses by a peso
   or more (209.900 paid → 209.899 documented, facto_dte.md example 5). So the net total is derived from the
   gross total first, and only then shared out over the lines (largest remainder), never line by line.

2. Some totals cannot be reached at all. `f(net) = net + round(0.19 × net)` climbs by 1 or 2 pesos per peso
   of net, so about 16 % of integer totals are skipped: 680 (571 → 679, 572 → 681) or 86.710 (facto_dte.md).
   No choice of taxed lines can produce them; only an exempt amount can (a line without taxes is exempt in
   Bsale). Resolution: the net is the largest one whose taxed total stays at or below the paid total, and the
   1 peso left (at most 3, see ties below) becomes an exempt line "Ajuste por redondeo". A shop can turn the
   line off; then the document is short by that peso and the plan says so (`unmatched`).

Choices that keep the arithmetic exact whatever Bsale does with rounding (its internals are UNCONFIRMED):
- Lines carry an integer net unit price and no Bsale `discount`. Discounts are already in the price. A
  percentage `discount` would need non-terminating percentages to express a peso amount (1.000 off 2.990 is
  33,44…%) and would add a second rounding (unit × quantity × (1 − %)) whose precision Bsale does not document.
- A product whose net share is not a multiple of its quantity is split in two lines of the same variant,
  r units at u+1 and q−r at u, when that is better than moving a few pesos to another line.
- IVA per line versus on the total (`iva_rounding`): if Bsale rounded IVA line by line the total could drift.
  Lines are balanced (pesos moved between lines, at most MAX_NET_SHIFT away from their exact share) so that
  the sum of per-line IVA equals the IVA on the total; both ways then give the same document total.
- Ties: a net ending in 50 has an IVA ending in ,5, where half-up and half-to-even rounding disagree. No
  line and no total is left on such a value, so the result does not depend on Bsale's rounding mode.

Order-level amounts (reference/jumpseller.md §3.3): the order `total` is authoritative. Coupons and other
order discounts that the product lines do not carry are whatever separates the lines from the total; they
are taken off the product lines in proportion to their value (and from shipping only once products are at
zero). A total above the lines (taxes added on top) is spread over every line in proportion. Gift cards are a
means of payment, not a discount, so the document covers `total + gift_cards_discount` (UNCONFIRMED which
one Chilean practice expects; with no gift card both are the order total).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, Literal

from bridge.models.jumpseller_order import JumpsellerOrder, OrderProduct

IVA_PERCENT = 19
MAX_NET_SHIFT = 10  # pesos a line's net may move away from its exact share while balancing
MAX_UNIT_SHIFT = 10  # pesos a unit price may move away from the line's average when a line is split
MOVE_BUDGET = 300_000  # balancing effort per order (evaluated moves), see _Balancer.run
FULL_SEARCH_ITEMS = 30  # above this many lines, balancing pairs each line with a few partners only
ADJUSTMENT_TEXT = "Ajuste por redondeo"
IvaRounding = Literal["document", "line"]
DiscountBasis = Literal["line", "unit"]


class LineKind(StrEnum):
    PRODUCT = "product"
    SHIPPING = "shipping"
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True)
class DocumentLine:
    kind: LineKind
    description: str
    quantity: int
    net_unit_value: int
    taxed: bool = True
    product_index: int | None = None  # position in order.products, for product lines

    @property
    def net_amount(self) -> int:
        return self.quantity * self.net_unit_value


@dataclass(frozen=True)
class DroppedLine:
    """A product left off the document. Its stock must be taken out in Bsale by hand (nothing dispatches it)."""

    product_index: int
    name: str
    sku: str | None
    reason: str


@dataclass(frozen=True)
class DocumentTotals:
    net: int
    iva: int
    exempt: int
    total: int


@dataclass(frozen=True)
class AmountsPlan:
    lines: tuple[DocumentLine, ...]
    dropped: tuple[DroppedLine, ...]
    order_total: int  # what the document must add up to
    totals: DocumentTotals  # as the SII computes them (IVA on the net total)
    unmatched: int  # order_total − totals.total: 0 unless the shop turned the adjustment line off
    per_line_iva_matches: bool  # True: rounding IVA line by line gives the same total
    discount_basis: DiscountBasis  # how product `discount` was read


@dataclass(frozen=True)
class AmountsSkip:
    """Nothing to document (all-zero order). Not an error: recorded with its reason."""

    reason: str
    dropped: tuple[DroppedLine, ...] = field(default=())


@dataclass(frozen=True)
class AmountsProblem:
    reason: str


# ---------------------------------------------------------------- arithmetic as the SII / Bsale do it


def round_half_up(value: Fraction | Decimal | int) -> int:
    """Round to a whole peso, halves away from zero (PHP/SII style) for the non-negative amounts used here."""
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value.to_integral_value(rounding=ROUND_HALF_UP))
    floor = value.numerator // value.denominator
    return floor + (1 if value - floor >= Fraction(1, 2) else 0)


def iva_of(net: int) -> int:
    """round(net × 0.19), halves up, in integer arithmetic."""
    return (IVA_PERCENT * net + 50) // 100


def taxed_total(net: int) -> int:
    """What a net amount becomes once IVA is added on it: net + round(net × 0.19)."""
    return net + iva_of(net)


def _is_tie(net: int) -> bool:
    """0.19 × net ends in exactly ,5 (net ≡ 50 mod 100): half-up and half-to-even would disagree."""
    return net % 100 == 50


def net_for_gross_total(total: int) -> tuple[int, int]:
    """(net, exempt remainder) with taxed_total(net) + remainder == total, net off ties, remainder minimal.

    The remainder is 0 for about 84 % of totals, 1 for the ones no net reaches, and up to 3 when the only
    nets that fit end in 50.
    """
    if total < 0:
        raise ValueError("a document total is never negative")
    net = round_half_up(Fraction(total * 100, 100 + IVA_PERCENT)) + 2
    while net > 0 and (taxed_total(net) > total or _is_tie(net)):
        net -= 1
    return net, total - taxed_total(net)


def _line_net(quantity: Decimal, unit: Decimal, discount_percent: Decimal) -> int:
    return round_half_up(quantity * unit * (100 - discount_percent) / 100)


def totals_of_lines(lines: Iterable[DocumentLine], *, iva_rounding: IvaRounding = "document") -> DocumentTotals:
    """Net, IVA, exempt and total of document lines. `iva_rounding="line"` rounds IVA per line instead."""
    return _totals([(line.net_amount, line.taxed) for line in lines], iva_rounding)


def totals_of_bsale_details(
    details: Iterable[Mapping[str, Any]], *, iva_rounding: IvaRounding = "document"
) -> DocumentTotals:
    """The totals Bsale/SII compute for the `details` of a POST /v1/documents.json body.

    Each line: round(netUnitValue × quantity × (1 − discount/100)); taxed when it has `taxes` or `taxId`,
    exempt otherwise (bsale.md §5.2, §8.3).
    """
    amounts = []
    for detail in details:
        amount = _line_net(
            Decimal(str(detail.get("quantity", 1))),
            Decimal(str(detail.get("netUnitValue", 0))),
            Decimal(str(detail.get("discount") or 0)),
        )
        amounts.append((amount, bool(detail.get("taxes") or detail.get("taxId"))))
    return _totals(amounts, iva_rounding)


def _totals(amounts: Sequence[tuple[int, bool]], iva_rounding: IvaRounding) -> DocumentTotals:
    net = sum(amount for amount, taxed in amounts if taxed)
    exempt = sum(amount for amount, taxed in amounts if not taxed)
    per_line = sum(iva_of(amount) for amount, taxed in amounts if taxed)
    iva = per_line if iva_rounding == "line" else iva_of(net)
    return DocumentTotals(net=net, iva=iva, exempt=exempt, total=net + iva + exempt)


# ---------------------------------------------------------------- from the order to gross shares


@dataclass(frozen=True)
class _Item:
    """One product line or the shipping, with its gross share of the total and, later, its net."""

    kind: LineKind
    description: str
    quantity: int
    weight: Fraction  # gross value before order-level discounts
    product_index: int | None = None


def largest_remainder(weights: Sequence[Fraction], total: int) -> list[int]:
    """Whole numbers proportional to `weights` that add up to `total` exactly (Hamilton's method).

    Ties in the remainders go to the earlier item, so the result is deterministic.
    """
    weight_sum = sum(weights, Fraction(0))
    if total == 0 or weight_sum == 0:
        return [0] * len(weights)
    exact = [Fraction(total) * w / weight_sum for w in weights]
    shares = [e.numerator // e.denominator for e in exact]
    short = total - sum(shares)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:short]:
        shares[i] += 1
    return shares


def _exclusive_tax_factor(product: OrderProduct) -> tuple[Fraction, Fraction]:
    """(rate factor, fixed amount per unit) for taxes NOT included in the price (tax_on_product_price false)."""
    factor, fixed = Fraction(1), Fraction(0)
    for tax in product.taxes:
        if tax.tax_on_product_price is False and tax.rate:
            if tax.fixed:
                fixed += Fraction(tax.rate)
            else:
                factor += Fraction(tax.rate) / 100
    return factor, fixed


def _discount_basis(order: JumpsellerOrder) -> DiscountBasis:
    """Whether a product's `discount` is for the whole line or per unit (UNCONFIRMED in Jumpseller's docs).

    All known examples have qty 1 and an order `discount` that adds up the lines' discounts (plus the shipping
    discount). So: per unit when only that reading adds up to the order's discount, per line otherwise.
    """
    per_line = sum((p.discount for p in order.products if p.qty > 0), Decimal(0))
    per_unit = sum((p.discount * p.qty for p in order.products if p.qty > 0), Decimal(0))
    lines_part = order.discount - order.shipping_discount
    if per_unit != per_line and abs(per_unit - lines_part) < 1 <= abs(per_line - lines_part):
        return "unit"
    return "line"


def _product_gross(product: OrderProduct, basis: DiscountBasis) -> Fraction:
    price_total = Fraction(product.price) * product.qty
    discount = Fraction(product.discount) * (product.qty if basis == "unit" else 1)
    net_of_discount = min(max(price_total - max(discount, Fraction(0)), Fraction(0)), price_total)
    factor, fixed = _exclusive_tax_factor(product)
    return net_of_discount * factor + fixed * product.qty


def _shipping_gross(order: JumpsellerOrder) -> Fraction:
    shipping = Fraction(order.shipping) - Fraction(order.shipping_discount)
    if any(tax.tax_on_shipping_price is False for tax in order.shipping_taxes):
        shipping += Fraction(order.shipping_tax)
    return max(shipping, Fraction(0))


def _gross_targets(items: Sequence[_Item], total: int) -> list[Fraction]:
    """Each item's gross share once the order-level difference (coupons, added taxes) is applied."""
    lines_value = sum((item.weight for item in items), Fraction(0))
    gap = lines_value - total
    if gap < 0:  # the total is above the lines: spread the extra over every line, in proportion
        return [item.weight * total / lines_value for item in items]
    products_value = sum((i.weight for i in items if i.kind is LineKind.PRODUCT), Fraction(0))
    if gap <= products_value:  # an order discount: off the products, in proportion to their value
        return [
            item.weight - gap * item.weight / products_value if item.kind is LineKind.PRODUCT else item.weight
            for item in items
        ]
    # the discount exceeds the products: they are free, and the rest comes off the shipping
    rest = gap - products_value
    return [Fraction(0) if item.kind is LineKind.PRODUCT else item.weight - rest for item in items]


# ---------------------------------------------------------------- nets: split, balance


def _canonical_split(net: int, quantity: int) -> tuple[tuple[int, int], ...]:
    """`net` over `quantity` units as (quantity, unit price) lines: r units at u+1 and q−r at u."""
    unit, rest = divmod(net, quantity)
    return ((quantity, unit),) if rest == 0 else ((rest, unit + 1), (quantity - rest, unit))


def _splits(net: int, quantity: int, *, deep: bool = False) -> list[Lines]:
    """Ways to write `net` as (quantity, unit price) lines; the canonical one first, then two-line ones.

    `deep` adds three-line ones (one unit apart, then the rest in two groups), a last resort for a single
    multi-unit product whose two-line splits all round IVA differently line by line.
    """
    canonical = _canonical_split(net, quantity)
    options = [canonical]
    unit = net // quantity
    for low in range(unit, max(unit - MAX_UNIT_SHIFT, 1) - 1, -1):
        for high_qty in range(1, quantity):
            remaining = net - (quantity - high_qty) * low
            if remaining % high_qty:
                continue
            high = remaining // high_qty
            if high <= low or (high * quantity - net) > MAX_UNIT_SHIFT * quantity:
                continue
            option = ((high_qty, high), (quantity - high_qty, low))
            if option != canonical:
                options.append(option)
        if len(options) > 40:
            break
    if deep and quantity > 2:
        groups = sorted(set(range(1, min(quantity - 1, 21))) | set(range(max(1, quantity - 21), quantity - 1)))
        for single in range(unit - 2, unit + 3):
            for group in groups:
                last = quantity - 1 - group
                for price in range(unit - 2, unit + 3):
                    remaining = net - single - group * price
                    if single >= 1 and price >= 1 and remaining % last == 0 and abs(remaining // last - unit) <= 2:
                        options.append(((1, single), (group, price), (last, remaining // last)))
    return options


Lines = tuple[tuple[int, int], ...]  # (quantity, net unit price) pairs
_Part = tuple[int, int, int, int, int]  # see _Balancer._item
_SCALE = 1000  # deviations are compared in thousandths of a peso, as integers (exact and fast)


class _Balancer:
    """Moves pesos of net between items (and picks how multi-unit items split) so that, in this order:

    1. every unit price is at least 1 peso; 2. IVA rounded per line adds up to the IVA of the net total, and
    no line sits on a ,5 tie; 3. the fewest Bsale lines are used; 4. each item stays nearest its exact share
    (never more than MAX_NET_SHIFT pesos away once it was within). Greedy steepest descent on that
    lexicographic score, deterministic; the total net never changes.
    """

    def __init__(self, quantities: Sequence[int], ideals: Sequence[Fraction], nets: Sequence[int]) -> None:
        self.quantities = list(quantities)
        self.ideals = [round_half_up(ideal * _SCALE) for ideal in ideals]
        self.nets = list(nets)
        self.choice = [0] * len(nets)
        self.target_iva = iva_of(sum(nets))
        self._options_cache: dict[tuple[int, int, bool], list[Lines]] = {}
        self._deep = False
        self._parts: dict[tuple[int, int, int], _Part] = {}
        self._budget = MOVE_BUDGET

    def lines(self, k: int) -> Lines:
        return self._lines(k, self.nets[k], self.choice[k])

    def _options(self, net: int, quantity: int) -> list[Lines]:
        key = (net, quantity, self._deep)
        if key not in self._options_cache:
            self._options_cache[key] = _splits(net, quantity, deep=self._deep)
        return self._options_cache[key]

    def _lines(self, k: int, net: int, choice: int) -> Lines:
        if choice == 0:
            return _canonical_split(net, self.quantities[k])
        return self._options(net, self.quantities[k])[choice]

    def _choices(self, k: int) -> int:
        net, quantity = self.nets[k], self.quantities[k]
        if quantity == 1 or net < quantity:
            return 1
        return len(self._options(net, quantity))

    def _item(self, k: int, net: int, choice: int) -> _Part:
        """(unit prices below 1, lines on a tie, IVA rounded per line, lines, distance from the share × _SCALE)."""
        key = (k, net, choice)
        part = self._parts.get(key)
        if part is None:
            lines = self._lines(k, net, choice)
            quantity = self.quantities[k]
            spread = max(abs(unit * quantity - net) for _, unit in lines) * _SCALE // quantity
            part = (
                sum(1 for _, unit in lines if unit < 1),
                sum(1 for qty, unit in lines if _is_tie(qty * unit)),
                sum(iva_of(qty * unit) for qty, unit in lines),
                len(lines),
                abs(net * _SCALE - self.ideals[k]) + spread,
            )
            self._parts[key] = part
        return part

    def _key(self, sums: Sequence[int]) -> tuple[int, int, int, int]:
        invalid, ties, iva, lines, deviation = sums
        return (invalid, abs(iva - self.target_iva) + ties, lines, deviation)

    def _allowed(self, k: int, net: int) -> bool:
        distance = abs(net * _SCALE - self.ideals[k])
        return distance <= MAX_NET_SHIFT * _SCALE or distance < abs(self.nets[k] * _SCALE - self.ideals[k])

    def run(self) -> bool:
        """Balance in place; True when per-line IVA matches and every unit price is at least 1 peso.

        Work is bounded by a count of evaluated moves (not by time), so big orders stay fast and the result
        stays deterministic. Stopping early never breaks the document total: any nets that add up to the
        net total give it; balancing only tidies the lines and aligns per-line IVA.
        """
        self._budget = MOVE_BUDGET
        parts = [self._item(k, self.nets[k], 0) for k in range(len(self.nets))]
        sums = [sum(part[i] for part in parts) for i in range(5)]
        current = self._key(sums)
        self._merge_remainders(parts, sums)
        current = self._key(sums)
        greedy = len(self.nets) > FULL_SEARCH_ITEMS
        while self._budget > 0:
            if current[1] and not self._deep and len(self.nets) == 1:
                self._deep = True  # a lone multi-unit product has no partner: try three-line splits too
            best: tuple[tuple[int, int, int, int], list[tuple[int, int, int]], list[int]] | None = None
            for change in self._moves():
                self._budget -= 1
                trial = self._try(change, parts, sums)
                key = self._key(trial)
                if key < current and (best is None or key < best[0]):
                    best = (key, change, trial)
                    if greedy and key[:2] < current[:2]:
                        break
                if self._budget <= 0:
                    break
            if best is None:
                break
            current, change, sums = best
            self._apply(change, parts)
        return current[0] == 0 and current[1] == 0

    def _try(self, change: list[tuple[int, int, int]], parts: list[_Part], sums: list[int]) -> list[int]:
        trial = list(sums)
        for k, net, choice in change:
            old, new = parts[k], self._item(k, net, choice)
            for i in range(5):
                trial[i] += new[i] - old[i]
        return trial

    def _apply(self, change: list[tuple[int, int, int]], parts: list[_Part]) -> None:
        for k, net, choice in change:
            self.nets[k], self.choice[k] = net, choice
            parts[k] = self._item(k, net, choice)

    def _merge_remainders(self, parts: list[_Part], sums: list[int]) -> None:
        """One cheap pass: give each split item's odd pesos to (or take them from) its best single-unit partner."""
        singles = [k for k, quantity in enumerate(self.quantities) if quantity == 1]
        for k, quantity in enumerate(self.quantities):
            rest = self.nets[k] % quantity
            if quantity == 1 or rest == 0:
                continue
            current = self._key(sums)
            best: tuple[tuple[int, int, int, int], list[tuple[int, int, int]], list[int]] | None = None
            for partner in singles:
                for step in (-rest, quantity - rest):
                    to_k, from_partner = self.nets[k] + step, self.nets[partner] - step
                    if not (self._allowed(k, to_k) and self._allowed(partner, from_partner)):
                        continue
                    change = [(k, to_k, 0), (partner, from_partner, 0)]
                    self._budget -= 1
                    trial = self._try(change, parts, sums)
                    key = self._key(trial)
                    if key[0] <= current[0] and key < current and (best is None or key < best[0]):
                        best = (key, change, trial)
            if best is not None:
                _, change, trial = best
                sums[:] = trial
                self._apply(change, parts)

    def _partners(self, a: int) -> Iterable[int]:
        count = len(self.nets)
        if count <= FULL_SEARCH_ITEMS:
            return (b for b in range(count) if b != a)
        largest = sorted(range(count), key=lambda k: (-self.nets[k], k))[:8]
        return sorted({b for b in (a - 1, a + 1, *largest) if 0 <= b < count and b != a})

    def _moves(self) -> Iterable[list[tuple[int, int, int]]]:
        for a in range(len(self.nets)):
            for b in self._partners(a):
                steps = {1, 2, 3, 4, 5, -self.nets[a] % self.quantities[a], self.nets[b] % self.quantities[b]}
                for step in sorted(s for s in steps if s > 0):
                    to_a, from_b = self.nets[a] + step, self.nets[b] - step
                    if self._allowed(a, to_a) and self._allowed(b, from_b):
                        yield [(a, to_a, 0), (b, from_b, 0)]
        for k in range(len(self.nets)):
            for choice in range(1, self._choices(k)):
                if choice != self.choice[k]:
                    yield [(k, self.nets[k], choice)]
            if self.choice[k]:
                yield [(k, self.nets[k], 0)]


# ---------------------------------------------------------------- the plan


def _lift_to_one_peso_per_unit(nets: list[int], ideals: list[Fraction], quantities: Sequence[int]) -> None:
    """Raise every item to at least 1 peso per unit, taking the pesos from the items with room to spare.

    Needs sum(nets) >= sum(quantities) (the caller guarantees it). The items changed get their new net as
    their share, so balancing does not pull them back.
    """
    short = sum(max(0, quantity - net) for net, quantity in zip(nets, quantities, strict=True))
    if short == 0:
        return
    room = [max(0, net - quantity) for net, quantity in zip(nets, quantities, strict=True)]
    taken = largest_remainder([Fraction(r) for r in room], short)
    for k, quantity in enumerate(quantities):
        new = max(nets[k], quantity) - taken[k]
        if new != nets[k]:
            nets[k], ideals[k] = new, Fraction(new)


def _order_target(order: JumpsellerOrder) -> int:
    return round_half_up(order.total + order.gift_cards_discount)


def _gross_shares(
    order: JumpsellerOrder, target: int, basis: DiscountBasis, shipping_text: str
) -> tuple[list[tuple[_Item, int]], list[DroppedLine]] | AmountsSkip | AmountsProblem:
    """Each product line and the shipping with its whole-peso gross share of the order total (Σ = total)."""
    items: list[_Item] = []
    dropped: list[DroppedLine] = []
    for index, product in enumerate(order.products):
        weight = _product_gross(product, basis) if product.qty > 0 else Fraction(0)
        if weight <= 0:
            reason = "cantidad cero" if product.qty <= 0 else "valor cero"
            dropped.append(DroppedLine(index, product.name, product.sku, reason))
            continue
        items.append(_Item(LineKind.PRODUCT, product.name, product.qty, weight, index))
    shipping = _shipping_gross(order)
    if shipping > 0:
        label = f"{shipping_text}: {order.shipping_method_name}" if order.shipping_method_name else shipping_text
        items.append(_Item(LineKind.SHIPPING, label[:80], 1, shipping))

    if target == 0:
        return AmountsSkip("El pedido no tiene montos que documentar (total $0)", tuple(dropped))
    if not items:
        return AmountsProblem(f"El total del pedido (${target}) no corresponde a ningún producto ni despacho")

    gross = largest_remainder(_gross_targets(items, target), target)
    kept: list[tuple[_Item, int]] = []
    for item, share in zip(items, gross, strict=True):
        if share > 0:
            kept.append((item, share))
        elif item.product_index is not None:
            product = order.products[item.product_index]
            dropped.append(DroppedLine(item.product_index, product.name, product.sku, "valor cero tras descuentos"))
    return kept, dropped


@dataclass(frozen=True)
class GrossLine:
    """A line priced with IVA included (a boleta with Facto's `valores_brutos`): quantity × unit_gross pesos."""

    kind: LineKind
    description: str
    quantity: int
    unit_gross: int
    product_index: int | None = None

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_gross


@dataclass(frozen=True)
class GrossPlan:
    lines: tuple[GrossLine, ...]
    dropped: tuple[DroppedLine, ...]
    order_total: int  # Σ line amounts, exactly


def plan_gross_lines(
    order: JumpsellerOrder, *, shipping_text: str = "Despacho"
) -> GrossPlan | AmountsSkip | AmountsProblem:
    """Gross lines adding up to exactly what the customer paid: each item's share of the total, written as whole
    unit prices (a share that is not a multiple of its quantity is split: r units at u+1, q−r at u)."""
    target = _order_target(order)
    if target < 0:
        return AmountsProblem(f"El total del pedido es negativo ({target}): no se puede documentar")
    shared = _gross_shares(order, target, _discount_basis(order), shipping_text)
    if not isinstance(shared, tuple):
        return shared
    kept, dropped = shared
    lines = [GrossLine(item.kind, item.description, quantity, unit, item.product_index)
             for item, share in kept for quantity, unit in _canonical_split(share, item.quantity)]
    if sum(line.amount for line in lines) != target:  # cannot happen by construction
        return AmountsProblem(f"Error interno: las líneas suman ${sum(line.amount for line in lines)} y el pedido "
                              f"${target}")
    dropped.sort(key=lambda d: d.product_index)
    return GrossPlan(tuple(lines), tuple(dropped), target)


def plan_amounts(
    order: JumpsellerOrder, *, rounding_adjustment: bool = True, shipping_text: str = "Despacho"
) -> AmountsPlan | AmountsSkip | AmountsProblem:
    """Net document lines for an order whose amounts are whole CLP pesos with IVA included."""
    target = _order_target(order)
    if target < 0:
        return AmountsProblem(f"El total del pedido es negativo ({target}): no se puede documentar")
    basis = _discount_basis(order)
    shared = _gross_shares(order, target, basis, shipping_text)
    if not isinstance(shared, tuple):
        return shared
    kept, dropped = shared

    net_total, remainder = net_for_gross_total(target)
    # Every unit needs at least 1 peso of net. When a near-total discount leaves fewer pesos than units, the
    # products worth least per unit leave the document (reported, like zero-value lines).
    while sum(item.quantity for item, _ in kept) > net_total:
        products = [k for k, (item, _) in enumerate(kept) if item.kind is LineKind.PRODUCT]
        if len(kept) == 1 or not products:
            return AmountsProblem(
                f"El total del pedido (${target}) no alcanza para $1 por unidad: emite el documento manualmente"
            )
        cheapest = min(products, key=lambda k: (Fraction(kept[k][1], kept[k][0].quantity), -k))
        item, _ = kept.pop(cheapest)
        if item.product_index is not None:
            product = order.products[item.product_index]
            dropped.append(DroppedLine(item.product_index, product.name, product.sku,
                                       "menos de $1 por unidad tras descuentos"))

    nets = largest_remainder([Fraction(share) for _, share in kept], net_total)
    ideals = [Fraction(net_total * share, target) for _, share in kept]
    _lift_to_one_peso_per_unit(nets, ideals, [item.quantity for item, _ in kept])
    balancer = _Balancer([item.quantity for item, _ in kept], ideals, nets)
    per_line_ok = balancer.run()
    if any(unit < 1 for k in range(len(kept)) for _, unit in balancer.lines(k)):  # cannot happen after the lift
        return AmountsProblem(
            f"No se pudo repartir el total (${target}) en precios unitarios de al menos $1: revisa el pedido"
        )

    lines: list[DocumentLine] = []
    for k, (item, _) in enumerate(kept):
        for quantity, unit in balancer.lines(k):
            lines.append(DocumentLine(item.kind, item.description, quantity, unit, True, item.product_index))
    unmatched = 0
    if remainder and rounding_adjustment:
        lines.append(DocumentLine(LineKind.ADJUSTMENT, ADJUSTMENT_TEXT, 1, remainder, taxed=False))
    else:
        unmatched = remainder

    totals = totals_of_lines(lines)
    if totals.total + unmatched != target:  # cannot happen by construction; never emit a wrong document
        return AmountsProblem(f"Error interno: el documento suma ${totals.total} y el pedido ${target}")
    per_line_ok = per_line_ok and totals_of_lines(lines, iva_rounding="line").total == totals.total
    dropped.sort(key=lambda d: d.product_index)
    return AmountsPlan(
        lines=tuple(lines),
        dropped=tuple(dropped),
        order_total=target,
        totals=totals,
        unmatched=unmatched,
        per_line_iva_matches=per_line_ok,
        discount_basis=basis,
    )
