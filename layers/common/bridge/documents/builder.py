"""From a paid Jumpseller order to the body of Bsale's POST /v1/documents.json, or the reason there is none.

Pure: no network, no clock unless `now` is left out. The result is one of
- `DocumentPlan`: the body to post (and what it was built from);
- `Skip`: nothing to document (an order of zero-value lines); recorded, not an error;
- `Failure`: the reasons, in Spanish, a shop owner can act on: "<producto> no está sincronizado" (retry
  once linked), serial-numbered products (emit by hand), factura data missing or invalid, and so on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bridge.documents.amounts import (
    AmountsPlan,
    AmountsProblem,
    AmountsSkip,
    DocumentLine,
    DroppedLine,
    LineKind,
    plan_amounts,
)
from bridge.documents.choice import DocumentKind, read_choice
from bridge.documents.client import bsale_client_node, factura_client
from bridge.documents.dates import emission_date
from bridge.models.jumpseller_order import JumpsellerOrder, OrderStatus
from bridge.models.order_record import sales_id
from bridge.models.shop import CheckoutFields

IVA_TAXES: tuple[dict[str, int], ...] = ({"code": 14, "percentage": 19},)  # SII code 14 = IVA
MAX_LINES = {DocumentKind.FACTURA: 60, DocumentKind.BOLETA: 1000}  # SII schemas (facto_dte.md B.6)


@dataclass(frozen=True)
class VariantLink:
    """The Bsale variant a Jumpseller SKU is linked to."""

    variant_id: int
    serial: bool = False  # serial-numbered in Bsale: not supported, the order needs a manual document


@dataclass(frozen=True)
class DocumentSettings:
    """What a shop chose for its documents (F1), as this builder needs it."""

    store_code: str  # Jumpseller store code: part of the salesId
    office_id: int
    price_list_id: int
    boleta_type_id: int  # Bsale documentTypeId of the shop's boleta (codeSii 39)
    factura_type_id: int  # Bsale documentTypeId of the shop's factura (codeSii 33)
    checkout: CheckoutFields = field(default_factory=CheckoutFields)
    rounding_adjustment: bool = True  # exempt "Ajuste por redondeo" line for totals IVA cannot reach
    truncate_client_fields: bool = False  # cut over-long razón social / giro / address instead of failing
    shipping_text: str = "Despacho"


class ProblemCode(StrEnum):
    NOT_SYNCED = "not_synced"  # a product has no link: retry once it is linked
    SERIAL_PRODUCT = "serial_product"  # needs a manual document
    FACTURA_DATA = "factura_data"  # RUT, razón social, giro, address... missing or invalid
    NOT_PAID = "not_paid"  # retry once paid
    CANCELED = "canceled"
    CURRENCY = "currency"
    AMOUNTS = "amounts"
    TOO_MANY_LINES = "too_many_lines"


RETRYABLE = frozenset({ProblemCode.NOT_SYNCED, ProblemCode.NOT_PAID})


@dataclass(frozen=True)
class Problem:
    code: ProblemCode
    reason: str  # Spanish, for the shop owner


@dataclass(frozen=True)
class Failure:
    problems: tuple[Problem, ...]

    @property
    def reason(self) -> str:
        return "; ".join(problem.reason for problem in self.problems)

    @property
    def retryable(self) -> bool:
        """True when every problem can go away by itself or by linking products (then "Reintentar")."""
        return all(problem.code in RETRYABLE for problem in self.problems)

    @property
    def needs_manual_document(self) -> bool:
        return any(problem.code is ProblemCode.SERIAL_PRODUCT for problem in self.problems)


@dataclass(frozen=True)
class Skip:
    reason: str
    dropped: tuple[DroppedLine, ...] = ()


@dataclass(frozen=True)
class DocumentPlan:
    kind: DocumentKind
    sales_id: str
    body: dict[str, Any]  # POST /v1/documents.json
    amounts: AmountsPlan
    warnings: tuple[str, ...] = ()  # things the shop owner should know although the document goes out

    @property
    def total(self) -> int:
        return self.amounts.totals.total

    @property
    def lines(self) -> tuple[DocumentLine, ...]:
        return self.amounts.lines


def _link(links: Mapping[str, VariantLink | int | str], sku: str | None) -> VariantLink | None:
    found = links.get(sku.strip()) if sku else None
    if found is None or isinstance(found, VariantLink):
        return found
    return VariantLink(int(found))


def _status_problem(order: JumpsellerOrder) -> Problem | None:
    if order.status_enum in (OrderStatus.CANCELED, OrderStatus.ABANDONED):
        return Problem(ProblemCode.CANCELED, "El pedido está cancelado o abandonado: no se emite documento")
    if order.status_enum is OrderStatus.PENDING_PAYMENT:
        return Problem(ProblemCode.NOT_PAID, "El pedido aún no está pagado")
    return None  # paid, or a status this code does not know (the caller decided to emit)


def order_problem(order: JumpsellerOrder) -> Failure | None:
    """Why no document of any provider can be made for this order (not paid, not in pesos), or None."""
    status = _status_problem(order)
    if status is not None:
        return Failure((status,))
    if order.currency and order.currency.upper() != "CLP":
        return Failure((Problem(ProblemCode.CURRENCY,
                                f"El pedido está en {order.currency}: solo se emiten documentos en pesos (CLP)"),))
    return None


def _link_problem(name: str, link: VariantLink | None) -> Problem | None:
    if link is None:
        return Problem(ProblemCode.NOT_SYNCED, f"{name} no está sincronizado")
    if link.serial:
        return Problem(ProblemCode.SERIAL_PRODUCT,
                       f"{name} tiene número de serie en Bsale: emite este documento manualmente")
    return None


def _detail(line: DocumentLine, link: VariantLink | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"netUnitValue": line.net_unit_value, "quantity": line.quantity}
    if link is not None:
        detail["variantId"] = link.variant_id
    else:  # gloss line: no variant, no stock (shipping, rounding adjustment)
        detail["comment"] = line.description
    if line.taxed:
        detail["taxes"] = [dict(tax) for tax in IVA_TAXES]
    return detail


def _dropped_warning(dropped: DroppedLine) -> str:
    sku = f" (SKU {dropped.sku})" if dropped.sku else ""
    return f"{dropped.name}{sku} no va en el documento ({dropped.reason}): descuenta su stock a mano en Bsale"


def build_bsale_document(
    order: JumpsellerOrder,
    shop_settings: DocumentSettings,
    links: Mapping[str, VariantLink | int | str],
    *,
    now: datetime | None = None,
) -> DocumentPlan | Skip | Failure:
    """The Bsale document for `order`, or why there is none. `links` maps SKU → Bsale variant.

    `now` is the emission instant (its Chilean date is the emission date); it defaults to the current time.
    """
    settings = shop_settings
    if (unfit := order_problem(order)) is not None:
        return unfit

    amounts = plan_amounts(order, rounding_adjustment=settings.rounding_adjustment,
                           shipping_text=settings.shipping_text)
    if isinstance(amounts, AmountsSkip):
        return Skip(amounts.reason, amounts.dropped)
    if isinstance(amounts, AmountsProblem):
        return Failure((Problem(ProblemCode.AMOUNTS, amounts.reason),))

    problems: list[Problem] = []
    warnings = [_dropped_warning(dropped) for dropped in amounts.dropped]
    choice = read_choice(order, settings.checkout)
    if not choice.recognised:
        warnings.append(f"El tipo de documento «{choice.chosen_value}» no se reconoce: se emite boleta")

    client_node: dict[str, Any] | None = None
    if choice.kind is DocumentKind.FACTURA:
        client = factura_client(order, choice, truncate=settings.truncate_client_fields)
        if isinstance(client, list):
            problems.extend(Problem(ProblemCode.FACTURA_DATA, reason) for reason in client)
        else:
            client_node = bsale_client_node(client)

    details: list[dict[str, Any]] = []
    reported: set[int] = set()
    for line in amounts.lines:
        link = None
        if line.kind is LineKind.PRODUCT and line.product_index is not None:
            product = order.products[line.product_index]
            link = _link(links, product.sku)
            problem = _link_problem(product.name, link)
            if problem is not None and line.product_index not in reported:  # a split line is reported once
                problems.append(problem)
            reported.add(line.product_index)
        details.append(_detail(line, link))

    limit = MAX_LINES[choice.kind]
    if len(details) > limit:
        problems.append(Problem(ProblemCode.TOO_MANY_LINES,
                                f"El documento tendría {len(details)} líneas y una {choice.kind} admite {limit}: "
                                "emítelo manualmente"))
    if problems:
        return Failure(tuple(problems))
    if amounts.unmatched:
        warnings.append(f"El documento suma ${amounts.totals.total} y el pedido ${amounts.order_total}: "
                        "diferencia de redondeo del IVA")

    body: dict[str, Any] = {
        "documentTypeId": settings.factura_type_id if choice.kind is DocumentKind.FACTURA else settings.boleta_type_id,
        "officeId": settings.office_id,
        "priceListId": settings.price_list_id,
        "emissionDate": emission_date(now or datetime.now(UTC)),
        "declareSii": 1,
        "dispatch": 1,
        "salesId": sales_id(settings.store_code, order.id),
        "details": details,
    }
    if client_node is not None:
        body["client"] = client_node
    return DocumentPlan(choice.kind, body["salesId"], body, amounts, tuple(warnings))
