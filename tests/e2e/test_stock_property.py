"""F3 + F6, property-based, through the local stack: random interleavings of Jumpseller orders (pending, paid,
canceled, abandoned), Bsale point-of-sale sales and stock counts, and webhooks of either side delivered again
(duplicates, and late copies that arrive after the order moved on). The sandboxes move stock as the services do:
Jumpseller takes an order's units on pending and gives them back on cancel or abandon; Bsale takes a sale's
units. After every batch is drained, for every linked SKU:

    Jumpseller's stock == max(0, Bsale available − units held)

where the units held are what the orders still take that Bsale does not know of: pending orders, and paid orders
without their Bsale document yet. A batch that only repeats old webhooks writes nothing to Jumpseller.

Seeded (derandomized) so every run tries the same examples; STOCK_PROPERTY_EXAMPLES runs more of them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from sandboxes.jumpseller import Order
from tests.e2e import test_orders
from tests.e2e.test_orders import OrderShop
from tests.e2e.test_stock_held import settle, stock_puts

order_shop = test_orders.order_shop

SKUS = ("POL-S", "POL-M", "TAZA-1")  # two variants of one product, and a product without variants
EXAMPLES = int(os.environ.get("STOCK_PROPERTY_EXAMPLES", "8"))

ACTIONS = st.one_of(
    st.tuples(st.just("pending"), st.sampled_from(SKUS), st.integers(1, 3)),
    st.tuples(st.just("pay"), st.integers(0, 7)),
    st.tuples(st.just("cancel"), st.integers(0, 7)),
    st.tuples(st.just("abandon"), st.integers(0, 7)),
    st.tuples(st.just("pos_sale"), st.sampled_from(SKUS), st.integers(1, 3)),
    st.tuples(st.just("count"), st.sampled_from(SKUS), st.integers(0, 12)),
    st.tuples(st.just("again"), st.integers(0, 200)),
)
# Batches of actions: nothing is drained inside a batch, so their webhooks are acted on concurrently, in any order.
SCENARIOS = st.lists(st.lists(ACTIONS, min_size=1, max_size=4), min_size=4, max_size=7)


class Run:
    def __init__(self, shop: OrderShop) -> None:
        self.shop = shop
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []  # webhooks this shop received, to send again

    # -- what happens in the world ----------------------------------------------------------------------------
    def act(self, action: tuple[Any, ...]) -> str:
        kind, *args = action
        return str(getattr(self, kind)(*args))

    def pending(self, sku: str, qty: int) -> str:
        found = self.shop.store.find_sku(sku)
        assert found is not None
        product, variant = found
        try:
            order = self.shop.store.create_order([(product.id, variant.id if variant else None, qty)])
        except ValueError:
            return "not enough stock in Jumpseller: the customer cannot buy"
        return f"order {order.id}"

    def _orders(self, *states: str) -> list[Order]:
        return [o for o in self.shop.store.orders.values() if o.status_enum in states]

    def pay(self, i: int) -> str:
        orders = self._orders("pending_payment")
        return self.shop.store.pay_order(orders[i % len(orders)].id).status_enum if orders else "none pending"

    def cancel(self, i: int) -> str:
        orders = self._orders("pending_payment", "paid")
        return self.shop.store.cancel_order(orders[i % len(orders)].id).status_enum if orders else "none to cancel"

    def abandon(self, i: int) -> str:
        orders = self._orders("pending_payment")
        return self.shop.store.abandon_order(orders[i % len(orders)].id).status_enum if orders else "none pending"

    def pos_sale(self, sku: str, qty: int) -> str:
        """A sale at Bsale's point of sale: a boleta that dispatches the units (Bsale notifies stock and
        document)."""
        sale = requests.post(f"{self.shop.bsale_sandbox.url}/v1/documents.json",
                             headers={"access_token": self.shop.account.token}, json={
            "codeSii": 39, "officeId": self.shop.demo.office_id, "dispatch": 1, "declareSii": 1,
            "details": [{"variantId": self.shop.demo.variant_id(sku), "netUnitValue": 1000, "quantity": qty,
                         "taxes": [{"code": 14, "percentage": 19}]}]}, timeout=10)
        return "sold" if sale.status_code == 201 else f"refused: {sale.text[:80]}"

    def count(self, sku: str, qty: int) -> str:
        self.shop.account.set_stock(self.shop.demo.variant_id(sku), self.shop.demo.office_id, qty)
        return "counted"

    def again(self, i: int) -> str:
        """One webhook either side sent this shop before, sent again as it was (a duplicate, or late)."""
        if not self.sent:
            return "nothing sent yet"
        url, body, headers = self.sent[i % len(self.sent)]
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        return f"{headers.get('Jumpseller-Event') or 'bsale'} again: {answer.status_code}"

    def remember_sent(self) -> None:
        shop = self.shop
        bsale = [(d.url, d.body, dict(d.headers)) for d in shop.bsale_sandbox.deliveries
                 if d.url == shop.demo.notification_url]
        jumpseller = [(d.url, d.body, dict(d.headers)) for d in shop.jumpseller_sandbox.deliveries
                      if d.headers.get("Jumpseller-Store-Code") == shop.code]
        self.sent = bsale + jumpseller

    # -- what must hold ---------------------------------------------------------------------------------------
    def held(self, sku: str) -> int:
        taken = 0
        for order in self.shop.store.orders.values():
            known_to_bsale = order.status_enum == "paid" and self.shop.documents(order.id)
            if order.status_enum in ("pending_payment", "paid") and not known_to_bsale:
                taken += sum(line.qty for line in order.lines if line.sku == sku)
        return taken

    def check(self) -> None:
        for sku in SKUS:
            available = self.shop.account.stock_of(self.shop.demo.variant_id(sku), self.shop.demo.office_id)
            expected = max(0, math.floor(available - self.held(sku)))
            shown = self.shop.demo.jumpseller_stock(sku)
            assert shown == expected, f"{sku}: Jumpseller shows {shown}, Bsale has {available}, " \
                                      f"held {self.held(sku)}"


@pytest.mark.timeout(600)  # generous for a loaded machine; the run is about a minute
def test_after_every_drain_jumpseller_shows_bsale_available_minus_held(
    order_shop: Callable[..., OrderShop]
) -> None:
    runs: list[int] = []

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is a whole shop's story
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(SCENARIOS)
    def scenario(batches: list[list[tuple[Any, ...]]]) -> None:
        runs.append(len(batches))
        run = Run(order_shop())  # POL-S, POL-M, TAZA-1 linked; documents made on payment
        settle(run.shop)
        run.check()
        for batch in batches:
            run.remember_sent()
            writes = stock_puts(run.shop)
            for action in batch:
                note(f"{action} → {run.act(action)}")
            settle(run.shop)
            run.check()
            if all(action[0] == "again" for action in batch):
                assert stock_puts(run.shop) == writes, "webhooks sent again wrote to Jumpseller"

    scenario()
    print(f"property: {len(runs)} examples, {sum(runs)} drained batches")
    assert len(runs) == EXAMPLES
