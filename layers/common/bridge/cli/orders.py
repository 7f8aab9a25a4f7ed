"""Order commands: orders, retry-order, retry-orders, create-document, resolve-order.

They act directly (not through the queue) with the shop's own credentials, through the same exactly-once
steps as the worker: a retry racing the worker, or another retry, can never make a second document.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

FAILED_STATES = ("failed",)
STATES = ("received", "creating", "created", "failed", "skipped", "needs_manual", "consuming", "consumed",
          "canceled", "crediting", "credited", "restocking", "restocked", "resolved")


def register(sub: Any) -> None:
    o = sub.add_parser("orders", help="a shop's orders by state, with their errors, and the stock they hold")
    o.add_argument("store_code")
    o.add_argument("--state", choices=STATES, action="append", help="only these states (repeatable)")
    o.set_defaults(run=list_orders)

    r = sub.add_parser("retry-order", help="Reintentar: redo or resume one order's step once its cause is fixed")
    r.add_argument("store_code")
    r.add_argument("order_id", type=int)
    r.add_argument("--force", action="store_true",
                   help="take over a step another attempt claimed less than its lease ago (it must be dead)")
    r.set_defaults(run=retry_order)

    a = sub.add_parser("retry-orders", help="Reintentar every failed order of a shop (and steps left in flight)")
    a.add_argument("store_code")
    a.set_defaults(run=retry_orders)

    c = sub.add_parser("create-document", help="emit one paid order's document now (manual mode)")
    c.add_argument("store_code")
    c.add_argument("order_id", type=int)
    c.add_argument("--replace", action="store_true",
                   help="the order has a boleta and now asks for a factura: credit the boleta, then emit it")
    c.set_defaults(run=create_document)

    s = sub.add_parser("resolve-order", help="a person settled a failed order by hand: stop waiting, release its stock")
    s.add_argument("store_code")
    s.add_argument("order_id", type=int)
    s.add_argument("--note", required=True, help="what was done (kept on the order)")
    s.set_defaults(run=resolve_order)


def _print(result: Any) -> int:
    record = result.record
    where = f" [{record.state}]" if record is not None else ""
    print(f"{result.action}{where}: {result.detail}".rstrip(": "))
    if record is not None and record.problem is not None and result.action in ("failed", "needs_manual", "busy"):
        _print_problem(record.problem)
    return 0 if result.action not in ("refused", "busy", "failed", "needs_manual") else 1


def _print_problem(error: Any) -> None:
    print(f"    {error.reason}")
    if error.upstream:
        print(f"    Bsale dijo: «{error.upstream}»")


def _run(store_code: str, order_id: int, action: Any) -> int:
    from bridge.clients.http import RateLimited
    from bridge.errors import UpstreamError
    from bridge.observability import work_keys
    from bridge.shops.context import open_shop
    from bridge.sync import stock

    with work_keys(shop=store_code, order=order_id):
        ctx = open_shop(store_code)
        try:
            result = action(ctx)
            # Held units may have been given back: Jumpseller must show max(0, available − held) again.
            stock.after_order_event(ctx, order_id)
            return _print(result)
        except UpstreamError as exc:
            print(f"not done, try again later: {exc.reason}")
            return 1
        except RateLimited as exc:
            print(f"not done, the shop's API quota is spent: try again in {exc.seconds:.0f} s")
            return 1


def retry_order(args: argparse.Namespace) -> int:
    from bridge.orders import flow

    return _run(args.store_code, args.order_id,
                lambda ctx: flow.retry(ctx, args.order_id, flow.new_attempt(), force=args.force))


def create_document(args: argparse.Namespace) -> int:
    from bridge.orders import flow

    return _run(args.store_code, args.order_id,
                lambda ctx: flow.create_document(ctx, args.order_id, flow.new_attempt(), replace=args.replace))


def resolve_order(args: argparse.Namespace) -> int:
    from bridge.orders import flow

    return _run(args.store_code, args.order_id, lambda ctx: flow.resolve(ctx.shop_id, args.order_id, args.note))


def retry_orders(args: argparse.Namespace) -> int:
    """Every failed order, plus steps in flight nobody holds (their attempt gave up or died)."""
    from bridge.orders import flow
    from bridge.orders.record import IN_FLIGHT, OrderState
    from bridge.store import orders as records

    now = int(time.time())
    chosen = []
    for record in records.for_shop(args.store_code):
        stale = record.claim_id is None or (record.claimed_at or 0) < now - flow.LEASE_SECONDS
        if record.state is OrderState.FAILED or (record.state in IN_FLIGHT and stale):
            chosen.append(record.order_id)
    if not chosen:
        print("no failed orders")
        return 0
    worst = 0
    for order_id in chosen:
        print(f"order {order_id}: ", end="")
        worst = max(worst, _run(args.store_code, order_id,
                                lambda ctx, o=order_id: flow.retry(ctx, o, flow.new_attempt())))
    return worst


def list_orders(args: argparse.Namespace) -> int:
    from bridge.store import held, shops
    from bridge.store import orders as records

    shops.require(args.store_code)
    wanted = set(args.state or [])
    by_state: dict[str, list[Any]] = {}
    for record in records.for_shop(args.store_code):
        if not wanted or record.state.value in wanted:
            by_state.setdefault(record.state.value, []).append(record)
    for state in STATES:
        group = by_state.get(state, [])
        if not group:
            continue
        print(f"{state} ({len(group)})")
        for record in group:
            document = record.document
            what = f"{document.kind} N° {document.number}" if document else ""
            if record.credit_note:
                what += f", nota de crédito N° {record.credit_note.number}"
            if record.consumption and record.consumption.id:
                what += f"consumo {record.consumption.id}"
            if record.skip_reason:
                what += record.skip_reason
            print(f"  {record.order_id:>10}  {what}")
            if record.problem is not None and state not in ("created", "consumed", "credited", "restocked"):
                _print_problem(record.problem)
            for warning in record.warnings:
                print(f"    aviso: {warning}")
    holding = held.held_by_sku(args.store_code)
    print("held by pending orders: " + (", ".join(f"{sku}={qty}" for sku, qty in holding.items()) or "nothing"))
    return 0
