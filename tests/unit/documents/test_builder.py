"""From a paid order to the Bsale document body, a Skip, or a Failure a shop owner can act on (F7)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bridge.documents.amounts import ADJUSTMENT_TEXT, totals_of_bsale_details
from bridge.documents.builder import (
    DocumentPlan,
    Failure,
    ProblemCode,
    Skip,
    VariantLink,
    build_bsale_document,
    sales_id,
)
from bridge.documents.choice import DocumentKind
from bridge.models.jumpseller_order import parse_order_webhook
from tests.conftest import official
from tests.unit.documents.orders import (
    FACTURA_BILLING,
    FACTURA_FIELDS,
    SETTINGS,
    independent_total,
    links,
    order,
    product,
)

# 23:30 on 14 March 2025 in Santiago, already the 15th in UTC
EVENING = datetime(2025, 3, 15, 2, 30, tzinfo=UTC)
MARCH_14 = 1741910400  # 2025-03-14 00:00 UTC
IVA = [{"code": 14, "percentage": 19}]


def plan_of(result: DocumentPlan | Skip | Failure) -> DocumentPlan:
    assert isinstance(result, DocumentPlan), result
    return result


def test_golden_boleta_with_discount_and_shipping() -> None:
    # Given 2 poleras at 12.990 with 2.000 off, a gorro at 7.990, a 1.000 coupon and 3.990 shipping: 34.960 paid
    o = order([product("Polera", "POL-M", 12990, qty=2, discount=2000), product("Gorro", "GOR-1", 7990)],
              shipping=3990, coupon=1000, fields={"Tipo de Documento": "Boleta"})
    # When the document is built at 23:30 Chilean time
    plan = plan_of(build_bsale_document(o, SETTINGS, links("POL-M", "GOR-1"), now=EVENING))
    # Then it is this boleta body, to the peso
    assert plan.kind is DocumentKind.BOLETA
    assert plan.body == {
        "documentTypeId": 7,
        "officeId": 1,
        "priceListId": 3,
        "emissionDate": MARCH_14,  # the Chilean date, not the UTC one
        "declareSii": 1,
        "dispatch": 1,
        "salesId": "js-tienda-demo-5001",
        "details": [
            {"variantId": 1000, "netUnitValue": 9760, "quantity": 2, "taxes": IVA},
            {"variantId": 1001, "netUnitValue": 6505, "quantity": 1, "taxes": IVA},
            {"comment": "Despacho: Starken", "netUnitValue": 3353, "quantity": 1, "taxes": IVA},  # no stock
        ],
    }
    # 19.520 + 6.505 + 3.353 = 29.378 net; IVA round(5.581,82) = 5.582; 29.378 + 5.582 = 34.960
    assert independent_total(plan.body["details"]) == 34_960 == o.total
    assert totals_of_bsale_details(plan.body["details"]).total == 34_960
    assert "client" not in plan.body and plan.warnings == ()


def test_golden_factura_with_valid_rut() -> None:
    # Given a factura order: taladro 89.990, 3 × brocas 4.990, shipping 5.990 = 110.950, all buyer data present
    o = order([product("Taladro", "TAL-1", 89990), product("Brocas", "BRO-5", 4990, qty=3)], shipping=5990,
              fields=FACTURA_FIELDS, billing=FACTURA_BILLING)
    # When built
    plan = plan_of(build_bsale_document(o, SETTINGS, links("TAL-1", "BRO-5"), now=EVENING))
    # Then it is a factura for the buyer, adding up to the peso
    assert plan.kind is DocumentKind.FACTURA
    assert plan.body["documentTypeId"] == 8
    assert plan.body["details"] == [
        {"variantId": 1000, "netUnitValue": 75620, "quantity": 1, "taxes": IVA},
        {"variantId": 1001, "netUnitValue": 4194, "quantity": 3, "taxes": IVA},
        {"comment": "Despacho: Starken", "netUnitValue": 5033, "quantity": 1, "taxes": IVA},
    ]
    # 75.620 + 12.582 + 5.033 = 93.235 net; IVA round(17.714,65) = 17.715; total 110.950
    assert independent_total(plan.body["details"]) == 110_950 == o.total
    assert plan.body["client"] == {
        "code": "77879240-0", "company": "Ferretería Los Andes SpA", "activity": "Venta de artículos de ferretería",
        "address": "Av. Apoquindo 3000, Of. 501", "municipality": "Las Condes", "city": "Santiago",
        "email": "compras@ferreteria.cl", "companyOrPerson": 1,
    }


def test_factura_with_invalid_rut_fails_with_every_reason() -> None:
    # Given a factura whose RUT has a wrong check digit and no comuna
    billing = {**FACTURA_BILLING, "taxid": "12.345.678-9", "municipality": None}
    o = order([product("Taladro", "TAL-1", 89990)], fields=FACTURA_FIELDS, billing=billing)
    # When built
    result = build_bsale_document(o, SETTINGS, links("TAL-1"), now=EVENING)
    # Then no document: the reasons say what to fix, and retrying alone will not help
    assert isinstance(result, Failure)
    assert [p.code for p in result.problems] == [ProblemCode.FACTURA_DATA, ProblemCode.FACTURA_DATA]
    assert result.reason == ("El RUT «12.345.678-9» no es válido: el dígito verificador no corresponde; "
                             "Falta la comuna de facturación")
    assert not result.retryable and not result.needs_manual_document


def test_mixed_zero_value_lines_are_left_out_and_reported() -> None:
    # Given a paid product, a free gift (linked) and an unlinked free sample
    o = order([product("Polera", "POL-M", 12990), product("Regalo", "GIFT", 0), product("Muestra", "SMP", 0)])
    # When built (the unlinked sample does not matter: it is not on the document)
    plan = plan_of(build_bsale_document(o, SETTINGS, links("POL-M", "GIFT"), now=EVENING))
    # Then only the polera is on the boleta, and the shop owner is told to move the free stock by hand
    assert [d.get("variantId") for d in plan.body["details"]] == [1000]
    assert independent_total(plan.body["details"]) == 12_990
    assert plan.warnings == (
        "Regalo (SKU GIFT) no va en el documento (valor cero): descuenta su stock a mano en Bsale",
        "Muestra (SKU SMP) no va en el documento (valor cero): descuenta su stock a mano en Bsale",
    )


def test_all_zero_order_is_skipped() -> None:
    # Given an order of free products only
    o = order([product("Regalo", "GIFT", 0), product("Muestra", "SMP", 0, qty=2)])
    # When built
    result = build_bsale_document(o, SETTINGS, links(), now=EVENING)
    # Then it is skipped with its reason, no document and no failure
    assert isinstance(result, Skip)
    assert result.reason == "El pedido no tiene montos que documentar (total $0)"
    assert [d.sku for d in result.dropped] == ["GIFT", "SMP"]


def test_unlinked_products_fail_and_can_be_retried() -> None:
    # Given two products, one linked and one not, and one with no SKU at all
    o = order([product("Polera", "POL-M", 12990), product("Gorro Azul", "GOR-AZ", 7990),
               product("Sin código", None, 1000)])
    # When built
    result = build_bsale_document(o, SETTINGS, links("POL-M"), now=EVENING)
    # Then it fails with the help article's words, per product, and can be retried once they are linked
    assert isinstance(result, Failure)
    assert result.reason == "Gorro Azul no está sincronizado; Sin código no está sincronizado"
    assert result.retryable
    # When the gorro gets linked, only the product without SKU is left to fix
    linked = {"POL-M": 11, "GOR-AZ": "12"}
    again = build_bsale_document(o, SETTINGS, linked, now=EVENING)
    assert isinstance(again, Failure) and again.reason == "Sin código no está sincronizado"
    # And an order of linked products builds
    fixed = build_bsale_document(o.model_copy(update={"products": o.products[:2]}), SETTINGS, linked, now=EVENING)
    assert [d["variantId"] for d in plan_of(fixed).body["details"] if "variantId" in d] == [11, 12]


def test_serial_product_needs_a_manual_document() -> None:
    # Given a product linked to a serial-numbered Bsale variant
    o = order([product("Celular", "CEL-1", 199990), product("Funda", "FUN-1", 9990)])
    # When built
    result = build_bsale_document(o, SETTINGS, links("CEL-1", "FUN-1", serial=("CEL-1",)), now=EVENING)
    # Then the order is marked for a manual document, with the reason
    assert isinstance(result, Failure)
    assert result.needs_manual_document and not result.retryable
    assert result.reason == "Celular tiene número de serie en Bsale: emite este documento manualmente"


def test_a_split_line_reports_its_product_once() -> None:
    # Given 3 tazas at 10.000 alone (split in two lines of one variant) and no link
    o = order([product("Taza", "TZ-1", 10000, qty=3)])
    failure = build_bsale_document(o, SETTINGS, links(), now=EVENING)
    assert isinstance(failure, Failure) and failure.reason == "Taza no está sincronizado"
    # And linked, both lines carry the same variant and the quantities add up to 3
    plan = plan_of(build_bsale_document(o, SETTINGS, links("TZ-1"), now=EVENING))
    assert [(d["variantId"], d["quantity"]) for d in plan.body["details"]] == [(1000, 1), (1000, 2)]
    assert independent_total(plan.body["details"]) == 30_000


def test_rounding_adjustment_line_is_exempt_gloss() -> None:
    # Given an order of 680: no taxed net reaches it
    plan = plan_of(build_bsale_document(order([product("Chicle", "CH", 680)]), SETTINGS, links("CH"), now=EVENING))
    # Then an exempt gloss line of 1 peso closes the total (no taxes → exempt in Bsale, no variant → no stock)
    assert plan.body["details"][-1] == {"comment": ADJUSTMENT_TEXT, "netUnitValue": 1, "quantity": 1}
    assert independent_total(plan.body["details"]) == 680
    # And a shop that disabled it gets a warning instead of the line
    no_line = replace(SETTINGS, rounding_adjustment=False)
    short = plan_of(build_bsale_document(order([product("Chicle", "CH", 680)]), no_line, links("CH"), now=EVENING))
    assert independent_total(short.body["details"]) == 679
    assert short.warnings == ("El documento suma $679 y el pedido $680: diferencia de redondeo del IVA",)


@pytest.mark.parametrize(("status", "code", "retryable"), [
    ("canceled", ProblemCode.CANCELED, False),
    ("abandoned", ProblemCode.CANCELED, False),
    ("pending_payment", ProblemCode.NOT_PAID, True),
])
def test_orders_not_paid_get_no_document(status: str, code: ProblemCode, retryable: bool) -> None:
    # Given an order that is canceled, abandoned or still pending payment
    o = order([product("Polera", "POL-M", 12990)], status_enum=status)
    result = build_bsale_document(o, SETTINGS, links("POL-M"), now=EVENING)
    # Then no document; only a pending one is worth retrying (once paid)
    assert isinstance(result, Failure)
    assert [p.code for p in result.problems] == [code] and result.retryable is retryable


def test_official_example_is_refused_for_its_currency() -> None:
    # Given Jumpseller's official order example (USD, pending payment), marked paid
    o = parse_order_webhook(official("jumpseller/order_webhook_official")).model_copy(update={"status_enum": None})
    # When built
    result = build_bsale_document(o, SETTINGS, {"black": 1}, now=EVENING)
    # Then no document: only pesos are documented
    assert isinstance(result, Failure)
    assert result.reason == "El pedido está en USD: solo se emiten documentos en pesos (CLP)"


def test_unrecognised_choice_emits_a_boleta_with_a_warning() -> None:
    # Given a document field whose value is neither boleta nor factura
    o = order([product("Polera", "POL-M", 12990)], fields={"Tipo de Documento": "Sí"})
    plan = plan_of(build_bsale_document(o, SETTINGS, links("POL-M"), now=EVENING))
    # Then a boleta goes out, and the shop owner is told why
    assert plan.kind is DocumentKind.BOLETA
    assert plan.warnings == ("El tipo de documento «Sí» no se reconoce: se emite boleta",)


def test_factura_over_sixty_lines_is_refused() -> None:
    # Given a factura of 61 products (SII: 60 detail lines at most)
    products = [product(f"Tornillo {i}", f"T{i}", 990) for i in range(61)]
    o = order(products, fields=FACTURA_FIELDS, billing=FACTURA_BILLING)
    result = build_bsale_document(o, SETTINGS, links(*(f"T{i}" for i in range(61))), now=EVENING)
    # Then it is refused with the limit named
    assert isinstance(result, Failure)
    assert result.problems[-1].code is ProblemCode.TOO_MANY_LINES
    assert "admite 60" in result.reason


def test_sales_id_is_deterministic_and_bounded() -> None:
    assert sales_id("tienda-demo", 5001) == "js-tienda-demo-5001"
    with pytest.raises(ValueError, match="255"):
        sales_id("x" * 300, 1)
    # the same order built twice gives the same body (a retry posts the same salesId)
    o = order([product("Polera", "POL-M", 12990)])
    first = plan_of(build_bsale_document(o, SETTINGS, links("POL-M"), now=EVENING))
    second = plan_of(build_bsale_document(o, SETTINGS, links("POL-M"), now=EVENING))
    assert first.body == second.body


def test_links_accept_plain_ids() -> None:
    # Given links given as an int, a string or a VariantLink, the variantId is the same int
    o = order([product("Polera", "POL-M", 12990)])
    for value in (42, "42", VariantLink(42)):
        plan = plan_of(build_bsale_document(o, SETTINGS, {"POL-M": value}, now=EVENING))
        assert plan.body["details"][0]["variantId"] == 42
