"""What happens to a Jumpseller order, step by step, exactly once (F6-F9): the entry points and the routing.

Events and requests (worker and operator commands) all come here and are routed to the order's next step. Each
step is a module of its own (bridge/orders/steps/) following one protocol (bridge/orders/protocol.py): claimed on
the order's state record (bridge/models/order_record.py) before anything is sent, resumed only in a way that cannot
double it, and settled after. Why nothing is ever doubled is told in each step's module:

- documents (`steps/bsale_document.py`): the same body and `salesId` re-POSTed; Bsale answers with the document;
- consumptions (`steps/consumption.py`): a note unique to the order, looked for before sending again;
- returns (`steps/bsale_return.py`): the document's returns listed first, by the order's motive;
- receptions (`steps/reception.py`): found again by `documentNumber`;
- held stock: bridge/store/held.py (one transaction per hold and per release).

Retryable problems (no answer, 5xx, 429) let go of the claim and raise, so SQS tries again later; the step
stays in flight and is resumed. Other refusals end in `failed` or `needs_manual` with the service's words
and a Spanish explanation, and wait for a person (`retry-order`, `create-document`, `resolve-order`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bridge.clients import jumpseller_orders
from bridge.clients.http import RateLimited
from bridge.errors import BridgeError, UpstreamError
from bridge.models.jumpseller_order import JumpsellerOrder, OrderStatus
from bridge.models.order_record import (
    IN_FLIGHT,
    WAITING_FOR_A_PERSON,
    IssuedDocument,
    OrderRecord,
    OrderState,
    Step,
)
from bridge.models.shop import Shop
from bridge.observability import logger
from bridge.orders import followups, protocol
from bridge.orders.problems import problem
from bridge.orders.protocol import LEASE_SECONDS, ExactlyOnceStep, OrderBusy, Result
from bridge.orders.steps import facto_marks
from bridge.redact import scrub_text
from bridge.shops.context import ShopContext
from bridge.store import held, links
from bridge.store import orders as records

if TYPE_CHECKING:
    from bridge.documents.builder import DocumentPlan as Plan

# The Bsale steps (bridge/orders/steps/) are imported where they run, as Facto's are: an event that only holds or
# gives back stock (pending payment, abandoned, canceled before anything reached Bsale) never loads the document
# rules, the Bsale documents client or the SII watch. The first event of a Lambda environment that makes or undoes
# a document (paid, canceled after it) imports them (issue 12: cold start).

__all__ = ["LEASE_SECONDS", "OrderBusy", "Result", "create_document", "new_attempt", "on_abandoned",
           "on_canceled", "on_paid", "on_pending", "resolve", "retry", "fix_rejected"]

S = OrderState
_follow_up = followups.follow_up
_note = followups.note


def _facto(shop: Shop) -> bool:
    return shop.options.document_provider == facto_marks.PROVIDER


def _create(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    """The sale's document, by the shop's provider."""
    if _facto(ctx.shop):
        # Imported here (and below) on first use: only the shops that emit with Facto need its SOAP client and
        # document rules, so the order worker's cold start does not load them (issue 12).
        from bridge.orders.steps import facto_document

        return facto_document.create(ctx, record, attempt, from_states=from_states)
    from bridge.orders.steps import bsale_document

    return bsale_document.create(ctx, record, attempt, from_states=from_states)


def _credit(ctx: ShopContext, record: OrderRecord, attempt: str, purpose: str, *,
            from_states: list[OrderState]) -> Result:
    """The credit note voiding the order's document, by the provider that emitted it."""
    if record.document is not None and record.document.provider == facto_marks.PROVIDER:
        from bridge.orders.steps import facto_document

        return facto_document.credit(ctx, record, attempt, from_states=from_states)
    from bridge.orders.steps import bsale_return

    return bsale_return.credit(ctx, record, attempt, purpose, from_states=from_states)


def _stock_left_in_bsale(ctx: ShopContext, record: OrderRecord) -> bool:
    """Facto emitted the document and Bsale keeps the stock: its units still have to leave Bsale."""
    return (_facto(ctx.shop) and ctx.shop.bsale_account and record.document is not None
            and record.document.provider == facto_marks.PROVIDER and record.consumption is None)


def _consume(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    from bridge.orders.steps import consumption

    return consumption.consume(ctx, record, attempt, from_states=from_states)


def _restock(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    from bridge.orders.steps import reception

    return reception.restock(ctx, record, attempt, from_states=from_states)


def new_attempt(prefix: str = "cli") -> str:
    return f"{prefix}-{uuid.uuid4()}"


def _now() -> int:
    return int(time.time())


@contextmanager
def _letting_go_when_rate_limited(shop_id: str, order_id: int, attempt: str) -> Iterator[None]:
    """The shop's API quota is spent (the caller defers the work): give up any claim, so the deferred copy of
    the message (another id) or any other attempt can resume the step at once."""
    try:
        yield
    except RateLimited:
        error = problem("rate_limited", "Se alcanzó el límite de llamadas a la API de la tienda; se reintentará en "
                                        "unos segundos.", None, retryable=True)
        records.unclaim(shop_id, order_id, attempt=attempt, now=_now(), sets={"last_error": error})
        raise


# ---------------------------------------------------------------------------------------------- entry points


def on_pending(ctx: ShopContext, order: JumpsellerOrder) -> Result:
    """order_pending_payment: hold the units the order took in Jumpseller (once per order)."""
    lines: dict[str, int] = {}
    skus: dict[str, str] = {}
    for product in order.products:
        found = links.by_sku(ctx.shop_id, product.sku) if product.sku and product.qty > 0 else []
        if len(found) == 1:
            lines[found[0].variant_id] = lines.get(found[0].variant_id, 0) + product.qty
            skus[found[0].variant_id] = found[0].sku
    if held.hold(ctx.shop_id, order.id, lines, skus, _now()):
        return Result("held", ", ".join(f"{skus[v]}×{q}" for v, q in lines.items()) or "nothing linked")
    return Result("unchanged", "the order already holds (or already released) its stock")


def on_abandoned(ctx: ShopContext, order: JumpsellerOrder) -> Result:
    released = held.release(ctx.shop_id, order.id, "abandoned", _now())
    return Result("released" if released else "unchanged", "abandoned: only its held stock is given back")


def on_paid(ctx: ShopContext, order: JumpsellerOrder, raw: dict[str, Any], attempt: str) -> Result:
    with _letting_go_when_rate_limited(ctx.shop_id, order.id, attempt):
        return _advance(ctx, _ensure(ctx.shop_id, order.id, raw, "order_paid"), attempt)


def on_canceled(ctx: ShopContext, order: JumpsellerOrder, raw: dict[str, Any], attempt: str) -> Result:
    with _letting_go_when_rate_limited(ctx.shop_id, order.id, attempt):
        return _on_canceled(ctx, order, raw, attempt)


def _on_canceled(ctx: ShopContext, order: JumpsellerOrder, raw: dict[str, Any], attempt: str) -> Result:
    record = records.get(ctx.shop_id, order.id)
    if record is None:
        now = _now()
        tombstone = OrderRecord(shop_id=ctx.shop_id, order_id=order.id, state=S.CANCELED, order=raw, created_at=now,
                                updated_at=now, history=[{"at": now, "state": "canceled", "what": "order_canceled"}])
        if records.create(tombstone):
            held.release(ctx.shop_id, order.id, "canceled", now)
            return Result("canceled", "canceled before anything reached Bsale", tombstone)
        record = _require(ctx.shop_id, order.id)
    return _cancel(ctx, record, attempt)


def retry(ctx: ShopContext, order_id: int, attempt: str, *, force: bool = False) -> Result:
    """"Reintentar": resume or redo the step an order is stuck on, once its cause is fixed."""
    with _letting_go_when_rate_limited(ctx.shop_id, order_id, attempt):
        return _retry(ctx, order_id, attempt, force=force)


def _retry(ctx: ShopContext, order_id: int, attempt: str, *, force: bool) -> Result:
    record = _require(ctx.shop_id, order_id)
    state = record.state
    if state in IN_FLIGHT:
        result = _resume(ctx, record, attempt, force=force)
        if result.action == "in_progress":
            age = _now() - (record.claimed_at or 0)
            return Result("busy", f"another attempt took this step {age} s ago; wait {LEASE_SECONDS} s "
                                  "(its lease) or use --force if it is surely dead", record)
        return result
    if state in WAITING_FOR_A_PERSON:
        step = record.error.step if record.error and record.error.step else Step.DOCUMENT
        code = record.error.code if record.error else ""
        if code in (facto_marks.UNKNOWN, facto_marks.DRAFT) and not force:
            return Result("refused", "Facto may already hold this document (unknown outcome or draft): check Facto's "
                                     "portal, then resolve-order --folio N if it is there (documents only), "
                                     "resolve-order if it is a credit note, or retry-order --force to emit it again",
                          record)
        if record.document is not None and record.document.credited_by is None and step is Step.CREDIT:
            return _credit(ctx, record, attempt, _purpose(record), from_states=[state])
        if step is Step.RESTOCK:
            return _restock(ctx, record, attempt, from_states=[state])
        if step is Step.CONSUMPTION_CHECK:
            claimed = records.claim(ctx.shop_id, order_id, from_states=[state], to=S.CONSUMING, attempt=attempt,
                                    now=_now(), what="retry")
            if claimed is None:
                return Result("in_progress", "the order moved meanwhile")
            from bridge.orders.steps import consumption

            return protocol.run(ctx, consumption.STEP, claimed, attempt, look_first=not force)
        if step is Step.CONSUMPTION:
            return _consume(ctx, record, attempt, from_states=[state])
        record = _refresh(ctx, record, [state])
        return _create(ctx, record, attempt, from_states=[state])
    if state is S.RECEIVED:
        if _manual(ctx.shop):
            return Result("refused", "manual mode: emit the document with create-document", record)
        return _advance(ctx, record, attempt)
    if state is S.CREATED and _stock_left_in_bsale(ctx, record):
        return _consume(ctx, record, attempt, from_states=[S.CREATED])
    if state in (S.CREATED, S.CONSUMED, S.CREDITED, S.RESTOCKED):
        _follow_up(ctx, record)
        return Result("unchanged", f"nothing to retry: the order is {state}", record)
    return Result("unchanged", f"nothing to retry: the order is {state}", record)


def create_document(ctx: ShopContext, order_id: int, attempt: str, *, replace: bool = False) -> Result:
    """Manual mode (or a factura instead of a boleta): emit the order's document on request.

    The order is read fresh from Jumpseller, so data the shop corrected there is used.
    """
    with _letting_go_when_rate_limited(ctx.shop_id, order_id, attempt):
        return _create_document(ctx, order_id, attempt, replace=replace)


def _create_document(ctx: ShopContext, order_id: int, attempt: str, *, replace: bool) -> Result:
    if not ctx.shop.options.documents:
        return Result("refused", "this shop has documents turned off (its paid orders are stock consumptions)")
    raw = jumpseller_orders.order(ctx.jumpseller, order_id)
    try:
        order = JumpsellerOrder.model_validate(raw)
    except ValidationError as exc:
        return Result("refused", f"Jumpseller's order {order_id} does not parse: {exc.error_count()} problem(s)")
    if order.status_enum is not OrderStatus.PAID:
        return Result("refused", f"El pedido no está pagado (estado {order.status_enum or order.status})")
    record = _ensure(ctx.shop_id, order_id, raw, "create-document")
    state = record.state
    if state is S.RECEIVED or (state in WAITING_FOR_A_PERSON and _step(record) is Step.DOCUMENT):
        record = records.amend(ctx.shop_id, order_id, in_states=[state], now=_now(), sets={"order": raw}) or record
        return _create(ctx, record, attempt, from_states=[state])
    if state is S.CREATED and record.document is not None and _facto(ctx.shop):
        current = record.document
        return Result("refused" if replace else "unchanged",
                      f"ya tiene {current.kind} N° {current.number} (Facto)"
                      + ("; --replace no está disponible con Facto: anula con la cancelación del pedido"
                         if replace else ""), record)
    if state is S.CREATED and record.document is not None:
        from bridge.documents.builder import DocumentPlan as Plan

        plan = _plan(ctx, order)
        if not isinstance(plan, Plan):
            return Result("refused", f"no se puede emitir otro documento: {plan.reason}", record)
        current = record.document
        if plan.kind.value == current.kind:
            return Result("unchanged", f"ya tiene {current.kind} N° {current.number}", record)
        if not replace:
            return Result("refused", f"El pedido ya tiene {current.kind} N° {current.number} y ahora pide "
                                     f"{plan.kind.value}. Con --replace se anula la {current.kind} con una nota "
                                     f"de crédito y se emite la {plan.kind.value}.", record)
        record = records.amend(ctx.shop_id, order_id, in_states=[S.CREATED], now=_now(), sets={"order": raw}) or record
        return _credit(ctx, record, attempt, "replace", from_states=[S.CREATED])
    if state in IN_FLIGHT:
        return _resume(ctx, record, attempt, force=False)
    return Result("refused", f"the order is {state}: nothing to emit", record)


def resolve(shop_id: str, order_id: int, note: str, *, folio: int | None = None) -> Result:
    """A person settled a failed order by hand (e.g. emitted the document in Bsale): stop waiting, give back
    its held stock (Bsale now knows the sale).

    `folio`: the document a Facto emission of unknown outcome (or a draft sent by hand) turned out to be; the
    order then counts as documented with it (`created`), so a later cancellation credits it.
    """
    record = _require(shop_id, order_id)
    now = _now()
    if folio is not None:
        return _resolve_with_folio(record, note, folio, now)
    moved = records.move(shop_id, order_id, from_states=[*WAITING_FOR_A_PERSON, S.REJECTED], to=S.RESOLVED, now=now,
                         sets={"resolution": note}, what=f"resolved by hand: {note}")
    if moved is None:
        return Result("refused", f"only failed, needs_manual or rejected orders can be resolved (this one is "
                                 f"{record.state})")
    held.release(shop_id, order_id, "resolved", now)
    return Result("resolved", note, moved)


def fix_rejected(ctx: ShopContext, order_id: int, attempt: str) -> Result:
    """F19: the SII rejected the order's document. Credit it, then make a new one under the next generation's
    salesId (the same steps as a boleta becoming a factura), from the order as Jumpseller has it now: exactly once,
    as a repeated command resumes or finds the order already moved on."""
    with _letting_go_when_rate_limited(ctx.shop_id, order_id, attempt):
        record = _require(ctx.shop_id, order_id)
        if record.state is S.CREDITING and _purpose(record) == "reissue":
            return _resume(ctx, record, attempt, force=False)
        if record.state is not S.REJECTED:
            return Result("refused", f"the order is {record.state}: only a rejected order is fixed this way", record)
        document = record.document
        if document is None or document.sii_status != "rejected" or document.credited_by is not None:
            return Result("refused", "the SII rejected its credit note, not its document: emit one by hand in "
                                     "Bsale, then resolve-order", record)
        record = _refresh(ctx, record, [S.REJECTED])
        return _credit(ctx, record, attempt, "reissue", from_states=[S.REJECTED])


def _resolve_with_folio(record: OrderRecord, note: str, folio: int, now: int) -> Result:
    intent = record.intent or {}
    sent = intent.get("document") if facto_marks.is_facto(record) else None
    if (record.state not in WAITING_FOR_A_PERSON or _step(record) is not Step.DOCUMENT or not sent
            or record.document is not None):
        return Result("refused", "--folio is for a Facto document of unknown outcome or a draft (this order is "
                                 f"{record.state}, step {_step(record)})")
    tipo = int(sent["encabezado"]["tipo_dte"])
    document = IssuedDocument(id=folio, kind=str(intent.get("kind")), code_sii=str(tipo), number=folio,
                              total=sent["totales"].get("total_final"), provider=facto_marks.PROVIDER,
                              request=sent)
    moved = records.move(record.shop_id, record.order_id, from_states=[record.state], to=S.CREATED, now=now,
                         sets={"document": document, "draft": None, "resolution": note, "error": None,
                               "intent": None}, what=f"resolved by hand with folio {folio}: {note}")
    if moved is None:
        return Result("in_progress", "the order moved meanwhile")
    return Result("resolved", f"{document.kind} N° {folio} (Facto), recorded by hand", moved)


# ---------------------------------------------------------------------------------------------- paid track


def _ensure(shop_id: str, order_id: int, raw: dict[str, Any], what: str) -> OrderRecord:
    now = _now()
    record = OrderRecord(shop_id=shop_id, order_id=order_id, state=S.RECEIVED, order=raw, created_at=now,
                         updated_at=now, history=[{"at": now, "state": "received", "what": what}])
    return record if records.create(record) else _require(shop_id, order_id)


def _require(shop_id: str, order_id: int) -> OrderRecord:
    record = records.get(shop_id, order_id)
    if record is None:
        raise BridgeError(f"no record of order {order_id} for shop '{shop_id}'")
    return record


def _manual(shop: Shop) -> bool:
    return shop.options.documents and shop.options.document_mode == "manual"


def _advance(ctx: ShopContext, record: OrderRecord, attempt: str) -> Result:
    """The paid order's next step, from wherever its record is. Late and repeated events end here harmlessly."""
    state = record.state
    if state is S.RECEIVED:
        if not ctx.shop.options.documents:
            return _consume(ctx, record, attempt, from_states=[S.RECEIVED])
        if _manual(ctx.shop):
            return Result("waiting", "manual mode: the document is emitted on request (create-document)", record)
        return _create(ctx, record, attempt, from_states=[S.RECEIVED])
    if state in (S.CREATING, S.CONSUMING):
        return _resume(ctx, record, attempt, force=False)
    if state is S.CREATED and _stock_left_in_bsale(ctx, record):  # the worker died between the two steps
        return _consume(ctx, record, attempt, from_states=[S.CREATED])
    if state in (S.CREATED, S.CONSUMED):
        _follow_up(ctx, record)
        return Result("unchanged", f"already {state}", record)
    return Result("unchanged", f"the order is {state}", record)


def _resume(ctx: ShopContext, record: OrderRecord, attempt: str, *, force: bool) -> Result:
    taken = protocol.take_over(ctx, record, attempt, force=force)
    if taken is None:
        return Result("in_progress", f"{record.state} by another attempt", record)
    return protocol.run(ctx, _in_flight_step(taken), taken, attempt, look_first=True)


def _in_flight_step(record: OrderRecord) -> ExactlyOnceStep:
    """The step a record in flight is on (its state names it)."""
    if facto_marks.is_facto(record):
        from bridge.orders.steps import facto_document

        return facto_document.EMISSION if record.state is S.CREATING else facto_document.CREDITING
    from bridge.orders.steps import bsale_document, bsale_return, consumption, reception

    steps: dict[OrderState, ExactlyOnceStep] = {S.CREATING: bsale_document.STEP, S.CONSUMING: consumption.STEP,
                                                S.CREDITING: bsale_return.STEP, S.RESTOCKING: reception.STEP}
    return steps[record.state]


def _plan(ctx: ShopContext, order: JumpsellerOrder) -> Plan | Any:
    from bridge.orders.steps import bsale_document

    return bsale_document.plan(ctx, order)


def _refresh(ctx: ShopContext, record: OrderRecord, states: Iterable[OrderState]) -> OrderRecord:
    """The order as Jumpseller has it now (the shop may have fixed its data), kept on the record."""
    try:
        raw = jumpseller_orders.order(ctx.jumpseller, record.order_id)
        JumpsellerOrder.model_validate(raw)
    except (UpstreamError, ValidationError) as exc:
        logger.warning("could not re-read the order from Jumpseller; using the one received",
                       extra={"reason": scrub_text(str(exc))[:300]})
        return record
    return records.amend(ctx.shop_id, record.order_id, in_states=states, now=_now(), sets={"order": raw}) or record


# ---------------------------------------------------------------------------------------------- cancellation


def _purpose(record: OrderRecord) -> str:
    return str((record.intent or {}).get("purpose") or "cancel")


def _next_generation(record: OrderRecord) -> bool:
    """The order's credit note is on its way to a new document (a factura instead, or a reissue)."""
    from bridge.orders.steps import bsale_return

    return _purpose(record) in bsale_return.NEXT_GENERATION


def _step(record: OrderRecord) -> Step:
    return record.error.step if record.error and record.error.step else Step.DOCUMENT


def _cancel(ctx: ShopContext, record: OrderRecord, attempt: str, depth: int = 0) -> Result:
    state = record.state
    now = _now()
    if state in (S.CREATING, S.CONSUMING) or (state is S.CREDITING and _next_generation(record)):
        raise OrderBusy(f"order {record.order_id} is {state}; its cancellation waits for that step to end")
    if state in (S.CREDITING, S.RESTOCKING):
        return _resume(ctx, record, attempt, force=False)
    document = record.document
    error = record.error
    if state in WAITING_FOR_A_PERSON and error is not None and error.step is Step.CREDIT \
            and error.code in (facto_marks.UNKNOWN, facto_marks.DRAFT):
        # Facto may already hold the credit note: never emitted again by a repeated cancellation
        return Result("unchanged", f"the order waits for a person ({error.code}): {error.reason}", record)
    if state is S.CREATED or (state in (*WAITING_FOR_A_PERSON, S.CONSUMED, S.REJECTED) and document is not None
                              and document.credited_by is None):
        return _credit(ctx, record, attempt, "cancel", from_states=[state])
    if state is S.CREDITED and record.consumption is not None and record.consumption.id is not None \
            and record.reception is None:  # Facto credited, the units go back into Bsale
        return _restock(ctx, record, attempt, from_states=[state])
    if state is S.CONSUMED or (state in WAITING_FOR_A_PERSON and record.consumption is not None
                               and record.consumption.id is not None and record.reception is None):
        return _restock(ctx, record, attempt, from_states=[state])
    if state in (S.RECEIVED, S.FAILED, S.NEEDS_MANUAL, S.SKIPPED):
        moved = records.move(ctx.shop_id, record.order_id, from_states=[state], to=S.CANCELED, now=now,
                             what="order_canceled: nothing to undo in Bsale")
        if moved is None:
            if depth > 3:
                raise OrderBusy(f"order {record.order_id} keeps moving")
            return _cancel(ctx, _require(ctx.shop_id, record.order_id), attempt, depth + 1)
        held.release(ctx.shop_id, record.order_id, "canceled", now)
        if state is S.NEEDS_MANUAL:
            _note(ctx, moved, "note:canceled", "Pedido cancelado. Si emitiste un documento a mano en Bsale, "
                                               "anúlalo con una nota de crédito.", required=False)
        return Result("canceled", "nothing had reached Bsale", moved)
    held.release(ctx.shop_id, record.order_id, "canceled", now)
    if state in (S.CREDITED, S.RESTOCKED):
        _follow_up(ctx, record)
    return Result("unchanged", f"the order is {state}", record)


