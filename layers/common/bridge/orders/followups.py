"""What the shop sees in Jumpseller after each step: held stock given back, documents attached, history notes.

Jumpseller deduplicates none of these: each is made once (a reservation on the order's record, lapsing after the
lease, and a look at what the order already has). Jumpseller being down raises, so the message comes back and
only what is missing is made then.
"""

from __future__ import annotations

import time

from bridge.clients import jumpseller_orders
from bridge.errors import UpstreamError
from bridge.models.order_record import LEASE_SECONDS, IssuedDocument, OrderError, OrderRecord, OrderState, Step
from bridge.observability import logger
from bridge.orders import files
from bridge.redact import scrub_text
from bridge.shops.context import ShopContext
from bridge.store import held
from bridge.store import orders as records

S = OrderState


def _now() -> int:
    return int(time.time())


def follow_up(ctx: ShopContext, record: OrderRecord) -> None:
    """After a step: give back the held stock (Bsale now knows), attach the documents, note the history.

    Each is done once (hold item; `done` keys plus a look at what the order already has). Jumpseller being down
    raises, so the message comes back and only what is missing is done then.
    """
    if record.state in (S.CREATED, S.CONSUMED, S.CREDITED, S.RESTOCKED):
        held.release(ctx.shop_id, record.order_id, str(record.state), _now())
    if record.document is not None:
        document_follow_ups(ctx, record, record.document)
    if record.credit_note is not None and record.document is not None:
        document_follow_ups(ctx, record, record.credit_note, voids=record.document)
    if record.consumption is not None and record.consumption.id is not None:
        note(ctx, record, f"note:consumption:{record.consumption.id}",
              f"Stock del pedido descontado en Bsale (consumo de stock N° {record.consumption.id}).")
    if record.reception is not None and record.reception.id is not None:
        note(ctx, record, f"note:reception:{record.reception.id}",
              f"Stock del pedido devuelto en Bsale (recepción de stock N° {record.reception.id}).")


def document_follow_ups(ctx: ShopContext, record: OrderRecord, document: IssuedDocument,
                         voids: IssuedDocument | None = None) -> None:
    title = f"{document.kind.capitalize()} electrónica N° {document.number or document.id}"
    if voids is not None:
        title += f" (anula la {voids.kind} N° {voids.number or voids.id})"
    _attach(ctx, record, document)
    url = files.link_for(ctx.shop.webhook_url, document)
    link = f": {url}" if url else ""
    if document.provider == "facto":  # Facto folios repeat across document types: the key names the type
        note(ctx, record, f"note:facto:{document.code_sii}:{document.number}", f"{title} emitida en Facto{link}")
        return
    note(ctx, record, f"note:{document.id}", f"{title} emitida en Bsale{link}")


def _external_id(document: IssuedDocument) -> str:
    return f"facto-{document.code_sii}-{document.number}" if document.provider == "facto" else str(document.id)


def _attach(ctx: ShopContext, record: OrderRecord, document: IssuedDocument) -> None:
    external = _external_id(document)
    key = f"attach:{external if document.provider == 'facto' else document.id}"
    if not _reserve(record, key):
        return
    try:
        present = jumpseller_orders.documents(ctx.jumpseller, record.order_id)
        if not any(str(d.get("external_id")) == external for d in present):
            jumpseller_orders.attach_document(
                ctx.jumpseller, record.order_id,
                document_type=jumpseller_orders.CREDIT_NOTE if document.code_sii == "61" else jumpseller_orders.INVOICE,
                external_id=external, public_id=f"{document.code_sii}-{document.number or document.id}",
                url=files.link_for(ctx.shop.webhook_url, document),
            )
    except UpstreamError as exc:
        if exc.retryable:
            records.unreserve(ctx.shop_id, record.order_id, key)
            raise
        logger.error("Jumpseller refused the document attachment", extra={"reason": scrub_text(exc.reason)[:300]})
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


def note(ctx: ShopContext, record: OrderRecord, key: str, message: str, *, required: bool = True) -> None:
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
        logger.error("Jumpseller history note not added", extra={"reason": scrub_text(exc.reason)[:300]})
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


def note_failure(ctx: ShopContext, record: OrderRecord, error: OrderError) -> None:
    """Tell the shop in the order's history why the step did not happen (best effort: never blocks the state)."""
    service = "Facto" if error.code.startswith("facto") else "Bsale"
    said = f" {service}: «{error.upstream}»" if error.upstream else ""
    title = FAILURE_TITLES[error.step or Step.DOCUMENT]
    if service == "Facto":
        title = title.replace("en Bsale", "en Facto")
    note(ctx, record, f"note:error:{error.code}:{error.at}", f"{title}: {error.reason}{said}", required=False)
