"""The dashboard's own figures come out of the real flow: a stock change that reaches Jumpseller reports its
propagation latency, a Jumpseller 429 is counted, a paid order's document reports its latency."""

from __future__ import annotations

from collections.abc import Callable

from demo import DemoShop
from sandboxes.jumpseller import JumpsellerSandbox
from tests.e2e import test_orders
from tests.e2e.conftest import eventually
from tests.e2e.test_orders import OrderShop
from tests.e2e.test_sii import emitted, total

order_shop = test_orders.order_shop
__all__ = ["emitted", "order_shop"]  # fixtures shared with the order and SII tests


def count(seen: list[tuple[str, float]], name: str) -> int:
    return sum(1 for metric, _ in seen if metric == name)


def test_a_stock_change_through_429s_reports_them_and_its_latency(
    shop: DemoShop, jumpseller: JumpsellerSandbox, emitted: list[tuple[str, float]]
) -> None:
    product = shop.store.find_sku("TAZA-1")
    assert product is not None
    jumpseller.faults.add(status=429, count=2, path_contains=f"/products/{product[0].id}.json", method="PUT")
    shop.bsale.set_stock(shop.variant_id("TAZA-1"), shop.office_id, 7)
    eventually(lambda: shop.jumpseller_stock("TAZA-1") == 7, timeout=30)
    eventually(lambda: count(emitted, "PropagationLatency") == 1, timeout=30)
    assert total(emitted, "UpstreamThrottled") >= 2  # the two faults (a sandbox rate limit would add more)
    assert 0 <= total(emitted, "PropagationLatency") < 30


def test_a_paid_orders_document_reports_its_latency_once(
    order_shop: Callable[..., OrderShop], emitted: list[tuple[str, float]]
) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-S", 1)])
    shop.pay(order_id)
    shop.settled(order_id, test_orders.S.CREATED)
    assert shop.stack.drain(60)
    assert count(emitted, "DocumentLatency") == 1 == count(emitted, "OrdersCreated")
    assert 0 <= total(emitted, "DocumentLatency") < 60
