"""Health commands: status (every shop, one line each) and status SHOP (everything about one shop)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def register(sub: Any) -> None:
    s = sub.add_parser("status", help="every shop's health in one line each, or one shop's whole status")
    s.add_argument("store_code", nargs="?")
    s.add_argument("--json", action="store_true", help="machine-readable (what the shop panel will show)")
    s.add_argument("--no-dead-letters", action="store_true", help="do not look into the dead-letter queues")
    s.set_defaults(run=status)


def status(args: argparse.Namespace) -> int:
    from bridge.ops.status import all_shops_health, dead_letters_by_shop, shop_health

    if args.store_code is None:
        every = all_shops_health(with_dead_letters=not args.no_dead_letters)
        if args.json:
            print(json.dumps([h.model_dump() for h in every], indent=2))
        for health in [] if args.json else every:
            print(health.one_line())
        return 0 if all(h.healthy for h in every) else 1
    health = shop_health(args.store_code, dead_letters=None if args.no_dead_letters else dead_letters_by_shop())
    if args.json:
        print(health.model_dump_json(indent=2))
        return 0
    print(health.one_line())
    print(f"  connected: {'yes' if health.connected else 'NO (no credentials stored)'}")
    if health.stale:
        print(f"  WARNING: this store is not receiving updates from Bsale (since {_when(health.stale_since)})")
    print(f"  last Bsale notification: {_when(health.last_notification_at)}")
    print(f"  products: {health.linked} linked; not linked: "
          + (", ".join(f"{n} {reason}" for reason, n in health.not_linked.items()) or "none"))
    if health.held:
        print("  held by pending orders: " + ", ".join(f"{sku} ({n})" for sku, n in health.held.items()))
    print("  orders by document state: " + (", ".join(f"{s} {n}" for s, n in health.orders.items()) or "none"))
    if health.sii_documents:
        print("  documents: " + ", ".join(f"{n} {label}" for label, n in health.sii_documents.items()))
    for late in health.sii_overdue:
        print(f"    order {late.order_id}: {late.kind} N° {late.number} not decided by the SII since "
              f"{_when(late.since)} (check it in Bsale / the SII)")
    for problem in health.order_problems:
        source = "SII" if problem.code == "sii_rejected" else "Bsale"
        said = f" — {source}: {problem.upstream}" if problem.upstream else ""
        print(f"    order {problem.order_id} {problem.state}: {problem.reason}{said}")
    for label, job in (("last reconcile", health.last_reconcile), ("last manual sync", health.last_manual_sync)):
        if job is None:
            print(f"  {label}: never")
            continue
        print(f"  {label}: {job.status}, started {_when(job.started_at)}, {json.dumps(job.detail)[:300]}")
    for reason in health.catalog_problems[:5]:
        print(f"  catalog problem: {reason}")
    if health.dead_letters is not None:
        print("  dead letters: " + ", ".join(f"{q} {n}" for q, n in health.dead_letters.items()))
    return 0 if health.healthy else 1


def _when(at: int | None) -> str:
    return "never" if at is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
