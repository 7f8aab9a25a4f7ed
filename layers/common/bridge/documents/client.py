"""The buyer on a factura: what must be there, within the SII's lengths, and the Bsale `client` node.

A factura (33) needs RUT, razón social, giro, address and comuna (SII format, facto_dte.md B.2); Bsale also
asks for the city (`client attribute required : code,activity,address,city,municipality`, bsale.md §8.2).
Lengths are the SII's XML limits (facto_dte.md B.6). Anything missing or too long is reported in plain
Spanish, all at once, so the shop owner fixes it in one go; no document is emitted with made-up data.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from bridge.documents.choice import CustomerChoice
from bridge.documents.rut import Rut, RutError, RutProblem, parse_rut
from bridge.models.jumpseller_order import JumpsellerOrder

MAX_RAZON_SOCIAL = 100  # RznSocRecep
MAX_GIRO = 40  # GiroRecep
MAX_ADDRESS = 70  # DirRecep
MAX_COMUNA = 20  # CmnaRecep
MAX_CITY = 20  # CiudadRecep
MAX_EMAIL = 80  # CorreoRecep


@dataclass(frozen=True)
class FacturaClient:
    rut: Rut
    razon_social: str
    giro: str
    address: str
    comuna: str
    city: str
    email: str | None


def clean_text(value: str | None) -> str:
    """Printable text on one line: control characters dropped, whitespace collapsed."""
    if not value:
        return ""
    printable = "".join(" " if unicodedata.category(ch).startswith(("C", "Z")) else ch for ch in value)
    return " ".join(printable.split())


def billing_street(order: JumpsellerOrder) -> str:
    """"Av. Apoquindo 1234, Of. 501": address, then the street number unless it is already there, then extras."""
    billing = order.billing_address
    street = clean_text(billing.address)
    number = clean_text(billing.street_number)
    if number and number not in street.split():
        street = f"{street} {number}".strip()
    complement = clean_text(billing.complement)
    if complement:
        street = f"{street}, {complement}" if street else complement
    return street


def _check(label: str, value: str, limit: int, reasons: list[str], *, truncate: bool) -> str:
    """`label` is the noun with its article, e.g. "la razón social"."""
    if not value:
        reasons.append(f"Falta {label}")
        return value
    if len(value) > limit:
        if truncate:
            return value[:limit].rstrip()
        noun = label[0].upper() + label[1:]
        reasons.append(f"{noun} tiene {len(value)} caracteres; el SII admite {limit} como máximo")
    return value


def _rut_reason(parsed: RutError) -> str:
    if parsed.problem is RutProblem.EMPTY:
        return "Falta el RUT de la empresa"
    return parsed.reason


def factura_client(
    order: JumpsellerOrder, choice: CustomerChoice, *, truncate: bool = False
) -> FacturaClient | list[str]:
    """The factura's buyer, or every reason it cannot be one. `truncate` cuts over-long text (LibreDTE does)."""
    reasons: list[str] = []
    parsed = parse_rut(choice.rut)
    if isinstance(parsed, RutError):
        reasons.append(_rut_reason(parsed))
    elif parsed.is_generic:
        reasons.append(f"El RUT {parsed.display} es genérico y no sirve para una factura")
    billing = order.billing_address
    razon_social = _check("la razón social", clean_text(choice.razon_social), MAX_RAZON_SOCIAL, reasons,
                          truncate=truncate)
    giro = _check("el giro", clean_text(choice.giro), MAX_GIRO, reasons, truncate=truncate)
    address = _check("la dirección de facturación", billing_street(order), MAX_ADDRESS, reasons, truncate=truncate)
    comuna = _check("la comuna de facturación", clean_text(billing.municipality), MAX_COMUNA, reasons,
                    truncate=truncate)
    city = _check("la ciudad de facturación", clean_text(billing.city), MAX_CITY, reasons, truncate=truncate)
    if reasons or not isinstance(parsed, Rut):
        return reasons
    email = clean_text(order.customer.email)
    return FacturaClient(
        rut=parsed,
        razon_social=razon_social,
        giro=giro,
        address=address,
        comuna=comuna,
        city=city,
        email=email if "@" in email and len(email) <= MAX_EMAIL else None,  # optional: a bad one is left out
    )


def bsale_client_node(client: FacturaClient) -> dict[str, Any]:
    """The `client` node of POST /v1/documents.json for a company buyer (bsale.md §8.2)."""
    node: dict[str, Any] = {
        "code": str(client.rut),
        "company": client.razon_social,
        "activity": client.giro,
        "address": client.address,
        "municipality": client.comuna,
        "city": client.city,
        "companyOrPerson": 1,
    }
    if client.email:
        node["email"] = client.email
    return node
