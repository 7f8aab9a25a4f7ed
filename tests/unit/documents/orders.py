"""Small builders of Jumpseller orders and shop settings for the document tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bridge.documents.builder import DocumentSettings, VariantLink
from bridge.models.jumpseller_order import JumpsellerOrder

SETTINGS = DocumentSettings(store_code="tienda-demo", office_id=1, price_list_id=3, boleta_type_id=7,
                            factura_type_id=8)


def product(name: str, sku: str | None, price: int | str, qty: int = 1, discount: int | str = 0) -> dict[str, Any]:
    return {"id": abs(hash(name)) % 10_000, "variant_id": None, "sku": sku, "name": name, "qty": qty,
            "price": price, "discount": discount, "taxes": []}


def order(
    products: list[dict[str, Any]],
    *,
    shipping: int = 0,
    shipping_discount: int = 0,
    coupon: int = 0,
    total: int | None = None,
    fields: dict[str, str] | None = None,
    billing: dict[str, Any] | None = None,
    **extra: Any,
) -> JumpsellerOrder:
    """A paid CLP order. `discount` adds the lines' discounts, the coupon and the shipping discount, as
    Jumpseller's examples do; `total` defaults to what those amounts make."""
    lines = sum(Decimal(p["price"]) * p["qty"] - Decimal(p["discount"]) for p in products)
    subtotal = sum(Decimal(p["price"]) * p["qty"] for p in products)
    discount = sum(Decimal(p["discount"]) for p in products) + coupon + shipping_discount
    body: dict[str, Any] = {
        "id": 5001,
        "status": "Paid",
        "status_enum": "paid",
        "currency": "CLP",
        "subtotal": str(subtotal),
        "tax": 0,
        "shipping": shipping,
        "shipping_tax": 0,
        "discount": str(discount),
        "shipping_discount": shipping_discount,
        "total": str(lines - coupon + shipping - shipping_discount) if total is None else total,
        "shipping_method_name": "Starken" if shipping else None,
        "customer": {"id": 77, "email": "compras@ferreteria.cl"},
        "billing_address": billing or {},
        "products": products,
        "additional_fields": [{"label": k, "value": v, "id": i, "area": "other"}
                              for i, (k, v) in enumerate((fields or {}).items())],
    }
    body.update(extra)
    return JumpsellerOrder.model_validate(body)


FACTURA_BILLING = {
    "name": "Ana", "surname": "Pérez", "taxid": "77.879.240-0", "address": "Av. Apoquindo", "street_number": "3000",
    "complement": "Of. 501", "city": "Santiago", "municipality": "Las Condes", "region": "Región Metropolitana",
}
FACTURA_FIELDS = {"Tipo de Documento": "factura", "Razón Social": "Ferretería Los Andes SpA",
                  "Giro": "Venta de artículos de ferretería"}


def links(*skus: str, serial: tuple[str, ...] = ()) -> dict[str, VariantLink]:
    return {sku: VariantLink(1000 + i, serial=sku in serial) for i, sku in enumerate(skus)}


def independent_total(details: list[dict[str, Any]]) -> int:
    """The document total recomputed here from the Bsale body, without the code under test: integer net
    lines, IVA 19 % once on the net total, exempt lines (no taxes) added as they are."""
    net = sum(d["netUnitValue"] * d["quantity"] for d in details if d.get("taxes"))
    exempt = sum(d["netUnitValue"] * d["quantity"] for d in details if not d.get("taxes"))
    iva = (net * 19 + 50) // 100
    return net + iva + exempt
