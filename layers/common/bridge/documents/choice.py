"""Which document the customer chose at checkout (boleta or factura), and the factura data they typed.

Chilean Jumpseller stores collect this through checkout custom fields, which reach the order as
`additional_fields[{label, value}]`. Two conventions are known (reference/jumpseller.md §6.3):
- Jumpseller's own Bsale app: "Tipo de Documento" = "boleta" / "factura", plus "Giro" and "Razón Social";
- BillMySales / LibreDTE: "Documento" = "Boleta" / "Factura".
Both are accepted by default; labels and values are configurable per shop and compared without case or
accents. Razón social and giro come from those fields, else from `billing_information` (the newer checkout's
own fields). The RUT comes from `billing_address.taxid` (the "Identificador Fiscal" system field), else from a
custom field labelled "RUT". No recognisable choice means boleta: it needs no buyer data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bridge.models.jumpseller_order import JumpsellerOrder, fold
from bridge.models.shop import CheckoutFields


class DocumentKind(StrEnum):
    BOLETA = "boleta"
    FACTURA = "factura"


@dataclass(frozen=True)
class CustomerChoice:
    kind: DocumentKind
    rut: str | None  # as typed; validated later (documents.client)
    razon_social: str | None
    giro: str | None
    chosen_value: str | None  # the raw value of the document field, None when the order has none
    recognised: bool  # False: a value was there but matched neither list, so boleta was assumed


def _field(order: JumpsellerOrder, labels: tuple[str, ...]) -> str | None:
    wanted = {fold(label) for label in labels}
    for field in order.additional_fields:
        if field.label and fold(field.label) in wanted and field.value:
            return field.value
    return None


def document_kind(value: str, fields: CheckoutFields) -> DocumentKind | None:
    """What a document field's value means. Exact match first ("Factura"), then a whole word ("Factura
    electrónica (empresas)"); None when it names neither or both. panel/assets/rut-checkout.js does the same."""
    folded = fold(value)
    boleta = {fold(v) for v in fields.boleta_values}
    factura = {fold(v) for v in fields.factura_values}
    if folded in factura:
        return DocumentKind.FACTURA
    if folded in boleta:
        return DocumentKind.BOLETA
    words = set(folded.replace("(", " ").replace(")", " ").replace("/", " ").split())
    says_factura, says_boleta = bool(words & factura), bool(words & boleta)
    if says_factura != says_boleta:
        return DocumentKind.FACTURA if says_factura else DocumentKind.BOLETA
    return None  # neither, or both ("Boleta o Factura"): not a choice


def read_choice(order: JumpsellerOrder, fields: CheckoutFields | None = None) -> CustomerChoice:
    """The document the customer asked for, with the razón social, giro and RUT they gave (if any)."""
    fields = fields or CheckoutFields()
    value = _field(order, fields.document_labels)
    kind = document_kind(value, fields) if value else None
    info = order.billing_information
    return CustomerChoice(
        kind=kind or DocumentKind.BOLETA,
        rut=order.billing_address.taxid or _field(order, fields.rut_labels),
        razon_social=_field(order, fields.razon_social_labels) or info.company_name,
        giro=_field(order, fields.giro_labels) or info.business_activity,
        chosen_value=value,
        recognised=value is None or kind is not None,
    )
