"""F16 on the local stack: how long shop B's stock changes take to reach Jumpseller while shop A's Bsale is slow.

One stack (the template's real visibility timeouts, no time compression), two shops on the same sandboxes, in
the same run:

- `b_alone`: B makes 30 stock changes, 5 a second (within its Bsale quota), and nothing else happens;
- `a_slow`: A's Bsale answers every call after 11 s (the sandbox's per-shop latency fault) while A and B each
  make 30 changes at that pace, interleaved, A first.

The delay of a change is the time from the change in the Bsale sandbox until the Jumpseller sandbox shows it
(or a later value of the same SKU: values only grow). Also reported: the catalog worker runs that outlived
their function's timeout, and how many of A's changes had landed when B's last one did.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.notifications import QUIET

SKUS = ("POL-S", "POL-M", "TAZA-1")
A_LATENCY = 11.0
PACE = 0.2  # seconds between two changes of one shop


@dataclass
class Change:
    shop: Any
    sku: str
    quantity: int
    at: float
    landed: float | None = None


class Watcher:
    """Samples the Jumpseller sandbox every few milliseconds and notes when each change shows."""

    def __init__(self) -> None:
        self.pending: list[Change] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def add(self, change: Change) -> None:
        with self.lock:
            self.pending.append(change)

    def _loop(self) -> None:
        while not self.stop.is_set():
            now = time.perf_counter()
            with self.lock:
                for change in self.pending:
                    if change.landed is None and (change.shop.jumpseller_stock(change.sku) or 0) >= change.quantity:
                        change.landed = now
            time.sleep(0.003)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 3)


def delays(changes: list[Change]) -> dict[str, Any]:
    landed = [c.landed - c.at for c in changes if c.landed is not None]
    if not landed:
        return {"changes": len(changes), "landed": 0}
    return {"changes": len(changes), "landed": len(landed), "p50_s": pct(landed, 50), "p99_s": pct(landed, 99),
            "max_s": round(max(landed), 3), "min_s": round(min(landed), 3)}


def make_changes(watcher: Watcher, shops: list[Any], count: int, start: int) -> dict[str, list[Change]]:
    """`count` changes per shop, paced, interleaved in the order given; quantities grow from `start`."""
    made: dict[str, list[Change]] = {shop.code: [] for shop in shops}
    for n in range(count):
        sku = SKUS[n % len(SKUS)]
        for shop in shops:
            change = Change(shop, sku, start + n, time.perf_counter())
            watcher.add(change)
            shop.bsale.set_stock(shop.variant_id(sku), shop.office_id, start + n)
            made[shop.code].append(change)
        time.sleep(PACE)
    return made


def wait_landed(changes: list[Change], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while any(c.landed is None for c in changes) and time.perf_counter() < deadline:
        time.sleep(0.05)


def run(changes: int = 30) -> dict[str, Any]:
    from bridge import aws
    from bridge.settings import settings
    from demo import connect_demo_shop
    from devstack import LocalStack
    from sandboxes.bsale import BsaleSandbox
    from sandboxes.jumpseller import JumpsellerSandbox

    stack = LocalStack(schedules=False, parameters=QUIET).start()
    aws.reset()
    settings.cache_clear()
    watcher = Watcher()
    try:
        with BsaleSandbox() as bsale, JumpsellerSandbox() as jumpseller:
            a = connect_demo_shop(stack.api_url, bsale, jumpseller, code="shop-a", cpn_id=7001)
            b = connect_demo_shop(stack.api_url, bsale, jumpseller, code="shop-b", cpn_id=7002)
            for shop in (a, b):  # link the SKUs first: the first notification of a SKU links it
                make_changes(watcher, [shop], len(SKUS), 1)
            stack.drain(30)

            alone = make_changes(watcher, [b], changes, 100)[b.code]
            wait_landed(alone, 60)
            stack.drain(30)

            runs_before = len(stack.invocations)
            bsale.faults.slow(A_LATENCY, count=1_000_000, credential=a.bsale.token)
            both = make_changes(watcher, [a, b], changes, 1000)
            wait_landed(both[b.code], 300)
            a_landed_then = sum(1 for c in both[a.code] if c.landed is not None)
            worker_runs = [r for r in stack.invocations[runs_before:] if r.function == "BsaleWorkerFunction"]
            timed_out = sum(1 for r in worker_runs if r.error and "FunctionTimeout" in r.error)
            bsale.faults.clear()
            stack.drain(60)  # let A's handed-back work finish before the stack stops under it
    finally:
        watcher.close()
        stack.stop()
    return {
        "benchmark": "fairness_one_slow_shop",
        "b_alone": delays(alone),
        "a_slow": {
            "a_bsale_latency_s": A_LATENCY,
            "b": delays(both[b.code]),
            "a_changes_landed_when_b_done": f"{a_landed_then} of {changes}",
            "catalog_worker_runs": len(worker_runs),
            "catalog_worker_runs_timed_out": timed_out,
        },
        "pace_s": PACE,
    }


if __name__ == "__main__":
    if "." not in sys.path:
        sys.path[:0] = [".", "layers/common"]
    print(json.dumps(run(), indent=2))
