"""What a Bsale refusal means for an order: try again by itself, or wait for a person (and what to tell them).

Bsale's words are kept verbatim (they are what its support understands); the explanation beside them is plain
Spanish for the shop owner. Classification (reference/bsale.md §1.6):
- retry: no answer, 5xx, 429. The message goes back to the queue and is tried again with back-off.
- failed: validation, no stock, folios, client data, configuration. Retrying cannot help until a person fixes
  the cause; then "Reintentar" (retry-order).
- needs_manual: serial-numbered products. The document must be made by hand in Bsale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from bridge.errors import UpstreamError
from bridge.models.order_record import OrderError, Step


class Verdict(StrEnum):
    """What an order problem calls for: another attempt, or a person (sync.stock.Outcome is what a sync did)."""

    RETRY = "retry"
    FAILED = "failed"
    NEEDS_MANUAL = "needs_manual"


@dataclass(frozen=True)
class Rule:
    needles: tuple[str, ...]  # lower-case fragments of Bsale's `error`
    code: str
    outcome: Verdict
    explanation: str


RULES: tuple[Rule, ...] = (
    Rule(("especify the serie",), "serial_product", Verdict.NEEDS_MANUAL,
         "Un producto del pedido tiene número de serie en Bsale: emite este documento a mano en Bsale, "
         "indicando la serie."),
    Rule(("there is no stock", "available quantity"), "no_stock", Verdict.FAILED,
         "Bsale no tiene stock suficiente en la sucursal de la tienda para este pedido. Ajusta el stock en "
         "Bsale y luego reintenta."),
    Rule(("numbers available", "sii caf", "caf used is expired", "unavailable document number"), "folios",
         Verdict.FAILED,
         "No quedan folios (CAF) vigentes para este tipo de documento en Bsale. Solicita y carga nuevos folios "
         "del SII en Bsale y luego reintenta."),
    Rule(("more than a client",), "duplicate_client", Verdict.FAILED,
         "En Bsale hay más de un cliente con el mismo RUT. Deja uno solo y luego reintenta."),
    Rule(("client attribute", "client is required", "client attributes required", "companyorperson"),
         "client_data", Verdict.FAILED,
         "Bsale exige datos del cliente que faltan (RUT, razón social, giro, dirección, comuna o ciudad). "
         "Completa los datos del pedido y luego reintenta."),
    Rule(("quantity returned",), "already_returned", Verdict.FAILED,
         "Bsale indica que esas cantidades ya fueron devueltas en otra nota de crédito de este documento. "
         "Revisa las devoluciones del documento en Bsale."),
    Rule(("reference",), "bad_reference", Verdict.FAILED,
         "Bsale no acepta la referencia al documento original. Revisa el documento en Bsale."),
    Rule(("invalid variant",), "unknown_variant", Verdict.FAILED,
         "Bsale no reconoce un producto del pedido (variante inactiva o eliminada). Revisa la sincronización "
         "del producto y luego reintenta."),
    Rule(("documenttype",), "document_type", Verdict.FAILED,
         "El tipo de documento configurado para la tienda no es válido o está inactivo en Bsale. Vuelve a "
         "conectar la tienda para elegirlo de nuevo."),
    Rule(("price list", "listaprecio"), "price_list", Verdict.FAILED,
         "La lista de precios configurada para la tienda no es válida en Bsale. Vuelve a conectar la tienda."),
    Rule(("invalid office",), "office", Verdict.FAILED,
         "La sucursal configurada para la tienda no es válida en Bsale. Vuelve a conectar la tienda."),
    Rule(("net unit value",), "price", Verdict.FAILED,
         "Bsale rechazó un precio en cero o negativo en el documento."),
    Rule(("can not be authenticated",), "token", Verdict.FAILED,
         "Bsale rechazó el token de acceso de la tienda. Vuelve a conectar la tienda con un token válido."),
)

_BY_STATUS: dict[int, tuple[str, str]] = {
    401: ("token", "Bsale rechazó el token de acceso de la tienda. Vuelve a conectar la tienda con un token válido."),
    402: ("account_blocked", "La cuenta de Bsale está bloqueada por falta de pago. Regulariza la cuenta y luego "
                             "reintenta."),
    403: ("forbidden", "Bsale no permite esta operación al usuario del token. Revisa sus permisos en Bsale."),
}


def diagnose(exc: UpstreamError, step: Step) -> tuple[Verdict, OrderError]:
    """Whether to retry, and the error to record (with Bsale's words verbatim)."""
    status = exc.status_code
    upstream = exc.upstream_reason
    now = int(time.time())
    if exc.retryable or status is None or status == 429 or status >= 500:
        what = f"respondió con un error temporal ({status})" if status else "no respondió o falló temporalmente"
        reason = f"{exc.service} {what}; se reintentará automáticamente."
        return Verdict.RETRY, OrderError(code="unavailable", reason=reason, upstream=upstream, status_code=status,
                                         retryable=True, step=step, at=now)
    folded = upstream.lower()
    for rule in RULES:
        if any(needle in folded for needle in rule.needles):
            return rule.outcome, OrderError(code=rule.code, reason=rule.explanation, upstream=upstream,
                                            status_code=status, step=step, at=now)
    code, explanation = _BY_STATUS.get(status, (
        "refused", f"{exc.service} rechazó la operación. Su mensaje va tal cual; corrige la causa y luego reintenta."
    ))
    return Verdict.FAILED, OrderError(code=code, reason=explanation, upstream=upstream, status_code=status, step=step,
                                      at=now)


def problem(code: str, reason: str, step: Step | None, *, retryable: bool = False) -> OrderError:
    """A problem found by our own rules (no Bsale words)."""
    return OrderError(code=code, reason=reason, retryable=retryable, step=step, at=int(time.time()))


def sii_rejection(kind: str, number: int | None, message: str | None, *, credit_note: bool) -> OrderError:
    """The SII rejected a document the bridge made (F19): its words verbatim, and what to do in Spanish."""
    what = f"{kind} N° {number}" if number is not None else kind
    if credit_note:
        reason = (f"El SII rechazó la {what}: la venta sigue vigente ante el SII. Revisa el motivo, emite una nota "
                  "de crédito a mano en Bsale y luego marca el pedido como resuelto (resolve-order).")
    else:
        reason = (f"El SII rechazó la {what}: ante el SII no existe. Corrige la causa (datos del cliente, montos, "
                  "folios) y ejecuta fix-rejected: se anula en Bsale con una nota de crédito y se emite un documento "
                  "nuevo, una sola vez.")
    return OrderError(code="sii_rejected", reason=reason, upstream=message or None, step=Step.SII,
                      at=int(time.time()))
