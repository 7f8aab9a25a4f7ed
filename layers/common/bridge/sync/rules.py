"""Pure rules of the catalog sync: what stock Jumpseller must show, and which variants can be linked."""

from __future__ import annotations

import math

from bridge.models.bsale import Product, Variant

PACK = 3  # Bsale product classification of packs / promotions
NO_SKU = "no SKU in Bsale"
INACTIVE = "inactive in Bsale"
SERIAL = "serial-numbered in Bsale"
PACK_REASON = "pack in Bsale"


def stock_to_push(
    available: float, held: int, *, allow_negative: bool, presale: bool, untracked: bool = False
) -> tuple[int | None, bool]:
    """(stock, unlimited) for Jumpseller from Bsale's available quantity in the shop's office.

    Pending Jumpseller orders already took `held` units that Bsale does not know about yet, so they come
    off. Jumpseller counts whole units: a decimal availability rounds down, a negative one shows as 0.
    With pre-sale on, a variant Bsale lets sell without stock is unlimited. A variant whose stock Bsale does
    not track at all (unlimited stock, or a product without stock control: services, gift cards) always is.
    """
    if untracked or (presale and allow_negative):
        return None, True
    return max(0, math.floor(available - held + 1e-9)), False


def unlinkable_reason(variant: Variant) -> str | None:
    """Why a Bsale variant cannot be linked by SKU, or None when it can."""
    if not variant.code:
        return NO_SKU
    product = variant.product if isinstance(variant.product, Product) else None
    if variant.state != 0 or (product is not None and product.state != 0):
        return INACTIVE
    if variant.serial_number:
        return SERIAL
    if product is not None and product.classification == PACK:
        return PACK_REASON
    return None


def same_price(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < 0.005
