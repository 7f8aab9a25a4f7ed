"""A thousand shops: what `status` and one schedule tick cost at 100 and at 1,000 connected shops.

DynamoDB, SSM and SQS in memory (moto). Each shop is connected (its settings and its secrets); one shop in ten
has two dead letters in the bsale dead-letter queue, marked the way the worker marks them at the last attempt.
Every AWS call is counted at botocore's `_make_api_call`; "items read" is what DynamoDB reads to answer (a
Query's ScannedCount, a GetItem's item). The status path must make no SQS ReceiveMessage: each shop's count
comes from its marks, the queues' totals from GetQueueAttributes. For comparison, `receive_based_receives` is
what counting by shop from the messages themselves (status before this change) calls: ReceiveMessage, each
call hiding up to 10 dead letters for a minute and raising their receive counts.

The schedule tick (`tick`): every shop in a steady state at the tick's time T (its last reconcile, its last
notification and the due items the earlier ticks left), with `DUE_FRACTION` of the shops due for each kind: one
shop in a hundred whose reconcile period has passed, one whose stale item has come due (every other one of them
really silent, the rest notified since), one with a document the SII has not decided. The tick is the schedule
function's body (bridge/store/due.py backfill check, then the stale flags, the reconciles, the SII watches) at
T. For comparison, `old_scan` is the tick before due items, kept here as it was (every shop read through the
shops index, each one's reconcile record read, an SII watch queued for every shop), on the same state.

The tables go to stderr; the figures are returned for `./dev bench`'s JSON. Times depend on the machine (moto
in process answers in well under a millisecond a call, DynamoDB in a few): the calls and items are the figures.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SIZES = (100, 1000)
PAGE = 100
TABLE = "bench-fleet"


class Meter:
    """AWS calls by "service.Operation", and DynamoDB items read, while counting."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items = 0

    @contextmanager
    def counting(self) -> Iterator[None]:
        from botocore.client import BaseClient

        real = getattr(BaseClient, "_make_api_call")  # noqa: B009  (botocore's private hook; stubs omit it)

        def counted(client: Any, operation: str, params: Any) -> Any:
            answer = real(client, operation, params)
            self.calls[f"{client.meta.service_model.service_name}.{operation}"] += 1
            if operation == "Query":
                self.items += int(answer.get("ScannedCount", len(answer.get("Items", []))))
            elif operation == "GetItem":
                self.items += 1 if "Item" in answer else 0
            elif operation == "BatchGetItem":
                self.items += sum(len(v) for v in answer.get("Responses", {}).values())
            return answer

        setattr(BaseClient, "_make_api_call", counted)  # noqa: B010
        try:
            yield
        finally:
            setattr(BaseClient, "_make_api_call", real)  # noqa: B010


def _setup() -> dict[str, Any]:
    import boto3

    from bridge.ops import dead_letters as dl
    from bridge.store import due

    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}],
    )
    sqs = boto3.client("sqs", region_name="us-east-1")
    routes = {}
    import os

    for queue in dl.REGISTRY:
        url = sqs.create_queue(QueueName=f"fleet-{queue.name}-dlq")["QueueUrl"]
        source = sqs.create_queue(QueueName=f"fleet-{queue.name}")["QueueUrl"]
        os.environ[queue.env], os.environ[queue.source_env] = url, source
        routes[queue.name] = dl.Route(queue, url, source)
    os.environ["SYNC_QUEUE_URL"] = sqs.create_queue(QueueName="fleet-sync-work")["QueueUrl"]
    due.backfill_once(0)  # a deployment that had due items from its start (the backfill is measured apart)
    return routes


def _connect(first: int, last: int, routes: dict[str, Any]) -> int:
    """Shops first..last-1, connected; one in ten with two dead letters. Returns the dead letters made."""
    from bridge import aws, secrets
    from bridge.models.shop import Shop, ShopSecrets
    from bridge.ops import dead_letters as dl
    from bridge.queue import WorkMessage
    from bridge.store import shops

    made = 0
    for n in range(first, last):
        shop_id = f"tienda-{n:04}"
        shops.save(Shop(shop_id=shop_id, cpn_id=n + 1, office_id=1, price_list_id=1), f"hash-{n}")
        secrets.put(shop_id, ShopSecrets(jumpseller_hooks_token=f"hooks-{n}", notify_token=f"notify-{n}"))
        if n % 10:
            continue
        route = routes["bsale"]
        for k in range(2):
            message = WorkMessage(kind="bsale.notification", shop_id=shop_id, payload={"topic": "stock"},
                                  subject=f"stock {k}")
            sent = aws.client("sqs").send_message(QueueUrl=route.url, MessageBody=message.model_dump_json())
            dl.record_failure(sent["MessageId"], message, "Jumpseller answered 500",
                              receive_count=route.queue.max_receives, queue="bsale")
            made += 1
    return made


@contextmanager
def _quick_transactions() -> Iterator[None]:
    """Setup only, never measured: moto copies the whole table for each item of a transaction (to roll back on a
    failure), so connecting 1,000 shops (`shops.save` is one transaction) would take minutes and gigabytes. No
    transaction fails while connecting, so the copy is skipped meanwhile."""
    import moto.dynamodb.models as models

    real = models.copy

    class NoCopy:
        @staticmethod
        def deepcopy(value: Any) -> Any:
            return value

    models.copy = NoCopy  # type: ignore[assignment]
    try:
        yield
    finally:
        models.copy = real


def _measure(work: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]  # a fresh operator process: no secret cached
    meter = Meter()
    started = time.perf_counter()
    with meter.counting():
        got = work()
    seconds = time.perf_counter() - started
    dynamo = {k.split(".", 1)[1]: v for k, v in sorted(meter.calls.items()) if k.startswith("dynamodb.")}
    sqs = {k.split(".", 1)[1]: v for k, v in sorted(meter.calls.items()) if k.startswith("sqs.")}
    return got, {"seconds": round(seconds, 2), "dynamodb_calls": sum(dynamo.values()), "dynamodb_by_call": dynamo,
                 "dynamodb_items_read": meter.items, "ssm_calls": sum(v for k, v in meter.calls.items()
                                                                      if k.startswith("ssm.")),
                 "sqs_calls": sqs, "sqs_receive_message": sqs.get("ReceiveMessage", 0)}


def _size(n: int, routes: dict[str, Any], dead_letters: int) -> dict[str, Any]:
    from bridge import aws
    from bridge.ops import dead_letters as dl
    from bridge.ops.status import dead_letter_totals, fleet, fleet_page

    page, one = _measure(lambda: (fleet_page(PAGE), dead_letter_totals())[0])
    pages, every = _measure(lambda: (list(fleet(PAGE)), dead_letter_totals())[0])
    shown = [h for p in pages for h in p.shops]
    assert len(shown) == len({h.shop_id for h in shown}) == n, len(shown)
    assert sum((h.dead_letters or {}).get("bsale", 0) for h in shown) == dead_letters
    assert len(page.shops) == min(PAGE, n) and one["sqs_receive_message"] == every["sqs_receive_message"] == 0
    _, before = _measure(lambda: [dl.inspect(aws.client("sqs"), route, wait_seconds=0) for route in routes.values()])
    return {"shops": n, "dead_letters": dead_letters, "pages": len(pages), "one_page": one, "all_pages": every,
            "receive_based_receives": before["sqs_receive_message"]}


DUE_FRACTION = 0.01
PERIOD, THRESHOLD = 60 * 60, 24 * 60 * 60  # the defaults: reconcile every 60 min, stale after 24 h


def _settle(n: int, at: int) -> dict[str, int]:
    """Put shops 0..n-1 in the state the ticks before `at` left: due items where those ticks put them, spread over
    the period (reconcile) and the threshold (stale), and one shop in 1/DUE_FRACTION due for each kind."""
    from bridge.store import due, jobs, shops
    from bridge.store import sii as watched
    from bridge.store.sii import Watched

    every = round(1 / DUE_FRACTION)
    counts = {"reconcile": 0, "stale": 0, "stale_silent": 0, "sii": 0}
    for i in range(n):
        shop_id = f"tienda-{i:04}"
        spread = 1 + (i * 7919) % 3000  # seconds: where this shop sits in its period
        started = at - PERIOD - 60 if i % every == 0 else at - PERIOD + spread
        run = f"r{at}-{i}"
        jobs.start(shop_id, "reconcile", run, {}, started)
        jobs.finish(shop_id, "reconcile", run, {}, started + 30)
        jobs.start(shop_id, "sii", run, {}, at - PERIOD)  # the last SII watch (an earlier size's tick) is over
        jobs.finish(shop_id, "sii", run, {}, at - PERIOD)
        due.mark(shop_id, due.RECONCILE, started + PERIOD)
        counts["reconcile"] += i % every == 0
        shops.stamp_notification(shop_id, f"hash-{i}", i + 1, at - spread)  # every shop notified lately...
        looked = at - spread - THRESHOLD if i % every == 1 else at - spread  # ...when last looked at
        if i % every == 1 and i % (2 * every) == 1:  # ...but this one went silent a threshold ago
            shops.stamp_notification(shop_id, f"hash-{i}", i + 1, looked)
            counts["stale_silent"] += 1
        due.mark(shop_id, due.STALE, looked + THRESHOLD + 1)
        counts["stale"] += i % every == 1
        if i % every == 2:
            watched.watch(shop_id, Watched(document_id=i, order_id=i, kind="boleta", emitted_at=at, made_at=at))
            due.mark(shop_id, due.SII, at - 60)
            counts["sii"] += 1
    return counts


def _tick(now: int) -> dict[str, Any]:
    """The schedule function's body (functions/schedule/app.py) at `now`."""
    from bridge.ops.stale import flag_stale_shops
    from bridge.store import due
    from bridge.sync.schedule import queue_due_reconciles, queue_sii_watches

    return {"backfilled": due.backfill_once(now), "flagged_stale": flag_stale_shops(now),
            "reconciles": queue_due_reconciles(now), "sii_watches": queue_sii_watches(now)}


def _old_scan(now: int) -> dict[str, Any]:
    """The tick before due items (main before this change), on the same state: every shop, every reconcile record."""
    from bridge.settings import settings
    from bridge.store import jobs, shops
    from bridge.sync.jobs import RECONCILE, SII_WATCH, request

    every = shops.all_shops()
    stale = [s.shop_id for s in every if s.bsale_account and now - (s.last_notification_at or s.connected_at)
             > (s.options.stale_after_minutes or settings().stale_after_minutes) * 60]
    flagged = [shop_id for shop_id in stale if shops.flag_stale(shop_id, now)]
    reconciles = []
    for shop in every:
        if not shop.bsale_account or shop.disconnected_at is not None:
            continue
        record = jobs.get(shop.shop_id, RECONCILE)
        if (record is None or now - int(record.get("started_at", 0)) >= shop.options.reconcile_every_minutes * 60) \
                and request(shop.shop_id, RECONCILE, reason="schedule") is not None:
            reconciles.append(shop.shop_id)
    sii = [s.shop_id for s in every if s.bsale_account and request(s.shop_id, SII_WATCH, reason="schedule")]
    return {"flagged_stale": flagged, "reconciles": reconciles, "sii_watches": sii}


def _tick_size(n: int, at: int) -> dict[str, Any]:
    counts = _settle(n, at)
    done, new = _measure(lambda: _tick(at))
    assert done["backfilled"] == 0 and len(done["reconciles"]) == counts["reconcile"], done
    assert len(done["flagged_stale"]) == counts["stale_silent"] and len(done["sii_watches"]) == counts["sii"], done
    _settle(n, at)  # the same state again for the old tick
    old_done, old = _measure(lambda: _old_scan(at))
    assert sorted(old_done["reconciles"]) == sorted(done["reconciles"]), old_done["reconciles"]
    assert sorted(old_done["flagged_stale"]) == sorted(done["flagged_stale"])
    acted = {k: len(v) for k, v in done.items() if isinstance(v, list)}
    return {"shops": n, "due": counts, "tick": {**new, **acted}, "old_scan": {**old, "sii_watches": len(
        old_done["sii_watches"])}}


def _backfill(n: int) -> dict[str, Any]:
    """The one-off backfill of a deployment older than due items: n shops, no due item, no marker."""
    from bridge.store import due, keys
    from bridge.store.table import client, name, serialize

    client().delete_item(TableName=name(), Key=serialize(keys.due_backfill_marker()))
    done, cost = _measure(lambda: due.backfill_once(int(time.time())))
    assert done == n, done
    return {"shops": n, **{k: cost[k] for k in ("seconds", "dynamodb_calls", "dynamodb_by_call")}}


def _tick_table(rows: list[dict[str, Any]]) -> str:
    head = ("shops", "tick", "due per kind", "seconds", "DynamoDB calls", "items read", "SQS sends")
    lines = [head]
    for r in rows:
        for label, m in (("due items", r["tick"]), ("old scan", r["old_scan"])):
            lines.append((str(r["shops"]), label, str(r["due"]["reconcile"]), f"{m['seconds']:.2f}",
                          str(m["dynamodb_calls"]), str(m["dynamodb_items_read"]),
                          str(m["sqs_calls"].get("SendMessage", 0))))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("shops", "read", "pages", "seconds", "DynamoDB calls", "items read", "SSM calls", "SQS calls",
            "ReceiveMessage", "receive-based")
    lines = [head]
    for r in rows:
        for label, m in (("1 page", r["one_page"]), ("all pages", r["all_pages"])):
            lines.append((str(r["shops"]), label, str(1 if label == "1 page" else r["pages"]), f"{m['seconds']:.2f}",
                          str(m["dynamodb_calls"]), str(m["dynamodb_items_read"]), str(m["ssm_calls"]),
                          str(sum(m["sqs_calls"].values())), str(m["sqs_receive_message"]),
                          str(r["receive_based_receives"]) if label == "all pages" else ""))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)


def run() -> dict[str, Any]:
    import os

    from moto import mock_aws

    from bridge import aws
    from bridge.observability import logger
    from bridge.settings import settings

    logger.setLevel("ERROR")  # each dead letter made on purpose would log a warning between the figures
    os.environ.update(TABLE_NAME=TABLE, SHARED_RATE_LIMITS="false", AWS_DEFAULT_REGION="us-east-1",
                      SECRETS_PREFIX="/bench-fleet")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    settings.cache_clear()
    aws.reset()
    rows: list[dict[str, Any]] = []
    ticks: list[dict[str, Any]] = []
    with mock_aws():
        routes = _setup()
        connected, dead = 0, 0
        for k, n in enumerate(SIZES):
            with _quick_transactions():
                dead += _connect(connected, n, routes)
            connected = n
            rows.append(_size(n, routes, dead))
            # each size's tick well after the last one's (its jobs' leases over)
            ticks.append(_tick_size(n, int(time.time()) + 10_000 * (k + 1)))
        backfill = _backfill(connected)
    aws.reset()
    print(f"status of a fleet, page size {PAGE} (moto in process):\n{_table(rows)}", file=sys.stderr)
    print(f"one schedule tick, {DUE_FRACTION:.0%} of the shops due for each kind (moto in process):\n"
          f"{_tick_table(ticks)}", file=sys.stderr)
    return {"page_size": PAGE, "by_fleet_size": rows,
            "tick": {"due_fraction": DUE_FRACTION, "by_fleet_size": ticks, "backfill_once": backfill}}
