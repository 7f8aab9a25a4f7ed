"""Bsale notification path, measured on the local stack against the sandboxes.

- ack latency of POST /bsale/notifications/{token} (p50, p99) next to the bare AWS calls it makes
  (the conditional UpdateItem stamp + SendMessage), timed against the same moto server in the same run;
- end-to-end time from a stock change in the Bsale sandbox to the Jumpseller sandbox holding it;
- outbound API calls per notification against the minimum (1 Bsale read + at most 1 Jumpseller write).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import requests

ROOT_HINT = "run as: ./dev bench (or python -m bench.notifications from the repo root)"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000, 2)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": pct(values, 50), "p99_ms": pct(values, 99), "mean_ms": round(statistics.mean(values) * 1000, 2)}


# The functions run in processes of their own and log at the template's level: benches print JSON on stdout.
QUIET = {"LogLevel": "WARNING"}


def _stack(**kwargs: Any) -> Any:
    from bridge import aws
    from bridge.settings import settings
    from devstack import LocalStack

    stack = LocalStack(schedules=False, parameters=QUIET, **kwargs).start()
    aws.reset()
    settings.cache_clear()
    return stack


def ack_latency(n: int) -> dict[str, Any]:
    from demo import connect_demo_shop
    from sandboxes.bsale import BsaleSandbox
    from sandboxes.jumpseller import JumpsellerSandbox

    # No pollers: the workers would compete for the same two cores and blur what the acknowledgement costs.
    stack = _stack(pollers=False)
    try:
        with BsaleSandbox() as bsale, JumpsellerSandbox() as jumpseller:
            shop = connect_demo_shop(stack.api_url, bsale, jumpseller)
            body = json.dumps({"cpnId": shop.bsale.cpn_id, "resource": "/v2/stocks.json", "topic": "stock",
                               "resourceId": str(shop.variant_id("POL-S")), "action": "put",
                               "officeId": str(shop.office_id), "send": 1})
            session = requests.Session()
            headers = {"Content-Type": "application/json"}
            for _ in range(20):  # warm up: imports, connections, caches
                session.post(shop.notification_url, data=body, headers=headers).raise_for_status()
            bare_calls = _bare_aws_calls(shop.code)
            acks, bare = [], []
            for _ in range(n):  # interleaved, so drift in moto's speed affects both series alike
                t = time.perf_counter()
                session.post(shop.notification_url, data=body, headers=headers).raise_for_status()
                acks.append(time.perf_counter() - t)
                t = time.perf_counter()
                bare_calls()
                bare.append(time.perf_counter() - t)
    finally:
        stack.stop()
    return {"requests": n, "ack_over_http": summary(acks), "bare_aws_calls_same_moto": summary(bare),
            "ack_overhead_p50_ms": round(pct(acks, 50) - pct(bare, 50), 2)}


def _bare_aws_calls(shop_code: str, queue: str | None = None) -> Any:
    """The two AWS calls the acknowledgement makes, with the same clients, and nothing around them (to the
    catalog queue, or to `queue`)."""
    from bridge import aws
    from bridge.settings import settings

    dynamodb, sqs = aws.client("dynamodb"), aws.client("sqs")
    table, queue = settings().table_name, queue or settings().catalog_queue_url
    key = {"pk": {"S": f"SHOP#{shop_code}"}, "sk": {"S": "SHOP"}}
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]

    def calls() -> None:
        dynamodb.update_item(
            TableName=table, Key=key,
            UpdateExpression="SET last_notification_at = :now REMOVE stale_since",
            ConditionExpression="notify_hash = :h AND cpn_id = :c",
            ExpressionAttributeValues={":now": {"N": str(int(time.time()))}, ":h": item["notify_hash"],
                                       ":c": item["cpn_id"]},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        sqs.send_message(QueueUrl=queue, MessageBody='{"kind": "bench"}')

    return calls


def end_to_end(changes: int) -> dict[str, Any]:
    from demo import connect_demo_shop
    from sandboxes.bsale import BsaleSandbox
    from sandboxes.jumpseller import JumpsellerSandbox

    stack = _stack()
    try:
        with BsaleSandbox() as bsale, JumpsellerSandbox() as jumpseller:
            shop = connect_demo_shop(stack.api_url, bsale, jumpseller)
            variant = shop.variant_id("TAZA-1")

            def change(quantity: int) -> float:
                t = time.perf_counter()
                shop.bsale.set_stock(variant, shop.office_id, quantity)
                while shop.jumpseller_stock("TAZA-1") != quantity:
                    if time.perf_counter() - t > 30:
                        raise RuntimeError("stock never arrived")
                    time.sleep(0.002)
                elapsed = time.perf_counter() - t
                stack.drain(10)
                return elapsed

            def answered(sandbox: Any, credential: str) -> int:
                # Requests the API answered (a 429 it refused is a retry, reported apart).
                return sum(1 for r in sandbox.requests if r.credential == credential and r.status != 429)

            def counted(quantity: int) -> tuple[float, int, int]:
                b0, j0 = answered(bsale, shop.bsale.token), answered(jumpseller, shop.store.login)
                elapsed = change(quantity)
                b1, j1 = answered(bsale, shop.bsale.token), answered(jumpseller, shop.store.login)
                return elapsed, b1 - b0, j1 - j0

            first = counted(100)  # links the SKU: reads the variant and searches Jumpseller once
            steady = [counted(q) for q in range(1, changes + 1)]
            refused = {"bsale": bsale.count(status=429), "jumpseller": jumpseller.count(status=429)}
    finally:
        stack.stop()
    times = [s[0] for s in steady]
    return {
        "changes": changes,
        "bsale_change_to_jumpseller": summary(times),
        "calls_per_notification": {
            "steady_state": {"bsale": statistics.mean(s[1] for s in steady),
                             "jumpseller": statistics.mean(s[2] for s in steady)},
            "first_notification_of_a_sku": {"bsale": first[1], "jumpseller": first[2]},
            "minimum": {"bsale": 1, "jumpseller": 1},
            "rate_limited_429_answers": refused,
        },
    }


def run(requests_n: int = 300, changes: int = 30) -> dict[str, Any]:
    return {"benchmark": "bsale_notifications", "ack": ack_latency(requests_n), "end_to_end": end_to_end(changes)}


if __name__ == "__main__":
    if "." not in sys.path:
        sys.path[:0] = [".", "layers/common"]
    print(json.dumps(run(), indent=2))
