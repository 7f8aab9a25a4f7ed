"""Reconcile of a 10,000-SKU shop with 1 % drift, against the sandboxes.

Each sandbox runs in a child process of its own and moto in another (the stack's `moto_process`), so the memory
figure is the reconcile's own: the peak of Python allocations (tracemalloc) while the job runs in this process,
slice after slice. Three children, as the three services are three hosts in production: in one process, one
service's work (moto's serializing of a 10,000-link Query, Jumpseller's of a page of 100 products) holds the GIL
the others answer under, and their calls wait for it. Printed next to:
- API calls made against the minimum: the pages of both catalogs plus one write per drifted SKU;
- elapsed time against the time the rate limits alone impose on those calls, at the published limits and
  at the pace the shared quota lets a bulk job keep while no live call competes (bridge/store/rate.py);
- the DynamoDB calls the reconcile made, by operation and by the kind of item named (the sort key's prefix);
- the manual link of the same catalog, which the reconcile needs first.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from bench.notifications import QUIET, pct, summary

CHILD = "--servers"
LIVE = "--live"
LIVE_EVERY = 0.5  # seconds between two live changes
LIVE_ALONE_S = 20.0  # the live changes' own series, between the two reconciles


def servers(role: str, skus: int, drift_percent: float) -> None:
    """Child process: one sandbox (`role`: bsale or jumpseller), seeded with `skus` matching products; prints
    where it listens and the ids of the drifted SKUs' products there."""
    step = max(1, int(100 / drift_percent))
    if role == "bsale":
        from sandboxes.bsale import BsaleSandbox

        bsale = BsaleSandbox().start()
        account = bsale.add_account("bench-bsale-token", 4242, "Bench SpA")
        office = account.add_office("Tienda Online", is_virtual=True)
        price_list = account.add_price_list("Lista Base")
        drift, again, live = [], [], []
        for i in range(skus):
            product = account.add_product(f"Producto {i}", [{"code": f"SKU-{i:05d}", "stock": {office.id: i % 40},
                                                              "price": 1000 + i}])
            variant = next(v.id for v in account.variants.values() if v.product_id == product.id)
            for wanted, ids in ((0, drift), (step // 3, again), (2 * step // 3, live)):
                if i % step == wanted:
                    ids.append(variant)
        where: dict[str, Any] = {"bsale": bsale.url, "office": office.id, "price_list": price_list.id, "cpn": 4242,
                                 "drift": drift, "again": again, "live": live}
    else:
        from sandboxes.jumpseller import JumpsellerSandbox

        jumpseller = JumpsellerSandbox().start()
        store = jumpseller.add_store("bench-shop")
        drift, again = [], []
        for i in range(skus):
            js = store.add_product(f"Producto {i}", sku=f"SKU-{i:05d}", stock=i % 40, price=1000 + i, notify=False)
            for wanted, ids in ((0, drift), (step // 3, again)):
                if i % step == wanted:
                    ids.append(js.id)
        where = {"jumpseller": jumpseller.url, "store": store.code, "login": store.login, "auth": store.auth_token,
                 "hooks": store.hooks_token, "drift": drift, "again": again}
    print(json.dumps(where), flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin


def live(where_json: str, base: int) -> None:
    """Child process, a webhook worker of its own: a live stock change (to base + n units, new in each series)
    every LIVE_EVERY s until stdin closes, each handled as the catalog worker handles a Bsale notification. Prints
    each one's time from the change in Bsale to the worker done (Jumpseller written), and how many the spent quota
    handed back (retried after the delay it said, as the queue would)."""
    import threading

    from bridge.clients.http import RateLimited, SharedPace
    from bridge.queue import WorkMessage
    from bridge.sync.worker import handle_catalog_event

    where = json.loads(where_json)
    # Each change's wait for the shop's quota (what bulk work beside it can cost it), apart from the rest of its
    # time (DynamoDB and the APIs, on a machine the reconcile's processes share)
    waited: list[float] = []
    quota_wait = SharedPace.wait

    def timed(pace: SharedPace) -> float:
        seconds = quota_wait(pace)
        waited.append(seconds)
        return seconds

    SharedPace.wait = timed  # type: ignore[method-assign]
    waits: list[float] = []
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    times: list[float] = []
    handed_back = n = 0
    while not stop.is_set():
        variant = where["live"][n % len(where["live"])]
        started = time.perf_counter()
        waited.clear()
        _set_bsale_stock(where, variant, base + n)
        message = WorkMessage(kind="bsale.notification", shop_id=where["store"], subject=f"stock {variant}",
                              payload={"cpnId": where["cpn"], "resource": f"/v2/stocks.json?variant={variant}",
                                       "resourceId": str(variant), "topic": "stock", "action": "put",
                                       "officeId": str(where["office"]), "send": int(time.time())})
        while True:
            try:
                outcome = handle_catalog_event(message)
                break
            except RateLimited as exc:
                handed_back += 1
                time.sleep(exc.seconds)
        if outcome.action != "written":
            raise RuntimeError(f"a live change was not written: {outcome}")
        times.append(time.perf_counter() - started)
        waits.append(sum(waited))
        waited.clear()
        n += 1
        stop.wait(max(0.0, LIVE_EVERY - (time.perf_counter() - started)))
    print(json.dumps({"times": times, "quota_waits": waits, "handed_back": handed_back}), flush=True)


@contextmanager
def _live_changes(where: dict[str, Any], base: int) -> Iterator[dict[str, Any]]:
    """Live changes made by a child process while the block runs; their figures once it ends (the first change,
    the child's cold start, left out)."""
    child = subprocess.Popen([sys.executable, "-m", "bench.reconcile", LIVE, json.dumps(where), str(base)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": ".:layers/common"})
    figures: dict[str, Any] = {}
    try:
        yield figures
    finally:
        out, err = child.communicate(timeout=60)
    lines = out.strip().splitlines()
    if child.returncode or not lines:
        raise RuntimeError(f"the live changes' process failed: {err[-2000:]}")
    told = json.loads(lines[-1])
    times, waits = told["times"][1:], told["quota_waits"][1:]
    figures.update(changes=len(times), handed_back=told["handed_back"], **summary(times),
                   max_ms=round(1000 * max(times), 1), quota_wait_p50_ms=pct(waits, 50),
                   quota_wait_p99_ms=pct(waits, 99),
                   # when the slow ones came: the n-th change of the series (0.5 s apart)
                   over_300_ms_at=[n + 1 for n, t in enumerate(times) if t > 0.3])


def _set_bsale_stock(where: dict[str, Any], variant_id: int, quantity: int) -> None:
    """A stock change in the Bsale sandbox, with no notification (the caller decides who hears of it)."""
    requests.put(f"{where['bsale']}/_sandbox/accounts/{where['cpn']}/stock", timeout=10,
                 json={"variant_id": variant_id, "office_id": where["office"], "quantity": quantity})


def _drive(message: Any) -> int:
    """Run a job's slices in this process until it is done; return the number of slices."""
    from bridge.sync.jobs import handle_sync_message

    slices = 0
    while True:
        slices += 1
        if handle_sync_message(message).action != "paused":
            return slices


def _calls(url: str) -> dict[str, int]:
    requests_log = requests.get(f"{url}/_sandbox/requests", timeout=30).json()
    counted: dict[str, int] = {}
    for r in requests_log:
        key = f"{r['method']}{' 429' if r['status'] == 429 else ''}"
        counted[key] = counted.get(key, 0) + 1
    return counted


@contextmanager
def _counting_dynamodb() -> Iterator[dict[str, int]]:
    """This process's DynamoDB calls meanwhile: by "Operation", and by "Operation KIND" where the call names an item
    or a sort key prefix (KIND: the sort key up to its first #, e.g. LINK, RATE, JOB)."""
    from bridge import aws

    calls: dict[str, int] = {}

    def count(params: dict[str, Any], event_name: str, **_: Any) -> None:
        op = event_name.rsplit(".", 1)[-1]
        key = params.get("Key") or params.get("Item") or {}
        sk = str(key.get("sk", {}).get("S", "")) or str(params.get("ExpressionAttributeValues", {}).get(
            ":s", {}).get("S", ""))
        calls[op] = calls.get(op, 0) + 1
        if sk:
            kind = f"{op} {sk.split('#', 1)[0]}"
            calls[kind] = calls.get(kind, 0) + 1

    events = aws.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb", count, unique_id="bench-reconcile")
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="bench-reconcile")


def run(skus: int = 10_000, drift_percent: float = 1.0) -> dict[str, Any]:
    from bridge import aws
    from bridge.queue import WorkMessage
    from bridge.settings import settings
    from bridge.shops.connect import ConnectRequest, connect
    from bridge.store import jobs, rate
    from devstack import LocalStack

    children = [subprocess.Popen([sys.executable, "-m", "bench.reconcile", CHILD, role, str(skus), str(drift_percent)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 env={**os.environ, "PYTHONPATH": ".:layers/common"})
                for role in ("bsale", "jumpseller")]
    told = [json.loads(child.stdout.readline()) for child in children if child.stdout is not None]
    # (Bsale variant id, Jumpseller product id) of the SKUs drifted before each reconcile
    drift = list(zip(told[0]["drift"], told[1]["drift"], strict=True))
    again = list(zip(told[0]["again"], told[1]["again"], strict=True))
    where: dict[str, Any] = {**told[0], **told[1], "drift": drift, "again": again}
    stack = LocalStack(moto_process=True, pollers=False, api=False, schedules=False, parameters=QUIET).start()
    try:
        aws.reset()
        settings.cache_clear()
        connect(ConnectRequest(
            store_code=where["store"], jumpseller_login=where["login"], jumpseller_auth_token=where["auth"],
            jumpseller_hooks_token=where["hooks"], bsale_token="bench-bsale-token", office_id=where["office"],
            price_list_id=where["price_list"], bsale_api_url=where["bsale"], bsale_credential_url=where["bsale"],
            jumpseller_api_url=f"{where['jumpseller']}/v1",
        ))
        shop = where["store"]

        def job(kind: str, params: dict[str, str], run: str = "") -> tuple[float, int, dict[str, Any]]:
            run_id = jobs.start(shop, kind, f"bench-{kind}{run}", params, jobs.now()) and f"bench-{kind}{run}"
            assert run_id, kind
            message = WorkMessage(kind=f"sync.{kind}", shop_id=shop, payload={"run": run_id})  # type: ignore[arg-type]
            started = time.perf_counter()
            slices = _drive(message)
            record = jobs.get(shop, kind) or {}
            return time.perf_counter() - started, slices, jobs.result_of(record) or {}

        def make_drift(pairs: list[list[int]]) -> None:
            """Half changed in Bsale without a notification, half edited by hand in Jumpseller."""
            for n, (variant_id, product_id) in enumerate(pairs):
                if n % 2 == 0:
                    _set_bsale_stock(where, variant_id, 99)
                else:
                    requests.put(f"{where['jumpseller']}/_sandbox/stores/{shop}/products/{product_id}", timeout=10,
                                 json={"stock": 77})
            for url in (where["bsale"], where["jumpseller"]):
                requests.delete(f"{url}/_sandbox/requests", timeout=10)

        link_seconds, _, link_report = job("manual", {"mode": "link"})

        drifted = len(where["drift"])
        make_drift(where["drift"])
        with _counting_dynamodb() as dynamodb:
            tracemalloc.start()
            seconds, slices, result = job("reconcile", {})
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        bsale_calls, js_calls = _calls(where["bsale"]), _calls(where["jumpseller"])

        with _live_changes(where, 200) as live_alone:  # the live changes' own pace, no bulk work beside them
            time.sleep(LIVE_ALONE_S)
        # Again, on other drifted SKUs, with live changes all along
        make_drift(where["again"])
        with _live_changes(where, 2000) as live_beside:
            beside_seconds, _, beside_result = job("reconcile", {}, run="-beside-live")
        beside_bsale, beside_js = _calls(where["bsale"]), _calls(where["jumpseller"])
    finally:
        stack.stop()  # and its moto child
        for child in children:
            if child.stdin:
                child.stdin.close()
            child.wait(timeout=30)

    bsale_pages = math.ceil(skus / 50)  # stock rows of the office, 50 a page (no price pages: price sync off)
    js_pages = skus // 100 + 1  # 100 a page; a short (here empty) page says it was the last
    reads = bsale_calls.get("GET", 0) + js_calls.get("GET", 0)
    writes = js_calls.get("PUT", 0)
    floor_published = bsale_calls.get("GET", 0) / 8 + (js_calls.get("GET", 0) + writes) / 20
    from bridge.shops.context import QUOTAS

    # The pace a bulk job may keep while no live call competes: the quota's cap per stretched window
    bsale_pace = QUOTAS["bsale"][0].cap / (1 + rate.JITTER + rate.SLOT + rate.ROUNDING)
    js_pace = QUOTAS["jumpseller"][0].cap / (1 + rate.JITTER + rate.SLOT + rate.ROUNDING)
    floor_bulk_share = bsale_calls.get("GET", 0) / bsale_pace + (js_calls.get("GET", 0) + writes) / js_pace
    return {
        "benchmark": "reconcile",
        "skus": skus, "drifted": drifted,
        "fixed": result.get("fixed"),
        "api_calls": {"bsale": bsale_calls, "jumpseller": js_calls, "total": reads + writes,
                      "minimum": bsale_pages + js_pages + drifted,
                      "minimum_detail": {"bsale_stock_pages": bsale_pages, "jumpseller_pages": js_pages,
                                         "writes": drifted}},
        "elapsed_s": round(seconds, 1),
        "rate_limit_floor_s": {"published_limits": round(floor_published, 1),
                               "bulk_quota_pace": round(floor_bulk_share, 1)},
        "elapsed_over_published_floor": round(seconds / floor_published, 2),
        "rate_limited_429_answers": {"bsale": bsale_calls.get("GET 429", 0) + bsale_calls.get("PUT 429", 0),
                                     "jumpseller": sum(v for k, v in js_calls.items() if k.endswith("429"))},
        "slices": slices,
        "dynamodb_calls": {"total": sum(v for k, v in dynamodb.items() if " " not in k),
                           **dict(sorted(dynamodb.items()))},
        "peak_python_memory_mb": round(peak / 2**20, 1),
        "manual_link_first": {"elapsed_s": round(link_seconds, 1), "linked": link_report.get("linked")},
        "beside_live_changes": {
            "live_every_s": LIVE_EVERY,
            "live_alone": live_alone,
            "live_during_the_reconcile": live_beside,
            "live_p99_beside_over_alone": round(live_beside["p99_ms"] / live_alone["p99_ms"], 2),
            "reconcile_elapsed_s": round(beside_seconds, 1), "fixed": beside_result.get("fixed"),
            "rate_limited_429_answers": {
                "bsale": sum(v for k, v in beside_bsale.items() if k.endswith("429")),
                "jumpseller": sum(v for k, v in beside_js.items() if k.endswith("429"))},
        },
    }


if __name__ == "__main__":
    if sys.argv[1:2] == [CHILD]:
        servers(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1:2] == [LIVE]:
        live(sys.argv[2], int(sys.argv[3]))
    else:
        sys.path[:0] = [".", "layers/common"]
        print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000), indent=2))
