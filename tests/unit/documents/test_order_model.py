"""The Jumpseller order as webhooks deliver it: the official example parses; nulls, strings and extras pass."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from bridge.models.jumpseller_order import JumpsellerOrder, OrderStatus, parse_order_webhook, status_from_label
from tests.conftest import official


def test_official_webhook_example_parses() -> None:
    # Given the order webhook body published in Jumpseller's docs
    body = official("jumpseller/order_webhook_official")
    # When it is parsed
    order = parse_order_webhook(body)
    # Then every field the documents use is there, money as exact decimals
    assert order.id == 1026
    assert order.status == "Pending Payment"
    assert order.status_enum is OrderStatus.PENDING_PAYMENT  # absent in the example: derived from the label
    assert order.currency == "USD"
    assert (order.subtotal, order.shipping, order.discount, order.total) == (
        Decimal("399.0"), Decimal("50.0"), Decimal("79.8"), Decimal("369.2"))
    assert order.customer.id == "123"
    assert order.billing_address.taxid is None
    assert order.billing_address.city == "London"
    assert order.billing_information.company_name is None
    [line] = order.products
    assert (line.id, line.variant_id, line.sku, line.name, line.qty) == (10732902, 81899012, "black", "Black", 1)
    assert (line.price, line.discount) == (Decimal("399.0"), Decimal("79.8"))
    [field] = order.additional_fields
    assert (field.label, field.value, field.id, field.area) == ("Test", "No", 28664, "billing")
    assert order.created_at is not None and order.created_at.isoformat() == "2023-02-10T13:56:35+00:00"


def test_numbers_as_strings_nulls_and_unknown_fields_are_tolerated() -> None:
    # Given an order the way real stores send some of it: strings, nulls, int customer id, fields we do not know
    body = {"order": {
        "id": "77", "status": "Pagado", "total": "12990.0", "shipping": None, "discount": "",
        "customer": {"id": 20019293, "email": None}, "billing_address": None, "billing_information": None,
        "products": [{"id": "10", "variant_id": None, "sku": "  ", "name": None, "qty": "2", "price": "6495",
                      "discount": None, "taxes": None, "stock_locations": [{"location_id": 1, "stock": 3}]}],
        "additional_fields": None, "brand_new_field": {"x": 1},
    }}
    # When it is parsed
    order = parse_order_webhook(body)
    # Then it is an order with sane defaults
    assert order.id == 77
    assert order.status_enum is OrderStatus.PAID  # Spanish label
    assert order.total == Decimal("12990.0")
    assert order.shipping == 0 and order.discount == 0
    assert order.customer.id == "20019293"
    assert order.billing_address.taxid is None and order.billing_information.business_activity is None
    [line] = order.products
    assert (line.variant_id, line.sku, line.name, line.qty, line.price, line.discount) == (
        None, None, "", 2, Decimal("6495"), Decimal(0))
    assert order.additional_fields == []


def test_status_enum_wins_over_labels_and_unknown_values_fall_back() -> None:
    # Given a translated label that disagrees with the stable enum, and an enum value from the future
    first = JumpsellerOrder.model_validate({"id": 1, "status": "Pendiente de Pago", "status_enum": "paid"})
    second = JumpsellerOrder.model_validate({"id": 2, "status": "Cancelado", "status_enum": "refunded_someday"})
    third = JumpsellerOrder.model_validate({"id": 3, "status": "Estado nuevo"})
    # Then the enum is the key; an unknown enum is derived from the label; an unknown label stays unknown
    assert first.status_enum is OrderStatus.PAID
    assert second.status_enum is OrderStatus.CANCELED
    assert third.status_enum is None


@pytest.mark.parametrize(("label", "status"), [
    ("Paid", OrderStatus.PAID), ("PAGADO", OrderStatus.PAID), ("Pending Payment", OrderStatus.PENDING_PAYMENT),
    ("pendiente de pago", OrderStatus.PENDING_PAYMENT), ("Canceled", OrderStatus.CANCELED),
    ("Abandonado", OrderStatus.ABANDONED), ("Pendente de pagamento", OrderStatus.PENDING_PAYMENT),
])
def test_status_labels(label: str, status: OrderStatus) -> None:
    assert status_from_label(label) is status


@pytest.mark.parametrize("bad", [{"id": 1, "total": "doce mil"}, {"id": 1, "products": [{"qty": "1.5"}]}, {}])
def test_garbage_is_refused(bad: dict[str, object]) -> None:
    # Given amounts that are not numbers, fractional units, or no order id
    # Then parsing fails loudly instead of guessing
    with pytest.raises(ValidationError):
        JumpsellerOrder.model_validate(bad)
