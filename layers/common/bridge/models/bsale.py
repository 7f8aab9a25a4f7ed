"""Bsale's objects as its API and its notifications spell them. Field names stay inside this module."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Topic = Literal["stock", "price", "product", "variant", "document", "payment"]


def _as_str(value: Any) -> Any:
    # Bsale sends ids as integers at the top level and as strings inside relation nodes; accept both.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class BsaleNotification(BaseModel):
    """A Bsale webhook: a pointer to what changed, never the data itself, and no signature."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    # Bounded: a number is stored and compared in DynamoDB, whose numbers stop at 38 digits.
    cpn_id: int = Field(alias="cpnId", ge=1, le=2**53)
    resource: str = Field(max_length=512)
    resource_id: str = Field(alias="resourceId", min_length=1, max_length=64, pattern=r"^[0-9]+$")
    topic: Topic
    action: str = Field(max_length=16)
    office_id: str | None = Field(default=None, alias="officeId", max_length=32)
    price_list_id: str | None = Field(default=None, alias="priceListId", max_length=32)
    send: int | None = Field(default=None, ge=-(2**53), le=2**53)

    _ids = field_validator("resource_id", "office_id", "price_list_id", mode="before")(_as_str)

    @field_validator("action", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class Relation(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: str
    href: str | None = None

    _id = field_validator("id", mode="before")(_as_str)


class Stock(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    quantity: float = 0
    quantity_reserved: float = Field(default=0, alias="quantityReserved")
    quantity_available: float = Field(default=0, alias="quantityAvailable")
    variant: Relation
    office: Relation


class Product(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    id: int
    name: str = ""
    classification: int = 0  # 0 product, 1 service, 3 pack
    stock_control: int = Field(default=1, alias="stockControl")
    state: int = 0


class Variant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    id: int
    code: str | None = None
    description: str = ""
    state: int = 0
    allow_negative_stock: int = Field(default=0, alias="allowNegativeStock")
    unlimited_stock: int = Field(default=0, alias="unlimitedStock")
    serial_number: int = Field(default=0, alias="serialNumber")
    product: Product | Relation | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        # A SKU with stray spaces is the same SKU to a person; Bsale itself rejects it in documents.
        return str(value).strip() or None if value is not None else None


class Office(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    id: int
    name: str = ""
    state: int = 0


class PriceList(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    id: int
    name: str = ""
    state: int = 0


class PriceDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    id: int
    variant_value: float = Field(default=0, alias="variantValue")
    variant_value_with_taxes: float = Field(default=0, alias="variantValueWithTaxes")
    variant: Relation


class DocumentType(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)

    id: int
    name: str = ""
    code_sii: str | None = Field(default=None, alias="codeSii")
    state: int = 0

    _code = field_validator("code_sii", mode="before")(_as_str)


class Instance(BaseModel):
    """What credential.bsale.io says about a token: its `id` is the `cpnId` of notifications."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: int
    code: str | None = None
    name: str = ""
