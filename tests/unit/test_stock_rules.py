"""The stock Jumpseller must show, and which Bsale variants can be linked (F3, F5, F2 reasons)."""

import pytest

from bridge.models.bsale import Variant
from bridge.sync.rules import same_price, stock_to_push, unlinkable_reason


@pytest.mark.parametrize(
    ("available", "held", "expected"),
    [
        (10, 0, 10),
        (10, 3, 7),  # pending Jumpseller orders hold units Bsale does not know about yet
        (2, 5, 0),  # never negative
        (-4, 0, 0),  # Bsale's availability itself can be negative
        (7.9, 0, 7),  # decimals round down: a fraction of a unit cannot be sold
        (3.0000000001, 0, 3),
        (2.999, 0, 2),
    ],
)
def test_stock_is_available_minus_held_in_whole_units(available: float, held: int, expected: int) -> None:
    assert stock_to_push(available, held, allow_negative=False, presale=False) == (expected, False)


def test_presale_makes_negative_stock_variants_unlimited() -> None:
    # Given a variant Bsale lets sell without stock
    # When the shop has pre-sale on, it is unlimited; off, it follows its real stock
    assert stock_to_push(0, 0, allow_negative=True, presale=True) == (None, True)
    assert stock_to_push(0, 0, allow_negative=True, presale=False) == (0, False)
    assert stock_to_push(5, 0, allow_negative=False, presale=True) == (5, False)


def test_stock_bsale_does_not_track_is_always_unlimited() -> None:
    assert stock_to_push(0, 0, allow_negative=False, presale=False, untracked=True) == (None, True)


def _variant(**fields: object) -> Variant:
    return Variant.model_validate({"id": 1, "code": "SKU-1", **fields})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"code": None}, "no SKU in Bsale"),
        ({"code": "   "}, "no SKU in Bsale"),
        ({"state": 1}, "inactive in Bsale"),
        ({"serialNumber": 1}, "serial-numbered in Bsale"),
        ({"product": {"id": 9, "classification": 3}}, "pack in Bsale"),
        ({"product": {"id": 9, "state": 1}}, "inactive in Bsale"),
        ({"product": {"href": "x", "id": "9"}}, None),
    ],
)
def test_unlinkable_reasons(fields: dict, reason: str | None) -> None:
    assert unlinkable_reason(_variant(**fields)) == reason


def test_sku_is_trimmed() -> None:
    assert _variant(code=" AB-1 ").code == "AB-1"


@pytest.mark.parametrize(("a", "b", "same"), [
    (9990.0, 9990.004, True),  # float noise is not a change
    (9990.0, 9991.0, False),  # one peso is
    (9990.0, 9990.01, False),  # so is a cent, for a shop with decimal prices
    (None, 9990.0, False),  # never read: always written
    (9990.0, None, False),
])
def test_a_price_is_the_same_only_to_the_half_cent(a: float | None, b: float | None, same: bool) -> None:
    assert same_price(a, b) is same
