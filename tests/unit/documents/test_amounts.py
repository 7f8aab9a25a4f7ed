"""Peso-exact document lines: the document total equals what the customer paid (PRODUCT.md F7)."""

import random
from decimal import Decimal
from typing import Any

import pytest

from bridge.documents.amounts import (
    ADJUSTMENT_TEXT,
    AmountsPlan,
    AmountsProblem,
    AmountsSkip,
    DocumentLine,
    LineKind,
    iva_of,
    largest_remainder,
    net_for_gross_total,
    plan_amounts,
    taxed_total,
    totals_of_bsale_details,
    totals_of_lines,
)
from bridge.models.jumpseller_order import JumpsellerOrder
from tests.unit.documents.orders import order, product


def plan(o: JumpsellerOrder, **kwargs: Any) -> AmountsPlan:
    result = plan_amounts(o, **kwargs)
    assert isinstance(result, AmountsPlan), result
    return result


def by_hand(lines: tuple[DocumentLine, ...]) -> int:
    """Total recomputed without the module: Σ net of taxed lines, + round(19 %), + exempt lines."""
    net = sum(line.quantity * line.net_unit_value for line in lines if line.taxed)
    exempt = sum(line.quantity * line.net_unit_value for line in lines if not line.taxed)
    return net + (net * 19 + 50) // 100 + exempt


# ---------------------------------------------------------------- the arithmetic itself


def test_some_totals_cannot_be_reached_by_taxed_lines_at_all() -> None:
    # Given every net amount up to 300,000 pesos, and what IVA on the net total makes of it
    reachable = {n + (n * 19 + 50) // 100 for n in range(0, 300_001)}
    # Then 680 and 86,710 (LibreDTE's examples) and 209,900 (facto_dte.md example 5) are never reached
    assert {680, 86_710, 209_900}.isdisjoint(reachable)
    # and about 16 % of totals are like that (0.19 / 1.19), which is why an exempt peso is needed
    unreachable = sum(1 for total in range(1, 340_000) if total not in reachable)
    assert unreachable / 340_000 == pytest.approx(0.19 / 1.19, abs=0.001)


def test_net_for_gross_total_is_exact_and_minimal() -> None:
    # Given every total up to 60,000 pesos
    for total in range(0, 60_000):
        net, rest = net_for_gross_total(total)
        # Then net + round(net × 19 %) + rest is the total, the rest is 0 when a net reaches it,
        # and the net never sits on a ,5 IVA tie
        assert taxed_total(net) + rest == total
        assert 0 <= rest <= 3
        assert net % 100 != 50
        if rest:
            assert all(taxed_total(candidate) != total or candidate % 100 == 50
                       for candidate in range(max(net - 3, 0), net + 4))


def test_known_examples() -> None:
    # Given the totals of the references, Then the net and the exempt remainder are these
    assert net_for_gross_total(12990) == (10916, 0)  # Bsale's intro example: 10916 net, 2074 IVA
    assert net_for_gross_total(680) == (571, 1)  # 571 + 108 = 679, + 1 exempt
    assert net_for_gross_total(209_900) == (176_386, 1)  # 176,386 + 33,513 = 209,899, + 1 exempt
    assert net_for_gross_total(179) == (149, 2)  # only net 150 reaches 179, and 28,5 is a tie
    assert iva_of(150) == 29 and iva_of(149) == 28


def test_largest_remainder_adds_up_exactly() -> None:
    # Given weights and a total, Then the whole shares add up to the total, earlier items winning ties
    from fractions import Fraction
    assert largest_remainder([Fraction(1), Fraction(1), Fraction(1)], 100) == [34, 33, 33]
    assert largest_remainder([Fraction(0), Fraction(5)], 7) == [0, 7]
    assert largest_remainder([Fraction(0)], 0) == [0]


# ---------------------------------------------------------------- golden orders


def test_boleta_with_line_discount_coupon_and_shipping() -> None:
    # Given 2 poleras at 12.990 with 2.000 off the line, a gorro at 7.990, a 1.000 coupon and 3.990 shipping
    o = order([product("Polera", "POL-M", 12990, qty=2, discount=2000), product("Gorro", "GOR-1", 7990)],
              shipping=3990, coupon=1000)
    assert o.total == 34960
    # When the lines are planned
    p = plan(o)
    # Then the coupon comes off the products in proportion, shipping is a line of its own, and it adds up
    assert [(line.kind, line.quantity, line.net_unit_value) for line in p.lines] == [
        (LineKind.PRODUCT, 2, 9760), (LineKind.PRODUCT, 1, 6505), (LineKind.SHIPPING, 1, 3353)]
    assert p.lines[2].description == "Despacho: Starken"
    assert (p.totals.net, p.totals.iva, p.totals.exempt, p.totals.total) == (29378, 5582, 0, 34960)
    assert by_hand(p.lines) == 34960 == p.order_total
    assert p.per_line_iva_matches and p.unmatched == 0


def test_the_one_peso_short_example_is_exact_with_an_exempt_peso() -> None:
    # Given the 199.900 + 10.000 order that per-line conversion documents as 209.899 (facto_dte.md ex. 5)
    o = order([product("Notebook", "NB-1", 199900), product("Mouse", "MS-1", 10000)])
    # When planned
    p = plan(o)
    # Then taxed lines reach 209.899 (no net can reach 209.900) and one exempt peso closes the gap
    adjustment = p.lines[-1]
    assert (adjustment.kind, adjustment.description, adjustment.net_amount, adjustment.taxed) == (
        LineKind.ADJUSTMENT, ADJUSTMENT_TEXT, 1, False)
    assert p.totals.exempt == 1 and p.totals.total == 209_900 == by_hand(p.lines)


def test_without_the_adjustment_line_the_difference_is_reported() -> None:
    # Given the same order for a shop that turned the exempt adjustment off
    p = plan(order([product("Notebook", "NB-1", 199900), product("Mouse", "MS-1", 10000)]),
             rounding_adjustment=False)
    # Then there is no exempt line, the document is a peso short, and the plan says so
    assert all(line.taxed for line in p.lines)
    assert (p.totals.total, p.unmatched) == (209_899, 1)


def test_multi_unit_line_split_when_no_single_unit_line_can_absorb_the_remainder() -> None:
    # Given 3 units at 10.000 and nothing else: 30.000 → net 25.210, not a multiple of 3
    p = plan(order([product("Taza", "TZ-1", 10000, qty=3)]))
    # Then the line is split into units one peso apart, same product, and adds up
    assert [(line.quantity, line.net_unit_value) for line in p.lines] == [(1, 8404), (2, 8403)]
    assert {line.product_index for line in p.lines} == {0}
    assert p.totals.total == 30_000 == by_hand(p.lines)
    assert p.per_line_iva_matches


def test_multi_unit_remainder_goes_to_shipping_rather_than_splitting() -> None:
    # Given the same 3 tazas plus shipping
    p = plan(order([product("Taza", "TZ-1", 10000, qty=3)], shipping=2990))
    # Then the tazas keep one price and the shipping line takes the odd pesos
    assert [(line.kind, line.quantity) for line in p.lines] == [(LineKind.PRODUCT, 3), (LineKind.SHIPPING, 1)]
    assert p.totals.total == 32_990 == by_hand(p.lines)


def test_zero_value_lines_are_dropped_and_reported() -> None:
    # Given a paid product, a free gift, a product fully discounted on its line and one with qty 0
    o = order([product("Polera", "POL-M", 12990), product("Regalo", "GIFT", 0),
               product("Cupón 100%", "FREE", 5000, discount=5000), product("Nada", "ZERO", 4990, qty=0)])
    # When planned
    p = plan(o)
    # Then only the paid product is on the document; the others are listed with their reason
    assert [line.product_index for line in p.lines if line.kind is LineKind.PRODUCT] == [0]
    assert [(d.sku, d.reason) for d in p.dropped] == [
        ("GIFT", "valor cero"), ("FREE", "valor cero"), ("ZERO", "cantidad cero")]
    assert p.totals.total == 12_990 == by_hand(p.lines)


def test_all_zero_order_is_skipped_with_a_reason() -> None:
    # Given an order whose only product is free and has no shipping
    result = plan_amounts(order([product("Muestra", "SMP", 0)]))
    # Then there is no document to emit, with the reason and the dropped line
    assert isinstance(result, AmountsSkip)
    assert "$0" in result.reason
    assert [d.sku for d in result.dropped] == ["SMP"]


def test_free_shipping_promotion_inside_discount() -> None:
    # Given Jumpseller's real CLP example: subtotal 50, shipping 2877, discount 2877 = shipping_discount, total 50
    o = order([product("Sticker", "STK", 50)], shipping=2877, shipping_discount=2877)
    assert (o.discount, o.total) == (2877, 50)
    # Then the document has the sticker only, for 50
    p = plan(o)
    assert [line.kind for line in p.lines] == [LineKind.PRODUCT]
    assert p.totals.total == 50 == by_hand(p.lines)


def test_coupon_larger_than_products_comes_off_shipping() -> None:
    # Given products of 5.000 and shipping of 3.000 with a 6.000 coupon: total 2.000
    p = plan(order([product("Llavero", "LLV", 5000)], shipping=3000, coupon=6000))
    # Then the product is free (dropped) and the shipping line carries the 2.000
    assert [line.kind for line in p.lines] == [LineKind.SHIPPING]
    assert [d.reason for d in p.dropped] == ["valor cero tras descuentos"]
    assert p.totals.total == 2000 == by_hand(p.lines)


def test_gift_cards_pay_but_do_not_discount() -> None:
    # Given a 20.000 order paid 5.000 with a gift card: Jumpseller's total is 15.000
    o = order([product("Libro", "LIB", 20000)], total=15000, gift_cards_discount=5000)
    # Then the document covers the goods: 20.000
    assert plan(o).totals.total == 20_000


def test_prices_without_tax_are_scaled_to_the_total() -> None:
    # Given a store whose prices exclude IVA (tax_on_product_price false), Jumpseller adding 19 % on top
    line = product("Servicio", "SRV", 10000, qty=2)
    line["taxes"] = [{"id": 1, "name": "IVA", "rate": 19, "fixed": False, "tax_on_product_price": False}]
    o = order([line], shipping=0, total=23800, tax=3800)
    # Then the lines still add up to what was charged
    p = plan(o)
    assert p.totals.total == 23_800 == by_hand(p.lines)
    assert [(x.quantity, x.net_unit_value) for x in p.lines] == [(2, 10000)]


def test_decimal_amounts_and_strings_are_rounded_to_the_peso() -> None:
    # Given amounts as strings with decimals, Then the document total is the paid total to the peso
    o = order([product("Café", "CAF", "4990.0", qty=2)], total="9980.4")
    assert plan(o).totals.total == 9980


def test_line_discount_read_per_unit_only_when_that_is_what_adds_up() -> None:
    # Given 3 units at 1.000 with discount 100, and an order discount of 300: per unit is the only reading
    per_unit = order([product("Lápiz", "LAP", 1000, qty=3, discount=100)], total=2700, discount=300)
    # Given the same with an order discount of 100: per line
    per_line = order([product("Lápiz", "LAP", 1000, qty=3, discount=100)], total=2900, discount=100)
    assert plan(per_unit).discount_basis == "unit"
    assert plan(per_line).discount_basis == "line"
    assert plan(per_unit).totals.total == 2700 and plan(per_line).totals.total == 2900


def test_impossible_orders_are_problems_not_documents() -> None:
    # Given a negative total, or a total with nothing on the order to carry it
    # Then the plan is a problem with its reason, never a document
    negative = plan_amounts(order([product("X", "X", 100)], total=-5))
    nothing_to_carry = plan_amounts(order([product("Gratis", "G", 0)], total=990))
    assert isinstance(negative, AmountsProblem)
    assert isinstance(nothing_to_carry, AmountsProblem) and "$990" in nothing_to_carry.reason


def test_bsale_details_totals_handle_discounts_decimals_and_exempt_lines() -> None:
    # Given Bsale detail lines in every documented shape (taxes, taxId, decimal price, % discount, exempt)
    # Then each line is rounded to the peso, IVA is taken once on the taxed net, exempt lines add as they are
    details = [
        {"netUnitValue": 10916, "quantity": 1, "taxes": [{"code": 14, "percentage": 19}]},
        {"netUnitValue": "5882.35", "quantity": 1, "taxId": "[1]", "discount": 0},
        {"netUnitValue": 1000, "quantity": 2, "discount": 50, "taxes": [{"code": 14, "percentage": 19}]},
        {"netUnitValue": 1, "quantity": 1, "comment": ADJUSTMENT_TEXT},
    ]
    totals = totals_of_bsale_details(details)
    assert (totals.net, totals.exempt) == (10916 + 5882 + 1000, 1)
    assert totals.iva == iva_of(17798) and totals.total == 17798 + iva_of(17798) + 1


# ---------------------------------------------------------------- property tests over random orders


def random_order(rng: random.Random) -> JumpsellerOrder:
    products = []
    for i in range(rng.choice([1, 1, 2, 3, 4, 6, 10])):
        qty = rng.choice([1, 1, 1, 2, 3, 5, 12, 0])
        price = rng.choice([0, 990, 4990, 12990, rng.randint(1, 300) * 100 - 10, rng.randint(1, 250_000)])
        discount = rng.choice([0, 0, 0, rng.randint(0, max(price * qty, 1))])
        products.append(product(f"P{i}", f"SKU-{i}", price, qty=qty, discount=discount))
    shipping = rng.choice([0, 0, 2990, 3990, rng.randint(1, 12_000)])
    shipping_discount = rng.choice([0, 0, 0, shipping])
    lines = sum(p["price"] * p["qty"] - min(p["discount"], p["price"] * p["qty"]) for p in products)
    coupon = rng.choice([0, 0, 0, rng.randint(0, max(lines, 0))])
    return order(products, shipping=shipping, shipping_discount=shipping_discount, coupon=coupon,
                 total=max(lines - coupon, 0) + shipping - shipping_discount)


def test_random_orders_always_add_up_to_the_peso() -> None:
    # Given 3,000 random orders (fixed seed): several products, quantities, line discounts, coupons, shipping
    rng = random.Random(7_1_19)
    planned = skipped = adjusted = 0
    for _ in range(3000):
        o = random_order(rng)
        # When lines are planned
        result = plan_amounts(o)
        if isinstance(result, AmountsSkip):
            skipped += 1
            assert o.total == 0
            continue
        assert isinstance(result, AmountsPlan), result
        planned += 1
        lines = result.lines
        # Then the document total is the order total, recomputed by hand and as the SII does it
        assert by_hand(lines) == result.totals.total == int(o.total) == result.order_total
        # and rounding IVA per line instead gives the same total (whichever way Bsale rounds)
        assert totals_of_lines(lines, iva_rounding="line").total == result.totals.total
        assert result.per_line_iva_matches
        # every line is positive, integer, off ,5 ties; the exempt peso appears only when no net reaches the total
        assert all(line.net_unit_value >= 1 and line.quantity >= 1 for line in lines)
        assert all(line.net_amount % 100 != 50 for line in lines)
        adjustment = [line for line in lines if line.kind is LineKind.ADJUSTMENT]
        assert sum(line.net_amount for line in adjustment) == net_for_gross_total(int(o.total))[1]
        adjusted += bool(adjustment)
        # each product keeps its quantity, split lines included; dropped ones are exactly the zero-valued
        on_document = {line.product_index for line in lines if line.product_index is not None}
        for index, p in enumerate(o.products):
            if index in on_document:
                assert sum(line.quantity for line in lines if line.product_index == index) == p.qty
            else:
                assert index in {d.product_index for d in result.dropped}
    assert planned > 2500 and adjusted > 300 and skipped >= 0


def test_random_lines_stay_close_to_their_share() -> None:
    # Given 1,000 random orders without order-level discounts
    rng = random.Random(2024)
    for _ in range(1000):
        products = [product(f"P{i}", f"S{i}", rng.randint(1, 400) * 100 - 10, qty=rng.choice([1, 2, 3, 7]))
                    for i in range(rng.randint(1, 6))]
        o = order(products, shipping=rng.choice([0, 3990]))
        p = plan(o)
        # Then each unit's net is within 10 pesos of its own gross price / 1.19
        for line in p.lines:
            if line.kind is LineKind.PRODUCT:
                assert line.product_index is not None
                gross = Decimal(o.products[line.product_index].price)
                assert abs(line.net_unit_value - gross / Decimal("1.19")) <= 10


def test_big_orders_stay_exact_and_fast() -> None:
    # Given a boleta with 300 lines of many units
    rng = random.Random(5)
    products = [product(f"P{i}", f"S{i}", rng.randint(100, 90_000), qty=rng.choice([1, 2, 3, 7, 12]))
                for i in range(300)]
    o = order(products, coupon=12_345)
    # Then it still adds up (balancing effort is bounded, exactness is not)
    p = plan(o)
    assert by_hand(p.lines) == int(o.total)


def test_near_total_coupon_keeps_one_peso_per_unit() -> None:
    # Given 12 units whose line discount leaves 1 peso, next to paid products (free shipping)
    o = order([product("Pin", "PIN", 990, qty=12, discount=11879), product("Polera", "POL", 12990)])
    # Then the 12 units stay on the document at $1 each, taken from the other line, and it adds up
    p = plan(o)
    pins = [line for line in p.lines if line.product_index == 0]
    assert [(line.quantity, line.net_unit_value) for line in pins] == [(12, 1)]
    assert by_hand(p.lines) == 12_991


def test_fewer_pesos_than_units_drops_the_cheapest_products() -> None:
    # Given a 99.99 % coupon: 15 pesos left for 39 units, with paid shipping
    o = order([product("A", "A", 9590, qty=12), product("B", "B", 90, qty=12), product("C", "C", 4990, qty=12),
               product("D", "D", 12990, qty=3)], shipping=3990, coupon=214_995)
    # Then products left with under $1 a unit leave the document (reported) and the rest still adds up
    p = plan(o)
    assert p.dropped and {d.reason for d in p.dropped} <= {"valor cero tras descuentos",
                                                           "menos de $1 por unidad tras descuentos"}
    assert by_hand(p.lines) == int(o.total) == 4005
    # Given 12 units and 1 unit sharing 10 pesos: the 12 would get 9 pesos, under $1 each
    few = plan(order([product("A", "A", 1000, qty=12), product("B", "B", 1000)], coupon=12_990))
    # Then A leaves the document, B carries the 10 pesos
    assert [(d.sku, d.reason) for d in few.dropped] == [("A", "menos de $1 por unidad tras descuentos")]
    assert [(line.product_index, line.quantity) for line in few.lines if line.taxed] == [(1, 1)]
    assert by_hand(few.lines) == 10
    # And one product alone that cannot get $1 a unit is a problem, not a document
    lone = plan_amounts(order([product("Clavos", "CLV", 10, qty=100)], total=50))
    assert isinstance(lone, AmountsProblem) and "$1 por unidad" in lone.reason


def test_a_tax_added_on_top_weighs_only_the_products_it_applies_to() -> None:
    # Given one product priced without IVA (Jumpseller adds 19 % on top) and one priced with it
    taxed_on_top = product("Servicio", "SRV", 10000)
    taxed_on_top["taxes"] = [{"id": 1, "name": "IVA", "rate": 19, "fixed": False, "tax_on_product_price": False}]
    o = order([taxed_on_top, product("Libro", "LIB", 11900)], total=23800, tax=1900)
    # Then each carries what the customer paid for it: 11.900 gross, so 10.000 net each
    p = plan(o)
    assert p.totals.total == 23_800 == by_hand(p.lines)
    assert [(x.quantity, x.net_unit_value) for x in p.lines] == [(1, 10000), (1, 10000)]


def test_bsale_detail_halves_round_up_like_the_sii() -> None:
    # Given detail lines whose net is exactly half a peso (half-to-even would round 2,5 down to 2)
    details = [{"quantity": 1, "netUnitValue": "2.5"}, {"quantity": 1, "netUnitValue": "0.5"}]
    # Then each rounds up, away from zero
    assert totals_of_bsale_details(details).exempt == 3 + 1


def test_a_negative_document_total_is_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        net_for_gross_total(-1)
