"""F3 core through the local stack: a Bsale stock change reaches Jumpseller, whatever the network does."""

from __future__ import annotations

import json
import threading

import requests

from bridge.store import shops
from demo import DemoShop
from devstack import LocalStack
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox
from tests.e2e.conftest import eventually


def calls(sandbox: BsaleSandbox | JumpsellerSandbox, credential: str, method: str | None = None) -> int:
    return sum(1 for r in sandbox.requests if r.credential == credential and (method is None or r.method == method))


def made(sandbox: BsaleSandbox | JumpsellerSandbox, credential: str, since: int) -> list[str]:
    """The calls made with `credential` after its first `since`: what a failed count shows."""
    mine = [r for r in sandbox.requests if r.credential == credential]
    return [f"{r.method} {r.path} {r.query} -> {r.status}" for r in mine[since:]]


def notification(demo: DemoShop, sku: str, office_id: int | None = None) -> dict:
    variant = demo.variant_id(sku)
    office = office_id or demo.office_id
    return {"cpnId": demo.bsale.cpn_id, "resource": f"/v2/stocks.json?variant={variant}&office={office}",
            "resourceId": str(variant), "topic": "stock", "action": "put", "officeId": str(office), "send": 1}


def test_a_bsale_stock_change_reaches_jumpseller(shop: DemoShop, stack: LocalStack) -> None:
    # Given a linked SKU showing 5 in Jumpseller
    assert shop.jumpseller_stock("POL-S") == 5
    # When its stock changes in the shop's Bsale office
    shop.bsale.set_stock(shop.variant_id("POL-S"), shop.office_id, 42)
    # Then Jumpseller shows it, and the shop is stamped as receiving notifications
    eventually(lambda: shop.jumpseller_stock("POL-S") == 42)
    assert shops.require(shop.code).last_notification_at is not None


def test_steady_state_costs_one_bsale_read_and_one_jumpseller_write(
    shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox
) -> None:
    variant = shop.variant_id("TAZA-1")
    shop.bsale.set_stock(variant, shop.office_id, 19)  # first notification links the SKU
    eventually(lambda: shop.jumpseller_stock("TAZA-1") == 19)
    assert stack.drain(60)
    bsale_before, js_before = calls(bsale, shop.bsale.token), calls(jumpseller, shop.store.login)
    # When the stock changes again
    shop.bsale.set_stock(variant, shop.office_id, 7)
    eventually(lambda: shop.jumpseller_stock("TAZA-1") == 7)
    assert stack.drain(60)
    # Then it took exactly one read and one write
    assert calls(bsale, shop.bsale.token) - bsale_before == 1, made(bsale, shop.bsale.token, bsale_before)
    assert calls(jumpseller, shop.store.login) - js_before == 1
    # And a repeated notification with no change writes nothing
    requests.post(shop.notification_url, json=notification(shop, "TAZA-1"), timeout=30).raise_for_status()
    assert stack.drain(60)
    assert calls(jumpseller, shop.store.login) - js_before == 1
    assert calls(bsale, shop.bsale.token) - bsale_before == 2


def test_duplicate_and_out_of_order_notifications_converge(shop: DemoShop, stack: LocalStack) -> None:
    # Given four quick changes, each notified by Bsale in its own time, and eight copies of the notification
    # delivered at once, racing each other and the originals
    variant = shop.variant_id("POL-M")
    for quantity in (11, 12, 13, 14):
        shop.bsale.set_stock(variant, shop.office_id, quantity)
    body = notification(shop, "POL-M")
    answers: list[int] = []

    def deliver() -> None:
        answers.append(requests.post(shop.notification_url, json=body, timeout=30).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 8
    # Then, once every notification (the sandbox's too) is processed, Jumpseller shows Bsale's current stock
    assert stack.drain(60)
    assert shop.jumpseller_stock("POL-M") == 14


def test_other_offices_are_dropped(
    shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox
) -> None:
    # Given a change in another office of the shop's company, notified (posted here, so it surely arrived)
    other = next(o.id for o in shop.bsale.offices.values() if o.id != shop.office_id)
    bsale.notifications_enabled = False
    shop.bsale.set_stock(shop.variant_id("POL-S"), other, 99)
    reads, writes = calls(bsale, shop.bsale.token), calls(jumpseller, shop.store.login, "PUT")
    body = notification(shop, "POL-S", office_id=other)
    requests.post(shop.notification_url, json=body, timeout=30).raise_for_status()
    assert stack.drain(60)
    # Then the worker dropped it unread: not even one Bsale call, no write
    assert calls(bsale, shop.bsale.token) == reads
    assert calls(jumpseller, shop.store.login, "PUT") == writes
    assert shop.jumpseller_stock("POL-S") == 5
    # While the same notification for the shop's own office is read (so the counts above could move)
    requests.post(shop.notification_url, json=notification(shop, "POL-S"), timeout=30).raise_for_status()
    assert stack.drain(60)
    assert calls(bsale, shop.bsale.token) > reads


def test_jumpseller_429_and_5xx_are_retried_until_the_stock_arrives(
    shop: DemoShop, stack: LocalStack, jumpseller: JumpsellerSandbox
) -> None:
    product = shop.store.find_sku("TAZA-1")
    assert product is not None
    path = f"/products/{product[0].id}.json"
    jumpseller.faults.add(status=429, count=3, path_contains=path, method="PUT")
    jumpseller.faults.add(status=503, count=6, path_contains=path, method="PUT")
    jumpseller.faults.drop(count=1, path_contains=path, method="PUT")
    shop.bsale.set_stock(shop.variant_id("TAZA-1"), shop.office_id, 3)
    eventually(lambda: shop.jumpseller_stock("TAZA-1") == 3, timeout=30)
    assert not jumpseller.faults.pending


def test_bsale_down_for_a_while_then_back(shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox) -> None:
    bsale.faults.add(status=500, count=6, path_contains="/v1/stocks.json")
    shop.bsale.set_stock(shop.variant_id("POL-S"), shop.office_id, 1)
    eventually(lambda: shop.jumpseller_stock("POL-S") == 1)
    assert not bsale.faults.pending  # Bsale did refuse six reads on the way: the stock got through anyway


def test_a_message_that_keeps_failing_lands_in_the_dead_letter_queue(
    shop: DemoShop, stack: LocalStack, jumpseller: JumpsellerSandbox
) -> None:
    product = shop.store.find_sku("TAZA-1")
    assert product is not None
    jumpseller.faults.add(status=500, count=1000, path_contains=f"/products/{product[0].id}.json")
    shop.bsale.set_stock(shop.variant_id("TAZA-1"), shop.office_id, 2)

    def dead_letters() -> list[dict]:
        sqs = stack.client("sqs")
        got = sqs.receive_message(QueueUrl=stack.queue_url("CatalogDeadLetterQueue"), MaxNumberOfMessages=10,
                                  AttributeNames=["All"], VisibilityTimeout=0)
        return [m for m in got.get("Messages", []) if json.loads(m["Body"])["shop_id"] == shop.code]

    dead = eventually(dead_letters, timeout=60, interval=0.5)
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= 5
    assert json.loads(dead[0]["Body"])["subject"] == f"stock {shop.variant_id('TAZA-1')}"
    jumpseller.faults.clear()
