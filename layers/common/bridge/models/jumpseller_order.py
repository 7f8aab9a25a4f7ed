"""A Jumpseller order as its webhooks deliver it (`{"order": {...}}`), keeping only what documents need.

Parsing is tolerant on purpose: Jumpseller adds fields, sends `null` for empty ones, and numbers sometimes
arrive as strings ("12990.0"). Unknown keys are ignored; missing money is 0; ids may be strings or ints.
Money stays `Decimal` (never float) so peso arithmetic downstream is exact.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class OrderStatus(StrEnum):
    """Jumpseller's stable `status_enum`."""

    ABANDONED = "abandoned"
    CANCELED = "canceled"
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"


# `status` / `status_name` are translated labels. When `status_enum` is absent (the official webhook example
# has none) the label is mapped back. Keys are lower-case, accent-free: English (the spec's enum), Spanish and
# Portuguese as seen in stores. An unknown label leaves the status unknown (None), never guessed.
_STATUS_LABELS: dict[str, OrderStatus] = {
    "abandoned": OrderStatus.ABANDONED,
    "abandonado": OrderStatus.ABANDONED,
    "abandonada": OrderStatus.ABANDONED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "cancelado": OrderStatus.CANCELED,
    "cancelada": OrderStatus.CANCELED,
    "anulado": OrderStatus.CANCELED,
    "anulada": OrderStatus.CANCELED,
    "pending payment": OrderStatus.PENDING_PAYMENT,
    "pending_payment": OrderStatus.PENDING_PAYMENT,
    "pendiente de pago": OrderStatus.PENDING_PAYMENT,
    "pago pendiente": OrderStatus.PENDING_PAYMENT,
    "pendente de pagamento": OrderStatus.PENDING_PAYMENT,
    "pagamento pendente": OrderStatus.PENDING_PAYMENT,
    "paid": OrderStatus.PAID,
    "pagado": OrderStatus.PAID,
    "pagada": OrderStatus.PAID,
    "pago": OrderStatus.PAID,
}


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced text, for matching labels typed by people."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def status_from_label(label: str | None) -> OrderStatus | None:
    """The stable status behind a translated label, or None when the label is unknown."""
    return _STATUS_LABELS.get(fold(label)) if label else None


def _money(value: Any) -> Any:
    """None/"" → 0; numbers and numeric strings → Decimal (floats through str, so 79.8 stays 79.8)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal(0)
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, int | Decimal):
        return Decimal(value)
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def _optional_decimal(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else _money(value)


def _text(value: Any) -> Any:
    """Strings stripped, empty → None; numbers (a street number, a numeric id) become their text."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _optional_int(value: Any) -> Any:
    """Ids: int, "123", 123.0 → 123; None/"" → None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return int(Decimal(value.strip()))
    return value


def _timestamp(value: Any) -> Any:
    """Jumpseller writes "2023-02-10 13:56:35 UTC"; ISO strings also pass. Unreadable → None (not fatal)."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S %z"):
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class OrderCustomer(_Lenient):
    id: str | None = None  # "123" in the docs, 20019293 in a real payload
    email: str | None = None
    phone: str | None = None
    fullname: str | None = None

    _text = field_validator("id", "email", "phone", "fullname", mode="before")(_text)


class OrderAddress(_Lenient):
    name: str | None = None
    surname: str | None = None
    address: str | None = None
    street_number: str | None = None  # "number" in the spec, text in practice ("1234 B")
    complement: str | None = None
    city: str | None = None
    municipality: str | None = None  # the Chilean comuna
    neighbourhood: str | None = None
    region: str | None = None
    region_code: str | None = None
    postal: str | None = None
    country: str | None = None
    country_code: str | None = None

    _text = field_validator(
        "name", "surname", "address", "street_number", "complement", "city", "municipality", "neighbourhood",
        "region", "region_code", "postal", "country", "country_code", mode="before",
    )(_text)


class BillingAddress(OrderAddress):
    taxid: str | None = None  # where the buyer's RUT lands ("Identificador Fiscal")

    _taxid = field_validator("taxid", mode="before")(_text)


class BillingInformation(_Lenient):
    business_activity: str | None = None  # giro
    company_name: str | None = None  # razón social
    taxpayer_type: str | None = None

    _text = field_validator("business_activity", "company_name", "taxpayer_type", mode="before")(_text)


class ProductTax(_Lenient):
    id: int | None = None
    name: str | None = None
    rate: Decimal | None = None
    fixed: bool | None = None
    tax_on_product_price: bool | None = None  # False: the tax is NOT included in the product price

    _id = field_validator("id", mode="before")(_optional_int)
    _rate = field_validator("rate", mode="before")(_optional_decimal)


class ShippingTax(_Lenient):
    id: int | None = None
    name: str | None = None
    rate: Decimal | None = None
    fixed: bool | None = None
    tax_on_shipping_price: bool | None = None  # False: the tax is NOT included in the shipping price

    _id = field_validator("id", mode="before")(_optional_int)
    _rate = field_validator("rate", mode="before")(_optional_decimal)


class OrderProduct(_Lenient):
    id: int | None = None  # Jumpseller product id
    variant_id: int | None = None  # null when the product has no variants
    sku: str | None = None
    name: str = ""
    qty: int = 0
    price: Decimal = Decimal(0)  # unit price; includes IVA unless a tax says tax_on_product_price false
    discount: Decimal = Decimal(0)  # per line or per unit: UNCONFIRMED, see documents.amounts
    taxes: list[ProductTax] = Field(default_factory=list)

    _ids = field_validator("id", "variant_id", mode="before")(_optional_int)
    _sku = field_validator("sku", mode="before")(_text)
    _money = field_validator("price", "discount", mode="before")(_money)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return _text(value) or ""

    @field_validator("qty", mode="before")
    @classmethod
    def _qty(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return 0
        number = _money(value)
        if number != number.to_integral_value():
            raise ValueError(f"quantity must be whole units, got {value!r}")
        return int(number)

    @field_validator("taxes", mode="before")
    @classmethod
    def _taxes(cls, value: Any) -> Any:
        return value or []


class AdditionalField(_Lenient):
    """A checkout custom field's value on the order."""

    label: str | None = None
    value: str | None = None
    id: int | None = None
    area: str | None = None

    _text = field_validator("label", "value", "area", mode="before")(_text)
    _id = field_validator("id", mode="before")(_optional_int)


class JumpsellerOrder(_Lenient):
    id: int
    status: str | None = None  # translated label ("Paid", "Pagado"...)
    status_name: str | None = None  # translated label
    status_enum: OrderStatus | None = None  # stable; derived from the labels when absent (see below)
    created_at: datetime | None = None
    completed_at: datetime | None = None
    currency: str | None = None
    subtotal: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)  # includes line discounts and shipping_discount in the known examples
    shipping_discount: Decimal = Decimal(0)
    gift_cards_discount: Decimal = Decimal(0)  # a means of payment, not a price reduction
    total: Decimal = Decimal(0)
    shipping_method_name: str | None = None
    coupons: str | None = None
    customer: OrderCustomer = Field(default_factory=OrderCustomer)
    billing_address: BillingAddress = Field(default_factory=BillingAddress)
    shipping_address: OrderAddress = Field(default_factory=OrderAddress)
    billing_information: BillingInformation = Field(default_factory=BillingInformation)
    products: list[OrderProduct] = Field(default_factory=list)
    additional_fields: list[AdditionalField] = Field(default_factory=list)
    shipping_taxes: list[ShippingTax] = Field(default_factory=list)

    _id = field_validator("id", mode="before")(_optional_int)
    _money = field_validator(
        "subtotal", "tax", "shipping", "shipping_tax", "discount", "shipping_discount", "gift_cards_discount",
        "total", mode="before",
    )(_money)
    _text = field_validator("status", "status_name", "currency", "shipping_method_name", "coupons", mode="before")(
        _text
    )
    _times = field_validator("created_at", "completed_at", mode="before")(_timestamp)

    @field_validator("status_enum", mode="before")
    @classmethod
    def _known_status(cls, value: Any) -> Any:
        """An enum value this code does not know yet is treated as absent, then derived from the labels."""
        if value is None:
            return None
        text = fold(str(value)).replace(" ", "_")
        return text if text in {s.value for s in OrderStatus} else None

    @field_validator(
        "customer", "billing_address", "shipping_address", "billing_information", mode="before"
    )
    @classmethod
    def _null_object(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("products", "additional_fields", "shipping_taxes", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_validator(mode="after")
    def _derive_status(self) -> JumpsellerOrder:
        # `status_enum` is the stable key; the labels are a fallback (frozen model: set once, here).
        if self.status_enum is None:
            derived = status_from_label(self.status) or status_from_label(self.status_name)
            if derived is not None:
                object.__setattr__(self, "status_enum", derived)
        return self


class OrderWebhook(_Lenient):
    """The body of an order webhook: `{"order": {...}}`."""

    order: JumpsellerOrder


def parse_order_webhook(body: dict[str, Any]) -> JumpsellerOrder:
    """The order inside a webhook body. Raises pydantic.ValidationError when it is not an order."""
    return OrderWebhook.model_validate(body).order
