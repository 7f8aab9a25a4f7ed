"""A reconcile's DynamoDB work (sync/reconcile.py through sync/push.py): proportional to the drift, plus the
reads of whole pages, never one write per linked SKU (issue 12: 10,000 claims made it 11x the rate limits' floor).

DynamoDB in memory (moto), Bsale and Jumpseller sandboxes on loopback; every DynamoDB call is counted at botocore.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from bridge import aws
from bridge.store import jobs
from bridge.sync import reconcile
from bridge.sync.jobs import Budget
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox
from tests.unit.orders.conftest import table  # noqa: F401  (fixture)
from tests.unit.sandbox_shop import new_shop, quick, sandboxes  # noqa: F401  (fixtures)
from tests.unit.sync.test_push import World

SKUS = 30
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


@pytest.fixture
def w(table: str, sandboxes: tuple[BsaleSandbox, JumpsellerSandbox]) -> World:  # noqa: F811
    bsale, js = sandboxes
    return new_shop(World, bsale, js, "reconcile", 7600)


def catalog(w: World, skus: int = SKUS, **flags: bool) -> list[str]:
    """`skus` products alike in Bsale (the shop's office) and Jumpseller, each linked: a shop in sync."""
    made = []
    for i in range(skus):
        sku = f"REC-{i:03d}"
        w.account.add_product(f"Producto {i}", [{"code": sku, "stock": {w.ctx.shop.office_id: i % 7}, "price": 990}])
        w.store.add_product(f"Producto {i}", sku=sku, stock=i % 7, price=990, notify=False)
        w.link(sku, **flags)
        made.append(sku)
    return made


def dynamodb_calls(w: World) -> list[tuple[str, str]]:
    """(operation, sort key of the item it names, or "" for queries and batches) of every DynamoDB call from now."""
    calls: list[tuple[str, str]] = []

    def count(params: dict[str, Any], event_name: str, **_: Any) -> None:
        key = params.get("Key") or params.get("Item") or {}
        calls.append((event_name.rsplit(".", 1)[-1], str(key.get("sk", {}).get("S", ""))))

    aws.client("dynamodb").meta.events.register("before-parameter-build.dynamodb", count)
    return calls


def reconcile_all(w: World, run: str = "run-1") -> dict[str, Any]:
    assert jobs.start(w.shop_id, reconcile.KIND, run, {}, jobs.now())
    outcome = reconcile.run_slice(w.ctx, run, {}, Budget(math.inf))
    assert outcome.action == "done", outcome
    return jobs.result_of(jobs.get(w.shop_id, reconcile.KIND) or {}) or {}


def link_writes(calls: list[tuple[str, str]]) -> list[str]:
    return [sk for op, sk in calls if op in WRITES and sk.startswith("LINK#")]


def test_a_reconcile_of_a_shop_in_sync_writes_no_link_and_reads_links_by_the_page(w: World) -> None:
    catalog(w)
    calls = dynamodb_calls(w)
    result = reconcile_all(w)
    assert result["fixed"] == 0 and result["links"] == SKUS and w.puts() == 0
    assert link_writes(calls) == []  # no claim where nothing is written
    assert [c for c in calls if c[0] == "GetItem" and c[1].startswith("LINK#")] == []  # no read of one link
    assert len(calls) < SKUS  # the job record, its chunks and checkpoint, the links' pages: not one per SKU


def test_a_reconcile_claims_only_the_drifted_skus_and_fixes_them(w: World) -> None:
    skus = catalog(w)
    drifted = {skus[3]: 50, skus[17]: 0}
    for sku, quantity in drifted.items():
        w.set_bsale(sku, quantity)  # changed in Bsale without a notification
    calls = dynamodb_calls(w)
    result = reconcile_all(w)
    assert result["fixed"] == 2 and w.puts() == 2
    assert {sku: w.shown(sku) for sku in drifted} == drifted
    # Each drifted SKU: its claim, then what Jumpseller now shows recorded under it. Nothing for the others.
    assert sorted(link_writes(calls)) == sorted(f"LINK#{w.variant(sku)}" for sku in drifted for _ in range(2))
    assert all(w.saved(sku).pushed_stock == quantity for sku, quantity in drifted.items())


def test_a_reconcile_still_makes_a_new_links_first_push_though_jumpseller_already_agrees(w: World) -> None:
    catalog(w, 3, first_push_due=True)  # linked by an event that stopped before its first push
    reconcile_all(w)
    assert w.puts() == 0 and not any(w.saved(f"REC-{i:03d}").first_push_due for i in range(3))


def test_a_reconcile_that_finds_jumpseller_in_sync_leaves_a_newer_live_change_alone(w: World) -> None:
    catalog(w, 3)
    run = reconcile.Run(w.ctx, "run-1", {})  # the slice starts: it reads the links and Jumpseller's pages...
    while run.read_jumpseller_page():
        pass
    run.cp.update(phase="stocks", offset=0)
    stale = w.ctx.bsale.page("/v1/stocks.json", 0, {"officeid": w.ctx.shop.office_id})  # ...and Bsale's stock
    w.set_bsale("REC-001", 9)
    assert w.notify("REC-001").action == "written"  # the live change lands meanwhile
    w.ctx.bsale.page = lambda *args, **kwargs: stale  # type: ignore[method-assign]
    run.read_stock_page()
    assert w.shown("REC-001") == 9 and w.saved("REC-001").pushed_stock == 9 and w.puts() == 1
