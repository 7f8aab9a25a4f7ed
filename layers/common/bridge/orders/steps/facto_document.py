"""The order's boleta or factura, and the credit note that voids it, emitted by Facto (F15).

Facto does not deduplicate and has no lookup: the same request twice makes two legal documents, and nothing
can tell afterwards whether a request reached it. So, exactly once without help from the server:

- the emission is claimed on the order's record before the call (`creating` / `crediting`, the exact
  `emitir_dte` saved), as every step is (bridge/orders/protocol.py);
- a request that surely did not reach Facto (connection refused, 503/429) lets go of the step: the record goes
  back to where it was and SQS tries again, with a fresh claim;
- an unknown outcome (timeout after sending, connection cut after the request was written, an answer that
  cannot be read, a 5xx) and any attempt that finds the step already in flight (its holder died at some point
  after claiming) stop at `needs_manual` with the reason: never emitted again automatically. A person checks
  Facto's portal for `identificador_externo_doc` and runs `resolve-order --folio N` (it is there) or
  `retry-order --force` (it is not);
- status 0: created (folio, links; the PDF and XML are kept at once, the links expire in 30 days);
  status 1: refused, nothing made: `failed` with Facto's words, `retry-order` after the fix;
  status 2: a draft exists in Facto, not sent to the SII: `needs_manual` with Facto's words (FailedDocuments
  alarm), never emitted again; the person sends the draft from Facto and resolves the order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridge.clients import facto
from bridge.clients.facto import FactoDocument, FactoError
from bridge.documents.choice import DocumentKind
from bridge.documents.facto import (
    CREDIT_NOTE,
    FactoPlan,
    FactoSettings,
    build_credit_note,
    build_facto_document,
    issuer_from,
)
from bridge.errors import UpstreamError
from bridge.models.jumpseller_order import JumpsellerOrder
from bridge.models.order_record import IssuedDocument, OrderError, OrderRecord, OrderState, Step
from bridge.models.shop import CheckoutFields, Shop
from bridge.observability import logger
from bridge.orders import files, followups, protocol
from bridge.orders.problems import Verdict, problem
from bridge.orders.protocol import Done, ExactlyOnceStep, ForAPerson, Result
from bridge.orders.steps import bsale_document, consumption, reception
from bridge.orders.steps.bsale_return import CREDIT_NOTE as CREDIT_NOTE_KIND
from bridge.orders.steps.bsale_return import MOTIVES
from bridge.orders.steps.facto_marks import DRAFT, PROVIDER, UNKNOWN
from bridge.shops.context import ShopContext
from bridge.store import orders as records

S = OrderState
KINDS = {39: DocumentKind.BOLETA.value, 33: DocumentKind.FACTURA.value, CREDIT_NOTE: CREDIT_NOTE_KIND}
REFUSED = "facto_refused"
# Facto's status-1 words → what the shop owner does (its words are kept verbatim beside this).
EXPLANATIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("no coincide",), "Los totales del documento no cuadran con sus líneas según Facto. Revisa los montos del "
                       "pedido y reintenta; si persiste, avisa al soporte de la integración."),
    (("rut",), "Facto no acepta el RUT del receptor. Corrige el RUT en el pedido y reintenta."),
    (("folio", "caf"), "No quedan folios (CAF) en Facto para este tipo de documento. Carga folios en Facto y "
                       "reintenta."),
    (("certificado", "firma"), "Facto no puede firmar: revisa el certificado digital en Facto y reintenta."),
    (("falta", "obligatorio"), "Facto exige un dato que el pedido no trae (receptor, giro, dirección…). "
                               "Completa los datos del pedido y reintenta."),
)


def settings_of(shop: Shop) -> FactoSettings:
    checkout = CheckoutFields(**{k: tuple(v) for k, v in shop.options.checkout_fields.items()})
    return FactoSettings(store_code=shop.shop_id, checkout=checkout)


def plan(ctx: ShopContext, order: JumpsellerOrder) -> Any:
    return build_facto_document(order, settings_of(ctx.shop), now=datetime.now(UTC))


def _no_credentials(step: Step) -> OrderError:
    return problem("facto_credentials", "La tienda emite con Facto pero no tiene usuario y clave de la API de Facto "
                                        "guardados. Vuelve a conectar la tienda (connect-shop --facto-user "
                                        "--facto-key) y reintenta.", step)


def create(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    order = JumpsellerOrder.model_validate(record.order)
    made = plan(ctx, order)
    if not isinstance(made, FactoPlan):
        return bsale_document.skip_or_fail(ctx, order.id, made, from_states)
    if ctx.facto is None:
        return protocol.fail(ctx, order.id, from_states, S.FAILED, _no_credentials(Step.DOCUMENT))
    intent = {"provider": PROVIDER, "kind": made.kind.value, "document": made.document.as_dict(),
              "from": from_states[0].value}
    return protocol.begin(ctx, EMISSION, order.id, attempt, from_states=from_states,
                          sets={"intent": intent, "warnings": list(made.warnings), "error": None},
                          what=f"Facto {made.kind.value} {made.document.encabezado['identificador_externo_doc']} "
                               f"total {made.total}")


def credit(ctx: ShopContext, record: OrderRecord, attempt: str, *, from_states: list[OrderState]) -> Result:
    document = record.document
    assert document is not None and document.request is not None and document.number is not None
    if ctx.facto is None:
        return protocol.fail(ctx, record.order_id, from_states, S.FAILED, _no_credentials(Step.CREDIT))
    issuer = issuer_from(ctx.facto.user, ctx.shop.options.facto_issuer)
    motive = MOTIVES["cancel"].format(order=record.order_id, kind=document.kind)
    note = build_credit_note(FactoDocument.from_dict(document.request), document.number, motive, issuer=issuer)
    if isinstance(note, str):
        return protocol.fail(ctx, record.order_id, from_states, S.FAILED, problem("facto_issuer", note, Step.CREDIT))
    intent = {"provider": PROVIDER, "kind": CREDIT_NOTE_KIND, "document": note.as_dict(), "purpose": "cancel",
              "from": from_states[0].value}
    return protocol.begin(ctx, CREDITING, record.order_id, attempt, from_states=from_states,
                          sets={"intent": intent, "error": None},
                          what=f"Facto nota de crédito for {document.kind} N° {document.number}")


def explain(message: str) -> str:
    folded = message.lower()
    for needles, explanation in EXPLANATIONS:
        if any(needle in folded for needle in needles):
            return explanation
    return "Facto rechazó el documento (no se creó nada). Su mensaje va tal cual; corrige la causa y reintenta."


class FactoEmission(ExactlyOnceStep):
    """One emitirDocumento: the sale's document (creating → created) or its credit note (crediting → credited)."""

    service = "Facto"

    def __init__(self, step: Step, in_flight: OrderState, done: OrderState) -> None:
        self.step = step
        self.in_flight = in_flight
        self.done = done

    def perform(self, ctx: ShopContext, record: OrderRecord, *, look_first: bool) -> Done | ForAPerson:
        intent = record.intent or {}
        kind = str(intent.get("kind"))
        external = str(intent["document"]["encabezado"].get("identificador_externo_doc", ""))
        if look_first:  # an attempt took this step before and its end is unknown: Facto may have made it
            return ForAPerson(S.NEEDS_MANUAL, self._unknown(kind, external, "un intento anterior quedó a medias"))
        if ctx.facto is None:
            return ForAPerson(S.FAILED, _no_credentials(self.step))
        answer = facto.emit(ctx.facto, FactoDocument.from_dict(intent["document"]))
        protocol.crash_window("facto_emitted")
        tipo = int(intent["document"]["encabezado"]["tipo_dte"])
        made = IssuedDocument(id=answer.folio or 0, kind=kind, code_sii=str(tipo), number=answer.folio,
                              url_pdf=answer.links.get("dte_pdf"), total=answer.total, provider=PROVIDER,
                              request=intent["document"], links=answer.links)
        if answer.status == 1:
            return ForAPerson(S.FAILED, OrderError(code=REFUSED, reason=explain(answer.message),
                                                   upstream=answer.message, step=self.step, retryable=False,
                                                   at=protocol.now()))
        if answer.status == 2:
            reason = (f"Facto creó un borrador de la {kind} ({external}) pero no lo envió al SII. No se volverá a "
                      "emitir: resuelve el problema que indica Facto, envía el borrador desde el portal de Facto y "
                      "marca el pedido como resuelto (resolve-order --folio N).")
            return ForAPerson(S.NEEDS_MANUAL, OrderError(code=DRAFT, reason=reason, upstream=answer.message,
                                                         step=self.step, at=protocol.now()), sets={"draft": made})
        made = made.model_copy(update={"files": files.keep(ctx.shop_id, record.order_id, made)})
        return self._done(record, made)

    def _done(self, record: OrderRecord, made: IssuedDocument) -> Done:
        if self.done is S.CREDITED:
            document = record.document
            assert document is not None
            return Done(S.CREDITED, {"document": document.model_copy(update={"credited_by": made.id}),
                                     "credit_note": made, "last_error": None},
                        f"Facto nota de crédito N° {made.number}")
        return Done(S.CREATED, {"document": made, "last_error": None, "error": None},
                    f"Facto {made.kind} N° {made.number}")

    def finish(self, ctx: ShopContext, settled: OrderRecord, done: Done, attempt: str) -> Result:
        if done.to is S.CREDITED:
            return after_credit(ctx, settled, attempt)
        document = settled.document
        assert document is not None
        logger.info("Facto document created", extra={"kind": document.kind, "number": document.number,
                                                     "total": document.total})
        if ctx.shop.bsale_account and settled.consumption is None:
            # Bsale keeps the stock: its units leave Bsale by a consumption (held until then).
            followups.document_follow_ups(ctx, settled, document)
            return consumption.consume(ctx, settled, attempt, from_states=[S.CREATED])
        followups.follow_up(ctx, settled)
        return Result("created", f"{document.kind} N° {document.number} (Facto)", settled)

    def diagnose(self, exc: UpstreamError, record: OrderRecord) -> tuple[Verdict, OrderError]:
        now = protocol.now()
        if isinstance(exc, FactoError) and exc.status_code in (401, 403):
            return Verdict.FAILED, OrderError(
                code="facto_credentials", reason="Facto rechazó el usuario o la clave de la API. Vuelve a conectar "
                "la tienda con los datos de Facto » Administración » Servicios API y reintenta.",
                upstream=exc.upstream_reason, status_code=exc.status_code, step=self.step, at=now)
        if isinstance(exc, FactoError) and exc.sent is False:
            return Verdict.RETRY, OrderError(code="unavailable", reason="Facto no estaba disponible (la solicitud no "
                                             "llegó); se reintentará automáticamente.", upstream=exc.upstream_reason,
                                             status_code=exc.status_code, retryable=True, step=self.step, at=now)
        intent = record.intent or {}
        external = str(intent.get("document", {}).get("encabezado", {}).get("identificador_externo_doc", ""))
        return Verdict.NEEDS_MANUAL, self._unknown(str(intent.get("kind") or "documento"), external,
                                                   exc.upstream_reason, exc.status_code)

    def _unknown(self, kind: str, external: str, what: str, status: int | None = None) -> OrderError:
        look = f" con identificador «{external}»" if external else ""
        return OrderError(
            code=UNKNOWN, upstream=what, status_code=status, step=self.step, at=protocol.now(),
            reason=f"No se sabe si Facto emitió la {kind}: {what}. No se volverá a emitir solo. Busca en el portal de "
                   f"Facto un documento{look}: si está, marca el pedido como resuelto con su folio (resolve-order "
                   "--folio N); si no está, reintenta con --force.")

    def let_go(self, ctx: ShopContext, record: OrderRecord, attempt: str, error: OrderError) -> None:
        """The request surely did not reach Facto: back to where the step started, so the next attempt claims it
        afresh (resuming a Facto step in flight is never done automatically)."""
        back = S((record.intent or {}).get("from") or S.RECEIVED.value)
        records.settle(ctx.shop_id, record.order_id, attempt=attempt, from_state=record.state, to=back,
                       now=protocol.now(), sets={"last_error": error}, what="Facto unavailable: let go")


def after_credit(ctx: ShopContext, settled: OrderRecord, attempt: str) -> Result:
    note = settled.credit_note
    assert note is not None
    move = settled.consumption
    if ctx.shop.bsale_account and move is not None and move.id is not None and settled.reception is None:
        followups.document_follow_ups(ctx, settled, note, voids=settled.document)
        return reception.restock(ctx, settled, attempt, from_states=[S.CREDITED])
    return protocol.undone(ctx, settled, "credited", f"nota de crédito N° {note.number} (Facto)")


EMISSION = FactoEmission(Step.DOCUMENT, S.CREATING, S.CREATED)
CREDITING = FactoEmission(Step.CREDIT, S.CREDITING, S.CREDITED)
