"""A shop whose checkout names the document field its own way still gets the document its customer chose."""

import pytest
from pydantic import ValidationError

from bridge.documents.choice import DocumentKind, read_choice
from bridge.models.jumpseller_order import parse_order_webhook
from bridge.models.shop import Shop, ShopOptions
from bridge.orders.steps.bsale_document import document_settings
from tests.conftest import official


def test_custom_labels_are_used_to_read_the_customers_choice() -> None:
    shop = Shop(shop_id="tienda", cpn_id=1, office_id=1, price_list_id=1, document_types={"39": 1, "33": 2},
                options=ShopOptions(checkout_fields={"document_labels": ["Comprobante"]}))
    body = official("jumpseller/order_webhook_official")
    body["order"]["additional_fields"] = [{"label": "comprobante", "value": "Factura", "id": 1, "area": "other"}]
    order = parse_order_webhook(body)
    assert read_choice(order, document_settings(shop).checkout).kind == DocumentKind.FACTURA
    default_shop = shop.model_copy(update={"options": ShopOptions()})
    assert read_choice(order, document_settings(default_shop).checkout).kind == DocumentKind.BOLETA


def test_unknown_checkout_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        ShopOptions(checkout_fields={"labels_of_things": ["x"]})
