"""A notification for a variant Bsale no longer has (404): nothing can be synced, so it is dropped with its reason,
the link goes as the catalog rules say, and nothing is retried or dead-lettered."""

from __future__ import annotations

import requests

from bridge.store import links
from demo import DemoShop
from devstack import LocalStack
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox
from tests.e2e.conftest import eventually


def post(shop: DemoShop, topic: str, variant_id: int) -> None:
    body = {"cpnId": shop.bsale.cpn_id, "resource": f"/v2/{topic}s.json?variant={variant_id}",
            "resourceId": str(variant_id), "topic": topic, "action": "put", "send": 1}
    if topic == "stock":
        body["officeId"] = str(shop.office_id)
    assert requests.post(shop.notification_url, json=body, timeout=30).status_code == 200


def reason_of(shop: DemoShop, variant_id: int) -> str | None:
    found = [r for r in links.unlinked_reasons(shop.code) if r["variant_id"] == str(variant_id)]
    return str(found[0]["reason"]) if found else None


def failed_worker_runs(stack: LocalStack) -> int:
    return sum(1 for i in stack.invocations if i.function == "BsaleWorkerFunction" and (i.failed or i.error))


def test_a_linked_variant_gone_from_bsale_loses_its_link_and_nothing_is_retried(
    shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox
) -> None:
    # Given a linked SKU showing 4 in Jumpseller
    variant = shop.variant_id("TAZA-1")
    shop.bsale.set_stock(variant, shop.office_id, 4)
    eventually(lambda: shop.jumpseller_stock("TAZA-1") == 4)
    assert links.get(shop.code, str(variant)) is not None
    assert stack.drain(60)
    failed_before = failed_worker_runs(stack)
    # When the variant vanishes from Bsale, and notifications about it still arrive (stock, price, variant)
    shop.bsale.forget_variant(variant)
    post(shop, "stock", variant)
    post(shop, "variant", variant)
    # Then its link goes, with the reason the catalog rules give
    eventually(lambda: reason_of(shop, variant) == "missing in Bsale")
    assert stack.drain(60)
    assert links.get(shop.code, str(variant)) is None
    # And no message was retried (so none can reach the dead letters), and Jumpseller was not written
    assert failed_worker_runs(stack) == failed_before
    assert shop.jumpseller_stock("TAZA-1") == 4


def test_an_unlinked_variant_gone_from_bsale_is_dropped_with_its_reason(
    shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox
) -> None:
    # Given a Bsale variant the bridge never linked, that vanishes before its stock notification is handled
    product = shop.bsale.add_product("Gone", [{"code": "GONE-1", "stock": {shop.office_id: 3}}])
    variant = next(v.id for v in shop.bsale.variants.values() if v.product_id == product.id)
    assert stack.drain(60)
    failed_before = failed_worker_runs(stack)
    shop.bsale.forget_variant(variant, notify=False)
    post(shop, "stock", variant)
    # Then it is dropped at once, its reason recorded where the shop's status reads it
    eventually(lambda: reason_of(shop, variant) == "missing in Bsale")
    assert stack.drain(60)
    assert failed_worker_runs(stack) == failed_before
