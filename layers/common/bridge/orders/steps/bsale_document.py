"""The order's boleta or factura in Bsale.

Only POSTed by the attempt holding the `creating` claim, with the body saved in the record beforehand and a
`salesId` derived from shop, order and generation. If that attempt dies after Bsale made the document (or its
answer is lost), the record stays `creating`; the next attempt sends the SAME body again, and Bsale answers 200
with the existing document (salesId is matched per document type; the type is in the saved body, so it cannot
change between attempts). A `created` record is never posted again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridge.clients import bsale_documents
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
from bridge.documents.choice import DocumentKind
from bridge.errors import UpstreamError
from bridge.models.jumpseller_order import JumpsellerOrder
from bridge.models.order_record import IssuedDocument, IssuedLine, OrderRecord, OrderState, Step
from bridge.models.shop import CheckoutFields, Shop
from bridge.observability import logger
from bridge.orders import followups, protocol, sii
from bridge.orders.problems import problem
from bridge.orders.protocol import Done, ExactlyOnceStep, ForAPerson, Result, to_int
from bridge.redact import scrub_text
from bridge.shops.context import ShopContext
from bridge.store import held, links
from bridge.store import orders as records

S = OrderState
CODE_SII = {DocumentKind.BOLETA.value: "39", DocumentKind.FACTURA.value: "33"}


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


def plan(ctx: ShopContext, order: JumpsellerOrder) -> Plan | Skip | Failure:
    return build_bsale_document(order, document_settings(ctx.shop), resolve_links(ctx, order), now=datetime.now(UTC))


def skip_or_fail(ctx: ShopContext, order_id: int, found: Skip | Failure, from_states: list[OrderState],
                 step: Step = Step.DOCUMENT) -> Result:
    """The order cannot be documented as it is: skipped (nothing to bill), canceled meanwhile, or refused."""
    now = protocol.now()
    if isinstance(found, Skip):
        moved = records.move(ctx.shop_id, order_id, from_states=from_states, to=S.SKIPPED, now=now,
                             sets={"skip_reason": found.reason, "error": None}, what=found.reason)
        if moved is None:
            return Result("in_progress", "the order moved meanwhile")
        held.release(ctx.shop_id, order_id, "skipped", now)
        return Result("skipped", found.reason, moved)
    if any(p.code is ProblemCode.CANCELED for p in found.problems):
        moved = records.move(ctx.shop_id, order_id, from_states=from_states, to=S.CANCELED, now=now,
                             what="canceled by the time it was to be documented")
        held.release(ctx.shop_id, order_id, "canceled", now)
        return Result("canceled", found.reason, moved)
    to = S.NEEDS_MANUAL if found.needs_manual_document else S.FAILED
    error = problem(found.problems[0].code.value, found.reason, step, retryable=found.retryable)
    return protocol.fail(ctx, order_id, from_states, to, error)


def create(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    order = JumpsellerOrder.model_validate(record.order)
    made = plan(ctx, order)
    if not isinstance(made, Plan):
        return skip_or_fail(ctx, order.id, made, from_states)
    type_id = made.body["documentTypeId"]
    if not type_id:
        error = problem("document_type", f"La cuenta Bsale de la tienda no tiene un tipo de documento activo para "
                                         f"{made.kind.value} (código SII {CODE_SII[made.kind.value]}). Vuelve a "
                                         "conectar la tienda.", Step.DOCUMENT)
        return protocol.fail(ctx, order.id, from_states, S.FAILED, error)
    body = {**made.body, "salesId": record.sales_id}
    return protocol.begin(ctx, STEP, order.id, attempt, from_states=from_states,
                          sets={"intent": {"kind": made.kind.value, "body": body}, "warnings": list(made.warnings),
                                "error": None},
                          what=f"{made.kind.value} {body['salesId']} total {made.total}")


class BsaleDocument(ExactlyOnceStep):
    step = Step.DOCUMENT
    in_flight = S.CREATING
    lost_claim = "lost the claim; the attempt holding it records the same document"

    def perform(self, ctx: ShopContext, record: OrderRecord, *, look_first: bool) -> Done | ForAPerson:
        # Resuming or not, the same body is sent: Bsale answers 200 with the document its salesId already made.
        intent = record.intent or {}
        body: dict[str, Any] = intent["body"]
        kind = str(intent["kind"])
        posted = bsale_documents.create_document(ctx.bsale, body)
        protocol.crash_window("document_posted")
        answer = posted.body
        document = IssuedDocument(
            id=int(answer["id"]), kind=kind, code_sii=CODE_SII.get(kind, ""), number=to_int(answer.get("number")),
            url_pdf=answer.get("urlPdf"), sales_id=str(body.get("salesId")), total=answer.get("totalAmount"),
            replayed=posted.replayed, lines=details(ctx, int(answer["id"])), client=body.get("client"),
        )
        document = sii.follow(ctx.shop_id, record.order_id, document, answer, protocol.now())  # F19
        return Done(S.CREATED, {"document": document, "last_error": None, "error": None},
                    f"{kind} N° {document.number} (Bsale {document.id})"
                    + (", replayed by salesId" if posted.replayed else ""), found=posted.replayed)

    def finish(self, ctx: ShopContext, settled: OrderRecord, done: Done, attempt: str) -> Result:
        document = settled.document
        assert document is not None
        logger.info("document created", extra={"kind": document.kind, "number": document.number,
                                               "document_id": document.id, "replayed": document.replayed,
                                               "total": document.total})
        followups.follow_up(ctx, settled)
        return Result("created", f"{document.kind} N° {document.number}" + (" (replayed)" if done.found else ""),
                      settled)


STEP = BsaleDocument()


def details(ctx: ShopContext, document_id: int) -> list[IssuedLine] | None:
    try:
        items = bsale_documents.document_details(ctx.bsale, document_id)
    except (UpstreamError, RateLimited) as exc:
        logger.warning("document lines not read yet (read again when needed)", extra={"reason": scrub_text(str(exc))})
        return None
    lines = []
    for item in items:
        variant = item.get("variant") or {}
        lines.append(IssuedLine(id=int(item["id"]), quantity=float(item.get("quantity") or 0),
                                  variant_id=to_int(variant.get("id")) if isinstance(variant, dict) else None))
    return lines
