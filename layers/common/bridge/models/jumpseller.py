"""Jumpseller's catalog objects as its API spells them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


@dataclass(frozen=True)
class Target:
    """Where a SKU lives in Jumpseller: a product without variants, or one variant of a product."""

    product_id: int
    variant_id: int | None = None


def _sku(value: Any) -> Any:
    return (str(value).strip() or None) if value is not None else None


class JsVariant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: int
    sku: str | None = None
    price: float | None = None
    stock: int | None = None
    stock_unlimited: bool = False

    _sku = field_validator("sku", mode="before")(_sku)


class JsProduct(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: int
    name: str = ""
    sku: str | None = None
    price: float | None = None
    stock: int | None = None
    stock_unlimited: bool = False
    status: str | None = None
    variants: list[JsVariant] = Field(default_factory=list)

    _sku = field_validator("sku", mode="before")(_sku)


class Hook(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: int
    event: str
    url: str
