"""Catalog commands: sync (link / import / overwrite), resync (reconcile now), sync-report."""

from __future__ import annotations

import argparse
import time
from typing import Any


def register(sub: Any) -> None:
    s = sub.add_parser("sync", help="manual sync of a shop's catalog: link, import or overwrite")
    s.add_argument("store_code")
    s.add_argument("--mode", choices=["link", "import", "overwrite"], default="link",
                   help="link: link by SKU only; import: also create in Jumpseller what only Bsale has; "
                        "overwrite: link, then push Bsale stock and price where Jumpseller differs")
    s.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait for the report")
    s.set_defaults(run=sync)

    r = sub.add_parser("resync", help="reconcile a shop now (Sincronizar automáticamente)")
    r.add_argument("store_code")
    r.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait for the result")
    r.set_defaults(run=resync)

    p = sub.add_parser("sync-report", help="the last manual sync's report, or the last reconcile's result")
    p.add_argument("store_code")
    p.add_argument("--kind", choices=["manual", "reconcile"], default="manual")
    p.set_defaults(run=report)


def sync(args: argparse.Namespace) -> int:
    return _start(args.store_code, "manual", {"mode": args.mode}, args.wait)


def resync(args: argparse.Namespace) -> int:
    return _start(args.store_code, "reconcile", {}, args.wait)


def _start(shop_id: str, kind: str, params: dict[str, str], wait: float) -> int:
    from bridge.store import shops
    from bridge.sync.jobs import request

    shops.require(shop_id)
    run = request(shop_id, kind, params, reason="operator")
    if run is None:
        print(f"a {kind} of '{shop_id}' is already running; see `sync-report {shop_id} --kind {kind}`")
        return 1
    print(f"{kind} {run} of '{shop_id}' queued")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if _print_if_done(shop_id, kind, run):
            return 0
        time.sleep(0.5)
    return 0 if wait == 0 else 1


def report(args: argparse.Namespace) -> int:
    from bridge.store import jobs

    record = jobs.get(args.store_code, args.kind)
    if record is None:
        print(f"no {args.kind} has run for '{args.store_code}'")
        return 1
    if record.get("status") == "running":
        print(f"{args.kind} {record['run_id']} is running (started {record.get('started_at')})")
    _print_result(args.kind, jobs.result_of(record))
    return 0


def _print_if_done(shop_id: str, kind: str, run: str) -> bool:
    from bridge.store import jobs

    record = jobs.get(shop_id, kind)
    if record is None or record.get("run_id") != run or record.get("status") == "running":
        return False
    _print_result(kind, jobs.result_of(record))
    return True


def _print_result(kind: str, result: dict[str, Any] | None) -> None:
    if not result:
        return
    if kind == "reconcile":
        print(f"reconcile: {result['fixed']} drift(s) fixed over {result['links']} linked product(s) "
              f"in {result['seconds']} s; counts {result['counts']}")
        for fix in result["fixes"]:
            print(f"  fixed {fix}")
        return
    print(f"{result['mode']}: {result['linked']} linked, {len(result['created_in_jumpseller'])} created in "
          f"Jumpseller, {len(result['written'])} written, in {result['seconds']} s")
    for name in result["created_in_jumpseller"]:
        print(f"  created {name}")
    for line in result["written"]:
        print(f"  wrote {line}")
    for item in result["not_linked"] + result["not_imported"]:
        print(f"  not linked  {item['side']:10} {item['sku'] or '-':20} {item['name'][:40]:40} {item['reason']}")
    print("counts by reason: " + ", ".join(f"{k}: {v}" for k, v in result["counts"].items()))
