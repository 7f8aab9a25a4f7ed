"""What happens to a Jumpseller order in Bsale, step by step, exactly once (F6-F9).

Events and requests (worker and operator commands) all come here; each step is claimed on the order's state
record (bridge/orders/record.py) before anything is sent, and settled after. Why nothing is ever doubled:

- Documents. A document is only POSTed by the attempt holding the `creating` claim, with the body saved in
  the record beforehand and a `salesId` derived from shop, order and generation. If that attempt dies after
  Bsale made the document (or its answer is lost), the record stays `creating`; the next attempt (the same
  SQS message coming back, or the retry command once the lease expired) sends the SAME body again, and Bsale
  answers 200 with the existing document (salesId is matched per document type; the type is in the saved
  body, so it cannot change between attempts). A `created` record is never posted again, whatever arrives:
  a replay, a duplicate, an `order_paid` whose customer now asks for a factura. Changing a boleta into a
  factura is an explicit request (`create-document --replace`): the boleta is credited first (its own
  exactly-once step), then the factura is made under the next generation's salesId.
- Consumptions (documents off). Bsale does not deduplicate them. The consumption carries a note unique to the
  order, saved in the record before sending. An attempt that resumes a `consuming` record (so an earlier one
  may have reached Bsale) first reads the office's consumptions for that note; found: recorded, not sent.
  When the search cannot be completed the order goes to `needs_manual` instead of risking a second one.
- Returns (cancellation after a document). Before sending, every attempt lists the document's returns
  (`GET /v1/returns.json?referencedocumentid=`) and takes one with the order's motive as already made.
- Receptions (cancellation after a consumption). Same, by `documentNumber` (a documented filter).
- Held stock: bridge/store/held.py (one transaction per hold and per release).

Retryable problems (no answer, 5xx, 429) let go of the claim and raise, so SQS tries again later; the step
stays in flight and is resumed as above. Other refusals end in `failed` or `needs_manual` with Bsale's words
and a Spanish explanation, and wait for a person (`retry-order`, `create-document`, `resolve-order`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from bridge.clients import bsale_documents, jumpseller_orders
from bridge.clients.http import RateLimited
from bridge.documents.builder import DocumentPlan as Plan
from bridge.documents.builder import (
    DocumentSettings,
    Failure,
    ProblemCode,
    Skip,
    VariantLink,
    build_bsale_document,
)
from bridge.documents.choice import CheckoutFields, DocumentKind
from bridge.documents.dates import emission_date
from bridge.errors import BridgeError, UpstreamError
from bridge.models.jumpseller_order import JumpsellerOrder, OrderStatus
from bridge.models.shop import Shop
from bridge.observability import logger
from bridge.orders.problems import Outcome, diagnose, problem, redact
from bridge.orders.record import (
    IN_FLIGHT,
    WAITING_FOR_A_PERSON,
    DocumentLine,
    IssuedDocument,
    OrderError,
    OrderRecord,
    OrderState,
    Step,
    StockMove,
)
from bridge.shops.context import ShopContext
from bridge.store import held, links
from bridge.store import orders as records

LEASE_SECONDS = 120  # > the worker's 60 s timeout: a claim this old belongs to an attempt that is gone
CODE_SII = {DocumentKind.BOLETA.value: "39", DocumentKind.FACTURA.value: "33"}
CREDIT_NOTE = "nota de crédito"
MOTIVES = {
    "cancel": "Anulación del pedido Jumpseller {order}",
    "replace": "Cambio de {kind} a factura, pedido Jumpseller {order}",
}
S = OrderState


class OrderBusy(BridgeError):
    """Another step of this order is in flight; the event is tried again later (SQS)."""

    status = 409
    code = "order_busy"


@dataclass(frozen=True)
class Result:
    action: str  # what happened, for logs and the CLI (created, failed, in_progress, unchanged...)
    detail: str = ""
    record: OrderRecord | None = None


def checkpoint(step: str) -> None:
    """Right after Bsale accepted a write, before the record says so: the window a crash can hit.

    Does nothing; tests replace it to make an attempt die exactly there.
    """


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
        if record.document is not None and record.document.credited_by is None and step is Step.CREDIT:
            return _credit(ctx, record, attempt, _purpose(record), from_states=[state])
        if step is Step.RESTOCK:
            return _restock(ctx, record, attempt, from_states=[state])
        if step is Step.CONSUMPTION_CHECK:
            claimed = records.claim(ctx.shop_id, order_id, from_states=[state], to=S.CONSUMING, attempt=attempt,
                                    now=_now(), what="retry")
            if claimed is None:
                return Result("in_progress", "the order moved meanwhile")
            return _post_consumption(ctx, claimed, attempt, check_first=not force)
        if step is Step.CONSUMPTION:
            return _consume(ctx, record, attempt, from_states=[state])
        record = _refresh(ctx, record, [state])
        return _create(ctx, record, attempt, from_states=[state])
    if state is S.RECEIVED:
        if _manual(ctx.shop):
            return Result("refused", "manual mode: emit the document with create-document", record)
        return _advance(ctx, record, attempt)
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
    if state is S.CREATED and record.document is not None:
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


def resolve(shop_id: str, order_id: int, note: str) -> Result:
    """A person settled a failed order by hand (e.g. emitted the document in Bsale): stop waiting, give back
    its held stock (Bsale now knows the sale)."""
    record = _require(shop_id, order_id)
    now = _now()
    moved = records.move(shop_id, order_id, from_states=WAITING_FOR_A_PERSON, to=S.RESOLVED, now=now,
                         sets={"resolution": note}, what=f"resolved by hand: {note}")
    if moved is None:
        return Result("refused", f"only failed or needs_manual orders can be resolved (this one is {record.state})")
    held.release(shop_id, order_id, "resolved", now)
    return Result("resolved", note, moved)


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
    if state in (S.CREATED, S.CONSUMED):
        _follow_up(ctx, record)
        return Result("unchanged", f"already {state}", record)
    return Result("unchanged", f"the order is {state}", record)


def _resume(ctx: ShopContext, record: OrderRecord, attempt: str, *, force: bool) -> Result:
    now = _now()
    taken = records.take_over(ctx.shop_id, record.order_id, state=record.state, attempt=attempt, now=now,
                              stale_before=now - LEASE_SECONDS, force=force)
    if taken is None:
        return Result("in_progress", f"{record.state} by another attempt", record)
    logger.info("resuming an in-flight step", extra={"state": taken.state.value})
    if taken.state is S.CREATING:
        return _post_document(ctx, taken, attempt)
    if taken.state is S.CONSUMING:
        return _post_consumption(ctx, taken, attempt, check_first=True)
    if taken.state is S.CREDITING:
        return _post_return(ctx, taken, attempt)
    return _post_reception(ctx, taken, attempt)


def document_settings(shop: Shop) -> DocumentSettings:
    types = shop.document_types
    checkout = CheckoutFields(**{k: tuple(v) for k, v in shop.options.checkout_fields.items()})
    return DocumentSettings(store_code=shop.shop_id, office_id=shop.office_id, price_list_id=shop.price_list_id,
                            boleta_type_id=types.get("39", 0), factura_type_id=types.get("33", 0),
                            checkout=checkout)


def resolve_links(ctx: ShopContext, order: JumpsellerOrder) -> dict[str, VariantLink]:
    """SKU → Bsale variant for the order's products. A SKU without a link that is serial-numbered in Bsale is
    reported as such (the catalog never links those), so the order asks for a manual document."""
    found: dict[str, VariantLink] = {}
    for product in order.products:
        sku = (product.sku or "").strip()
        if not sku or sku in found:
            continue
        linked = links.by_sku(ctx.shop_id, sku)
        if len(linked) == 1:
            found[sku] = VariantLink(int(linked[0].variant_id))
            continue
        try:
            serial = [v for v in bsale_documents.variants_with_code(ctx.bsale, sku) if v.serial_number]
        except UpstreamError:
            serial = []
        if serial:
            found[sku] = VariantLink(serial[0].id, serial=True)
    return found


def _plan(ctx: ShopContext, order: JumpsellerOrder) -> Plan | Skip | Failure:
    return build_bsale_document(order, document_settings(ctx.shop), resolve_links(ctx, order), now=datetime.now(UTC))


def _order(record: OrderRecord) -> JumpsellerOrder:
    return JumpsellerOrder.model_validate(record.order)


def _refresh(ctx: ShopContext, record: OrderRecord, states: Iterable[OrderState]) -> OrderRecord:
    """The order as Jumpseller has it now (the shop may have fixed its data), kept on the record."""
    try:
        raw = jumpseller_orders.order(ctx.jumpseller, record.order_id)
        JumpsellerOrder.model_validate(raw)
    except (UpstreamError, ValidationError) as exc:
        logger.warning("could not re-read the order from Jumpseller; using the one received",
                       extra={"reason": redact(str(exc))[:300]})
        return record
    return records.amend(ctx.shop_id, record.order_id, in_states=states, now=_now(), sets={"order": raw}) or record


def _create(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    order = _order(record)
    plan = _plan(ctx, order)
    now = _now()
    if isinstance(plan, Skip):
        moved = records.move(ctx.shop_id, order.id, from_states=from_states, to=S.SKIPPED, now=now,
                             sets={"skip_reason": plan.reason, "error": None}, what=plan.reason)
        if moved is None:
            return Result("in_progress", "the order moved meanwhile")
        held.release(ctx.shop_id, order.id, "skipped", now)
        return Result("skipped", plan.reason, moved)
    if isinstance(plan, Failure):
        if any(p.code is ProblemCode.CANCELED for p in plan.problems):
            moved = records.move(ctx.shop_id, order.id, from_states=from_states, to=S.CANCELED, now=now,
                                 what="canceled by the time it was to be documented")
            held.release(ctx.shop_id, order.id, "canceled", now)
            return Result("canceled", plan.reason, moved)
        to = S.NEEDS_MANUAL if plan.needs_manual_document else S.FAILED
        error = problem(plan.problems[0].code.value, plan.reason, Step.DOCUMENT, retryable=plan.retryable)
        return _fail(ctx, order.id, from_states, to, error)
    type_id = plan.body["documentTypeId"]
    if not type_id:
        error = problem("document_type", f"La cuenta Bsale de la tienda no tiene un tipo de documento activo para "
                                         f"{plan.kind.value} (código SII {CODE_SII[plan.kind.value]}). Vuelve a "
                                         "conectar la tienda.", Step.DOCUMENT)
        return _fail(ctx, order.id, from_states, S.FAILED, error)
    body = {**plan.body, "salesId": record.sales_id}
    claimed = records.claim(ctx.shop_id, order.id, from_states=from_states, to=S.CREATING, attempt=attempt, now=now,
                            sets={"intent": {"kind": plan.kind.value, "body": body}, "warnings": list(plan.warnings),
                                  "error": None},
                            what=f"{plan.kind.value} {body['salesId']} total {plan.total}")
    if claimed is None:
        return Result("in_progress", "another attempt took the order first")
    return _post_document(ctx, claimed, attempt)


def _post_document(ctx: ShopContext, record: OrderRecord, attempt: str) -> Result:
    intent = record.intent or {}
    body: dict[str, Any] = intent["body"]
    kind = str(intent["kind"])
    try:
        posted = bsale_documents.create_document(ctx.bsale, body)
    except UpstreamError as exc:
        return _step_failed(ctx, record, attempt, exc, Step.DOCUMENT)
    checkpoint("document_posted")
    answer = posted.body
    document = IssuedDocument(
        id=int(answer["id"]), kind=kind, code_sii=CODE_SII.get(kind, ""), number=_int(answer.get("number")),
        url_pdf=answer.get("urlPdf"), sales_id=str(body.get("salesId")), total=answer.get("totalAmount"),
        replayed=posted.replayed, lines=_details(ctx, int(answer["id"])), client=body.get("client"),
    )
    settled = records.settle(ctx.shop_id, record.order_id, attempt=attempt, from_state=S.CREATING, to=S.CREATED,
                             now=_now(), sets={"document": document, "last_error": None, "error": None},
                             what=f"{kind} N° {document.number} (Bsale {document.id})"
                                  + (", replayed by salesId" if posted.replayed else ""))
    if settled is None:
        return Result("in_progress", "lost the claim; the attempt holding it records the same document")
    logger.info("document created", extra={"kind": kind, "number": document.number, "document_id": document.id,
                                           "replayed": posted.replayed, "total": document.total})
    _follow_up(ctx, settled)
    return Result("created", f"{kind} N° {document.number}" + (" (replayed)" if posted.replayed else ""), settled)


def _details(ctx: ShopContext, document_id: int) -> list[DocumentLine] | None:
    try:
        items = bsale_documents.document_details(ctx.bsale, document_id)
    except (UpstreamError, RateLimited) as exc:
        logger.warning("document lines not read yet (read again when needed)", extra={"reason": redact(str(exc))})
        return None
    lines = []
    for item in items:
        variant = item.get("variant") or {}
        lines.append(DocumentLine(id=int(item["id"]), quantity=float(item.get("quantity") or 0),
                                  variant_id=_int(variant.get("id")) if isinstance(variant, dict) else None))
    return lines


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _stock_lines(ctx: ShopContext, order: JumpsellerOrder) -> tuple[dict[int, int], list[OrderError]]:
    """Bsale variant → units of the order's products, or why they cannot be taken out of Bsale."""
    resolved = resolve_links(ctx, order)
    lines: dict[int, int] = {}
    problems: list[OrderError] = []
    for product in order.products:
        if product.qty <= 0:
            continue
        link = resolved.get((product.sku or "").strip())
        if link is None:
            problems.append(problem("not_synced", f"{product.name} no está sincronizado", Step.CONSUMPTION,
                                    retryable=True))
        elif link.serial:
            problems.append(problem("serial_product", f"{product.name} tiene número de serie en Bsale: descuenta "
                                                      "su stock a mano en Bsale", Step.CONSUMPTION))
        else:
            lines[link.variant_id] = lines.get(link.variant_id, 0) + product.qty
    return lines, problems


def _consume(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    order = _order(record)
    lines, problems = _stock_lines(ctx, order)
    now = _now()
    if problems:
        manual = any(p.code == "serial_product" for p in problems)
        error = problems[0].model_copy(update={"reason": "; ".join(p.reason for p in problems),
                                               "retryable": all(p.retryable for p in problems)})
        return _fail(ctx, order.id, from_states, S.NEEDS_MANUAL if manual else S.FAILED, error)
    if not lines:
        reason = "El pedido no tiene productos que descontar del stock de Bsale"
        moved = records.move(ctx.shop_id, order.id, from_states=from_states, to=S.SKIPPED, now=now,
                             sets={"skip_reason": reason}, what=reason)
        held.release(ctx.shop_id, order.id, "skipped", now)
        return Result("skipped", reason, moved)
    note = f"Pedido Jumpseller {order.id} ({record.sales_id})"
    body = {"note": note, "officeId": ctx.shop.office_id,
            "details": [{"quantity": qty, "variantId": variant} for variant, qty in sorted(lines.items())]}
    claimed = records.claim(ctx.shop_id, order.id, from_states=from_states, to=S.CONSUMING, attempt=attempt, now=now,
                            sets={"intent": {"body": body}, "error": None,
                                  "consumption": StockMove(reference=note, lines=sorted(lines.items()))},
                            what=f"consumption «{note}»")
    if claimed is None:
        return Result("in_progress", "another attempt took the order first")
    return _post_consumption(ctx, claimed, attempt, check_first=False)


def _post_consumption(ctx: ShopContext, record: OrderRecord, attempt: str, *, check_first: bool) -> Result:
    body: dict[str, Any] = (record.intent or {})["body"]
    note = str(body["note"])
    made: dict[str, Any] | None = None
    try:
        if check_first:  # an earlier attempt may have reached Bsale: look before sending again
            made, complete = bsale_documents.find_consumption(ctx.bsale, ctx.shop.office_id, note)
            if made is None and not complete:
                error = problem("consumption_unconfirmed",
                                f"No se pudo confirmar si el stock de este pedido ya se descontó en Bsale. Busca en "
                                f"los consumos de stock de la sucursal uno con la nota «{note}»: si está, marca el "
                                "pedido como resuelto (resolve-order); si no está, reintenta con --force.",
                                Step.CONSUMPTION_CHECK)
                return _settle_failure(ctx, record, attempt, S.NEEDS_MANUAL, error)
        replayed = made is not None
        if made is None:
            made = bsale_documents.create_consumption(ctx.bsale, body)
            checkpoint("consumption_posted")
    except UpstreamError as exc:
        return _step_failed(ctx, record, attempt, exc, Step.CONSUMPTION)
    move = (record.consumption or StockMove(reference=note)).model_copy(update={"id": _int(made.get("id"))})
    settled = records.settle(ctx.shop_id, record.order_id, attempt=attempt, from_state=S.CONSUMING, to=S.CONSUMED,
                             now=_now(), sets={"consumption": move, "last_error": None, "error": None},
                             what=f"consumption {move.id}" + (" (found, made earlier)" if replayed else ""))
    if settled is None:
        return Result("in_progress", "lost the claim")
    _follow_up(ctx, settled)
    return Result("consumed", f"consumption {move.id}" + (" (found, not sent again)" if replayed else ""), settled)


# ---------------------------------------------------------------------------------------------- cancellation


def _purpose(record: OrderRecord) -> str:
    return str((record.intent or {}).get("purpose") or "cancel")


def _step(record: OrderRecord) -> Step:
    return record.error.step if record.error and record.error.step else Step.DOCUMENT


def _cancel(ctx: ShopContext, record: OrderRecord, attempt: str, depth: int = 0) -> Result:
    state = record.state
    now = _now()
    if state in (S.CREATING, S.CONSUMING) or (state is S.CREDITING and _purpose(record) == "replace"):
        raise OrderBusy(f"order {record.order_id} is {state}; its cancellation waits for that step to end")
    if state in (S.CREDITING, S.RESTOCKING):
        return _resume(ctx, record, attempt, force=False)
    document = record.document
    if state is S.CREATED or (state in WAITING_FOR_A_PERSON and document is not None
                              and document.credited_by is None):
        return _credit(ctx, record, attempt, "cancel", from_states=[state])
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


def _credit(ctx: ShopContext, record: OrderRecord, attempt: str, purpose: str, *,
            from_states: list[OrderState]) -> Result:
    document = record.document
    assert document is not None
    now = _now()
    credit_type = ctx.shop.document_types.get("61")
    if not credit_type:
        error = problem("document_type", "La cuenta Bsale de la tienda no tiene un tipo de documento «nota de "
                                         "crédito» (código SII 61) activo. Vuelve a conectar la tienda.", Step.CREDIT)
        return _fail(ctx, record.order_id, from_states, S.FAILED, error)
    lines = document.lines
    if lines is None:
        try:
            lines = _lines_or_raise(ctx, document.id)
        except UpstreamError as exc:
            outcome, error = diagnose(exc, Step.CREDIT)
            if outcome is Outcome.RETRY:
                raise
            return _fail(ctx, record.order_id, from_states, S.FAILED, error)
    motive = MOTIVES[purpose].format(order=record.order_id, kind=document.kind)
    day = emission_date(datetime.now(UTC))
    body: dict[str, Any] = {
        "documentTypeId": credit_type, "officeId": ctx.shop.office_id, "referenceDocumentId": document.id,
        "emissionDate": day, "expirationDate": day, "motive": motive, "declareSii": 1, "priceAdjustment": 0,
        "editTexts": 0, "type": 0,
        "details": [{"documentDetailId": line.id, "quantity": line.quantity, "unitValue": 0} for line in lines],
    }
    if document.client:
        body["client"] = document.client  # a return repeats the original document's client (bsale.md §9.1)
    claimed = records.claim(ctx.shop_id, record.order_id, from_states=from_states, to=S.CREDITING, attempt=attempt,
                            now=now, sets={"intent": {"body": body, "purpose": purpose}, "error": None,
                                           "document": document.model_copy(update={"lines": lines})},
                            what=f"return of {document.kind} N° {document.number} ({purpose})")
    if claimed is None:
        return Result("in_progress", "another attempt took the order first")
    return _post_return(ctx, claimed, attempt)


def _lines_or_raise(ctx: ShopContext, document_id: int) -> list[DocumentLine]:
    items = bsale_documents.document_details(ctx.bsale, document_id)
    return [DocumentLine(id=int(i["id"]), quantity=float(i.get("quantity") or 0),
                         variant_id=_int((i.get("variant") or {}).get("id"))) for i in items]


def _post_return(ctx: ShopContext, record: OrderRecord, attempt: str) -> Result:
    intent = record.intent or {}
    body: dict[str, Any] = intent["body"]
    purpose = str(intent.get("purpose") or "cancel")
    document = record.document
    assert document is not None
    try:
        # Bsale does not deduplicate returns: every attempt looks for the one an earlier attempt made.
        earlier = [r for r in bsale_documents.returns_of(ctx.bsale, document.id)
                   if str(r.get("motive") or "") == body["motive"]]
        made = earlier[0] if earlier else bsale_documents.create_return(ctx.bsale, body)
        if not earlier:
            checkpoint("return_posted")
    except UpstreamError as exc:
        return _step_failed(ctx, record, attempt, exc, Step.CREDIT)
    credit_id = int((made.get("credit_note") or {}).get("id") or 0)
    try:
        note = bsale_documents.document(ctx.bsale, credit_id)
    except UpstreamError:
        note = {}
    credit = IssuedDocument(id=credit_id, kind=CREDIT_NOTE, code_sii="61", number=_int(note.get("number")),
                            url_pdf=note.get("urlPdf"), total=made.get("amount"), replayed=bool(earlier))
    credited = document.model_copy(update={"credited_by": credit_id})
    now = _now()
    if purpose == "replace":
        settled = records.settle(
            ctx.shop_id, record.order_id, attempt=attempt, from_state=S.CREDITING, to=S.RECEIVED, now=now,
            sets={"document": None, "credit_note": None, "generation": record.generation + 1, "last_error": None,
                  "previous_documents": [*record.previous_documents, credited, credit]},
            what=f"{document.kind} N° {document.number} credited by nota de crédito N° {credit.number}",
        )
        if settled is None:
            return Result("in_progress", "lost the claim")
        _document_follow_ups(ctx, settled, credit, voids=credited)
        return _create(ctx, settled, attempt, from_states=[S.RECEIVED])
    settled = records.settle(ctx.shop_id, record.order_id, attempt=attempt, from_state=S.CREDITING, to=S.CREDITED,
                             now=now, sets={"document": credited, "credit_note": credit, "last_error": None},
                             what=f"nota de crédito N° {credit.number}" + (" (found)" if earlier else ""))
    if settled is None:
        return Result("in_progress", "lost the claim")
    held.release(ctx.shop_id, record.order_id, "canceled", now)
    _follow_up(ctx, settled)
    return Result("credited", f"nota de crédito N° {credit.number}" + (" (found, not sent again)" if earlier else ""),
                  settled)


def _restock(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    consumption = record.consumption
    assert consumption is not None
    reference = f"{record.sales_id}-anulacion"
    body = {
        "document": "Anulación pedido Jumpseller", "documentNumber": reference, "officeId": ctx.shop.office_id,
        "note": f"Pedido Jumpseller {record.order_id} cancelado ({reference})",
        "details": [{"quantity": qty, "variantId": variant} for variant, qty in consumption.lines],
    }
    claimed = records.claim(ctx.shop_id, record.order_id, from_states=from_states, to=S.RESTOCKING, attempt=attempt,
                            now=_now(), sets={"intent": {"body": body}, "error": None,
                                              "reception": StockMove(reference=reference, lines=consumption.lines)},
                            what=f"reception {reference}")
    if claimed is None:
        return Result("in_progress", "another attempt took the order first")
    return _post_reception(ctx, claimed, attempt)


def _post_reception(ctx: ShopContext, record: OrderRecord, attempt: str) -> Result:
    body: dict[str, Any] = (record.intent or {})["body"]
    reference = str(body["documentNumber"])
    try:
        earlier = [r for r in bsale_documents.receptions_numbered(ctx.bsale, reference)
                   if str(r.get("documentNumber") or "") == reference]
        made = earlier[0] if earlier else bsale_documents.create_reception(ctx.bsale, body)
        if not earlier:
            checkpoint("reception_posted")
    except UpstreamError as exc:
        return _step_failed(ctx, record, attempt, exc, Step.RESTOCK)
    move = (record.reception or StockMove(reference=reference)).model_copy(update={"id": _int(made.get("id"))})
    now = _now()
    settled = records.settle(ctx.shop_id, record.order_id, attempt=attempt, from_state=S.RESTOCKING, to=S.RESTOCKED,
                             now=now, sets={"reception": move, "last_error": None},
                             what=f"reception {move.id}" + (" (found)" if earlier else ""))
    if settled is None:
        return Result("in_progress", "lost the claim")
    held.release(ctx.shop_id, record.order_id, "canceled", now)
    _follow_up(ctx, settled)
    return Result("restocked", f"reception {move.id}" + (" (found, not sent again)" if earlier else ""), settled)


# ---------------------------------------------------------------------------------------------- failures


def _step_failed(ctx: ShopContext, record: OrderRecord, attempt: str, exc: UpstreamError, step: Step) -> Result:
    outcome, error = diagnose(exc, step)
    logger.warning("Bsale refused or did not answer", extra={"step": step.value, "outcome": outcome.value,
                                                              "status_code": exc.status_code,
                                                              "upstream": redact(exc.upstream_reason)[:300]})
    if outcome is Outcome.RETRY:
        records.unclaim(ctx.shop_id, record.order_id, attempt=attempt, now=_now(), sets={"last_error": error})
        raise exc
    return _settle_failure(ctx, record, attempt, S.NEEDS_MANUAL if outcome is Outcome.NEEDS_MANUAL else S.FAILED,
                           error)


def _settle_failure(ctx: ShopContext, record: OrderRecord, attempt: str, to: OrderState,
                    error: OrderError) -> Result:
    settled = records.settle(ctx.shop_id, record.order_id, attempt=attempt, from_state=record.state, to=to,
                             now=_now(), sets={"error": error, "intent": record.intent}, what=error.code)
    if settled is None:
        return Result("in_progress", "lost the claim")
    _note_failure(ctx, settled, error)
    return Result(to.value, error.reason, settled)


def _fail(ctx: ShopContext, order_id: int, from_states: list[OrderState], to: OrderState,
          error: OrderError) -> Result:
    moved = records.move(ctx.shop_id, order_id, from_states=from_states, to=to, now=_now(), sets={"error": error},
                         what=error.code)
    if moved is None:
        return Result("in_progress", "the order moved meanwhile")
    logger.warning("order waits for a person", extra={"state": to.value, "code": error.code,
                                                      "reason": redact(error.reason)[:300]})
    _note_failure(ctx, moved, error)
    return Result(to.value, error.reason, moved)


# ---------------------------------------------------------------------------------------------- Jumpseller side


def _follow_up(ctx: ShopContext, record: OrderRecord) -> None:
    """After a step: give back the held stock (Bsale now knows), attach the documents, note the history.

    Each is done once (hold item; `done` keys plus a look at what the order already has). Jumpseller being down
    raises, so the message comes back and only what is missing is done then.
    """
    if record.state in (S.CREATED, S.CONSUMED, S.CREDITED, S.RESTOCKED):
        held.release(ctx.shop_id, record.order_id, str(record.state), _now())
    if record.document is not None:
        _document_follow_ups(ctx, record, record.document)
    if record.credit_note is not None and record.document is not None:
        _document_follow_ups(ctx, record, record.credit_note, voids=record.document)
    if record.consumption is not None and record.consumption.id is not None:
        _note(ctx, record, f"note:consumption:{record.consumption.id}",
              f"Stock del pedido descontado en Bsale (consumo de stock N° {record.consumption.id}).")
    if record.reception is not None and record.reception.id is not None:
        _note(ctx, record, f"note:reception:{record.reception.id}",
              f"Stock del pedido devuelto en Bsale (recepción de stock N° {record.reception.id}).")


def _document_follow_ups(ctx: ShopContext, record: OrderRecord, document: IssuedDocument,
                         voids: IssuedDocument | None = None) -> None:
    title = f"{document.kind.capitalize()} electrónica N° {document.number or document.id}"
    if voids is not None:
        title += f" (anula la {voids.kind} N° {voids.number or voids.id})"
    _attach(ctx, record, document)
    link = f": {document.url_pdf}" if document.url_pdf else ""
    _note(ctx, record, f"note:{document.id}", f"{title} emitida en Bsale{link}")


def _attach(ctx: ShopContext, record: OrderRecord, document: IssuedDocument) -> None:
    key = f"attach:{document.id}"
    if not _reserve(record, key):
        return
    try:
        present = jumpseller_orders.documents(ctx.jumpseller, record.order_id)
        if not any(str(d.get("external_id")) == str(document.id) for d in present):
            jumpseller_orders.attach_document(
                ctx.jumpseller, record.order_id,
                document_type=jumpseller_orders.CREDIT_NOTE if document.code_sii == "61" else jumpseller_orders.INVOICE,
                external_id=str(document.id), public_id=f"{document.code_sii}-{document.number or document.id}",
                url=document.url_pdf,
            )
    except UpstreamError as exc:
        if exc.retryable:
            records.unreserve(ctx.shop_id, record.order_id, key)
            raise
        logger.error("Jumpseller refused the document attachment", extra={"reason": redact(exc.reason)[:300]})
    except Exception:
        records.unreserve(ctx.shop_id, record.order_id, key)
        raise
    records.mark_done(ctx.shop_id, record.order_id, key, _now())


def _reserve(record: OrderRecord, key: str) -> bool:
    """One attempt at a time makes a follow-up (duplicates run follow-ups concurrently); a reservation left by a
    dead attempt lapses after the lease, and what it may have done is looked up in Jumpseller first."""
    if key in record.done:
        return False
    now = _now()
    return records.reserve(record.shop_id, record.order_id, key, now, now - LEASE_SECONDS)


def _note(ctx: ShopContext, record: OrderRecord, key: str, message: str, *, required: bool = True) -> None:
    if not _reserve(record, key):
        return
    try:
        if not any(entry.get("message") == message
                   for entry in jumpseller_orders.history(ctx.jumpseller, record.order_id)):
            jumpseller_orders.add_history(ctx.jumpseller, record.order_id, message)
    except UpstreamError as exc:
        if exc.retryable:
            records.unreserve(ctx.shop_id, record.order_id, key)
            if required:
                raise
        logger.error("Jumpseller history note not added", extra={"reason": redact(exc.reason)[:300]})
        if exc.retryable:
            return
    except Exception:
        records.unreserve(ctx.shop_id, record.order_id, key)
        raise
    records.mark_done(ctx.shop_id, record.order_id, key, _now())


FAILURE_TITLES = {
    Step.DOCUMENT: "No se emitió el documento tributario en Bsale",
    Step.CONSUMPTION: "No se descontó el stock del pedido en Bsale",
    Step.CONSUMPTION_CHECK: "No se pudo confirmar el descuento de stock en Bsale",
    Step.CREDIT: "No se emitió la nota de crédito en Bsale",
    Step.RESTOCK: "No se devolvió el stock del pedido en Bsale",
}


def _note_failure(ctx: ShopContext, record: OrderRecord, error: OrderError) -> None:
    """Tell the shop in the order's history why the step did not happen (best effort: never blocks the state)."""
    said = f" Bsale: «{error.upstream}»" if error.upstream else ""
    title = FAILURE_TITLES[error.step or Step.DOCUMENT]
    _note(ctx, record, f"note:error:{error.code}:{error.at}", f"{title}: {error.reason}{said}", required=False)
