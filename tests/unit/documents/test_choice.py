"""Which document the customer chose at checkout, and the factura data they typed."""

import pytest

from bridge.documents.choice import DocumentKind, read_choice
from bridge.models.shop import CheckoutFields
from tests.unit.documents.orders import order, product

ITEM = [product("Polera", "POL-M", 12990)]


@pytest.mark.parametrize(("fields", "kind"), [
    ({"Tipo de Documento": "factura"}, DocumentKind.FACTURA),  # Jumpseller's Bsale app
    ({"Tipo de Documento": "boleta"}, DocumentKind.BOLETA),
    ({"Documento": "Factura"}, DocumentKind.FACTURA),  # BillMySales / LibreDTE
    ({"documento": "BOLETA"}, DocumentKind.BOLETA),
    ({"TIPO DE DOCUMENTO ": "Factura Electrónica"}, DocumentKind.FACTURA),  # case, accents, spaces
    ({"Tipo de Documento": "Factura (empresas)"}, DocumentKind.FACTURA),
    ({"Tipo de Documento": "33"}, DocumentKind.FACTURA),
    ({}, DocumentKind.BOLETA),  # no field: boleta
    ({"Tipo de Documento": ""}, DocumentKind.BOLETA),
    ({"Comentario": "factura por favor"}, DocumentKind.BOLETA),  # other fields never decide
])
def test_document_choice(fields: dict[str, str], kind: DocumentKind) -> None:
    # Given an order with these checkout fields
    # When the choice is read
    choice = read_choice(order(ITEM, fields=fields))
    # Then the kind is the customer's, and boleta when there is none
    assert choice.kind is kind
    assert choice.recognised


def test_unrecognised_value_means_boleta_and_is_flagged() -> None:
    # Given a value that is neither boleta nor factura (or both)
    for value in ("Sí", "Boleta o Factura"):
        choice = read_choice(order(ITEM, fields={"Tipo de Documento": value}))
        # Then boleta is assumed, and the plan can warn the shop owner
        assert choice.kind is DocumentKind.BOLETA
        assert not choice.recognised
        assert choice.chosen_value == value


def test_factura_data_from_custom_fields_first_then_billing_information() -> None:
    # Given giro and razón social both as custom fields and in billing_information
    both = order(ITEM, fields={"Documento": "Factura", "Razon social": "Campo SpA", "GIRO": "Comercio"},
                 billing={"taxid": "77.879.240-0"},
                 billing_information={"company_name": "Info SpA", "business_activity": "Servicios"})
    only_info = order(ITEM, fields={"Documento": "Factura"},
                      billing_information={"company_name": "Info SpA", "business_activity": "Servicios"})
    # When the choices are read
    first, second = read_choice(both), read_choice(only_info)
    # Then the store's own fields win, billing_information fills the gaps, the RUT comes from taxid
    assert (first.razon_social, first.giro, first.rut) == ("Campo SpA", "Comercio", "77.879.240-0")
    assert (second.razon_social, second.giro, second.rut) == ("Info SpA", "Servicios", None)


def test_rut_custom_field_is_a_fallback_for_taxid() -> None:
    choice = read_choice(order(ITEM, fields={"Documento": "Factura", "RUT empresa": "96.874.030-K"}))
    assert choice.rut == "96.874.030-K"


def test_labels_and_values_are_configurable() -> None:
    # Given a shop whose checkout says "Tipo de comprobante: Empresa"
    fields = CheckoutFields(document_labels=("Tipo de comprobante",), factura_values=("empresa",),
                            boleta_values=("persona",), giro_labels=("Actividad",))
    shop_order = order(ITEM, fields={"Tipo de comprobante": "Empresa", "Actividad": "Minería"})
    # When read with the shop's configuration
    choice = read_choice(shop_order, fields)
    # Then it is a factura with that giro
    assert choice.kind is DocumentKind.FACTURA
    assert choice.giro == "Minería"
