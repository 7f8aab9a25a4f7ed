"""F3 + F6 through the local stack: Jumpseller moves stock itself (takes an order's units on pending, gives them
back on cancel or abandon), and after every drained event it shows max(0, Bsale available − held) anyway.

The two sequences of issue 8 part 1, end to end; the random interleavings are in test_stock_property.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.store import links
from tests.e2e import test_orders
from tests.e2e.test_orders import OrderShop

order_shop = test_orders.order_shop


def settle(shop: OrderShop, timeout: float = 30.0) -> None:
    """Everything either side sent has been acted on: both sandboxes' webhooks delivered, every queue empty,
    and nothing new sent meanwhile (our writes come back as Jumpseller product webhooks)."""
    sandboxes = (shop.bsale_sandbox, shop.jumpseller_sandbox)
    for _ in range(20):
        before = sum(len(s.deliveries) for s in sandboxes)
        assert all(s.webhooks_idle(timeout) for s in sandboxes)
        assert shop.stack.drain(timeout)
        if all(s.webhooks_idle(timeout) for s in sandboxes) and sum(len(s.deliveries) for s in sandboxes) == before:
            return
    raise AssertionError("the shop never settled")


def stock_puts(shop: OrderShop) -> int:
    return sum(1 for r in shop.jumpseller_sandbox.requests
               if r.credential == shop.store.login and r.method == "PUT" and "/products/" in r.path)


def js_stock(shop: OrderShop, sku: str) -> Any:
    return shop.demo.jumpseller_stock(sku)


def set_bsale(shop: OrderShop, sku: str, quantity: float) -> None:
    shop.account.set_stock(shop.demo.variant_id(sku), shop.demo.office_id, quantity)


def test_a_pending_order_then_a_bsale_change_then_its_cancellation(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop(document_mode="manual")
    # Given Bsale 10 and Jumpseller 10, linked
    set_bsale(shop, "POL-S", 10)
    settle(shop)
    assert js_stock(shop, "POL-S") == 10 and links.by_sku(shop.code, "POL-S")
    # A pending order of 2: Jumpseller itself takes them (8), and nothing needs writing
    writes = stock_puts(shop)
    order_id = shop.order([("POL-S", 2)])
    settle(shop)
    assert js_stock(shop, "POL-S") == 8 and stock_puts(shop) == writes
    # Bsale goes to 12: Jumpseller must show 12 − 2 held = 10, in one write
    set_bsale(shop, "POL-S", 12)
    settle(shop)
    assert js_stock(shop, "POL-S") == 10
    assert stock_puts(shop) == writes + 1
    # The cancellation: Jumpseller gives the 2 back itself (12), which is Bsale's 12 with nothing held
    shop.store.cancel_order(order_id)
    settle(shop)
    assert js_stock(shop, "POL-S") == 12
    assert stock_puts(shop) == writes + 1


def test_a_point_of_sale_sale_after_a_canceled_order_is_not_oversold(order_shop: Callable[..., OrderShop]) -> None:
    shop = order_shop(document_mode="manual")
    set_bsale(shop, "TAZA-1", 10)
    settle(shop)
    assert js_stock(shop, "TAZA-1") == 10
    # A pending order of 2 (Jumpseller 8), and a notification of the unchanged Bsale stock
    order_id = shop.order([("TAZA-1", 2)])
    set_bsale(shop, "TAZA-1", 10)
    settle(shop)
    assert js_stock(shop, "TAZA-1") == 8
    writes = stock_puts(shop)
    # Canceled: Jumpseller shows 10 again, which is right (Bsale 10, nothing held)
    shop.store.cancel_order(order_id)
    settle(shop)
    assert js_stock(shop, "TAZA-1") == 10 and stock_puts(shop) == writes
    # A point-of-sale sale of 2 in Bsale (10 → 8) and its notification: Jumpseller must follow to 8
    set_bsale(shop, "TAZA-1", 8)
    settle(shop)
    assert js_stock(shop, "TAZA-1") == 8
    assert stock_puts(shop) == writes + 1
