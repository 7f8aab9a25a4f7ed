"""The factura's buyer: complete, valid, within the SII lengths; reasons in plain Spanish otherwise."""

from typing import Any

from bridge.documents.choice import read_choice
from bridge.documents.client import FacturaClient, bsale_client_node, factura_client
from tests.unit.documents.orders import FACTURA_BILLING, FACTURA_FIELDS, order, product

ITEM = [product("Taladro", "TAL-1", 89990)]


def problems(fields: dict[str, str], billing: dict[str, Any], **extra: Any) -> list[str]:
    o = order(ITEM, fields=fields, billing=billing, **extra)
    result = factura_client(o, read_choice(o))
    return result if isinstance(result, list) else []


def test_complete_buyer_becomes_the_bsale_client_node() -> None:
    # Given a factura order with every field filled in
    o = order(ITEM, fields=FACTURA_FIELDS, billing=FACTURA_BILLING)
    # When the buyer is read
    client = factura_client(o, read_choice(o))
    # Then it is valid, and the Bsale node carries the RUT without dots and the street with its number
    assert isinstance(client, FacturaClient)
    assert bsale_client_node(client) == {
        "code": "77879240-0",
        "company": "Ferretería Los Andes SpA",
        "activity": "Venta de artículos de ferretería",
        "address": "Av. Apoquindo 3000, Of. 501",
        "municipality": "Las Condes",
        "city": "Santiago",
        "email": "compras@ferreteria.cl",
        "companyOrPerson": 1,
    }


def test_everything_missing_is_reported_at_once() -> None:
    # Given a factura chosen with nothing else
    reasons = problems({"Tipo de Documento": "factura"}, {})
    # Then each missing item is named, so the shop owner fixes all of it in one go
    assert reasons == [
        "Falta el RUT de la empresa",
        "Falta la razón social",
        "Falta el giro",
        "Falta la dirección de facturación",
        "Falta la comuna de facturación",
        "Falta la ciudad de facturación",
    ]


def test_invalid_and_generic_ruts() -> None:
    bad = problems(FACTURA_FIELDS, {**FACTURA_BILLING, "taxid": "12.345.678-9"})
    generic = problems(FACTURA_FIELDS, {**FACTURA_BILLING, "taxid": "66.666.666-6"})
    assert bad == ["El RUT «12.345.678-9» no es válido: el dígito verificador no corresponde"]
    assert generic == ["El RUT 66.666.666-6 es genérico y no sirve para una factura"]


def test_sii_lengths_are_enforced_or_truncated_on_request() -> None:
    # Given a giro of 60 characters (SII: 40) and a comuna of 25 (SII: 20)
    long_giro = "Venta al por menor de artículos de ferretería y materiales"
    fields = {**FACTURA_FIELDS, "Giro": long_giro}
    billing = {**FACTURA_BILLING, "municipality": "Comuna De Nombre Muy Largo"}
    # Then by default each is reported with its length and the limit
    assert problems(fields, billing) == [
        f"El giro tiene {len(long_giro)} caracteres; el SII admite 40 como máximo",
        "La comuna de facturación tiene 26 caracteres; el SII admite 20 como máximo",
    ]
    # And a shop that prefers truncation (as LibreDTE does) gets the first 40 / 20 characters
    o = order(ITEM, fields=fields, billing=billing)
    client = factura_client(o, read_choice(o), truncate=True)
    assert isinstance(client, FacturaClient)
    assert client.giro == long_giro[:40].rstrip() and len(client.comuna) <= 20


def test_billing_information_fills_razon_social_and_giro() -> None:
    o = order(ITEM, fields={"Tipo de Documento": "Factura"}, billing=FACTURA_BILLING,
              billing_information={"company_name": "Constructora Sur Ltda.", "business_activity": "Construcción"})
    client = factura_client(o, read_choice(o))
    assert isinstance(client, FacturaClient)
    assert (client.razon_social, client.giro) == ("Constructora Sur Ltda.", "Construcción")


def test_hostile_text_is_flattened_and_bad_email_left_out() -> None:
    # Given control characters and line breaks in the typed fields, and an e-mail that is not one
    fields = {**FACTURA_FIELDS, "Razón Social": "Ferretería\n\tLos Andes\x00 SpA"}
    billing = {**FACTURA_BILLING, "address": "Av. Apoquindo\r\n", "street_number": 3000, "complement": None}
    o = order(ITEM, fields=fields, billing=billing, customer={"id": 1, "email": "no-es-correo"})
    client = factura_client(o, read_choice(o))
    # Then the text is one clean line, the number joins the street once, and the e-mail is simply omitted
    assert isinstance(client, FacturaClient)
    assert client.razon_social == "Ferretería Los Andes SpA"
    assert client.address == "Av. Apoquindo 3000"
    assert "email" not in bsale_client_node(client)


def test_street_number_already_in_the_address_is_not_repeated() -> None:
    billing = {**FACTURA_BILLING, "address": "Av. Apoquindo 3000", "street_number": "3000", "complement": ""}
    o = order(ITEM, fields=FACTURA_FIELDS, billing=billing)
    client = factura_client(o, read_choice(o))
    assert isinstance(client, FacturaClient) and client.address == "Av. Apoquindo 3000"
