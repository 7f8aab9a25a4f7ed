"""Health commands: status (every shop, one row each) and status SHOP (everything about one shop)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from admin.environment import need
from admin.render import JSON_HELP, emit_json, finish, health, row, say, show, table, when

PANEL = "Health"


def register(app: typer.Typer) -> None:
    app.command("status", rich_help_panel=PANEL)(status)


def status(
    store_code: Annotated[str | None, typer.Argument(help="one shop (default: every shop, one row each)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP + " (what the shop panel shows)")] = False,
    no_dead_letters: Annotated[bool, typer.Option("--no-dead-letters",
                                                  help="do not count dead letters")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=1000,
                                              help="one page of this many shops, with the cursor of the next "
                                                   "(default: every page, read and printed one after another)")] = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="start where the page that printed it ended")] = None,
) -> None:
    """Every shop's health, one row each (exit 1 when one needs attention), or one shop's whole status.

    Nothing is received from the dead-letter queues: each shop's count comes from the marks its workers leave,
    and the queues' totals from their attributes (`dlq list` shows the messages themselves).
    """
    from bridge.ops.status import PAGE_SIZE, dead_letter_totals, fleet, fleet_page, shop_health

    need()
    if store_code is None:
        pages = [fleet_page(limit, cursor, with_dead_letters=not no_dead_letters)] if limit else \
            fleet(PAGE_SIZE, cursor, with_dead_letters=not no_dead_letters)
        totals = None if no_dead_letters else dead_letter_totals()
        healthy, shown, following = True, [], None
        for page in pages:
            healthy = healthy and all(h.healthy for h in page.shops)
            following = page.next_cursor
            if as_json:
                shown += [h.model_dump() for h in page.shops]
                continue
            if not page.shops:  # DynamoDB may end a query exactly at the last shop: the next page is empty
                continue
            grid = table("shop", "health", "linked", "not linked", "last Bsale notification", "needs a person")
            for h in page.shops:
                row(grid, h.shop_id, health(h.healthy), h.linked, sum(h.not_linked.values()),
                    when(h.last_notification_at), "; ".join(h.flags()) or "")
            show(grid)
        if as_json:
            emit_json({"shops": shown, "next_cursor": following, "dead_letter_queues": totals})
        else:
            if totals is not None:
                say("dead-letter queues: " + ", ".join(f"{q} {n}" for q, n in totals.items())
                    + " (messages, all shops; `dlq list` shows them)")
            if following:
                say(f"more shops: --cursor {following}")
        finish(0 if healthy else 1)
    one = shop_health(store_code, dead_letters=not no_dead_letters)
    if as_json:
        print(one.model_dump_json(indent=2))
        finish(0)
    say(f"{one.shop_id}: {'ok' if one.healthy else 'ATTENTION — ' + '; '.join(one.flags())}")
    say(f"  connected: {'yes' if one.connected else 'NO (no credentials stored)'}")
    if one.stale:
        say(f"  WARNING: this store is not receiving updates from Bsale (since {when(one.stale_since)})")
    say(f"  last Bsale notification: {when(one.last_notification_at)}")
    say(f"  products: {one.linked} linked; not linked: "
        + (", ".join(f"{n} {reason}" for reason, n in one.not_linked.items()) or "none"))
    if one.held:
        say("  held by pending orders: " + ", ".join(f"{sku} ({n})" for sku, n in one.held.items()))
    say("  orders by document state: " + (", ".join(f"{s} {n}" for s, n in one.orders.items()) or "none"))
    if one.sii_documents:
        say("  documents: " + ", ".join(f"{n} {label}" for label, n in one.sii_documents.items()))
    for late in one.sii_overdue:
        say(f"    order {late.order_id}: {late.kind} N° {late.number} not decided by the SII since "
            f"{when(late.since)} (check it in Bsale / the SII)")
    for problem in one.order_problems:
        source = "SII" if problem.code == "sii_rejected" else "Bsale"
        said = f" — {source}: {problem.upstream}" if problem.upstream else ""
        say(f"    order {problem.order_id} {problem.state}: {problem.reason}{said}")
    for label, job in (("last reconcile", one.last_reconcile), ("last manual sync", one.last_manual_sync)):
        if job is None:
            say(f"  {label}: never")
            continue
        say(f"  {label}: {job.status}, started {when(job.started_at)}, {json.dumps(job.detail)[:300]}")
    for reason in one.catalog_problems[:5]:
        say(f"  catalog problem: {reason}")
    if one.dead_letters is not None:
        say("  dead letters: " + ", ".join(f"{q} {n}" for q, n in one.dead_letters.items()))
    finish(0 if one.healthy else 1)
