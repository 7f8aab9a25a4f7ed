"""Catalog sync through the local stack (issue 3): linking, prices, pre-sale, POS sales, reconcile, bursts."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from bridge.store import jobs, links
from bridge.sync.jobs import request
from demo import DemoShop
from devstack import LocalStack
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox
from tests.e2e.conftest import eventually


def jumpseller_price(shop: DemoShop, sku: str) -> float:
    found = shop.store.find_sku(sku)
    assert found is not None
    product, variant = found
    return float((variant or product).price)


def puts(jumpseller: JumpsellerSandbox, shop: DemoShop) -> int:
    return sum(1 for r in jumpseller.requests if r.credential == shop.store.login and r.method in ("PUT", "POST"))


def run_job(stack: LocalStack, shop: DemoShop, kind: str, **params: str) -> dict:
    run = request(shop.code, kind, params, reason="test")
    assert run is not None
    eventually(lambda: (jobs.get(shop.code, kind) or {}).get("status") == "done", timeout=60)
    result = jobs.result_of(jobs.get(shop.code, kind) or {})
    assert result is not None
    return result


# ----------------------------------------------------------------------------- prices (F4) and pre-sale (F5)

def test_price_changes_reach_jumpseller_only_when_the_shop_syncs_prices(
    new_shop: Callable[..., DemoShop], stack: LocalStack
) -> None:
    syncing, not_syncing = new_shop(sync_price=True), new_shop(sync_price=False)
    for shop in (syncing, not_syncing):
        shop.bsale.set_stock(shop.variant_id("TAZA-1"), shop.office_id, 20)  # links TAZA-1
        shop.bsale.set_price(shop.price_list_id, shop.variant_id("TAZA-1"), 5990)
        other_list = next(pl for pl in shop.bsale.price_lists if pl != shop.price_list_id)
        shop.bsale.set_price(other_list, shop.variant_id("TAZA-1"), 1)  # another list: ignored
    assert stack.drain(60)
    assert jumpseller_price(syncing, "TAZA-1") == 5990
    assert jumpseller_price(not_syncing, "TAZA-1") == 4990


def test_presale_makes_sell_without_stock_variants_unlimited(
    new_shop: Callable[..., DemoShop], stack: LocalStack
) -> None:
    presale, normal = new_shop(presale=True), new_shop(presale=False)
    for shop in (presale, normal):
        # Given a Jumpseller product for Bsale's PRE-1, which Bsale lets sell without stock
        shop.store.add_product("Preventa", sku="PRE-1", stock=7, price=15990)
    assert stack.drain(60)
    # Then the product webhook linked it and pushed: unlimited with pre-sale, its real stock (0) without
    assert presale.jumpseller_stock("PRE-1") is None
    assert normal.jumpseller_stock("PRE-1") == 0


# ----------------------------------------------------------------------------- stock from POS sales (F3)

def test_a_point_of_sale_document_updates_the_stock_it_moved(
    shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox
) -> None:
    variant = shop.variant_id("TAZA-1")
    shop.bsale.set_stock(variant, shop.office_id, 20)
    eventually(lambda: shop.jumpseller_stock("TAZA-1") == 20)
    assert stack.drain(60)
    time.sleep(1.1)  # the workers' last second of the shop's Bsale rate limit passes: the till's sale is not a 429
    # When a POS sale dispatches 3 units and only its document notification arrives
    bsale.notifications_enabled = False
    sale = requests.post(f"{bsale.url}/v1/documents.json", headers={"access_token": shop.bsale.token}, json={
        "codeSii": 39, "officeId": shop.office_id, "dispatch": 1, "declareSii": 1,
        "details": [{"variantId": variant, "netUnitValue": 4193, "quantity": 3, "taxes": [{"code": 14,
                                                                                           "percentage": 19}]}],
    }, timeout=30)
    assert sale.status_code == 201, sale.text
    bsale.notifications_enabled = True
    document = {"cpnId": shop.bsale.cpn_id, "resource": f"/documents/{sale.json()['id']}.json",
                "resourceId": str(sale.json()["id"]), "topic": "document", "action": "post",
                "officeId": str(shop.office_id)}
    requests.post(shop.notification_url, json=document, timeout=30).raise_for_status()
    # Then Jumpseller follows Bsale's stock
    eventually(lambda: shop.jumpseller_stock("TAZA-1") == 17)


# ----------------------------------------------------------------------------- automatic linking (F2)

def test_links_follow_skus_appearing_and_disappearing_on_either_side(shop: DemoShop, stack: LocalStack) -> None:
    # A Jumpseller product with a SKU Bsale has gets linked and receives Bsale's stock
    product = shop.store.add_product("Taza grande", sku="TAZA-G", stock=99, price=6990)
    shop.bsale.add_product("Taza grande", [{"code": "TAZA-G", "stock": {shop.office_id: 4}, "price": 6990}])
    eventually(lambda: shop.jumpseller_stock("TAZA-G") == 4)
    assert links.by_sku(shop.code, "TAZA-G")
    # Deleting it in Jumpseller removes the link, with the reason kept for the shop's status
    shop.store.delete_product(product.id)
    assert stack.drain(60)
    assert links.by_sku(shop.code, "TAZA-G") == []
    assert any(r.get("sku") == "TAZA-G" and r["reason"] == "missing in Jumpseller"
               for r in links.unlinked_reasons(shop.code))


def test_a_variant_deactivated_in_bsale_is_unlinked(shop: DemoShop, stack: LocalStack) -> None:
    variant = shop.variant_id("POL-M")
    shop.bsale.set_stock(variant, shop.office_id, 6)
    eventually(lambda: shop.jumpseller_stock("POL-M") == 6)
    shop.bsale.update_variant(variant, state=1)
    assert stack.drain(60)
    assert links.get(shop.code, str(variant)) is None
    reasons = {r["reason"] for r in links.unlinked_reasons(shop.code) if r.get("sku") == "POL-M"}
    assert reasons == {"inactive in Bsale"}


# ----------------------------------------------------------------------------- manual sync (F2)

@pytest.fixture
def messy_shop(shop: DemoShop, bsale: BsaleSandbox) -> DemoShop:
    """Every reason a SKU cannot be linked, on top of the demo catalog."""
    bsale.notifications_enabled = False  # the manual sync alone must sort this out
    office = shop.office_id
    shop.bsale.add_product("Duplicada", [{"code": "DUP-B", "stock": {office: 1}, "price": 1000},
                                         {"code": "DUP-B", "stock": {office: 1}, "price": 1000}])
    shop.store.add_product("Duplicada", sku="DUP-B", stock=1, price=1000, notify=False)
    shop.bsale.add_product("Dos veces en Jumpseller", [{"code": "DUP-J", "stock": {office: 2}, "price": 2000}])
    shop.store.add_product("Uno", sku="DUP-J", stock=1, price=2000, notify=False)
    shop.store.add_product("Dos", sku="DUP-J", stock=1, price=2000, notify=False)
    shop.bsale.add_product("Pack regalo", [{"code": "PACK-1", "price": 9990}], classification=3)
    shop.store.add_product("Pack regalo", sku="PACK-1", stock=5, price=9990, notify=False)
    shop.bsale.add_product("Vieja", [{"code": "OLD-1", "state": 1, "price": 100}])
    shop.bsale.add_product("Sin código", [{"code": "", "price": 100}])
    shop.store.add_product("Solo en Jumpseller", sku="JS-ONLY", stock=3, price=500, notify=False)
    shop.store.add_product("Sin SKU en Jumpseller", stock=3, price=500, notify=False)
    return shop


def test_manual_link_reports_every_sku_not_linked_with_its_reason(messy_shop: DemoShop, stack: LocalStack) -> None:
    report = run_job(stack, messy_shop, "manual", mode="link")
    reasons = {(item["sku"], item["reason"]) for item in report["not_linked"]}
    assert ("DUP-B", "duplicate SKU in Bsale") in reasons
    assert ("DUP-J", "duplicate SKU in Jumpseller") in reasons
    assert ("PACK-1", "pack in Bsale") in reasons
    assert ("NB-1", "serial-numbered in Bsale") in reasons
    assert ("OLD-1", "inactive in Bsale") in reasons
    assert (None, "no SKU in Bsale") in reasons
    assert (None, "no SKU in Jumpseller") in reasons
    assert ("JS-ONLY", "missing in Bsale") in reasons
    assert ("PRE-1", "missing in Jumpseller") in reasons
    assert report["counts"]["duplicate SKU in Bsale"] == 2
    # And the clean pairs are linked: products with variants (Polera) and without (Taza, Tarjeta regalo)
    assert {link.sku for link in links.all_links(messy_shop.code)} == {"POL-S", "POL-M", "TAZA-1", "GIFT"}
    assert report["written"] == []  # link only: nothing written to Jumpseller


def test_import_creates_what_jumpseller_lacks_with_its_variants(
    shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox
) -> None:
    bsale.notifications_enabled = False
    shop.bsale.add_product("Chaqueta", [
        {"code": "CHA-S", "description": "Chaqueta S", "stock": {shop.office_id: 2}, "price": 39990},
        {"code": "CHA-L", "description": "Chaqueta L", "stock": {shop.office_id: 0}, "price": 41990},
    ])
    report = run_job(stack, shop, "manual", mode="import")
    assert any("CHA-S" in name and "CHA-L" in name for name in report["created_in_jumpseller"])
    found = shop.store.find_sku("CHA-L")
    assert found is not None and found[1] is not None and found[0].name == "Chaqueta"
    assert (shop.jumpseller_stock("CHA-S"), shop.jumpseller_stock("CHA-L")) == (2, 0)
    assert jumpseller_price(shop, "CHA-L") == 41990
    assert links.by_sku(shop.code, "CHA-L")
    # Running it again creates nothing more
    again = run_job(stack, shop, "manual", mode="import")
    assert again["created_in_jumpseller"] == []


def test_overwrite_pushes_bsale_stock_and_price_to_every_linked_product(
    new_shop: Callable[..., DemoShop], stack: LocalStack, bsale: BsaleSandbox
) -> None:
    shop = new_shop(sync_price=True)
    bsale.notifications_enabled = False
    shop.bsale.set_stock(shop.variant_id("POL-S"), shop.office_id, 1)
    shop.bsale.set_price(shop.price_list_id, shop.variant_id("TAZA-1"), 5500)
    report = run_job(stack, shop, "manual", mode="overwrite")
    assert shop.jumpseller_stock("POL-S") == 1 and jumpseller_price(shop, "TAZA-1") == 5500
    # Only the two drifts are written; the gift card (stock not tracked by Bsale) stays unlimited
    assert sorted(line.split(":")[0] for line in report["written"]) == ["POL-S", "TAZA-1"]
    assert shop.jumpseller_stock("GIFT") is None


# ----------------------------------------------------------------------------- reconcile (F11)

def test_reconcile_fixes_drift_no_webhook_reported_and_writes_nothing_else(
    shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox
) -> None:
    run_job(stack, shop, "manual", mode="overwrite")  # Given a linked, matching catalog
    assert stack.drain(60)
    # When Bsale changes without notifying, and someone edits Jumpseller by hand
    bsale.notifications_enabled = False
    shop.bsale.set_stock(shop.variant_id("TAZA-1"), shop.office_id, 11)
    polera = shop.store.find_sku("POL-M")
    assert polera is not None and polera[1] is not None
    shop.store.update_variant(polera[0].id, polera[1].id, stock=50)
    assert stack.drain(60)
    before = puts(jumpseller, shop)
    result = run_job(stack, shop, "reconcile")
    # Then exactly the two drifts are written back to Bsale's truth
    assert shop.jumpseller_stock("TAZA-1") == 11 and shop.jumpseller_stock("POL-M") == 3
    assert result["fixed"] == 2 and puts(jumpseller, shop) - before == 2
    assert any(fix.startswith("POL-M: stock 50 → 3") for fix in result["fixes"])


def test_reconcile_resumes_across_slices(
    shop: DemoShop, stack: LocalStack, bsale: BsaleSandbox, function_env: Callable[..., None]
) -> None:
    run_job(stack, shop, "manual", mode="link")
    bsale.notifications_enabled = False
    shop.bsale.set_stock(shop.variant_id("POL-S"), shop.office_id, 2)
    # Each slice may only do about one page before handing over
    function_env({"SYNC_BUDGET_SECONDS": "0"}, ["SyncWorkerFunction"])
    result = run_job(stack, shop, "reconcile")
    record = jobs.get(shop.code, "reconcile") or {}
    assert int(record.get("slices", 0)) >= 3
    assert shop.jumpseller_stock("POL-S") == 2 and result["fixed"] >= 1


def test_the_schedule_queues_a_reconcile_for_shops_that_are_due(shop: DemoShop, stack: LocalStack) -> None:
    answer = stack.fire_schedule("ScheduledSyncFunction")
    assert shop.code in answer["reconciles"]
    assert stack.fire_schedule("ScheduledSyncFunction")["reconciles"].count(shop.code) == 0  # not due again yet
    eventually(lambda: (jobs.get(shop.code, "reconcile") or {}).get("status") == "done", timeout=60)


# ----------------------------------------------------------------------------- bursts and limits (F16)

def test_a_mass_price_change_burst_arrives_whole_within_bsale_limits_and_holds_no_other_shop_up(
    new_shop: Callable[..., DemoShop], stack: LocalStack, bsale: BsaleSandbox
) -> None:
    shop, other = new_shop(sync_price=True), new_shop()
    other.bsale.set_stock(other.variant_id("TAZA-1"), other.office_id, 20)  # linked before the burst
    eventually(lambda: other.jumpseller_stock("TAZA-1") == 20)
    skus = [f"BULK-{i:03d}" for i in range(200)]
    bsale.notifications_enabled = False
    for sku in skus:
        shop.bsale.add_product(sku, [{"code": sku, "stock": {shop.office_id: 5}, "price": 1000}])
        shop.store.add_product(sku, sku=sku, stock=5, price=1000, notify=False)
    run_job(stack, shop, "manual", mode="link")
    bsale.notifications_enabled = True
    # When Bsale reprices everything at once: one notification per variant, all at the same moment
    for sku in skus:
        shop.bsale.set_price(shop.price_list_id, shop.variant_id(sku), 1500)
    # And another shop's stock changes right behind the burst in the same queue: it is served meanwhile.
    # (Its notification is also posted directly: the sandbox delivers all notifications one by one, and Bsale's
    # deliveries to another company do not wait for this one's.)
    other.bsale.set_stock(other.variant_id("TAZA-1"), other.office_id, 3)
    requests.post(other.notification_url, timeout=30, json={
        "cpnId": other.bsale.cpn_id, "resource": "/v2/stocks.json", "resourceId": str(other.variant_id("TAZA-1")),
        "topic": "stock", "action": "put", "officeId": str(other.office_id), "send": 1})
    # Counted in prices landed, not seconds, so a busy machine does not change the answer
    def burst_written() -> int:
        return sum(1 for sku in skus if jumpseller_price(shop, sku) == 1500)

    [written_when_served] = eventually(
        lambda: [burst_written()] if other.jumpseller_stock("TAZA-1") == 3 else None, timeout=120)
    eventually(lambda: burst_written() == len(skus), timeout=300, interval=0.5)
    assert written_when_served < len(skus) // 2, written_when_served
    assert stack.drain(60)
    # Then none went to the dead-letter queue, and Bsale saw at most 8 calls in any second from this shop
    times = sorted(r.at for r in bsale.requests if r.credential == shop.bsale.token and r.status != 429)
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 8
