"""Order commands: orders, retry-order, retry-orders, create-document, resolve-order, fix-rejected, sii-watch.

They act directly (not through the queue) with the shop's own credentials, through the same exactly-once
steps as the worker: a retry racing the worker, or another retry, can never make a second document.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import typer

from admin.environment import need
from admin.render import JSON_HELP, emit_json, finish, progress, row, say, show, table, when
from bridge.models.order_record import OrderState

Json = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
Shop = Annotated[str, typer.Argument(help="the shop's store code")]
Order = Annotated[int, typer.Argument(help="the Jumpseller order number")]
FAILING = ("refused", "busy", "failed", "needs_manual")  # actions that leave the order to a person: exit 1
SETTLED = ("created", "consumed", "credited", "restocked")  # states whose old problem is history, not shown

PANEL = "Orders"


def register(app: typer.Typer) -> None:
    app.command("orders", rich_help_panel=PANEL)(list_orders)
    app.command("retry-order", rich_help_panel=PANEL)(retry_order)
    app.command("retry-orders", rich_help_panel=PANEL)(retry_orders)
    app.command("create-document", rich_help_panel=PANEL)(create_document)
    app.command("resolve-order", rich_help_panel=PANEL)(resolve_order)
    app.command("fix-rejected", rich_help_panel=PANEL)(fix_rejected)
    app.command("sii-watch", rich_help_panel=PANEL)(sii_watch)


# ------------------------------------------------------------------------------------------- acting on one order

def _outcome(order_id: int, result: Any) -> dict[str, Any]:
    record = result.record
    problem = record.problem if record is not None and result.action in (*FAILING, "rejected") else None
    return {"order": order_id, "action": result.action, "state": record.state.value if record else None,
            "detail": result.detail, "problem": _problem(problem), "ok": result.action not in FAILING}


def _problem(error: Any) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "reason": error.reason, "upstream": error.upstream}


def _run(store_code: str, order_id: int, action: Callable[[Any], Any]) -> dict[str, Any]:
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
            return _outcome(order_id, result)
        except UpstreamError as exc:
            detail = f"not done, try again later: {exc.reason}"
        except RateLimited as exc:
            detail = f"not done, the shop's API quota is spent: try again in {exc.seconds:.0f} s"
    return {"order": order_id, "action": "not_done", "state": None, "detail": detail, "problem": None, "ok": False}


def _say_outcome(outcome: dict[str, Any], prefix: str = "") -> None:
    where = f" [{outcome['state']}]" if outcome["state"] else ""
    say(f"{prefix}{outcome['action']}{where}: {outcome['detail']}".rstrip(": ")
        if outcome["action"] != "not_done" else f"{prefix}{outcome['detail']}")
    _say_problem(outcome["problem"])


def _say_problem(problem: dict[str, Any] | None) -> None:
    if problem is None:
        return
    say(f"    {problem['reason']}")
    if problem["upstream"]:
        say(f"    {'El SII' if problem['code'] == 'sii_rejected' else 'Bsale'} dijo: «{problem['upstream']}»")


def _one(store_code: str, order_id: int, action: Callable[[Any], Any], as_json: bool) -> None:
    need()
    outcome = _run(store_code, order_id, action)
    if as_json:
        emit_json(outcome)
    else:
        _say_outcome(outcome)
    finish(0 if outcome["ok"] else 1)


def retry_order(
    store_code: Shop, order_id: Order,
    force: Annotated[bool, typer.Option(help="take over a step another attempt claimed less than its lease ago "
                                             "(it must be dead)")] = False,
    as_json: Json = False,
) -> None:
    """Reintentar: redo or resume one order's step once its cause is fixed."""
    from bridge.orders import flow

    _one(store_code, order_id, lambda ctx: flow.retry(ctx, order_id, flow.new_attempt(), force=force), as_json)


def create_document(
    store_code: Shop, order_id: Order,
    replace: Annotated[bool, typer.Option(help="the order has a boleta and now asks for a factura: credit the "
                                               "boleta, then emit it")] = False,
    as_json: Json = False,
) -> None:
    """Emit one paid order's document now (manual mode)."""
    from bridge.orders import flow

    _one(store_code, order_id,
         lambda ctx: flow.create_document(ctx, order_id, flow.new_attempt(), replace=replace), as_json)


def resolve_order(
    store_code: Shop, order_id: Order,
    note: Annotated[str, typer.Option(help="what was done (kept on the order)")],
    folio: Annotated[int | None, typer.Option(help="Facto: the folio of the document found in Facto's portal "
                                                   "(unknown outcome, or a draft sent by hand); the order then "
                                                   "counts as documented")] = None,
    as_json: Json = False,
) -> None:
    """A person settled a failed order by hand: stop waiting, release its stock."""
    from bridge.orders import flow

    _one(store_code, order_id, lambda ctx: flow.resolve(ctx.shop_id, order_id, note, folio=folio), as_json)


def fix_rejected(store_code: Shop, order_id: Order, as_json: Json = False) -> None:
    """The SII rejected the order's document: credit it, then emit a new one (next salesId), exactly once."""
    from bridge.orders import flow

    _one(store_code, order_id, lambda ctx: flow.fix_rejected(ctx, order_id, flow.new_attempt()), as_json)


def retry_orders(store_code: Shop, as_json: Json = False) -> None:
    """Reintentar every failed order of a shop, and steps left in flight that nobody holds."""
    from bridge.models.order_record import IN_FLIGHT
    from bridge.orders import flow
    from bridge.store import orders as records

    need()
    now = int(time.time())
    chosen = []
    for record in records.for_shop(store_code):
        stale = record.claim_id is None or (record.claimed_at or 0) < now - flow.LEASE_SECONDS
        if record.state is OrderState.FAILED or (record.state in IN_FLIGHT and stale):
            chosen.append(record.order_id)
    outcomes = []
    with progress(hidden=as_json or not chosen) as bar:
        task = bar.add_task(f"retrying {store_code}'s orders", total=len(chosen))
        for order_id in chosen:
            bar.update(task, description=f"order {order_id}")
            outcomes.append(_run(store_code, order_id, partial(_retry, order_id=order_id)))
            bar.advance(task)
    if as_json:
        emit_json(outcomes)
    elif not chosen:
        say("no failed orders")
    else:
        for outcome in outcomes:
            _say_outcome(outcome, prefix=f"order {outcome['order']}: ")
    finish(0 if all(o["ok"] for o in outcomes) else 1)


def _retry(ctx: Any, order_id: int) -> Any:
    from bridge.orders import flow

    return flow.retry(ctx, order_id, flow.new_attempt())


def sii_watch(store_code: Shop, as_json: Json = False) -> None:
    """Look at the SII's verdicts on a shop's outstanding documents now (the schedule does it every tick)."""
    from bridge.orders import sii
    from bridge.shops.context import open_shop

    need()
    tick = sii.watch_shop(open_shop(store_code), int(time.time()))
    summary = tick.summary()
    if as_json:
        emit_json(summary)
    else:
        grid = table(*summary, title=f"SII verdicts of {store_code}'s outstanding documents")
        row(grid, *summary.values())
        show(grid)
    finish(1 if tick.rejected or tick.still_overdue else 0)


# ------------------------------------------------------------------------------------------- listing

def list_orders(
    store_code: Shop,
    state: Annotated[list[OrderState] | None, typer.Option(
        metavar="STATE", help="only this state (repeatable): " + ", ".join(OrderState))] = None,
    as_json: Json = False,
) -> None:
    """A shop's orders by state, with their documents, errors and warnings, and the stock they hold."""
    from bridge.store import held, shops
    from bridge.store import orders as records

    need()
    shops.require(store_code)
    wanted = {s.value for s in state or []}
    chosen = [r for r in records.for_shop(store_code) if not wanted or r.state.value in wanted]
    order = {s.value: i for i, s in enumerate(OrderState)}
    chosen.sort(key=lambda r: (order[r.state.value], r.order_id))
    holding = held.held_by_sku(store_code)
    if as_json:
        emit_json({"shop": store_code, "orders": [_order_json(r) for r in chosen], "held": holding})
        finish(0)
    grid = table("order", "state", "document", "updated", "needs a person / warnings",
                 title=f"{store_code}: {len(chosen)} order(s)")
    for record in chosen:
        notes = []
        if record.problem is not None and record.state.value not in SETTLED:
            notes.append(record.problem.reason)
            if record.problem.upstream:
                source = "El SII" if record.problem.code == "sii_rejected" else "Bsale"
                notes.append(f"{source} dijo: «{record.problem.upstream}»")
        notes += [f"aviso: {w}" for w in record.warnings]
        notes += [f"aviso: la {d.kind} N° {d.number} sigue sin respuesta del SII"
                  for d in record.documents if d.sii_overdue_at and d.sii_status == "sent"]
        row(grid, record.order_id, record.state.value, _document(record), when(record.updated_at),
            "\n".join(notes))
    show(grid)
    say("held by pending orders: " + (", ".join(f"{sku}={qty}" for sku, qty in holding.items()) or "nothing"))
    finish(0)


def _document(record: Any) -> str:
    document = record.document
    what = f"{document.kind} N° {document.number} ({document.sii_label})" if document else ""
    if record.credit_note:
        what += f", nota de crédito N° {record.credit_note.number} ({record.credit_note.sii_label})"
    if record.consumption and record.consumption.id:
        what += f"consumo {record.consumption.id}"
    if record.skip_reason:
        what += record.skip_reason
    return what


def _order_json(record: Any) -> dict[str, Any]:
    def doc(d: Any) -> dict[str, Any] | None:
        return None if d is None else {"kind": d.kind, "number": d.number, "sii": d.sii_label}

    return {"order": record.order_id, "state": record.state.value, "document": doc(record.document),
            "credit_note": doc(record.credit_note),
            "consumption": record.consumption.id if record.consumption else None,
            "skip_reason": record.skip_reason,
            "problem": _problem(record.problem) if record.state.value not in SETTLED else None,
            "warnings": list(record.warnings), "updated_at": record.updated_at}
