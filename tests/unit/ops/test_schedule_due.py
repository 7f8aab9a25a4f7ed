"""A schedule tick reads only what is due (bridge/store/due.py): the rules, and that no shop is ever missed.

moto in memory; the tick's three parts (stale flags, reconciles, SII watches) are called as the schedule
function calls them, at chosen times. Every DynamoDB read is counted, so "only what is due" is measured.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from bridge.models.shop import Shop, ShopOptions
from bridge.ops.stale import flag_stale_shops, stale_deadline
from bridge.settings import settings
from bridge.store import due, jobs, keys, shops
from bridge.store.table import client, name, serialize
from bridge.sync.schedule import queue_due_reconciles, queue_sii_watches, reconcile_due_at
from tests.unit.orders.conftest import table  # noqa: F401  (the moto table fixture)

DAY, HOUR = 86400, 3600


@pytest.fixture
def sync_queue(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: F811
    url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="sync")["QueueUrl"]
    monkeypatch.setenv("SYNC_QUEUE_URL", url)
    settings.cache_clear()
    assert due.backfill_once(0) == 0  # a deployment that had due items from its start: nothing to backfill
    yield url


class Reads:
    """DynamoDB items read on this thread: a Query's ScannedCount, a GetItem's item, a BatchGetItem's items."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.items = 0
        self.calls: Counter[str] = Counter()
        real, mine = BaseClient._make_api_call, threading.get_ident()

        def counting(api: BaseClient, operation: str, params: Any) -> Any:
            answer = real(api, operation, params)
            if threading.get_ident() == mine and api.meta.service_model.service_name == "dynamodb":
                self.calls[operation] += 1
                if operation == "Query":
                    self.items += int(answer.get("ScannedCount", 0))
                elif operation == "GetItem":
                    self.items += "Item" in answer
                elif operation == "BatchGetItem":
                    self.items += sum(len(v) for v in answer.get("Responses", {}).values())
            return answer

        monkeypatch.setattr(BaseClient, "_make_api_call", counting)

    def reset(self) -> None:
        self.items = 0
        self.calls.clear()


def connect(shop_id: str, connected_at: int, **options: Any) -> Shop:
    shop = Shop(shop_id=shop_id, cpn_id=1, office_id=1, price_list_id=1, connected_at=connected_at,
                options=ShopOptions(**options))
    shops.save(shop, f"hash-{shop_id}", now=connected_at)
    return shop


def tick(now: int) -> dict[str, list[str]]:
    due.backfill_once(now)
    return {"stale": flag_stale_shops(now), "reconciles": queue_due_reconciles(now),
            "sii": queue_sii_watches(now)}


def finish_reconcile(shop_id: str, now: int) -> None:
    record = jobs.get(shop_id, "reconcile")
    assert record is not None
    jobs.finish(shop_id, "reconcile", record["run_id"], {}, now)


def notify(shop_id: str, now: int) -> None:
    shops.stamp_notification(shop_id, f"hash-{shop_id}", 1, now)


# ----------------------------------------------------------------------------- the rules, alone

def test_the_stale_deadline_counts_from_the_last_notification_or_the_connection() -> None:
    never = Shop(shop_id="a", cpn_id=1, office_id=1, price_list_id=1, connected_at=1000)
    assert stale_deadline(never) == 1000 + settings().stale_after_minutes * 60
    heard = never.model_copy(update={"last_notification_at": 5000, "options": ShopOptions(stale_after_minutes=10)})
    assert stale_deadline(heard) == 5000 + 600


def test_a_reconcile_is_due_a_period_after_the_last_one_started_or_at_once() -> None:
    shop = Shop(shop_id="a", cpn_id=1, office_id=1, price_list_id=1, options=ShopOptions(reconcile_every_minutes=30))
    assert reconcile_due_at(shop, None) == 0
    assert reconcile_due_at(shop, {"started_at": 7000}) == 7000 + 1800


# ----------------------------------------------------------------------------- through the table

def test_a_tick_reads_only_the_due_shops(sync_queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = int(time.time())
    for n in range(40):
        connect(f"tienda-{n:02}", t0)
    tick(t0)  # the first look after connecting: every shop, once
    for n in range(40):
        finish_reconcile(f"tienda-{n:02}", t0)
    reads = Reads(monkeypatch)

    assert tick(t0 + 60) == {"stale": [], "reconciles": [], "sii": []}
    assert reads.items == 1  # the backfill marker: nothing else is read when nothing is due
    assert reads.calls == Counter({"GetItem": 1, "Query": 3})

    # Two shops come due for a reconcile (one asked for a resync meanwhile), one goes silent, one has a document
    reads.reset()
    for n in (3, 4):
        due.mark(f"tienda-{n:02}", due.RECONCILE, t0 + 60)
    jobs.start("tienda-03", "reconcile", "long-ago", {}, t0 - 2 * HOUR)  # as if its last run were that old
    finish_reconcile("tienda-03", t0 - HOUR)
    jobs.start("tienda-04", "reconcile", "by-hand", {}, t0 + 30)
    due.mark("tienda-07", due.STALE, t0 + 60)
    client().update_item(TableName=name(), Key=serialize(keys.shop("tienda-07")),
                         UpdateExpression="SET connected_at = :t", ExpressionAttributeValues={":t": {"N": "0"}})
    due.mark("tienda-09", due.SII, t0 + 60)
    reads.reset()
    assert tick(t0 + 120) == {"stale": ["tienda-07"], "reconciles": ["tienda-03"], "sii": ["tienda-09"]}
    # the marker; the 4 due items; their shops (1 + 2 + 1) and the 2 reconcile records
    assert reads.items == 1 + 4 + 6
    assert reads.calls["BatchGetItem"] == 4 and reads.calls["Scan"] == 0


def test_a_silent_shop_is_flagged_when_its_threshold_passes_however_often_it_notified_before(
        sync_queue: str) -> None:
    t0 = int(time.time())
    connect("tienda-a", t0, stale_after_minutes=60)
    assert tick(t0)["stale"] == []
    assert due.get("tienda-a", due.STALE).at == t0 + HOUR + 1  # type: ignore[union-attr]
    notify("tienda-a", t0 + 1800)  # no write to the due item on the acknowledgement's path
    assert due.get("tienda-a", due.STALE).at == t0 + HOUR + 1  # type: ignore[union-attr]
    assert tick(t0 + HOUR + 1)["stale"] == []  # early: moved to the new deadline
    assert due.get("tienda-a", due.STALE).at == t0 + 1800 + HOUR + 1  # type: ignore[union-attr]
    assert tick(t0 + 1800 + HOUR)["stale"] == []  # exactly at the threshold: not yet
    assert tick(t0 + 1800 + HOUR + 1)["stale"] == ["tienda-a"]
    assert tick(t0 + 1800 + HOUR + 2)["stale"] == []  # flagged once...
    assert shops.get("tienda-a").stale_since == t0 + 1800 + HOUR + 1  # type: ignore[union-attr]
    assert due.listed(due.STALE, t0 + 1800 + HOUR + 3)  # ...and still read (and counted) every tick while stale
    notify("tienda-a", t0 + 3 * HOUR)
    assert tick(t0 + 3 * HOUR + 60)["stale"] == [] and not due.listed(due.STALE, t0 + 3 * HOUR + 60)
    assert shops.get("tienda-a").stale_since is None  # type: ignore[union-attr]


def test_a_shorter_threshold_saved_later_is_not_missed(sync_queue: str) -> None:
    t0 = int(time.time())
    connect("tienda-a", t0)  # 24 h
    tick(t0)
    assert due.get("tienda-a", due.STALE).at == t0 + DAY + 1  # type: ignore[union-attr]
    connect("tienda-a", t0, stale_after_minutes=30)  # saved again: looked at at the next tick
    assert tick(t0 + 1900)["stale"] == ["tienda-a"]


def test_a_tick_decided_on_old_settings_does_not_overwrite_a_newer_due_time(sync_queue: str) -> None:
    t0 = int(time.time())
    connect("tienda-a", t0)
    [seen] = due.listed(due.STALE, t0)
    connect("tienda-a", t0, stale_after_minutes=30)  # saved between the tick's read and its decision
    assert not due.move(seen, t0 + DAY + 1)
    assert due.get("tienda-a", due.STALE).at == t0  # type: ignore[union-attr]
    assert not due.drop(seen)


def test_reconciles_are_queued_once_per_period_and_a_tick_run_twice_queues_nothing_twice(
        sync_queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = int(time.time())
    # The job records' clock stays at t0: on a busy machine the wall clock could pass a second mid-test and start
    # the reconcile's period a second late (its due time t0 + 1 h + 1 s, so the tick at t0 + 1 h found nothing).
    monkeypatch.setattr(jobs, "now", lambda: t0)
    connect("tienda-a", t0, reconcile_every_minutes=60)
    assert tick(t0)["reconciles"] == ["tienda-a"]
    assert tick(t0)["reconciles"] == []  # the same tick again
    due.mark("tienda-a", due.RECONCILE, t0)  # even if its item had not moved: the run is still going
    assert tick(t0)["reconciles"] == []
    finish_reconcile("tienda-a", t0 + 600)
    assert tick(t0 + 601)["reconciles"] == []  # finished, but its period has not passed
    assert due.get("tienda-a", due.RECONCILE).at == t0 + HOUR  # type: ignore[union-attr]
    assert tick(t0 + HOUR)["reconciles"] == ["tienda-a"]


def test_a_removed_app_is_not_reconciled_and_installing_it_again_is(sync_queue: str) -> None:
    t0 = int(time.time())
    connect("tienda-a", t0, reconcile_every_minutes=60)
    shops.mark_disconnected("tienda-a", "removed", t0)
    assert tick(t0)["reconciles"] == []
    assert due.get("tienda-a", due.RECONCILE).at == t0 + HOUR  # type: ignore[union-attr]  # looked at once a period
    shops.mark_reconnected("tienda-a")
    assert due.get("tienda-a", due.RECONCILE).at <= int(time.time())  # type: ignore[union-attr]
    assert tick(int(time.time()))["reconciles"] == ["tienda-a"]


def test_a_shop_without_bsale_loses_its_due_items(sync_queue: str) -> None:
    t0 = int(time.time())
    shops.save(Shop(shop_id="facto-only", cpn_id=0, office_id=0, price_list_id=0, bsale_account=False,
                    connected_at=t0), "hash", now=t0)
    assert due.get("facto-only", due.STALE) is None  # none written for it
    for kind in due.KINDS:
        due.mark("facto-only", kind, t0)  # e.g. by the backfill
    assert tick(t0) == {"stale": [], "reconciles": [], "sii": []}
    assert all(due.get("facto-only", kind) is None for kind in due.KINDS)


def test_sii_watches_are_queued_only_for_shops_with_documents_outstanding(sync_queue: str) -> None:
    from bridge.models.order_record import IssuedDocument
    from bridge.orders import sii

    t0 = int(time.time())
    connect("tienda-a", t0)
    connect("tienda-b", t0)
    assert tick(t0)["sii"] == []
    sii.follow("tienda-a", 1, IssuedDocument(id=11, kind="boleta", code_sii="39"), {"informedSii": 1}, t0 + 10)
    assert tick(t0 + 20)["sii"] == ["tienda-a"]
    accepted = {"informedSii": 0}  # accepted at once: nothing to watch
    sii.follow("tienda-b", 2, IssuedDocument(id=22, kind="boleta", code_sii="39"), accepted, t0 + 10)
    assert due.get("tienda-b", due.SII) is None


def test_the_watch_that_finds_nothing_outstanding_removes_the_mark_and_one_that_finds_some_keeps_it(
        sync_queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from bridge.orders import sii
    from bridge.store import sii as watched
    from bridge.store.sii import Watched

    t0 = int(time.time())
    due.mark("tienda-a", due.SII, t0)
    watched.watch("tienda-a", Watched(document_id=5, order_id=9, kind="boleta", emitted_at=t0, made_at=t0,
                                      verdict="accepted"))  # decided, its order gone: settled at once
    watched.watch("tienda-a", Watched(document_id=6, order_id=9, kind="boleta", emitted_at=t0, made_at=t0,
                                      verdict="accepted"))
    ctx: Any = SimpleNamespace(shop_id="tienda-a")
    assert sii.watch_shop(ctx, t0).remaining == 0
    assert due.get("tienda-a", due.SII) is None
    due.mark("tienda-b", due.SII, t0)
    watched.watch("tienda-b", Watched(document_id=7, order_id=9, kind="boleta", emitted_at=t0, made_at=t0))
    monkeypatch.setattr(sii, "_read_verdicts", lambda *a, **k: {})  # Bsale could not tell this tick
    assert sii.watch_shop(SimpleNamespace(shop_id="tienda-b"), t0).remaining == 1  # type: ignore[arg-type]
    assert due.get("tienda-b", due.SII) is not None


def test_a_document_followed_while_a_watch_runs_is_never_lost(sync_queue: str) -> None:
    t0 = int(time.time())
    due.mark("tienda-a", due.SII, t0)
    seen = due.get("tienda-a", due.SII)  # the watch reads the mark, then finds nothing outstanding...
    assert seen is not None
    due.mark("tienda-a", due.SII, t0 + 1)  # ...while a step follows a new document
    assert not due.drop(seen)  # so the watch's removal leaves the new mark
    assert [d.shop_id for d in due.listed(due.SII, t0 + 1)] == ["tienda-a"]


def test_shops_saved_before_due_items_existed_are_backfilled_once(sync_queue: str) -> None:
    t0 = int(time.time())
    client().delete_item(TableName=name(), Key=serialize(keys.due_backfill_marker()))
    for shop_id in ("tienda-a", "tienda-b", "tienda-c"):
        connect(shop_id, t0 - 2 * DAY)
        for kind in due.KINDS:  # what an older version left: the shop, and no due item
            client().delete_item(TableName=name(), Key=serialize(keys.due(shop_id, kind)))
    assert due.backfill_once(t0) == 3
    assert due.backfill_once(t0) == 0  # the marker: done
    assert sorted(d.shop_id for d in due.listed(due.STALE, t0)) == ["tienda-a", "tienda-b", "tienda-c"]
    answer = tick(t0)
    assert sorted(answer["stale"]) == sorted(answer["reconciles"]) == ["tienda-a", "tienda-b", "tienda-c"]
    assert sorted(answer["sii"]) == ["tienda-a", "tienda-b", "tienda-c"]  # each watch then removes its mark if idle
