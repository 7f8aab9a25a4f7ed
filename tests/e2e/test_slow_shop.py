"""F16: one shop whose Bsale answers after 11 s cannot hold the other shops up.

Shop A's Bsale is slow for the whole test; shop B's 30 stock changes (in the same queue, at the same time) all
reach Jumpseller while A's are still stuck; no worker run outlives its function's timeout, and none of B's
messages fails. Once A's Bsale is back, A's changes land too (a dead letter or two of A's is replayed): nothing
is lost. The delays themselves are measured by `./dev bench fairness`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from bridge.ops import dead_letters as dl
from bridge.ops.dead_letters import FAILURE_KIND
from bridge.store import shops
from devstack import LocalStack
from devstack.demo import DemoShop
from devstack.functions import FunctionTimeout
from sandboxes.bsale import BsaleSandbox
from tests.e2e.conftest import eventually

SKUS = ("POL-S", "POL-M", "TAZA-1")


def change_stocks(shop: DemoShop, changes: int, start: int) -> dict[str, int]:
    """`changes` stock changes spread over the SKUs; the values Jumpseller must end with."""
    final: dict[str, int] = {}
    for n, sku in zip(range(changes), itertools.cycle(SKUS), strict=False):
        final[sku] = start + n
        shop.bsale.set_stock(shop.variant_id(sku), shop.office_id, start + n)
    return final


def shows(shop: DemoShop, stocks: dict[str, int]) -> bool:
    return all(shop.jumpseller_stock(sku) == quantity for sku, quantity in stocks.items())


def test_a_slow_shop_does_not_hold_up_another(
    new_shop: Callable[..., DemoShop], stack: LocalStack, bsale: BsaleSandbox
) -> None:
    slow, quick = new_shop(), new_shop()
    for shop in (slow, quick):  # linked and settled before the test
        change_stocks(shop, 3, 1)
    for shop in (slow, quick):
        eventually(lambda shop=shop: shows(shop, {"POL-S": 1, "POL-M": 2, "TAZA-1": 3}))
    stack.drain(60)  # other tests' leftovers may still be settling: counted runs start here either way
    runs_before = len(stack.invocations)
    # Given shop A's Bsale answering every call after 11 s. The stack stretches each function's Timeout by
    # TIMEOUT_SCALE (conftest), and the worker's context reports the stretched time, so the worker plans by the
    # same budget devstack enforces. 11 s still means "no answer": it is measured against the workers' own
    # impatient read timeout (5 s, never retried), which is the product's and does not stretch; so A's records
    # fail and A is marked slow exactly as at scale 1, and one of A's calls costs a run about 5 s of its budget
    # at any scale (so this test never leaned on the 30 s limit being tight; test_timeout_scale proves the
    # budget is enforced).
    bsale.faults.slow(11.0, count=100_000, credential=slow.bsale.token)
    # When A and B both change stocks at once, A first
    slow_final = change_stocks(slow, 9, 100)
    quick_final = change_stocks(quick, 30, 200)
    # Then all of B's changes land while A's are still stuck
    eventually(lambda: shows(quick, quick_final), timeout=120, interval=0.1)
    assert all(slow.jumpseller_stock(sku) != quantity for sku, quantity in slow_final.items())
    # And no worker run outlived its timeout (the scaled one its context counted down), and none of B's
    # messages failed (B lost no receive to A)
    runs = stack.invocations[runs_before:]
    assert not [r for r in runs if r.function == "BsaleWorkerFunction" and r.error
                and FunctionTimeout.__name__ in r.error]
    assert shops.events(quick.code, FAILURE_KIND) == []
    assert shops.events(slow.code, FAILURE_KIND)  # A's failures were recorded, with why
    # When A's Bsale is back, A's changes land too: whatever was dead-lettered meanwhile is replayed
    bsale.faults.clear()
    route = dl.Route(dl.REGISTRY[0], stack.queue_url("CatalogDeadLetterQueue"), stack.queue_url("CatalogQueue"))

    def landed_once_replayed() -> bool:
        # Calls made before the fault was cleared may still fail and dead-letter a message: replay until done.
        dl.replay(stack.client("sqs"), route, dl.Selection(shops=frozenset({slow.code})))
        return shows(slow, slow_final)

    eventually(landed_once_replayed, timeout=120, interval=1.0)
