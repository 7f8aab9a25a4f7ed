"""F10 and F13 through the local stack: a shop goes stale and recovers; its status reflects every state."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import requests

from bridge.ops.status import dead_letter_totals, shop_health
from bridge.store import due, keys
from bridge.store.table import client, name, serialize, value
from devstack import LocalStack
from devstack.demo import DemoShop
from sandboxes.jumpseller import JumpsellerSandbox
from tests.e2e.conftest import eventually


def pretend_silent_since(shop: DemoShop, seconds_ago: int) -> None:
    """Time passing, without waiting for it: the shop connected and last heard from Bsale that long ago."""
    past = int(time.time()) - seconds_ago
    client().update_item(TableName=name(), Key=serialize(keys.shop(shop.code)),
                         UpdateExpression="SET connected_at = :t REMOVE last_notification_at",
                         ExpressionAttributeValues={":t": value(past)})
    due.mark(shop.code, due.STALE, past)  # where its due item would be then: looked at by the next tick


def test_a_shop_goes_stale_and_recovers_on_the_next_notification(shop: DemoShop, stack: LocalStack) -> None:
    # Given a shop that never heard from Bsale since it connected, more than a day ago
    pretend_silent_since(shop, 2 * 86400)
    # When the schedule runs, it is flagged, once
    assert shop.code in stack.fire_schedule("ScheduledSyncFunction")["flagged_stale"]
    assert shop.code not in stack.fire_schedule("ScheduledSyncFunction")["flagged_stale"]
    health = shop_health(shop.code)
    assert health.stale and not health.healthy and "STALE" in health.one_line()
    # Then the next Bsale notification clears the flag
    shop.bsale.set_stock(shop.variant_id("POL-S"), shop.office_id, 9)
    eventually(lambda: not shop_health(shop.code).stale)
    assert shop_health(shop.code).last_notification_at is not None


def test_a_shop_with_its_own_threshold_is_not_flagged_before_it(
    new_shop: Callable[..., DemoShop], stack: LocalStack
) -> None:
    patient = new_shop(stale_after_minutes=3 * 24 * 60)
    pretend_silent_since(patient, 2 * 86400)
    assert patient.code not in stack.fire_schedule("ScheduledSyncFunction")["flagged_stale"]


def job_status(shop: DemoShop, which: str) -> str | None:
    job = getattr(shop_health(shop.code), which)
    return job.status if job else None


@pytest.fixture
def dead_letter_env(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an operator's shell has: the dead-letter queues' URLs (./dev local writes them for --local)."""
    for dlq, source, env, source_env in (
            ("CatalogDeadLetterQueue", "CatalogQueue", "CATALOG_DLQ_URL", "CATALOG_QUEUE_URL"),
            ("OrderDeadLetterQueue", "OrderQueue", "ORDER_DLQ_URL", "ORDER_QUEUE_URL"),
            ("SyncDeadLetterQueue", "SyncQueue", "SYNC_DLQ_URL", "SYNC_QUEUE_URL")):
        monkeypatch.setenv(env, stack.queue_url(dlq))
        monkeypatch.setenv(source_env, stack.queue_url(source))


def test_status_reflects_links_held_stock_orders_reconcile_and_dead_letters(
    shop: DemoShop, stack: LocalStack, jumpseller: JumpsellerSandbox, dead_letter_env: None
) -> None:
    from bridge.sync.jobs import request

    # Links: a manual link run, with its report
    request(shop.code, "manual", {"mode": "link"})
    eventually(lambda: job_status(shop, "last_manual_sync") == "done")
    health = shop_health(shop.code)
    assert health.linked == 4 and health.not_linked.get("missing in Jumpseller", 0) >= 1

    # Held stock: a pending order holds 2 POL-S
    polera = shop.store.find_sku("POL-S")
    assert polera is not None and polera[1] is not None
    shop.store.create_order([(polera[0].id, polera[1].id, 2)])
    eventually(lambda: shop_health(shop.code).held == {"POL-S": 2})

    # An order waiting for a person: a paid order with a product Bsale does not have
    lonely = shop.store.add_product("Sólo web", sku="WEB-ONLY", stock=5, price=1990)
    order = shop.store.create_order([(lonely.id, None, 1)])
    shop.store.pay_order(order.id)
    problems = eventually(lambda: shop_health(shop.code).order_problems)
    assert problems[0].order_id == order.id and "no está sincronizado" in problems[0].reason

    # Reconcile: its last run and what it fixed
    request(shop.code, "reconcile")
    eventually(lambda: job_status(shop, "last_reconcile") == "done")

    # Dead letters: a notification that keeps failing is counted for this shop
    taza = shop.store.find_sku("TAZA-1")
    assert taza is not None
    jumpseller.faults.add(status=500, count=1000, path_contains=f"/products/{taza[0].id}.json")
    shop.bsale.set_stock(shop.variant_id("TAZA-1"), shop.office_id, 1)
    # counted from the worker's mark at the last attempt, without receiving the dead letter
    eventually(lambda: (shop_health(shop.code).dead_letters or {}).get("bsale", 0) >= 1, timeout=60, interval=1)
    jumpseller.faults.clear()
    health = shop_health(shop.code)
    assert health.dead_letters is not None and health.dead_letters["bsale"] >= 1
    # the mark is made at the last failure; SQS moves the message at its next receive, after the visibility timeout
    eventually(lambda: (dead_letter_totals() or {}).get("bsale", 0) >= health.dead_letters["bsale"], timeout=60,
               interval=1)
    assert not health.healthy
    # And the whole status is plain JSON for the shop panel
    assert json.loads(health.model_dump_json())["shop_id"] == shop.code
    requests.get(stack.api_url, timeout=30)  # the stack is still serving


def test_reconcile_registers_again_the_hooks_jumpseller_dropped(shop: DemoShop, stack: LocalStack) -> None:
    from bridge.store import jobs
    from bridge.sync.jobs import request

    # Given Jumpseller deleted the shop's order_paid hook after failed deliveries
    dropped = next(h for h in shop.store.hooks.values() if h.event == "order_paid")
    del shop.store.hooks[dropped.id]
    # When the shop's reconcile runs
    request(shop.code, "reconcile")
    eventually(lambda: job_status(shop, "last_reconcile") == "done")
    # Then the hook is back, pointing where it did, and the run says so
    assert any(h.event == "order_paid" and h.url == dropped.url for h in shop.store.hooks.values())
    result = jobs.result_of(jobs.get(shop.code, "reconcile") or {}) or {}
    assert result["hooks_restored"] == ["order_paid"]
