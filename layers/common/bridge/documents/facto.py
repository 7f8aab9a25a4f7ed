"""From a paid Jumpseller order to Facto's `emitir_dte` (boleta 39 or factura 33), and the credit note (61) that
voids it. Pure: no network.

To the peso (Facto checks totals against lines and refuses a mismatch, facto_dte.md A.5, A.7):
- boleta 39: gross unit prices with `opciones.valores_brutos = 1` and only `total_final`, the sum of the lines,
  which is exactly what the shopper paid (amounts.plan_gross_lines);
- factura 33: net lines, `total_afecto` = Σ taxed lines, `total_iva` = round(0.19 × total_afecto),
  `total_exento`, `total_final` (amounts.plan_amounts, the same plan as a Bsale factura: a total IVA cannot
  reach gets an exempt "Ajuste por redondeo" line);
- credit note 61: every line of the document it voids (a boleta's gross lines become net lines adding up to
  the same total), the same totals, and a reference to it (type, folio, `codigo_referencia` 1 = anula).

Receptor (A.5, B.2): Facto wants rut, razón, dirección, comuna, ciudad and teléfono on facturas and credit notes,
plus giro; RUT as `NNNNNNNN-X`. A boleta goes without receptor (non-nominative). A credit note voiding an
anonymous boleta names the issuer itself as receptor, as the SII allows when the buyer is unknown (B.8): the
shop's own data, given at connect. Text is cut to the SII's lengths; `&`, `<`, `>` are escaped by the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from bridge.clients.facto import FactoDocument, Scalar
from bridge.documents.amounts import (
    ADJUSTMENT_TEXT,
    AmountsProblem,
    AmountsSkip,
    LineKind,
    largest_remainder,
    net_for_gross_total,
    plan_amounts,
    plan_gross_lines,
)
from bridge.documents.builder import MAX_LINES, Failure, Problem, ProblemCode, Skip, _dropped_warning, order_problem
from bridge.documents.choice import DocumentKind, read_choice
from bridge.documents.client import MAX_CITY, MAX_COMUNA, MAX_EMAIL, clean_text, factura_client
from bridge.documents.dates import chile_date
from bridge.documents.rut import Rut, parse_rut
from bridge.models.jumpseller_order import JumpsellerOrder
from bridge.models.shop import CheckoutFields

TIPO = {DocumentKind.BOLETA: 39, DocumentKind.FACTURA: 33}
CREDIT_NOTE = 61
MAX_GLOSA = 80  # NmbItem
MAX_PHONE = 20  # [INFERENCE] Facto's own limit is unconfirmed; SII Contacto is 80
MAX_REASON = 90  # RazonRef
MAX_EXTERNAL_ID = 255


@dataclass(frozen=True)
class FactoSettings:
    store_code: str
    checkout: CheckoutFields = field(default_factory=CheckoutFields)
    truncate_client_fields: bool = False
    shipping_text: str = "Despacho"


@dataclass(frozen=True)
class Issuer:
    """The shop's own company data: the receptor of a credit note voiding an anonymous boleta (SII B.8)."""

    rut: str
    razon: str
    giro: str
    direccion: str
    comuna: str
    ciudad: str
    telefono: str


@dataclass(frozen=True)
class FactoPlan:
    kind: DocumentKind
    document: FactoDocument
    total: int  # total_final: what the document adds up to
    order_total: int  # what the customer paid
    warnings: tuple[str, ...] = ()

    @property
    def tipo(self) -> int:
        return int(self.document.encabezado["tipo_dte"])


def external_id(store_code: str, order_id: int) -> str:
    """`identificador_externo_doc`: the shop and the order (Facto only stores it, it does not deduplicate)."""
    return f"js-{store_code}-{order_id}"[:MAX_EXTERNAL_ID]


def _day(now: datetime | None) -> str:
    """`fecha_emision`: YYYY-MM-DD, the calendar day in Chile."""
    return chile_date(now or datetime.now(UTC)).isoformat()


def _cut(value: str, limit: int) -> str:
    return value[:limit].rstrip()


def _unit(value: Fraction) -> str:
    """A unit price with at most 6 decimals (Facto's limit), without trailing zeros."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    text = format(exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize(), "f")
    return text


def build_facto_document(order: JumpsellerOrder, settings: FactoSettings, *,
                         now: datetime | None = None) -> FactoPlan | Skip | Failure:
    """The Facto document for a paid order, or why there is none."""
    if (unfit := order_problem(order)) is not None:
        return unfit
    choice = read_choice(order, settings.checkout)
    warnings: list[str] = []
    if not choice.recognised:
        warnings.append(f"El tipo de documento «{choice.chosen_value}» no se reconoce: se emite boleta")
    head: dict[str, Scalar] = {
        "tipo_dte": TIPO[choice.kind],
        "fecha_emision": _day(now),
        "condiciones_pago": "0",
        "identificador_externo_doc": external_id(settings.store_code, order.id),
    }
    email = clean_text(order.customer.email)
    if "@" in email and len(email) <= MAX_EMAIL:
        head["receptor_email"] = email
    if choice.kind is DocumentKind.FACTURA:
        return _factura(order, settings, head, warnings)
    return _boleta(order, settings, head, warnings)


def _boleta(order: JumpsellerOrder, settings: FactoSettings, head: dict[str, Scalar],
            warnings: list[str]) -> FactoPlan | Skip | Failure:
    gross = plan_gross_lines(order, shipping_text=settings.shipping_text)
    if isinstance(gross, AmountsSkip):
        return Skip(gross.reason, gross.dropped)
    if isinstance(gross, AmountsProblem):
        return Failure((Problem(ProblemCode.AMOUNTS, gross.reason),))
    lines: list[dict[str, Scalar]] = []
    for line in gross.lines:
        detail: dict[str, Scalar] = {"cantidad": line.quantity,
                                     "glosa": _cut(clean_text(line.description) or "Producto", MAX_GLOSA)}
        sku = _sku(order, line.product_index)
        if sku:
            detail["sku"] = sku  # Facto takes the stock of an inventory item with exactly this SKU
        detail |= {"monto_unitario": line.unit_gross, "exento_afecto": 1}
        lines.append(detail)
    if len(lines) > MAX_LINES[DocumentKind.BOLETA]:
        return Failure((Problem(ProblemCode.TOO_MANY_LINES, f"La boleta tendría {len(lines)} líneas y admite "
                                                            f"{MAX_LINES[DocumentKind.BOLETA]}: emítela manualmente"),))
    warnings += [_dropped_warning(d).replace(" en Bsale", "") for d in gross.dropped]
    document = FactoDocument(opciones={"valores_brutos": "1"}, encabezado=head, detalles=lines,
                             totales={"total_final": gross.order_total})
    return FactoPlan(DocumentKind.BOLETA, document, gross.order_total, gross.order_total, tuple(warnings))


def _sku(order: JumpsellerOrder, index: int | None) -> str:
    if index is None:
        return ""
    return clean_text(order.products[index].sku)[:50]


def _factura(order: JumpsellerOrder, settings: FactoSettings, head: dict[str, Scalar],
             warnings: list[str]) -> FactoPlan | Skip | Failure:
    amounts = plan_amounts(order, shipping_text=settings.shipping_text)
    if isinstance(amounts, AmountsSkip):
        return Skip(amounts.reason, amounts.dropped)
    if isinstance(amounts, AmountsProblem):
        return Failure((Problem(ProblemCode.AMOUNTS, amounts.reason),))
    choice = read_choice(order, settings.checkout)
    client = factura_client(order, choice, truncate=settings.truncate_client_fields)
    problems: list[Problem] = []
    if isinstance(client, list):
        problems += [Problem(ProblemCode.FACTURA_DATA, reason) for reason in client]
    phone = clean_text(order.customer.phone)
    if not phone:
        problems.append(Problem(ProblemCode.FACTURA_DATA, "Falta el teléfono del cliente (Facto lo exige en "
                                                          "facturas)"))
    lines: list[dict[str, Scalar]] = []
    for line in amounts.lines:
        detail: dict[str, Scalar] = {"cantidad": line.quantity,
                                     "glosa": _cut(clean_text(line.description) or "Producto", MAX_GLOSA)}
        sku = _sku(order, line.product_index) if line.kind is LineKind.PRODUCT else ""
        if sku:
            detail["sku"] = sku
        detail |= {"monto_unitario": line.net_unit_value, "exento_afecto": 1 if line.taxed else 0}
        lines.append(detail)
    if len(lines) > MAX_LINES[DocumentKind.FACTURA]:
        problems.append(Problem(ProblemCode.TOO_MANY_LINES, f"La factura tendría {len(lines)} líneas y admite "
                                                            f"{MAX_LINES[DocumentKind.FACTURA]}: emítela manualmente"))
    if problems or isinstance(client, list):
        return Failure(tuple(problems))
    head |= {"receptor_rut": str(client.rut), "receptor_razon": client.razon_social,
             "receptor_direccion": client.address, "receptor_comuna": client.comuna,
             "receptor_ciudad": client.city, "receptor_telefono": _cut(phone, MAX_PHONE),
             "receptor_giro": client.giro}
    totals = amounts.totals
    warnings += [_dropped_warning(d).replace(" en Bsale", "") for d in amounts.dropped]
    document = FactoDocument(encabezado=head, detalles=lines, totales={
        "total_exento": totals.exempt, "total_afecto": totals.net, "total_iva": totals.iva,
        "total_final": totals.total})
    return FactoPlan(DocumentKind.FACTURA, document, totals.total, amounts.order_total, tuple(warnings))


# ------------------------------------------------------------------------------------------------ credit note


def issuer_from(user: str, data: Mapping[str, str]) -> Issuer | None:
    """The shop's company from its Facto user (`<RUT>/<user>`) and the data given at connect; None if missing."""
    rut = parse_rut(user.split("/", 1)[0])
    fields = ("razon", "giro", "direccion", "comuna", "ciudad", "telefono")
    if not isinstance(rut, Rut) or any(not clean_text(data.get(f)) for f in fields):
        return None
    return Issuer(rut=str(rut), **{f: clean_text(data[f]) for f in fields})


RECEPTOR = ("receptor_rut", "receptor_razon", "receptor_direccion", "receptor_comuna", "receptor_ciudad",
            "receptor_telefono", "receptor_giro")


def build_credit_note(original: FactoDocument, folio: int, motive: str, *, issuer: Issuer | None,
                      now: datetime | None = None) -> FactoDocument | str:
    """The credit note (61) voiding all of `original` (emitted with `folio`), or why it cannot be made."""
    head = original.encabezado
    tipo = int(head["tipo_dte"])
    receptor = {k: head[k] for k in RECEPTOR if head.get(k)}
    if len(receptor) < len(RECEPTOR):
        if issuer is None:
            return ("Facto exige los datos del receptor en la nota de crédito y la boleta no los tiene: configura "
                    "los datos de la empresa emisora de la tienda (connect-shop --facto-issuer) y reintenta.")
        receptor = {"receptor_rut": issuer.rut, "receptor_razon": _cut(issuer.razon, 100),
                    "receptor_direccion": _cut(issuer.direccion, 70),
                    "receptor_comuna": _cut(issuer.comuna, MAX_COMUNA),
                    "receptor_ciudad": _cut(issuer.ciudad, MAX_CITY),
                    "receptor_telefono": _cut(issuer.telefono, MAX_PHONE), "receptor_giro": _cut(issuer.giro, 40)}
    new_head: dict[str, Scalar] = {"tipo_dte": CREDIT_NOTE, "fecha_emision": _day(now),
                                   **receptor, "condiciones_pago": "0"}
    if head.get("identificador_externo_doc"):
        new_head["identificador_externo_doc"] = f"{head['identificador_externo_doc']}-nc"[:MAX_EXTERNAL_ID]
    if original.opciones.get("valores_brutos") == "1":
        lines, totals = _net_from_gross(original.detalles)
    else:
        lines, totals = [dict(d) for d in original.detalles], dict(original.totales)
    return FactoDocument(encabezado=new_head, detalles=lines, totales=totals, referencias=[{
        "docreferencia_tipo": tipo, "docreferencia_folio": str(folio), "codigo_referencia": 1,
        "descripcion": _cut(motive, MAX_REASON)}])


def _net_from_gross(details: list[dict[str, Scalar]]) -> tuple[list[dict[str, Scalar]], dict[str, Scalar]]:
    """A boleta's gross lines as net lines with the same total: the net derived from the gross total first, then
    shared out over the lines (largest remainder), unit prices with up to 6 decimals so each line rounds to its
    share; a total IVA cannot reach keeps its peso in an exempt adjustment line (amounts.py)."""
    gross = [int(Decimal(str(d["cantidad"])) * Decimal(str(d["monto_unitario"]))) for d in details]
    total = sum(gross)
    net_total, remainder = net_for_gross_total(total)
    nets = largest_remainder([Fraction(g) for g in gross], net_total)
    lines: list[dict[str, Scalar]] = []
    for detail, net in zip(details, nets, strict=True):
        quantity = Decimal(str(detail["cantidad"]))
        line: dict[str, Scalar] = {k: v for k, v in detail.items() if k in ("cantidad", "glosa", "sku", "unidad")}
        line |= {"monto_unitario": _unit(Fraction(net) / Fraction(quantity)), "exento_afecto": 1}
        lines.append(line)
    if remainder:
        lines.append({"cantidad": 1, "glosa": ADJUSTMENT_TEXT, "monto_unitario": remainder, "exento_afecto": 0})
    iva = total - remainder - net_total
    return lines, {"total_exento": remainder, "total_afecto": net_total, "total_iva": iva, "total_final": total}
