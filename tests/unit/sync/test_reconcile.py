"""A reconcile's DynamoDB work (sync/reconcile.py through sync/push.py): proportional to the drift, plus the
reads of whole pages, never one write per linked SKU (issue 12: 10,000 claims made it 11x the rate limits' floor).

DynamoDB in memory (moto), Bsale and Jumpseller sandboxes on loopback; every DynamoDB call is counted at botocore.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from bridge import aws
from bridge.clients import bsale as bsale_api
from bridge.clients import jumpseller as jumpseller_api
from bridge.clients.http import RateLimited
from bridge.errors import UpstreamError
from bridge.store import jobs, links
from bridge.sync import push, reconcile
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


def test_a_reconcile_reads_links_for_comparing_and_writes_a_drifted_one_from_the_whole_link(w: World) -> None:
    skus = catalog(w)
    for sku in skus:  # live changes had claimed each link's stock and price (product PUTs carry the price)
        for kind in ("stock", "price"):
            assert links.claim(w.saved(sku), kind, push.version())
    queries: list[dict[str, Any]] = []
    aws.client("dynamodb").meta.events.register(
        "before-parameter-build.dynamodb.Query",
        lambda params, **_: queries.append(params) if params.get("ExpressionAttributeValues", {}).get(
            ":s", {}).get("S") == "LINK#" else None)
    w.set_bsale(skus[5], 40)
    w.js.requests.clear()
    assert reconcile_all(w)["fixed"] == 1
    # The catalog-wide read takes only what the comparison needs, never the write claims...
    assert queries and all("price_read_at" not in str(q.get("ExpressionAttributeNames")) and
                           q.get("ProjectionExpression") for q in queries)
    # ...and the drifted SKU is written with its whole link: its one PUT stands, with no look at Jumpseller again
    # (a write made from the partial link would miss the price claim a product PUT carries, and read it again).
    assert w.puts() == 1 and w.shown(skus[5]) == 40 and w.saved(skus[5]).pushed_stock == 40
    product_reads = [r for r in w.js.requests if r.method == "GET" and "/products/" in r.path]
    assert product_reads == []


def test_a_reconcile_still_makes_a_new_links_first_push_though_jumpseller_already_agrees(w: World) -> None:
    catalog(w, 3, first_push_due=True)  # linked by an event that stopped before its first push
    reconcile_all(w)
    assert w.puts() == 0 and not any(w.saved(f"REC-{i:03d}").first_push_due for i in range(3))


def test_a_reconcile_that_finds_jumpseller_in_sync_leaves_a_newer_live_change_alone(w: World) -> None:
    catalog(w, 3)
    run = reconcile.Run(w.ctx, "run-1", {})  # the slice starts: it reads the links...
    stale = w.ctx.bsale.page("/v1/stocks.json", 0, {"officeid": w.ctx.shop.office_id})  # ...and Bsale's stock
    w.set_bsale("REC-001", 9)
    assert w.notify("REC-001").action == "written"  # the live change lands meanwhile
    w.ctx.bsale.page = lambda *args, **kwargs: stale  # type: ignore[method-assign]
    run.read(Budget(math.inf))  # Jumpseller's pages, then the stale stock page
    assert w.shown("REC-001") == 9 and w.saved("REC-001").pushed_stock == 9 and w.puts() == 1


# ----------------------------------------------------------------------------- both catalogs read side by side

@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 4 products, 5 stock rows and 7 links: a 30-SKU catalog (and the demo's own products) spans many
    pages."""
    monkeypatch.setattr(jumpseller_api, "PAGE_LIMIT", 4)
    monkeypatch.setattr(bsale_api, "PAGE_LIMIT", 5)
    monkeypatch.setattr(links, "PAGE_ITEMS", 7)


class Reads:
    """Every page read and every write made, with when (monotonic): wraps the shop's clients."""

    def __init__(self, w: World, js_seconds: float = 0.0, bsale_seconds: float = 0.0) -> None:
        self.log: list[tuple[str, Any, float]] = []
        self.fail: Callable[[str, Any], None] = lambda api, at: None
        self.bsale_over = False  # Bsale's last page read
        products_page, page, write = w.ctx.jumpseller.products_page, w.ctx.bsale.page, w.ctx.jumpseller.write

        def js(number: int) -> Any:
            self.fail("jumpseller", number)
            time.sleep(js_seconds)
            found = products_page(number)
            self.log.append(("jumpseller", number, time.monotonic()))
            return found

        def bsale(path: str, offset: int, params: Any = None) -> Any:
            self.fail("bsale", (path, offset))
            time.sleep(bsale_seconds)
            found = page(path, offset, params)
            self.log.append(("bsale", (path, offset), time.monotonic()))
            self.bsale_over = not found[1]
            return found

        def put(*args: Any, **kwargs: Any) -> None:
            write(*args, **kwargs)
            self.log.append(("put", None, time.monotonic()))

        w.ctx.jumpseller.products_page = js  # type: ignore[method-assign]
        w.ctx.bsale.page = bsale  # type: ignore[method-assign]
        w.ctx.jumpseller.write = put  # type: ignore[method-assign]

    def times(self, what: str) -> list[float]:
        return [at for kind, _, at in self.log if kind == what]

    def read_twice(self) -> list[Any]:
        counted = Counter((kind, page) for kind, page, _ in self.log if kind != "put")
        return [page for page, n in counted.items() if n > 1]


def readers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("read-ahead")]


def drift(w: World, skus: list[str], every: int = 5) -> dict[str, int]:
    """Every fifth SKU (or `every`) changed in Bsale without a notification."""
    drifted = {sku: 20 + n for n, sku in enumerate(skus[::every])}
    for sku, quantity in drifted.items():
        w.set_bsale(sku, quantity)
    return drifted


def slices(w: World, run: str, budget: Callable[[], Any], until: int = 500) -> int:
    """Run the job's slices as the sync worker does (resuming from the checkpoint) until it is done."""
    assert jobs.start(w.shop_id, reconcile.KIND, run, {}, jobs.now())
    for n in range(1, until):
        record = jobs.resume(w.shop_id, reconcile.KIND, run, jobs.now())
        assert record is not None
        if reconcile.run_slice(w.ctx, run, record["checkpoint"], budget()).action == "done":
            return n
    raise AssertionError("never done")


def test_bsale_s_pages_are_read_while_jumpseller_s_still_are_and_fixes_while_bsale_s_still_are(
        w: World, small_pages: None) -> None:
    skus = catalog(w)
    drifted = drift(w, skus, every=2)  # more than one batch of writes (WRITES_AT_ONCE)
    reads = Reads(w, js_seconds=0.01, bsale_seconds=0.05)  # Bsale's quota is the slower
    result = reconcile_all(w)
    assert result["fixed"] == len(drifted) and {sku: w.shown(sku) for sku in drifted} == drifted
    assert min(reads.times("bsale")) < max(reads.times("jumpseller"))  # the two APIs read side by side
    assert min(reads.times("put")) < max(reads.times("bsale"))  # Jumpseller written while Bsale is read
    assert reads.read_twice() == [] and readers_alive() == []


def test_a_reconcile_paused_at_every_step_reads_no_page_twice_and_fixes_every_drift(
        w: World, small_pages: None) -> None:
    skus = catalog(w)
    drifted = drift(w, skus)
    reads = Reads(w, js_seconds=0.01)
    n = slices(w, "run-1", lambda: Budget(0))  # each slice takes one step, then hands over
    assert n > 5  # many hand-overs, some in the middle of each catalog
    result = jobs.result_of(jobs.get(w.shop_id, reconcile.KIND) or {}) or {}
    assert result["fixed"] == len(drifted) and {sku: w.shown(sku) for sku in drifted} == drifted
    assert reads.read_twice() == [] and w.puts() == len(drifted) and readers_alive() == []


class Until:
    """A budget spent once `done()` says so."""

    def __init__(self, done: Callable[[], bool]) -> None:
        self.done = done

    def spent(self) -> bool:
        return self.done()


def test_stock_read_in_an_earlier_slice_never_undoes_a_live_change_made_since(w: World, small_pages: None) -> None:
    skus = catalog(w)
    w.set_bsale(skus[0], 50)  # drifted, unnoticed...
    reads = Reads(w, js_seconds=0.1)
    # the first slice hands over once Bsale's stock is all read, before Jumpseller's pages are
    assert jobs.start(w.shop_id, reconcile.KIND, "run-1", {}, jobs.now())
    record = jobs.resume(w.shop_id, reconcile.KIND, "run-1", jobs.now()) or {}
    outcome = reconcile.run_slice(w.ctx, "run-1", record["checkpoint"],
                                  Until(lambda: reads.bsale_over))
    assert outcome.action == "paused" and w.puts() == 0
    w.set_bsale(skus[0], 9)  # ...then changed again, and this change notified
    assert w.notify(skus[0]).action == "written"
    record = jobs.resume(w.shop_id, reconcile.KIND, "run-1", jobs.now()) or {}
    assert reconcile.run_slice(w.ctx, "run-1", record["checkpoint"], Budget(math.inf)).action == "done"
    assert w.shown(skus[0]) == 9 and w.saved(skus[0]).pushed_stock == 9  # the older reading stood down
    assert reads.read_twice() == []


def test_a_reader_s_rate_limit_surfaces_and_the_run_resumes_reading_no_page_twice(
        w: World, small_pages: None) -> None:
    skus = catalog(w)
    drifted = drift(w, skus)
    reads = Reads(w)
    failed: list[Any] = []

    def fail(api: str, at: Any) -> None:
        if api == "bsale" and at[1] == 20 and not failed:
            failed.append(at)
            raise RateLimited(5.0)

    reads.fail = fail
    assert jobs.start(w.shop_id, reconcile.KIND, "run-1", {}, jobs.now())
    record = jobs.resume(w.shop_id, reconcile.KIND, "run-1", jobs.now()) or {}
    with pytest.raises(RateLimited):
        reconcile.run_slice(w.ctx, "run-1", record["checkpoint"], Budget(math.inf))
    assert failed and readers_alive() == []
    record = jobs.resume(w.shop_id, reconcile.KIND, "run-1", jobs.now()) or {}
    assert reconcile.run_slice(w.ctx, "run-1", record["checkpoint"], Budget(math.inf)).action == "done"
    assert {sku: w.shown(sku) for sku in drifted} == drifted and w.puts() == len(drifted)
    assert reads.read_twice() == []


def test_a_failed_fix_leaves_no_reader_behind_and_the_run_resumes_without_writing_a_fix_twice(
        w: World, small_pages: None, monkeypatch: pytest.MonkeyPatch) -> None:
    skus = catalog(w)
    drifted = drift(w, skus)
    reads = Reads(w)
    sync, calls = push.sync, []

    def failing_once(ctx: Any, link: Any, **kwargs: Any) -> push.Change:
        if link.sku in drifted:
            calls.append(link.sku)
        if len(calls) == 3 and link.sku in drifted:
            raise UpstreamError("jumpseller", "503 try later", status_code=503, retryable=True)
        return sync(ctx, link, **kwargs)

    monkeypatch.setattr(push, "sync", failing_once)
    assert jobs.start(w.shop_id, reconcile.KIND, "run-1", {}, jobs.now())
    record = jobs.resume(w.shop_id, reconcile.KIND, "run-1", jobs.now()) or {}
    with pytest.raises(UpstreamError):
        reconcile.run_slice(w.ctx, "run-1", record["checkpoint"], Budget(math.inf))
    # Drifted SKUs are fixed side by side: those begun beside the failed one finish; only it is left undone.
    assert readers_alive() == [] and w.puts() == len(calls) - 1 < len(drifted)
    record = jobs.resume(w.shop_id, reconcile.KIND, "run-1", jobs.now()) or {}
    assert reconcile.run_slice(w.ctx, "run-1", record["checkpoint"], Budget(math.inf)).action == "done"
    assert {sku: w.shown(sku) for sku in drifted} == drifted and w.puts() == len(drifted)
    assert reads.read_twice() == []


def test_drifted_skus_are_written_side_by_side_each_once(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    skus = catalog(w)
    drifted = drift(w, skus)
    write, in_flight, most, lock = w.ctx.jumpseller.write, [0], [0], threading.Lock()

    def slow_write(*args: Any, **kwargs: Any) -> Any:  # a write that takes a while, as Jumpseller's do
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            time.sleep(0.05)
            return write(*args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(w.ctx.jumpseller, "write", slow_write)
    assert reconcile_all(w)["fixed"] == len(drifted)
    assert most[0] > 1  # one at a time would leave Jumpseller's quota idle while each write waits
    assert {sku: w.shown(sku) for sku in drifted} == drifted and w.puts() == len(drifted)


def test_fixes_begin_before_the_last_page_of_links_is_read(
        w: World, small_pages: None, monkeypatch: pytest.MonkeyPatch) -> None:
    skus = catalog(w)
    drifted = drift(w, skus, every=2)  # a batch of writes (WRITES_AT_ONCE) among the first links
    reads = Reads(w)
    link_pages, pages_read = links.link_pages, []

    def slow_link_pages(*args: Any) -> Any:  # DynamoDB's pages of links, each a while in coming
        for page in link_pages(*args):
            time.sleep(0.3)
            pages_read.append(time.monotonic())
            yield page

    monkeypatch.setattr(links, "link_pages", slow_link_pages)
    assert reconcile_all(w)["fixed"] == len(drifted)
    assert len(pages_read) > 2 and min(reads.times("put")) < pages_read[-1]
    assert {sku: w.shown(sku) for sku in drifted} == drifted and w.puts() == len(drifted)
    assert reads.read_twice() == []
