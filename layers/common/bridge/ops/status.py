"""F13: a shop's health in one place, for the operator command and the shop panel to come.

Everything here is read from the table (and, for the fleet, the dead-letter queues' attributes); nothing calls
Bsale or Jumpseller, so a status is cheap and works while they are down. Nothing here receives a message:
a shop's dead letters are counted from the marks its workers leave (`dead_letters.counts`), the queues' totals
come from GetQueueAttributes, and the fleet is read a page of shops at a time.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bridge import aws, secrets
from bridge.errors import UnknownShop
from bridge.models.shop import Shop
from bridge.store import jobs, links, orders, shops

WAITING_FOR_A_PERSON = ("failed", "needs_manual", "rejected")

# Each model is built on its first validation (defer_build, bridge/models/__init__.py): the panel imports this
# module for its status page, which alone validates a ShopHealth, and never a FleetPage (issue 12: cold start).


class OrderProblem(BaseModel):
    model_config = ConfigDict(defer_build=True)

    order_id: int
    state: str
    reason: str
    upstream: str | None = None
    code: str | None = None  # sii_rejected: `upstream` is the SII's words


class OverdueDocument(BaseModel):
    """F19: a document the SII has not decided on past the shop's limit."""

    model_config = ConfigDict(defer_build=True)

    order_id: int
    kind: str
    number: int | None
    since: int  # when it was flagged


class JobSummary(BaseModel):
    model_config = ConfigDict(defer_build=True)

    status: str
    started_at: int | None = None
    finished_at: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class ShopHealth(BaseModel):
    model_config = ConfigDict(defer_build=True)

    shop_id: str
    connected: bool
    stale: bool
    stale_since: int | None
    last_notification_at: int | None
    linked: int
    not_linked: dict[str, int]  # reason → count
    held: dict[str, int]  # SKU → units held by pending orders
    orders: dict[str, int]  # document state → count
    order_problems: list[OrderProblem]
    last_reconcile: JobSummary | None
    last_manual_sync: JobSummary | None
    catalog_problems: list[str]  # what the catalog worker could not apply, latest first
    disconnected_reason: str | None = None  # why Jumpseller no longer accepts the app (F17)
    dead_letters: dict[str, int] | None  # dead-letter queue → this shop's messages (None: not looked at)
    # F19: the documents made, by what the SII said ("sent to the SII" until a verdict is known, and for good
    # from a provider that reports none), and those still not final past the limit.
    sii_documents: dict[str, int] = Field(default_factory=dict)
    sii_overdue: list[OverdueDocument] = Field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return (self.connected and not self.stale and not self.order_problems and not self.sii_overdue
                and not any(self.dead_letters.values() if self.dead_letters else []))

    def one_line(self) -> str:
        last = _ago(self.last_notification_at)
        linked = f"{self.linked} linked, {sum(self.not_linked.values())} not"
        line = f"{self.shop_id:24} {'ok' if self.healthy else 'ATTENTION':9} {linked:24} last notification {last:>8}"
        flags = self.flags()
        return line + ("  — " + "; ".join(flags) if flags else "")

    def flags(self) -> list[str]:
        """What needs a person, in a few words each."""
        flags = []
        if not self.connected:
            flags.append("NOT CONNECTED" + (f" ({self.disconnected_reason})" if self.disconnected_reason else ""))
        if self.stale:
            flags.append("STALE: not receiving updates from Bsale")
        if self.order_problems:
            flags.append(f"{len(self.order_problems)} order(s) waiting for a person")
        if self.sii_overdue:
            flags.append(f"{len(self.sii_overdue)} document(s) not decided by the SII in time")
        if self.dead_letters and sum(self.dead_letters.values()):
            flags.append(f"{sum(self.dead_letters.values())} dead letter(s)")
        return flags


class FleetPage(BaseModel):
    """One page of every shop's health, and where the next page starts (None: this was the last)."""

    model_config = ConfigDict(defer_build=True)

    shops: list[ShopHealth]
    next_cursor: str | None


PAGE_SIZE = 100


def shop_health(shop_id: str, *, dead_letters: bool = True) -> ShopHealth:
    shop = shops.require(shop_id)
    return _health(shop, dead_letters)


def fleet_page(limit: int = PAGE_SIZE, cursor: str | None = None, *, with_dead_letters: bool = True) -> FleetPage:
    found, following = shops.page(limit, cursor)
    return FleetPage(shops=[_health(shop, with_dead_letters) for shop in found], next_cursor=following)


def fleet(limit: int = PAGE_SIZE, cursor: str | None = None, *, with_dead_letters: bool = True) -> Iterator[FleetPage]:
    """Every page from `cursor` on, read as it is asked for (an operator sees the first rows at once)."""
    while True:
        got = fleet_page(limit, cursor, with_dead_letters=with_dead_letters)
        yield got
        if got.next_cursor is None:
            return
        cursor = got.next_cursor


def dead_letter_totals() -> dict[str, int] | None:
    """Messages in each dead-letter queue this process knows the URL of (None: none configured); none received."""
    from bridge.ops import dead_letters

    found, _ = dead_letters.routes(None, os.environ)
    return dead_letters.totals(aws.client("sqs"), found) if found else None


def _health(shop: Shop, with_dead_letters: bool) -> ShopHealth:
    from bridge.ops import dead_letters

    all_links = links.all_links(shop.shop_id, links.HELD)
    records = orders.for_shop(shop.shop_id)
    problems = [OrderProblem(order_id=r.order_id, state=str(r.state), reason=r.error.reason if r.error else "",
                             upstream=r.error.upstream if r.error else None, code=r.error.code if r.error else None)
                for r in records if str(r.state) in WAITING_FOR_A_PERSON]
    return ShopHealth(
        shop_id=shop.shop_id,
        connected=_connected(shop.shop_id) and shop.disconnected_at is None,
        disconnected_reason=shop.disconnected_reason,
        stale=shop.stale_since is not None,
        stale_since=shop.stale_since,
        last_notification_at=shop.last_notification_at,
        linked=len(all_links),
        not_linked=dict(Counter(r["reason"] for r in links.unlinked_reasons(shop.shop_id))),
        held=dict(sorted((link.sku, link.held) for link in all_links if link.held)),
        orders=dict(Counter(str(r.state) for r in records)),
        order_problems=problems,
        last_reconcile=_job(shop.shop_id, "reconcile"),
        last_manual_sync=_job(shop.shop_id, "manual"),
        catalog_problems=[str(e.get("body", {}).get("reason", "")) for e in shops.events(shop.shop_id, "problem")],
        dead_letters=dead_letters.counts(shop.shop_id) if with_dead_letters else None,
        sii_documents=dict(Counter(d.sii_label for r in records for d in r.documents)),
        sii_overdue=[OverdueDocument(order_id=r.order_id, kind=d.kind, number=d.number, since=d.sii_overdue_at)
                     for r in records for d in r.documents if d.sii_overdue_at and d.sii_status == "sent"],
    )


def _connected(shop_id: str) -> bool:
    try:
        secrets.get(shop_id)
        return True
    except UnknownShop:
        return False


def _job(shop_id: str, kind: str) -> JobSummary | None:
    record = jobs.get(shop_id, kind)
    if record is None:
        return None
    result = jobs.result_of(record) or {}
    detail = {k: v for k, v in result.items() if k in ("fixed", "fixes", "links", "seconds", "mode", "linked",
                                                       "counts")}
    if "fixes" in detail:
        detail["fixes"] = detail["fixes"][:20]
    return JobSummary(status=str(record.get("status")), started_at=record.get("started_at"),
                      finished_at=record.get("finished_at"), detail=detail)


def _ago(at: int | None) -> str:
    if at is None:
        return "never"
    seconds = int(time.time()) - at
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"

