"""Propagation (issue 12): Bsale stock change → Jumpseller stock, next to the floor of the same run.

One run on the local stack (moto, API, pollers) against the sandboxes, with their real rate limits:

- floor: the calls the path cannot avoid, made directly one after another with the product's own clients, on a
  second Bsale company and Jumpseller store (so they spend none of the shop's quota): the acknowledgement's
  conditional UpdateItem + SendMessage, one ReceiveMessage, one Bsale stock read, one Jumpseller stock write;
- steady: changes spaced out (one every ~200 ms), round robin over the bench SKUs, each timed from the Bsale
  sandbox change until the Jumpseller sandbox shows it; a floor sample is taken after each landing, so drift in
  the machine's speed (2 shared cores) affects both series alike;
- burst: one change on each of that many SKUs, all made at once; the last one's landing against the time the rate limits
  impose (changes × calls per change / limit, for the binding API) plus one floor (p50); and against the same at
  the pace the shared quota keeps on purpose (each window stretched by rate.JITTER, so that no rolling second of
  arrivals exceeds the limit): the best the bridge can reach, about 1.1 × the first bound.

Knobs: BENCH_PROPAGATION_CHANGES (300), BENCH_PROPAGATION_BURST (300: as many SKUs, one change each),
BENCH_PROPAGATION_SPACING_MS (200).
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from typing import Any

from bench.notifications import _bare_aws_calls, _stack, pct, summary

BSALE_CALLS_PER_CHANGE = 1  # the stock read; a notification cannot be acted on without it
JUMPSELLER_CALLS_PER_CHANGE = 1  # the stock write


def _knob(name: str, default: int) -> int:
    return int(os.environ.get(f"BENCH_PROPAGATION_{name}", default))


def _floor_calls(bsale: Any, jumpseller: Any) -> Any:
    """The path's unavoidable calls, back to back, on their own Bsale company and Jumpseller store."""
    from bridge import aws
    from bridge.clients.bsale import BsaleClient
    from bridge.clients.jumpseller import JumpsellerClient
    from bridge.models.jumpseller import Target
    from bridge.shops.connect import ConnectRequest, connect

    account = bsale.demo_account(token="floor-bsale-token", cpn_id=1999, name="floor SpA")
    store = jumpseller.demo_store("floor-store")
    office = next(o for o in account.offices.values() if o.is_virtual)
    connect(ConnectRequest(  # a real shop row, so the conditional UpdateItem is the acknowledgement's own
        store_code="floor-store", jumpseller_login=store.login, jumpseller_auth_token=store.auth_token,
        jumpseller_hooks_token=store.hooks_token, bsale_token=account.token, office_id=office.id,
        price_list_id=next(iter(account.price_lists)), bsale_api_url=bsale.url, bsale_credential_url=bsale.url,
        jumpseller_api_url=f"{jumpseller.url}/v1", api_url="http://127.0.0.1:1",
    ))
    variant = str(account.variant_by_code("TAZA-1").id)
    product, _ = store.find_sku("TAZA-1")
    bsale_client = BsaleClient(account.token, base_url=bsale.url, credential_url=bsale.url)
    js_client = JumpsellerClient(store.login, store.auth_token, base_url=f"{jumpseller.url}/v1")
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName="bench-propagation-floor", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    acknowledge = _bare_aws_calls("floor-store", queue)  # the acknowledgement's UpdateItem + SendMessage
    counter = iter(range(10**9))

    def calls() -> float:
        t = time.perf_counter()
        acknowledge()
        sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=0)
        bsale_client.available_stock(variant, str(office.id))
        js_client.set_stock(Target(product.id), next(counter) % 1000, name=product.name, price=product.price)
        return time.perf_counter() - t

    return calls


def _add_skus(shop: Any, bsale: Any, stack: Any, count: int) -> list[str]:
    """`count` more SKUs on both sides, linked the way an operator would: one manual "link" sync (list calls),
    not one notification per variant, so setting up hundreds of SKUs stays well inside the default run."""
    from bridge.store import links
    from bridge.sync import jobs

    skus = [f"BENCH-{i:03d}" for i in range(count)]
    bsale.notifications_enabled = False  # created quietly; the sync below links them
    for sku in skus:
        shop.bsale.add_product(f"Bench {sku}", [{"code": sku, "stock": {shop.office_id: 500}, "price": 1000}])
        shop.store.add_product(f"Bench {sku}", sku=sku, stock=500, price=1000, notify=False)
    bsale.notifications_enabled = True
    bsale.suppressed.clear()
    jobs.request(shop.code, "manual", {"mode": "link"}, reason="bench")
    deadline = time.monotonic() + 120
    while not all(links.get(shop.code, str(shop.variant_id(sku))) for sku in skus):
        if time.monotonic() > deadline:
            raise RuntimeError("the manual link sync did not link the bench SKUs")
        stack.drain(5)
    return skus


def _bsale_windows(bsale: Any, token: str, start: float, end: float) -> dict[str, Any]:
    """How the burst used the shop's Bsale limit: the calls Bsale answered in each one-second window it spanned
    (the sandbox's request log), to tell the quota's pace from the pipeline's. The quota itself is a rolling
    log (bridge/store/rate.py) that keeps only its last seconds."""
    from bridge.shops.context import QUOTAS

    first, last = int(start), int(end)
    per_window = [0] * (last - first + 1)
    for r in bsale.requests:
        if r.credential == token and r.status != 429 and first <= r.at < last + 1:
            per_window[int(r.at) - first] += 1
    cap = QUOTAS["bsale"][0].cap
    return {"windows": len(per_window), "cap_per_window": cap, "calls": sum(per_window),
            "full_windows": sum(1 for n in per_window if n >= cap), "empty_windows": per_window.count(0),
            "mean_calls_per_window": round(sum(per_window) / max(1, len(per_window)), 2)}


def per_change(calls: list[Any], changes: int) -> dict[str, float]:
    """AWS calls the product made (its functions, and Lambda's SQS event sources feeding them; not the bench's own
    drain and floor calls), by operation, per change: what the path spends beyond the floor. moto tells whose each
    call is (``LocalStack.aws_calls``)."""
    counts = collections.Counter(c.operation for c in calls if c.function is not None)
    return {op: round(n / changes, 2) for op, n in sorted(counts.items())}


def _holder(store: Any, sku: str) -> Any:
    found = store.find_sku(sku)
    assert found is not None, sku
    product, variant = found
    return variant or product


def run() -> dict[str, Any]:
    from demo import connect_demo_shop
    from sandboxes.bsale import BsaleSandbox
    from sandboxes.jumpseller import JumpsellerSandbox

    changes, burst = _knob("CHANGES", 300), _knob("BURST", 300)
    spacing = _knob("SPACING_MS", 200) / 1000
    load_start = os.getloadavg()
    stack = _stack(moto_process=True)  # AWS is another host: moto shares no GIL with the sandboxes
    try:
        with BsaleSandbox() as bsale, JumpsellerSandbox() as jumpseller:
            shop = connect_demo_shop(stack.api_url, bsale, jumpseller)
            floor = _floor_calls(bsale, jumpseller)
            skus = _add_skus(shop, bsale, stack, burst)  # one SKU per burst change: none can coalesce
            variants = {sku: shop.variant_id(sku) for sku in skus}
            stack.drain(30)
            for _ in range(20):  # warm up imports, connections, caches
                floor()

            # What Jumpseller shows, read off the sandbox's own objects (written in place): a lookup by SKU scans
            # every product under the sandbox's lock, which would slow the requests being measured.
            holders = {sku: _holder(shop.store, sku) for sku in skus}

            def shows(sku: str) -> int:
                return int(holders[sku].stock)

            def change(sku: str, quantity: int) -> float:
                t = time.perf_counter()
                shop.bsale.set_stock(variants[sku], shop.office_id, quantity)
                while shows(sku) != quantity:
                    if time.perf_counter() - t > 60:
                        raise RuntimeError(f"{sku} never showed {quantity}")
                    time.sleep(0.002)
                return time.perf_counter() - t

            for sku in skus[:10]:  # warm up the pipeline's own imports and connections
                change(sku, 400)
            stack.drain(30)

            def answered(sandbox: Any, credential: str) -> int:
                return sum(1 for r in sandbox.requests if r.credential == credential and r.status != 429)

            steady, floors = [], []
            b0, j0 = answered(bsale, shop.bsale.token), answered(jumpseller, shop.store.login)
            with stack.aws_calls() as aws_calls:
                for i in range(changes):
                    tick = time.perf_counter()
                    steady.append(change(skus[i % len(skus)], 100 + i % 200))
                    stack.drain(10)  # the message is deleted and the invocation over before the floor sample
                    floors.append(floor())
                    time.sleep(max(0.0, spacing - (time.perf_counter() - tick)))
            b1, j1 = answered(bsale, shop.bsale.token), answered(jumpseller, shop.store.login)
            refused_steady = {"bsale": bsale.count(status=429), "jumpseller": jumpseller.count(status=429)}

            # Burst: every change at once, round robin over the SKUs; each SKU's last value is what must land.
            final: dict[str, int] = {}
            t0, epoch0 = time.perf_counter(), time.time()
            for i in range(burst):
                sku = skus[i % len(skus)]
                final[sku] = 300 + i
                shop.bsale.set_stock(variants[sku], shop.office_id, final[sku])
            made = time.perf_counter() - t0
            landed: dict[str, float] = {}
            while len(landed) < len(final):
                if time.perf_counter() - t0 > 600:
                    raise RuntimeError(f"burst never landed: {len(landed)}/{len(final)} SKUs")
                for sku, quantity in final.items():
                    if sku not in landed and shows(sku) == quantity:
                        landed[sku] = time.perf_counter() - t0
                time.sleep(0.005)
            windows = _bsale_windows(bsale, shop.bsale.token, epoch0, epoch0 + max(landed.values()))
            stack.drain(60)
            b2, j2 = answered(bsale, shop.bsale.token), answered(jumpseller, shop.store.login)
            refused_burst = {"bsale": bsale.count(status=429) - refused_steady["bsale"],
                             "jumpseller": jumpseller.count(status=429) - refused_steady["jumpseller"]}
    finally:
        stack.stop()

    from bridge.clients import bsale as bsale_api
    from bridge.clients import jumpseller as js_api
    from bridge.store import rate

    floor_p50, floor_p99 = pct(floors, 50), pct(floors, 99)
    steady_p99 = pct(steady, 99)
    imposed = {  # seconds the per-shop limits impose on the burst's minimum calls
        "bsale": burst * BSALE_CALLS_PER_CHANGE / bsale_api.RATE_PER_SECOND,
        "jumpseller": max(burst * JUMPSELLER_CALLS_PER_CHANGE / js_api.RATE_PER_SECOND,
                          60.0 * (burst * JUMPSELLER_CALLS_PER_CHANGE // js_api.RATE_PER_MINUTE)),
    }
    bound_s = max(imposed.values()) + floor_p50 / 1000
    last_s = max(landed.values())
    quota_pace = windows["cap_per_window"] / (1 + rate.JITTER + rate.ROUNDING)
    quota_bound_s = burst * BSALE_CALLS_PER_CHANGE / quota_pace + floor_p50 / 1000
    result = {
        "benchmark": "propagation",
        "load_avg_start": [round(x, 2) for x in load_start],
        "floor": {"samples": len(floors), **summary(floors),
                  "calls": "UpdateItem + SendMessage (ack), ReceiveMessage, Bsale GET stocks, Jumpseller PUT product"},
        "steady": {
            "changes": changes, "skus": len(skus), "spacing_ms": spacing * 1000, **summary(steady),
            "p99_over_floor_p99": round(steady_p99 / floor_p99, 2),
            "p99_over_floor_p50": round(steady_p99 / floor_p50, 2),
            "goal_p99_le_2x_floor_p99": steady_p99 <= 2 * floor_p99,
            "calls_per_change": {"bsale": round((b1 - b0) / changes, 3), "jumpseller": round((j1 - j0) / changes, 3),
                                 "aws_by_the_product": per_change(aws_calls, changes),
                                 "aws_in_the_floor": 3},
            "rate_limited_429_answers": refused_steady,
        },
        "burst": {
            "changes": burst, "skus": len(final), "made_in_ms": round(made * 1000, 1),
            "last_landed_ms": round(last_s * 1000, 1),
            "sku_final_landed": summary(list(landed.values())),
            "imposed_by_limits_ms": {k: round(v * 1000, 1) for k, v in imposed.items()},
            "bound_ms": round(bound_s * 1000, 1), "bound": "max(imposed) + floor p50",
            "last_over_bound": round(last_s / bound_s, 2), "goal_met": last_s <= bound_s,
            "calls": {"bsale": b2 - b1, "jumpseller": j2 - j1}, "rate_limited_429_answers": refused_burst,
            "shop_bsale_quota_windows": windows,
            # The quota counts each live grant for a window stretched by JITTER (and ROUNDING): the pace it keeps
            # on purpose, below the published limit, so that no arrival window ever holds more than the cap.
            "bound_at_the_bridge_quota_ms": round(quota_bound_s * 1000, 1),
            "last_over_bound_at_the_bridge_quota": round(last_s / quota_bound_s, 2),
        },
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(table(result), file=sys.stderr)  # the JSON goes to stdout (./dev bench prints every bench's together)
    return result


def table(result: dict[str, Any]) -> str:
    f, s, b = result["floor"], result["steady"], result["burst"]
    rows = [
        ("floor (direct calls)", f["samples"], f["p50_ms"], f["p99_ms"], ""),
        ("steady change→Jumpseller", s["changes"], s["p50_ms"], s["p99_ms"],
         f"p99/floor p99 = {s['p99_over_floor_p99']} (goal ≤ 2)"),
        ("burst, per SKU final", b["changes"], b["sku_final_landed"]["p50_ms"], b["sku_final_landed"]["p99_ms"],
         f"last {b['last_landed_ms']} ms vs bound {b['bound_ms']} ms (×{b['last_over_bound']}); at the "
         f"quota's pace {b['bound_at_the_bridge_quota_ms']} ms (×{b['last_over_bound_at_the_bridge_quota']})"),
    ]
    lines = [f"load {result['load_avg_start']} → {result['load_avg_end']}",
             f"{'series':26} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}  note"]
    lines += [f"{name:26} {n:>5} {p50:>9} {p99:>9}  {note}" for name, n, p50, p99, note in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    if "." not in sys.path:
        sys.path[:0] = [".", "layers/common"]
    print(json.dumps(run(), indent=2))
