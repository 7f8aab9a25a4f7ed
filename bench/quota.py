"""The shared per-shop quotas under a burst, against sandboxes that enforce rolling windows (Bsale 8/s;
Jumpseller 20/s and 800/min).

1,000 stock notifications spread over 10 shops arrive at once; 5 webhook workers (the Bsale queue's
MaximumConcurrency), each its own process as far as pacing goes (its own local pace), serve them: one Bsale
read and one Jumpseller read each; a spent quota hands the message back, delayed (bridge.queue.defer). Beside them
2 bulk workers (the sync queue's MaximumConcurrency) run a reconcile-like series of reads on shops 0 and 1.
Reported: the 429 answers the sandboxes gave, and the quota's DynamoDB writes per outbound call, webhook and bulk.
Moto runs in process, each request under one lock (DynamoDB applies a conditional write atomically; moto does not).
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections import deque
from types import SimpleNamespace
from typing import Any

SHOPS = 10
NOTIFICATIONS = 1_000
WEBHOOK_WORKERS = 5
BULK_WORKERS = 2
BULK_CALLS = 120  # per bulk worker, on each API


LIVE_EVERY = 0.5  # seconds between two live changes beside the bulk work
BESIDE_SECONDS = 15.0
RECONCILE_CALLS = {"bsale": 200, "jumpseller": 201}  # bench/reconcile.py's 10,000 SKUs, 1 % drift


def _bulk_reconcile_calls(clients: Any, role: Any, n: int) -> dict[str, Any]:
    """One bulk process making a 10,000-SKU reconcile's calls on shop n, timed against the published limits."""
    role.name = "bulk"
    b, j = clients(n, bulk=True)
    started = time.perf_counter()
    for _ in range(RECONCILE_CALLS["bsale"]):
        b.get_json("/v1/stocks.json", {"limit": 50})
    for _ in range(RECONCILE_CALLS["jumpseller"]):
        j.get_json("/products.json", {"limit": 100})
    elapsed = time.perf_counter() - started
    floor = RECONCILE_CALLS["bsale"] / 8 + RECONCILE_CALLS["jumpseller"] / 20
    return {"calls": RECONCILE_CALLS, "elapsed_s": round(elapsed, 1), "published_limit_floor_s": round(floor, 1),
            "elapsed_over_floor": round(elapsed / floor, 3)}


def _live_waits(clients: Any, role: Any, n: int, seconds: float) -> dict[str, Any]:
    """Live changes on shop n, one every LIVE_EVERY s for `seconds`: each one's time waiting for the quota."""
    from bridge.clients.http import RateLimited

    role.name = "webhook"
    b, j = clients(n, bulk=False)
    waited: list[float] = []

    class Timed:  # the client's pace, noting each wait
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def wait(self) -> float:
            w: float = self.inner.wait()
            waited.append(w)
            return w

    b.pace, j.pace = Timed(b.pace), Timed(j.pace)
    waits: list[float] = []
    handed_back = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        tick = time.perf_counter()
        waited.clear()
        try:
            b.get_json("/v1/stocks.json", {"limit": 1})
            j.get_json("/products/count.json")
            waits.append(sum(waited))
        except RateLimited:
            handed_back += 1
        time.sleep(max(0.0, LIVE_EVERY - (time.perf_counter() - tick)))
    waits.sort()
    return {"changes": len(waits) + handed_back, "handed_back": handed_back,
            "p50": round(1000 * waits[len(waits) // 2], 1) if waits else None,
            "max": round(1000 * waits[-1], 1) if waits else None}


def run() -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from bridge import aws
    from bridge.clients import bsale as bsale_api
    from bridge.clients import jumpseller as jumpseller_api
    from bridge.clients.bsale import BsaleClient
    from bridge.clients.http import Pace, RateLimited
    from bridge.clients.jumpseller import JumpsellerClient
    from bridge.settings import settings
    from bridge.shops import context
    from sandboxes.bsale import BsaleSandbox
    from sandboxes.jumpseller import JumpsellerSandbox

    os.environ.update(TABLE_NAME="bench-quota", SHARED_RATE_LIMITS="true", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    settings.cache_clear()
    aws.reset()
    from devstack.moto_server import as_aws

    as_aws()  # DynamoDB applies a conditional write atomically (moto needs a lock for that), and more alike
    role = threading.local()
    writes = {"webhook": 0, "bulk": 0}
    reads = {"webhook": 0, "bulk": 0}
    count_lock = threading.Lock()

    def count(params: dict[str, Any], event_name: str, **_: Any) -> None:
        key = params.get("Key") or params.get("Item") or {}
        if str(key.get("sk", {}).get("S", "")).startswith("RATE#"):
            with count_lock:
                (reads if event_name.endswith("GetItem") else writes)[role.name] += 1

    with mock_aws(), BsaleSandbox() as bsale, JumpsellerSandbox() as jumpseller:
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="bench-quota", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        events = aws.client("dynamodb").meta.events
        for op in ("PutItem", "UpdateItem", "GetItem"):
            events.register(f"before-parameter-build.dynamodb.{op}", count)
        shops = []
        for n in range(SHOPS):
            account = bsale.add_account(f"bench-quota-{n}", 9000 + n, f"Tienda {n} SpA")
            store = jumpseller.add_store(f"shop-{n}")
            shops.append((f"shop-{n}", account.token, store.login, store.auth_token))

        def clients(n: int, *, bulk: bool, shared: bool = True) -> tuple[BsaleClient, JumpsellerClient]:
            """One process's clients for shop n: its own local paces, the shop's shared quotas."""
            shop_id, token, login, auth = shops[n]
            shop: Any = SimpleNamespace(shop_id=shop_id)
            b_pace: Any = Pace(bsale_api.RATE_PER_SECOND)
            j_pace: Any = Pace(jumpseller_api.RATE_PER_SECOND, jumpseller_api.RATE_PER_MINUTE)
            if shared:
                b_pace = context._pace(shop, "bsale", b_pace, bulk, not bulk)
                j_pace = context._pace(shop, "jumpseller", j_pace, bulk, not bulk)
            return (BsaleClient(token, bsale.url, bsale.url, pace=b_pace),
                    JumpsellerClient(login, auth, f"{jumpseller.url}/v1", pace=j_pace))

        queue: deque[tuple[float, int]] = deque((0.0, i % SHOPS) for i in range(NOTIFICATIONS))
        queue_lock = threading.Lock()
        done = [0]
        deferred = [0]

        def webhook_worker() -> None:
            role.name = "webhook"
            mine = {n: clients(n, bulk=False) for n in range(SHOPS)}  # this process's clients
            while True:
                with queue_lock:
                    if not queue:
                        return
                    not_before, n = queue.popleft()
                    if not_before > time.time():
                        queue.append((not_before, n))
                        item = None
                    else:
                        item = n
                if item is None:
                    time.sleep(0.005)
                    continue
                b, j = mine[item]
                try:
                    b.get_json("/v1/stocks.json", {"limit": 1})
                    j.get_json("/products/count.json")
                except RateLimited as exc:
                    with queue_lock:  # handed back, visible again after the quota's wait (SQS: whole seconds)
                        queue.append((time.time() + math.ceil(exc.seconds), item))
                        deferred[0] += 1
                    continue
                with queue_lock:
                    done[0] += 1

        def bulk_worker(n: int) -> None:
            role.name = "bulk"
            b, j = clients(n, bulk=True)
            for _ in range(BULK_CALLS):
                b.get_json("/v1/stocks.json", {"limit": 50})
                j.get_json("/products.json", {"limit": 100})

        # Bulk alone, then beside live changes, on a shop of its own (shop 9's quota is idle by then): the
        # reconcile's calls (200 Bsale pages, then 201 Jumpseller calls) made by one bulk process, against the
        # time the published limits impose (8/s, 20/s); and live calls (a Bsale read and a Jumpseller write's
        # worth: a Jumpseller read) every LIVE_EVERY s, timed in their wait for the quota, next to the same
        # calls with no bulk work beside them.
        bulk_alone = _bulk_reconcile_calls(clients, role, n=SHOPS - 1)
        bulk_alone["quota_writes_per_call"] = round(writes["bulk"] / sum(RECONCILE_CALLS.values()), 3)
        # The same calls paced by the process alone (no shared quota): what the sandboxes' own speed allows here
        bulk_alone["local_pace_only"] = _bulk_reconcile_calls(functools.partial(clients, shared=False), role,
                                                              n=SHOPS - 3)
        live_alone = _live_waits(clients, role, n=SHOPS - 4, seconds=BESIDE_SECONDS)
        beside: dict[str, Any] = {}
        runner = threading.Thread(target=lambda: beside.update(_bulk_reconcile_calls(clients, role, n=SHOPS - 2)))
        runner.start()
        time.sleep(2.0)  # bulk running at full pace first: the live calls must make it yield
        live_beside = _live_waits(clients, role, n=SHOPS - 2, seconds=BESIDE_SECONDS)
        runner.join()
        refused_before = {"bsale": bsale.count(status=429), "jumpseller": jumpseller.count(status=429)}
        outbound_before = len(bsale.requests) + len(jumpseller.requests)
        for key in writes:
            writes[key] = reads[key] = 0

        started = time.perf_counter()
        threads = [threading.Thread(target=webhook_worker) for _ in range(WEBHOOK_WORKERS)]
        threads += [threading.Thread(target=bulk_worker, args=(n,)) for n in range(BULK_WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        outbound = len(bsale.requests) + len(jumpseller.requests) - outbound_before
        bulk_requests = 2 * BULK_WORKERS * BULK_CALLS
        result = {
            "bulk_alone": bulk_alone,
            "live_beside_bulk": {"every_s": LIVE_EVERY, "quota_wait_ms_alone": live_alone,
                                 "quota_wait_ms_beside_bulk": live_beside, "bulk_meanwhile": beside},
            "notifications": NOTIFICATIONS, "shops": SHOPS, "webhook_workers": WEBHOOK_WORKERS,
            "bulk_workers": BULK_WORKERS, "bulk_calls": bulk_requests,
            "handled": done[0], "handed_back": deferred[0], "elapsed_s": round(elapsed, 1),
            "rate_limited_429_answers": {"bsale": bsale.count(status=429) - refused_before["bsale"],
                                         "jumpseller": jumpseller.count(status=429) - refused_before["jumpseller"]},
            "rate_limited_429_answers_before_the_burst": refused_before,
            "outbound_requests": outbound,
            "quota_writes": writes,
            "quota_consistent_reads": reads,
            "quota_writes_per_call": {
                "webhook": round(writes["webhook"] / max(1, outbound - bulk_requests), 3),
                "bulk": round(writes["bulk"] / max(1, bulk_requests), 3),
            },
        }
    return result


if __name__ == "__main__":
    import json
    import sys

    sys.path[:0] = [".", "layers/common"]
    print(json.dumps(run(), indent=2))
