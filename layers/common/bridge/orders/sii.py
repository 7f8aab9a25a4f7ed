"""F19: what the SII decides about each document the bridge made in Bsale (boletas, facturas, credit notes).

Bsale reports the SII's verdict later, on the document (`informedSii`: 0 accepted, 1 sent, 2 rejected, with
`responseMsgSii`). Every document the bridge records is followed (bridge/store/sii.py) until its verdict is final,
by a per-shop job the schedule queues (bridge/sync/schedule.py). One tick of one shop costs, whatever the number N
of documents outstanding (bench/sii_watch.py measures it):

- nothing when none is outstanding;
- one list of the office's documents still "sent" (`informedsii=1`), then one of the rejected ones
  (`informedsii=2`), both bounded by the emission dates of the documents outstanding (`emissiondaterange`);
  `LIST_PAGES` pages at most each. Read in this order, a document absent from both lists was accepted (a verdict
  never changes once final, so a rejection between the two reads is in the second);
- only when a list was longer than that (many other documents of the office in those days), the documents that
  could not be told apart are read one by one, `READS_PER_TICK` at most, the longest unchecked first.

A rejection moves the order to `rejected` (waits for a person: `fix-rejected` credits the document and makes a new
one under the next generation's salesId; a rejected credit note is settled by hand, then `resolve-order`), with
the SII's words verbatim, a note in the Jumpseller order's history and the `SiiRejectedDocuments` metric. A
document still "sent" past the shop's limit (`sii_overdue_after_minutes`, default 48 h) is flagged once
(`SiiOverdueDocuments`). Each verdict is taken once on the watch item before it is applied, so a replayed or
concurrent tick counts and notes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from bridge.clients import bsale_documents
from bridge.models.order_record import IN_FLIGHT, IssuedDocument, OrderRecord, OrderState
from bridge.observability import logger, metrics
from bridge.orders import followups
from bridge.orders.problems import sii_rejection
from bridge.redact import scrub_text
from bridge.shops.context import ShopContext
from bridge.store import due
from bridge.store import orders as records
from bridge.store import sii as watched
from bridge.store.sii import Watched

S = OrderState
SENT, ACCEPTED, REJECTED = "sent", "accepted", "rejected"
VERDICTS = {0: ACCEPTED, 1: SENT, 2: REJECTED}  # Bsale's informedSii
LIST_PAGES = 2  # per list and tick (50 documents a page)
READS_PER_TICK = 5  # one-by-one reads when the lists could not tell
DAY = 86400
# An order whose sale document (or credit note) the SII rejected waits for a person from these states.
STOPS = (S.CREATED, S.CREDITED, S.RESOLVED)


def verdict_of(answer: dict[str, Any]) -> str:
    try:
        return VERDICTS.get(int(answer.get("informedSii")), SENT)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return SENT


def follow(shop_id: str, order_id: int, document: IssuedDocument, answer: dict[str, Any],
           now: int) -> IssuedDocument:
    """A step recorded a Bsale document: start following its verdict (unless Bsale already says accepted).

    Called before the step settles, so a crash in between leaves the document followed (the item is keyed by the
    document: a replayed step finds it there). A rejection already in the answer is left to the watch, which
    applies it to the order once it is recorded."""
    verdict = verdict_of(answer)
    if verdict == ACCEPTED:
        return document.model_copy(update={"sii_status": ACCEPTED})
    emitted = _int(answer.get("emissionDate")) or now
    watched.watch(shop_id, Watched(document_id=document.id, order_id=order_id, kind=document.kind,
                                   emitted_at=emitted, made_at=now))
    # After the watch item, every time (a replayed step too): the schedule's next tick queues this shop's watch.
    # In this order, a watch that found nothing outstanding and removes the mark it read cannot remove this one.
    due.mark(shop_id, due.SII, now)
    return document.model_copy(update={"sii_status": SENT})


@dataclass
class Tick:
    outstanding: int = 0
    calls: int = 0  # Bsale calls made
    accepted: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)  # newly rejected (counted) this tick
    overdue: list[int] = field(default_factory=list)  # newly flagged this tick
    still_overdue: int = 0  # every outstanding document past its limit (the gauge)
    undecided: int = 0  # could not be told this tick (lists too long, reads spent)
    settled: int = 0  # verdicts applied to their orders this tick (their watch items deleted)

    @property
    def remaining(self) -> int:
        return self.outstanding - self.settled

    def summary(self) -> dict[str, Any]:
        return {"outstanding": self.outstanding, "calls": self.calls, "accepted": len(self.accepted),
                "rejected": self.rejected, "overdue": self.overdue, "still_overdue": self.still_overdue,
                "undecided": self.undecided}


def watch_shop(ctx: ShopContext, now: int) -> Tick:
    """One tick for one shop: read the verdicts of its outstanding documents and act on them."""
    # The shop's due mark is read before its documents: one followed after this read writes a new mark, which
    # the removal below (conditional on the mark read) then leaves alone.
    mark = due.get(ctx.shop_id, due.SII)
    items = watched.outstanding(ctx.shop_id)
    tick = Tick(outstanding=len(items))
    pending = [item for item in items if item.verdict is None]
    verdicts: dict[int, tuple[str, str | None]] = {}
    if pending:
        verdicts = _read_verdicts(ctx, pending, now, tick)
    for item in items:
        known = (item.verdict, item.message) if item.verdict else verdicts.get(item.document_id)
        if known is None:  # not told apart this tick (long lists, reads spent): flagged only once known "sent"
            tick.still_overdue += item.overdue_at is not None
            continue
        verdict, message = known
        if verdict == SENT:
            _still_sent(ctx, item, now, tick)
            continue
        # Decided now: only the first tick to see it counts it.
        if item.verdict is None and watched.decide(ctx.shop_id, item.document_id, verdict, message, now) \
                and verdict == REJECTED:
            tick.rejected.append(item.document_id)
        if _apply(ctx, item.order_id, item.document_id, verdict, message, now):
            watched.forget(ctx.shop_id, item.document_id)
            tick.settled += 1
            if verdict == ACCEPTED:
                tick.accepted.append(item.document_id)
    if mark is not None and tick.remaining == 0:  # nothing left to watch: the schedule stops queuing this shop
        due.drop(mark)
    if tick.rejected:
        logger.warning("the SII rejected documents", extra={"documents": tick.rejected})
    metrics.add_metric(name="SiiRejectedDocuments", unit=MetricUnit.Count, value=len(tick.rejected))
    metrics.add_metric(name="SiiOverdueDocuments", unit=MetricUnit.Count, value=tick.still_overdue)
    return tick


def _read_verdicts(ctx: ShopContext, pending: list[Watched], now: int, tick: Tick) -> dict[int, tuple[str, str | None]]:
    first, last = min(item.emitted_at for item in pending) - DAY, now + DAY  # a day's margin for time zones
    office = ctx.shop.office_id
    # "sent" first: a document absent from it is final, so the rejected list read after cannot miss it.
    sent, sent_all, calls = bsale_documents.documents_informed(ctx.bsale, 1, office, first, last, LIST_PAGES)
    tick.calls += calls
    rejected, rejected_all, calls = bsale_documents.documents_informed(ctx.bsale, 2, office, first, last, LIST_PAGES)
    tick.calls += calls
    sent_ids = {_int(d.get("id")) for d in sent}
    found: dict[int, tuple[str, str | None]] = {_int(d.get("id")): (REJECTED, _message(d)) for d in rejected}
    verdicts: dict[int, tuple[str, str | None]] = {}
    unknown = []
    for item in pending:
        if item.document_id in found:
            verdicts[item.document_id] = found[item.document_id]
        elif item.document_id in sent_ids:
            verdicts[item.document_id] = (SENT, None)
        elif sent_all and rejected_all:
            verdicts[item.document_id] = (ACCEPTED, None)
        else:
            unknown.append(item)
    unknown.sort(key=lambda i: (i.checked_at or 0, i.made_at))
    for item in unknown[:READS_PER_TICK]:
        answer = bsale_documents.document(ctx.bsale, item.document_id)
        tick.calls += 1
        watched.checked(ctx.shop_id, item.document_id, now)
        verdicts[item.document_id] = (verdict_of(answer), _message(answer))
    tick.undecided = max(0, len(unknown) - READS_PER_TICK)
    return verdicts


def _still_sent(ctx: ShopContext, item: Watched, now: int, tick: Tick) -> None:
    limit = ctx.shop.options.sii_overdue_after_minutes * 60
    if now - item.made_at < limit:
        return
    tick.still_overdue += 1
    if item.overdue_at is not None:
        return
    # The order says so first (a crash before the flag only repeats this idempotent write), then the flag counts.
    if _mark(ctx.shop_id, item.order_id, item.document_id, {"sii_overdue_at": now}, now) is not None \
            and watched.flag_overdue(ctx.shop_id, item.document_id, now):
        tick.overdue.append(item.document_id)
        logger.warning("a document is still not final at the SII", extra={"document_id": item.document_id,
                                                                          "made_at": item.made_at})


def _apply(ctx: ShopContext, order_id: int, document_id: int, verdict: str, message: str | None, now: int) -> bool:
    """Put the verdict on the order's record (and move it when rejected); False: try again next tick."""
    record = records.get(ctx.shop_id, order_id)
    if record is None:
        return True
    update = {"sii_status": verdict, "sii_message": message, "sii_overdue_at": None}
    found = _find(record, document_id)
    if verdict == ACCEPTED:
        if record.state in IN_FLIGHT:
            return False
        return found is None or _mark(ctx.shop_id, order_id, document_id, update, now) is not None
    if found is None:
        return record.state not in IN_FLIGHT  # not recorded yet (its step is in flight): next tick
    sets = _with(record, document_id, update)
    current = found is record.document or found is record.credit_note
    credit_note = found.code_sii == "61"
    error = sii_rejection(found.kind, found.number, message, credit_note=credit_note)
    if current and record.state in STOPS:
        moved = records.move(ctx.shop_id, order_id, from_states=[record.state], to=S.REJECTED, now=now,
                             sets={**sets, "error": error}, what=f"SII rejected {found.kind} N° {found.number}")
    elif record.state in IN_FLIGHT:
        return False
    else:  # already rejected (a replay), or a document an earlier generation replaced: say so, do not move
        moved = records.amend(ctx.shop_id, order_id, in_states=[record.state], now=now, sets=sets)
    if moved is None:
        return False
    said = f" SII: «{message}»" if message else ""
    followups.note(ctx, moved, f"note:sii:{document_id}", f"{error.reason}{said}", required=False)
    logger.warning("the SII rejected a document", extra={"document_id": document_id, "kind": found.kind,
                                                         "state": str(moved.state),
                                                         "upstream": scrub_text(message or "")[:300]})
    return True


def _mark(shop_id: str, order_id: int, document_id: int, update: dict[str, Any], now: int) -> OrderRecord | None:
    record = records.get(shop_id, order_id)
    if record is None or record.state in IN_FLIGHT or _find(record, document_id) is None:
        return None
    return records.amend(shop_id, order_id, in_states=[record.state], now=now,
                         sets=_with(record, document_id, update))


def _find(record: OrderRecord, document_id: int) -> IssuedDocument | None:
    return next((d for d in record.documents if d.id == document_id), None)


def _with(record: OrderRecord, document_id: int, update: dict[str, Any]) -> dict[str, Any]:
    """The record's document fields with `update` applied to the one document."""
    def changed(document: IssuedDocument | None) -> IssuedDocument | None:
        if document is None or document.id != document_id:
            return document
        return document.model_copy(update=update)

    sets: dict[str, Any] = {}
    if record.document is not None and record.document.id == document_id:
        sets["document"] = changed(record.document)
    if record.credit_note is not None and record.credit_note.id == document_id:
        sets["credit_note"] = changed(record.credit_note)
    if any(d.id == document_id for d in record.previous_documents):
        sets["previous_documents"] = [changed(d) for d in record.previous_documents]
    return sets


def _message(answer: dict[str, Any]) -> str | None:
    text = answer.get("responseMsgSii")
    return str(text) if text not in (None, "") else None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
