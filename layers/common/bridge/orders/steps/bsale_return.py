"""Cancellation (or a boleta becoming a factura) after a Bsale document: a return with its credit note.

Bsale does not deduplicate returns: every attempt first lists the document's returns
(`GET /v1/returns.json?referencedocumentid=`) and takes one with the order's motive as already made. Lines: every
line of the document, full quantities, `unitValue` 0, `type` 0, the same client.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridge.clients import bsale_documents
from bridge.documents.dates import emission_date
from bridge.errors import UpstreamError
from bridge.models.order_record import IssuedDocument, IssuedLine, OrderRecord, OrderState, Step
from bridge.orders import followups, protocol, sii
from bridge.orders.problems import Verdict, diagnose, problem
from bridge.orders.protocol import Done, ExactlyOnceStep, ForAPerson, Result, to_int
from bridge.orders.steps import bsale_document
from bridge.shops.context import ShopContext

S = OrderState
CREDIT_NOTE = "nota de crédito"
MOTIVES = {
    "cancel": "Anulación del pedido Jumpseller {order}",
    "replace": "Cambio de {kind} a factura, pedido Jumpseller {order}",
    "reissue": "Anula {kind} rechazada por el SII, pedido Jumpseller {order}",  # fix-rejected (F19)
}
NEXT_GENERATION = ("replace", "reissue")  # credited to be made again under the next generation's salesId


def credit(ctx: ShopContext, record: OrderRecord, attempt: str, purpose: str, *,
           from_states: list[OrderState]) -> Result:
    document = record.document
    assert document is not None
    credit_type = ctx.shop.document_types.get("61")
    if not credit_type:
        error = problem("document_type", "La cuenta Bsale de la tienda no tiene un tipo de documento «nota de "
                                         "crédito» (código SII 61) activo. Vuelve a conectar la tienda.", Step.CREDIT)
        return protocol.fail(ctx, record.order_id, from_states, S.FAILED, error)
    lines = document.lines
    if lines is None:
        try:
            lines = _lines_or_raise(ctx, document.id)
        except UpstreamError as exc:
            outcome, error = diagnose(exc, Step.CREDIT)
            if outcome is Verdict.RETRY:
                raise
            return protocol.fail(ctx, record.order_id, from_states, S.FAILED, error)
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
    return protocol.begin(ctx, STEP, record.order_id, attempt, from_states=from_states,
                          sets={"intent": {"body": body, "purpose": purpose}, "error": None,
                                "document": document.model_copy(update={"lines": lines})},
                          what=f"return of {document.kind} N° {document.number} ({purpose})")


def _lines_or_raise(ctx: ShopContext, document_id: int) -> list[IssuedLine]:
    items = bsale_documents.document_details(ctx.bsale, document_id)
    return [IssuedLine(id=int(i["id"]), quantity=float(i.get("quantity") or 0),
                         variant_id=to_int((i.get("variant") or {}).get("id"))) for i in items]


class BsaleReturn(ExactlyOnceStep):
    step = Step.CREDIT
    in_flight = S.CREDITING

    def perform(self, ctx: ShopContext, record: OrderRecord, *, look_first: bool) -> Done | ForAPerson:
        intent = record.intent or {}
        body: dict[str, Any] = intent["body"]
        purpose = str(intent.get("purpose") or "cancel")
        document = record.document
        assert document is not None
        # Bsale does not deduplicate returns: every attempt looks for the one an earlier attempt made.
        earlier = [r for r in bsale_documents.returns_of(ctx.bsale, document.id)
                   if str(r.get("motive") or "") == body["motive"]]
        made = earlier[0] if earlier else bsale_documents.create_return(ctx.bsale, body)
        if not earlier:
            protocol.crash_window("return_posted")
        credit_id = int((made.get("credit_note") or {}).get("id") or 0)
        try:
            note = bsale_documents.document(ctx.bsale, credit_id)
        except UpstreamError:
            note = {}
        made_note = IssuedDocument(id=credit_id, kind=CREDIT_NOTE, code_sii="61", number=to_int(note.get("number")),
                                   url_pdf=note.get("urlPdf"), total=made.get("amount"), replayed=bool(earlier))
        if credit_id:
            made_note = sii.follow(ctx.shop_id, record.order_id, made_note, note, protocol.now())  # F19
        return settles(record, document, made_note, purpose, found=bool(earlier))

    def finish(self, ctx: ShopContext, settled: OrderRecord, done: Done, attempt: str) -> Result:
        return finish_credit(ctx, settled, done, attempt)


def settles(record: OrderRecord, document: IssuedDocument, note: IssuedDocument, purpose: str, *,
            found: bool) -> Done:
    """Where a credited order goes: `credited` (cancellation), or back to `received` for its next generation's
    document (a boleta becoming a factura)."""
    credited = document.model_copy(update={"credited_by": note.id})
    if purpose in NEXT_GENERATION:
        return Done(S.RECEIVED, {"document": None, "credit_note": None, "generation": record.generation + 1,
                                 "last_error": None, "previous_documents": [*record.previous_documents, credited,
                                                                            note]},
                    f"{document.kind} N° {document.number} credited by nota de crédito N° {note.number}", found=found)
    return Done(S.CREDITED, {"document": credited, "credit_note": note, "last_error": None},
                f"nota de crédito N° {note.number}" + (" (found)" if found else ""), found=found)


def finish_credit(ctx: ShopContext, settled: OrderRecord, done: Done, attempt: str) -> Result:
    if done.to is S.RECEIVED:  # replaced: the factura follows, under the next generation's salesId
        credited, note = settled.previous_documents[-2], settled.previous_documents[-1]
        followups.document_follow_ups(ctx, settled, note, voids=credited)
        return bsale_document.create(ctx, settled, attempt, from_states=[S.RECEIVED])
    made = settled.credit_note
    assert made is not None
    return protocol.undone(ctx, settled, "credited", f"nota de crédito N° {made.number}", found=done.found)


STEP = BsaleReturn()
