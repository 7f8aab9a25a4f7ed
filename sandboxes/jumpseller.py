"""Jumpseller API sandbox: an in-memory double of ``api.jumpseller.com/v1`` for tests.

Every API request and response is checked against the official OpenAPI file (see ``sandboxes._openapi`` for
the few documented spec/practice conflicts and how they are handled). Requests the spec rejects answer 400 and
land in ``sb.violations``; responses of ours that the spec rejects land there too (a sandbox bug).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from sandboxes import _openapi
from sandboxes._http import (
    JSON,
    Clock,
    Delivery,
    HttpError,
    Request,
    Response,
    Router,
    SandboxServer,
    SlidingWindowLimiter,
    admin_body,
)
from sandboxes.jumpseller_oauth import Grant, OAuthServer, required_scope

ORDER_STATUSES = {  # status_enum → label (the API's English labels)
    "pending_payment": "Pending Payment",
    "paid": "Paid",
    "canceled": "Canceled",
    "abandoned": "Abandoned",
}
SHIPMENT_STATUSES = {
    "unfulfilled": "Unfulfilled",
    "requested": "Requested",
    "in_transit": "In Transit",
    "delivered": "Delivered",
    "failed": "Failed",
    "pickup_available": "Pickup Available",
}
PRODUCT_EDITABLE = (
    "name", "page_title", "meta_description", "description", "type", "price", "weight", "stock", "stock_unlimited",
    "stock_threshold", "stock_notification", "back_in_stock_enabled", "cost_per_item", "compare_at_price", "sku",
    "barcode", "brand", "featured", "status", "permalink", "shipping_required",
)
VARIANT_EDITABLE = (
    "price", "sku", "barcode", "stock", "stock_unlimited", "stock_threshold", "stock_notification",
    "cost_per_item", "compare_at_price", "options",
)

JsHandler = Callable[[Request, "JumpsellerStore"], Response]


def _now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def _not_found(what: str) -> HttpError:
    return HttpError(Response(404, {"message": f"{what} not found"}))


def sign(hooks_token: str, body: bytes) -> str:
    """Jumpseller's webhook signature: base64(HMAC-SHA256(key=hooks_token, msg=raw body))."""
    return base64.b64encode(hmac.new(hooks_token.encode(), body, hashlib.sha256).digest()).decode()


# --------------------------------------------------------------------------- model


@dataclass
class JsVariant:
    id: int
    price: float
    sku: str = ""
    barcode: str | None = None
    stock: int = 0
    stock_unlimited: bool = False
    stock_threshold: int = 0
    stock_notification: bool = False
    cost_per_item: float | None = None
    compare_at_price: float | None = None
    options: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "price": self.price, "sku": self.sku, "barcode": self.barcode, "stock": self.stock,
            "stock_unlimited": self.stock_unlimited, "stock_threshold": self.stock_threshold,
            "stock_notification": self.stock_notification, "cost_per_item": self.cost_per_item,
            "compare_at_price": self.compare_at_price, "options": self.options, "image": None,
        }


@dataclass
class JsProduct:
    id: int
    name: str
    price: float
    sku: str = ""
    barcode: str | None = None
    stock: int = 0  # only meaningful without variants
    stock_unlimited: bool = False
    status: str = "available"
    description: str = ""
    brand: str | None = None
    weight: float = 1.0
    page_title: str = ""
    permalink: str = ""
    variants: list[JsVariant] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # other writable attributes, echoed back
    created_at: str = field(default_factory=_now_text)
    updated_at: str = field(default_factory=_now_text)

    def variant(self, variant_id: int) -> JsVariant:
        found = next((v for v in self.variants if v.id == variant_id), None)
        if found is None:
            raise KeyError(f"product {self.id} has no variant {variant_id}")
        return found

    @property
    def total_stock(self) -> int:
        # ASSUMPTION: a product with variants reports the sum of its variants' stock at product level.
        return sum(v.stock for v in self.variants) if self.variants else self.stock

    def to_json(self, currency: str) -> dict[str, Any]:
        unlimited = any(v.stock_unlimited for v in self.variants) if self.variants else self.stock_unlimited
        return {
            "id": self.id, "name": self.name, "page_title": self.page_title or self.name,
            "description": self.description, "type": "physical", "days_to_expire": 365, "price": self.price,
            "discount": 0.0, "weight": self.weight, "stock": self.total_stock, "stock_unlimited": unlimited,
            "stock_threshold": 0, "stock_notification": False, "back_in_stock_enabled": True,
            "cost_per_item": None, "compare_at_price": None, "sku": self.sku, "brand": self.brand,
            "barcode": self.barcode, "google_product_category_text": None, "quotable": False, "featured": False,
            "reviews_enabled": True, "status": self.status, "created_at": self.created_at,
            "updated_at": self.updated_at, "package_format": "box", "length": 0.0, "width": 0.0, "height": 0.0,
            "diameter": 0.0, "permalink": self.permalink, "categories": [], "images": [],
            "variants": [v.to_json() for v in self.variants], "digital_products": [], "fields": [],
            "currency": currency, "shipping_required": True, **self.extra,
        }


@dataclass
class Hook:
    id: int
    event: str
    url: str
    created_at: str = field(default_factory=_now_text)
    application_id: int | None = None  # the OAuth app whose token created it

    def to_json(self) -> dict[str, Any]:
        # Hooks created with store credentials have no name and no application (per Jumpseller's examples).
        return {"id": self.id, "name": None, "event": self.event, "url": self.url, "created_at": self.created_at,
                "application_id": self.application_id}


@dataclass
class OrderLine:
    product_id: int
    variant_id: int | None
    sku: str
    name: str
    qty: int
    price: float
    discount: float = 0.0


@dataclass
class Order:
    id: int
    lines: list[OrderLine]
    customer: dict[str, Any]
    billing_address: dict[str, Any]
    shipping_address: dict[str, Any]
    additional_fields: list[dict[str, Any]]
    shipping: float
    extra_discount: float
    billing_information: dict[str, Any] | None = None
    status_enum: str = "pending_payment"
    shipment_status: str = "unfulfilled"
    tracking_number: str | None = None
    tracking_company: str | None = None
    tracking_url: str | None = None
    additional_information: str = ""
    created_at: str = field(default_factory=_now_text)
    completed_at: str | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    stock_taken: bool = True

    @property
    def subtotal(self) -> float:
        return float(sum(line.price * line.qty for line in self.lines))

    @property
    def discount(self) -> float:
        return float(sum(line.discount for line in self.lines) + self.extra_discount)

    @property
    def total(self) -> float:
        return self.subtotal + self.shipping - self.discount

    def to_json(self, store: JumpsellerStore) -> dict[str, Any]:
        label = ORDER_STATUSES[self.status_enum]
        base = f"https://{store.code}.jumpseller.com"
        token = hashlib.sha1(f"{store.code}-{self.id}".encode()).hexdigest()[:20]
        return {
            "id": self.id, "created_at": self.created_at, "completed_at": self.completed_at, "status": label,
            "status_name": label, "status_enum": self.status_enum, "currency": store.currency,
            "subtotal": self.subtotal, "tax": 0.0, "shipping_tax": 0.0, "shipping": self.shipping,
            "shipping_required": True, "total": self.total, "discount": self.discount, "shipping_discount": 0.0,
            "gift_cards_discount": 0.0, "fulfillment_status": None, "shipping_method_id": 1,
            "shipping_service_id": None, "shipping_method_name": "Despacho a domicilio",
            "payment_method_name": "Transferencia bancaria", "payment_method_type": "manual",
            "payment_information": "", "payment_notification_id": None,
            "additional_information": self.additional_information,
            "duplicate_url": f"{base}/cart/duplicate/{token}", "recovery_url": None, "review_url": None,
            "checkout_url": f"{base}/checkout?token={token}", "coupons": None, "promotions": [],
            "customer": self.customer, "shipping_address": self.shipping_address,
            "billing_address": self.billing_address,
            "products": [
                {
                    "id": line.product_id, "variant_id": line.variant_id, "sku": line.sku, "name": line.name,
                    "qty": line.qty, "price": line.price, "tax": 0.0, "discount": line.discount, "weight": 1.0,
                    "image": "", "files": [], "taxes": [],
                }
                for line in self.lines
            ],
            "additional_fields": self.additional_fields, "shipping_taxes": [],
            "source": {
                "created_from": "storefront", "source_name": None, "medium": None, "campaign": None,
                "referral_url": None, "referral_code": None, "user_agent": "sandbox",
                "first_page_visited": f"{base}/", "first_page_visited_at": self.created_at,
                "referral_source": "Direct",
            },
            "tracking_url": self.tracking_url, "tracking_company": self.tracking_company,
            "tracking_number": self.tracking_number, "shipping_option": "delivery", "same_day_delivery": False,
            "shipment_status": SHIPMENT_STATUSES[self.shipment_status],
            "shipment_status_enum": self.shipment_status, "recovered_from": None,
            "external_shipping_rate_id": None, "external_shipping_rate_description": None,
            "billing_information": self.billing_information,
        }


# --------------------------------------------------------------------------- store


class JumpsellerStore:
    """One Jumpseller store. Admin mutators fire the webhooks the real store would fire."""

    def __init__(
        self, sandbox: JumpsellerSandbox, code: str, login: str, auth_token: str, hooks_token: str, name: str,
        currency: str,
    ) -> None:
        self.sandbox = sandbox
        self.code = code
        self.login = login
        self.auth_token = auth_token
        self.hooks_token = hooks_token
        self.name = name
        self.currency = currency
        self.products: dict[int, JsProduct] = {}
        self.hooks: dict[int, Hook] = {}
        self.orders: dict[int, Order] = {}
        self._lock = sandbox._lock

    # ------------------------------------------------------------------ products

    def add_product(
        self,
        name: str,
        *,
        sku: str = "",
        stock: int = 0,
        price: float = 0.0,
        stock_unlimited: bool = False,
        variants: Iterable[dict[str, Any]] | None = None,
        status: str = "available",
        barcode: str | None = None,
        brand: str | None = None,
        description: str = "",
        id: int | None = None,
        notify: bool = True,
    ) -> JsProduct:
        """Create a product. ``variants`` items take ``sku``, ``price`` (defaults to the product's), ``stock``,
        ``stock_unlimited``, ``barcode``, ``id`` and ``options`` (list of option dicts, or ``{"Talla": "S"}``)."""
        with self._lock:
            product = JsProduct(
                id=self.sandbox._id("product", id), name=name, price=float(price), sku=sku, barcode=barcode,
                stock=int(stock), stock_unlimited=stock_unlimited, status=status, brand=brand,
                description=description, permalink=_slug(name),
            )
            for spec in variants or ():
                product.variants.append(self._make_variant(product, spec))
            self.products[product.id] = product
            if notify:
                self._fire_product("product_created", product)
            return product

    def add_variant(self, product_id: int, **spec: Any) -> JsVariant:
        with self._lock:
            product = self.product(product_id)
            variant = self._make_variant(product, spec)
            product.variants.append(variant)
            product.updated_at = _now_text()
            self._fire_product("product_updated", product)
            return variant

    def update_product(self, product_id: int, **changes: Any) -> JsProduct:
        """Change product attributes as the merchant would in the admin panel; fires ``product_updated``."""
        with self._lock:
            product = self.product(product_id)
            stock_before = product.total_stock
            self._apply_product(product, changes)
            self._fire_product("product_updated", product, stock_before)
            return product

    def update_variant(self, product_id: int, variant_id: int, **changes: Any) -> JsVariant:
        with self._lock:
            product = self.product(product_id)
            variant = product.variant(variant_id)
            stock_before = product.total_stock
            self._apply_variant(variant, changes)
            product.updated_at = _now_text()
            self._fire_product("product_updated", product, stock_before)
            return variant

    def delete_product(self, product_id: int) -> None:
        with self._lock:
            product = self.products.pop(product_id)
            self._fire("product_deleted", {"product": product.to_json(self.currency)})

    def product(self, product_id: int) -> JsProduct:
        with self._lock:
            if product_id not in self.products:
                raise KeyError(f"unknown product {product_id}")
            return self.products[product_id]

    def stock_of(self, product_id: int, variant_id: int | None = None) -> int:
        with self._lock:
            product = self.product(product_id)
            return product.variant(variant_id).stock if variant_id is not None else product.total_stock

    def find_sku(self, sku: str) -> tuple[JsProduct, JsVariant | None] | None:
        with self._lock:
            for product in self.products.values():
                for variant in product.variants:
                    if variant.sku == sku:
                        return product, variant
                if not product.variants and product.sku == sku:
                    return product, None
            return None

    # ------------------------------------------------------------------ orders

    def create_order(
        self,
        products: Iterable[Sequence[Any]],
        *,
        billing: dict[str, Any] | None = None,
        additional_fields: Iterable[dict[str, Any]] = (),
        shipping: float = 0.0,
        discount: float = 0.0,
        customer: dict[str, Any] | None = None,
        shipping_address: dict[str, Any] | None = None,
        billing_information: dict[str, Any] | None = None,
        id: int | None = None,
    ) -> Order:
        """A new order in Pending Payment. Takes its stock right away (as Jumpseller does) and fires
        ``order_pending_payment`` + ``order_updated``. Lines are ``(product_id, variant_id|None, qty[, discount])``
        at the current price; raises ``ValueError`` when stock is short."""
        with self._lock:
            lines: list[OrderLine] = []
            for product_id, variant_id, qty, *rest in products:
                line_discount = float(rest[0]) if rest else 0.0
                product = self.product(product_id)
                if product.variants and variant_id is None:
                    raise ValueError(f"product {product_id} has variants: give a variant id")
                variant = product.variant(variant_id) if variant_id is not None else None
                name = product.name
                if variant is not None and variant.options:
                    name += " (" + ", ".join(str(o.get("value")) for o in variant.options) + ")"
                lines.append(OrderLine(
                    product_id, variant_id, (variant.sku if variant else product.sku), name, int(qty),
                    (variant.price if variant else product.price), line_discount,
                ))
            self._move_stock(lines, -1)
            order = Order(
                id=self.sandbox._id("order", id), lines=lines,
                customer={**_DEFAULT_CUSTOMER, **(customer or {})},
                billing_address={**_DEFAULT_BILLING, **(billing or {})},
                shipping_address={**_DEFAULT_SHIPPING, **(shipping_address or {})},
                additional_fields=[
                    {"label": f.get("label"), "value": f.get("value"), "id": f.get("id", n),
                     "area": f.get("area", "other")}
                    for n, f in enumerate(additional_fields, start=1)
                ],
                shipping=float(shipping), extra_discount=float(discount), billing_information=billing_information,
            )
            self.orders[order.id] = order
            self._fire_order("order_pending_payment", order)
            return order

    def pay_order(self, order_id: int) -> Order:
        """Pending → Paid; stock does not move; fires ``order_paid`` + ``order_updated``."""
        with self._lock:
            order = self.order(order_id)
            self._require(order, "pending_payment")
            order.status_enum = "paid"
            order.completed_at = _now_text()
            self._fire_order("order_paid", order)
            return order

    def cancel_order(self, order_id: int) -> Order:
        """Pending/Paid → Canceled; returns the stock; fires ``order_canceled`` + ``order_updated``."""
        with self._lock:
            order = self.order(order_id)
            self._require(order, "pending_payment", "paid")
            self._release(order)
            order.status_enum = "canceled"
            self._fire_order("order_canceled", order)
            return order

    def abandon_order(self, order_id: int) -> Order:
        """Pending → Abandoned (cart expired); returns the stock; fires ``order_abandoned`` + ``order_updated``."""
        with self._lock:
            order = self.order(order_id)
            self._require(order, "pending_payment")
            self._release(order)
            order.status_enum = "abandoned"
            self._fire_order("order_abandoned", order)
            return order

    def set_shipment_status(self, order_id: int, status: str) -> Order:
        with self._lock:
            order = self.order(order_id)
            if status not in SHIPMENT_STATUSES:
                raise ValueError(f"unknown shipment status {status!r}")
            order.shipment_status = status
            self._fire_order("order_shipped" if status == "in_transit" else None, order)
            return order

    def order(self, order_id: int) -> Order:
        with self._lock:
            if order_id not in self.orders:
                raise KeyError(f"unknown order {order_id}")
            return self.orders[order_id]

    # ------------------------------------------------------------------ internals

    def _make_variant(self, product: JsProduct, spec: dict[str, Any]) -> JsVariant:
        options = spec.get("options") or []
        if isinstance(options, dict):  # shorthand {"Talla": "S"}
            options = [
                {"name": k, "option_type": "option", "value": v, "custom": None, "product_option_position": i,
                 "product_value_position": 0}
                for i, (k, v) in enumerate(options.items())
            ]
        return JsVariant(
            id=self.sandbox._id("variant", spec.get("id")), price=float(spec.get("price", product.price)),
            sku=spec.get("sku", ""), barcode=spec.get("barcode"), stock=int(spec.get("stock", 0)),
            stock_unlimited=bool(spec.get("stock_unlimited", False)), options=list(options),
        )

    def _apply_product(self, product: JsProduct, changes: dict[str, Any]) -> None:
        # Keys the sandbox does not model (variants, categories, ...) are accepted and ignored.
        for key, value in changes.items():
            if key in ("stock", "stock_unlimited") and product.variants:
                # ASSUMPTION: stock of a product with variants lives on the variants; product-level writes
                # have no effect (what integrations report), so a client writing there will notice.
                continue
            if key in ("name", "price", "sku", "barcode", "stock", "stock_unlimited", "status", "description",
                       "brand", "weight", "page_title", "permalink"):
                setattr(product, key, float(value) if key in ("price", "weight") else value)
            elif key in PRODUCT_EDITABLE:
                product.extra[key] = value
        product.updated_at = _now_text()

    @staticmethod
    def _apply_variant(variant: JsVariant, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key in VARIANT_EDITABLE:
                setattr(variant, key, float(value) if key in ("price",) else value)

    def _move_stock(self, lines: list[OrderLine], sign: int) -> None:
        touched: dict[int, int] = {}
        for line in lines:
            product = self.product(line.product_id)
            holder: JsProduct | JsVariant = product if line.variant_id is None else product.variant(line.variant_id)
            if holder.stock_unlimited:
                continue
            if sign < 0 and holder.stock < line.qty:
                raise ValueError(f"not enough stock for {line.sku or product.name}: {holder.stock} < {line.qty}")
        for line in lines:
            product = self.product(line.product_id)
            holder = product if line.variant_id is None else product.variant(line.variant_id)
            if not holder.stock_unlimited:
                touched.setdefault(product.id, product.total_stock)
                holder.stock += sign * line.qty
        for product_id, before in touched.items():
            self._fire_product(None, self.products[product_id], before)

    def _release(self, order: Order) -> None:
        if order.stock_taken:
            self._move_stock([line for line in order.lines if line.product_id in self.products], +1)
            order.stock_taken = False

    @staticmethod
    def _require(order: Order, *states: str) -> None:
        if order.status_enum not in states:
            raise ValueError(f"order {order.id} is {order.status_enum}, expected one of {states}")

    def _fire_product(self, event: str | None, product: JsProduct, stock_before: int | None = None) -> None:
        payload = {"product": product.to_json(self.currency)}
        if event is not None:
            self._fire(event, payload)
        if stock_before is not None and stock_before != product.total_stock:
            self._fire("product_stock_updated", payload)

    def _fire_order(self, event: str | None, order: Order) -> None:
        payload = {"order": order.to_json(self)}
        if event is not None:
            self._fire(event, payload)
        self._fire("order_updated", payload)  # "any state change" per Jumpseller's webhook docs

    def _fire(self, event: str, payload: dict[str, Any]) -> None:
        self.sandbox.deliver(self.code, event, payload)


# --------------------------------------------------------------------------- the sandbox


@dataclass(frozen=True)
class Violation:
    direction: str  # "request" (client broke the contract) or "response" (sandbox broke it)
    method: str
    path: str
    status: int | None
    reason: str


class JumpsellerSandbox(SandboxServer):
    """In-memory Jumpseller API; the API base for clients is ``sb.url + "/v1"``."""

    service_name = "jumpseller"

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        rate_limit_per_second: int | None = 20,
        rate_limit_per_minute: int | None = 800,
        clock: Clock | None = None,
        validate: bool = True,
        webhook_timeout: float = 15.0,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock, webhook_timeout=webhook_timeout)
        self.stores: dict[str, JumpsellerStore] = {}
        self.violations: list[Violation] = []
        self.validate = validate
        self._windows: list[tuple[str, int, float]] = []
        if rate_limit_per_minute:
            self._windows.append(("PerMinute", rate_limit_per_minute, 60.0))
        if rate_limit_per_second:
            self._windows.append(("PerSecond", rate_limit_per_second, 1.0))
        self.limiter = SlidingWindowLimiter([(limit, seconds) for _, limit, seconds in self._windows], self.clock)
        self._counters: dict[str, itertools.count[int]] = {}
        self._used: dict[str, set[int]] = {}
        self._routes: Router[JsHandler] = Router()
        self.oauth = OAuthServer(self)  # accounts.jumpseller.com: /oauth/authorize, /oauth/token
        self._register_routes()
        self._register_admin()
        if validate:
            _openapi.checker()  # pay the spec loading cost up front, not on the first request

    # ------------------------------------------------------------------ stores

    def add_store(
        self,
        code: str = "demo-store",
        login: str | None = None,
        auth_token: str | None = None,
        hooks_token: str | None = None,
        *,
        name: str = "Demo Store",
        currency: str = "CLP",
    ) -> JumpsellerStore:
        with self._lock:
            if code in self.stores:
                raise ValueError(f"store {code!r} already registered")
            store = JumpsellerStore(
                self, code, login or f"{code}-login", auth_token or secrets.token_hex(16),
                hooks_token or secrets.token_hex(16), name, currency,
            )
            self.stores[code] = store
            return store

    def store(self, code: str) -> JumpsellerStore:
        with self._lock:
            return self.stores[code]

    def demo_store(self, code: str = "demo-store", **credentials: str) -> JumpsellerStore:
        """A store with one product without variants and one with size variants, SKUs matching ``demo_account``."""
        store = self.add_store(code, **credentials)
        store.add_product("Polera", price=9990, variants=[
            {"sku": "POL-S", "stock": 5, "options": {"Talla": "S"}},
            {"sku": "POL-M", "stock": 3, "options": {"Talla": "M"}},
        ], notify=False)
        store.add_product("Taza", sku="TAZA-1", stock=20, price=4990, notify=False)
        store.add_product("Tarjeta regalo", sku="GIFT", stock_unlimited=True, price=10000, notify=False)
        return store

    # ------------------------------------------------------------------ webhooks

    def deliver(self, store_code: str, event: str, payload: JSON, *, sync: bool = False) -> list[Delivery]:
        """POST ``payload`` to every hook of the store registered for ``event``, signed like Jumpseller does.

        Asynchronous by default (background thread, in order); ``sync=True`` sends now and returns the results.
        """
        with self._lock:
            store = self.stores[store_code]
            urls = [h.url for h in store.hooks.values() if h.event == event]
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "Jumpseller-Event": event,
            "Jumpseller-Store-Code": store.code,
            "Jumpseller-Hmac-Sha256": sign(store.hooks_token, body),
        }
        deliveries = [Delivery(url, event, payload, dict(headers), body) for url in urls]
        for delivery in deliveries:
            if sync:
                self._sender.send_now(delivery)
            else:
                self._sender.enqueue(delivery)
        return deliveries

    # ------------------------------------------------------------------ ids

    def _id(self, kind: str, wanted: int | None = None) -> int:
        used = self._used.setdefault(kind, set())
        if wanted is not None:
            if wanted in used:
                raise ValueError(f"{kind} id {wanted} already used")
            used.add(wanted)
            return wanted
        counter = self._counters.setdefault(kind, itertools.count(_ID_BASES[kind]))
        while (candidate := next(counter)) in used:
            pass
        used.add(candidate)
        return candidate

    # ------------------------------------------------------------------ HTTP: auth, limits, validation

    def error_response(self, status: int, message: str) -> Response:
        return Response(status, {"message": message})

    def credential_of(self, request: Request) -> str | None:
        login, _ = _credentials(request)
        return login or ("bearer" if _bearer(request) else None)

    def handle_api(self, request: Request) -> Response:
        if request.path.startswith("/oauth/"):
            with self._lock:
                return self.oauth.handle(request)
        if not request.path.startswith("/v1/"):
            return Response(404, {"message": "Not found"})
        bearer = _bearer(request)
        if bearer is not None:
            with self._lock:
                grant = self.oauth.bearer(bearer)
                store = self.stores.get(grant.store_code) if isinstance(grant, Grant) else None
            if grant == "expired":
                return Response(401, {"message": "Unauthorized: the access token expired"})
            if store is None or not isinstance(grant, Grant):
                return Response(401, {"message": "Unauthorized: invalid access token"})
            scope = required_scope(request.method, request.path.removeprefix("/v1"))
            if scope is not None and scope not in grant.scopes:
                return Response(403, {"message": f"Not authorized: the token lacks the scope {scope}"})
        else:
            login, token = _credentials(request)
            with self._lock:
                store = next((s for s in self.stores.values() if s.login == login), None)
            if store is None or not token or not hmac.compare_digest(store.auth_token, token):
                return Response(401, {"message": "Unauthorized: wrong login or authtoken"})
        decision = self.limiter.hit(store.code)
        rate_headers: dict[str, str] = {}
        for (label, limit, _), remaining in zip(self._windows, decision.remaining, strict=True):
            rate_headers[f"Jumpseller-{label}RateLimit-Limit"] = str(limit)
            rate_headers[f"Jumpseller-{label}RateLimit-Remaining"] = str(remaining)
        if not decision.allowed:
            return Response(429, {"message": "Too Many Requests"}, headers=rate_headers)
        response = self._handle_checked(request, store)
        response.headers.update(rate_headers)
        return response

    def _handle_checked(self, request: Request, store: JumpsellerStore) -> Response:
        api_path = request.path.removeprefix("/v1")
        query = parse_qsl(request.query_string, keep_blank_values=True)
        if self.validate:
            reason = _openapi.checker().check_request(request.method, request.path, query, request.headers,
                                                      request.body)
            if reason is not None:
                self._violation("request", request, None, reason)
                return Response(400, {"message": f"sandbox: request rejected by the official OpenAPI spec: {reason}"})
        resolved = self._routes.resolve(request.method, api_path)
        if isinstance(resolved, str):
            # The spec knows this endpoint (validation passed) but the sandbox does not serve it.
            return Response(501, {"message": f"sandbox: {request.method} {request.path} is not implemented"})
        handler, request.params = resolved
        try:
            with self._lock:
                response = handler(request, store)
        except HttpError as exc:
            response = exc.response
        if self.validate:
            reason = _openapi.checker().check_response(
                request.method, request.path, query, request.headers, response.status, response.payload(),
                response.content_type,
            )
            if reason is not None:
                self._violation("response", request, response.status, reason)
        return response

    def _violation(self, direction: str, request: Request, status: int | None, reason: str) -> None:
        with self._lock:
            self.violations.append(Violation(direction, request.method, request.target, status, reason))

    # ------------------------------------------------------------------ HTTP: helpers

    @staticmethod
    def _body(request: Request, root: str) -> dict[str, Any]:
        body = request.json_or_none()
        node = body.get(root) if isinstance(body, dict) else None
        if not isinstance(node, dict):
            raise HttpError(Response(400, {"message": f"missing '{root}' object"}))
        return node

    @staticmethod
    def _paginate(request: Request, items: list[Any]) -> list[Any]:
        query = request.query
        limit = min(max(_int(query.get("limit"), 50), 1), 100)
        page = max(_int(query.get("page"), 1), 1)
        return items[(page - 1) * limit: page * limit]

    @staticmethod
    def _product_of(request: Request, store: JumpsellerStore) -> JsProduct:
        product = store.products.get(_int(request.params.get("id"), -1))
        if product is None:
            raise _not_found("Product")
        return product

    # ------------------------------------------------------------------ HTTP: routes

    def _register_routes(self) -> None:
        r = self._routes.add
        r("GET", "/products.json", self._list_products)
        r("POST", "/products.json", self._create_product)
        r("GET", "/products/count.json", lambda q, s: Response(200, {"count": len(s.products)}))
        r("GET", "/products/search.json", self._search_products)
        r("GET", "/products/after/{id}.json", self._products_after)
        r("GET", "/products/{id}.json", lambda q, s: Response(200, self._product_json(s, self._product_of(q, s))))
        r("PUT", "/products/{id}.json", self._update_product)
        r("DELETE", "/products/{id}.json", self._delete_product)
        r("GET", "/products/{id}/variants.json", self._list_variants)
        r("POST", "/products/{id}/variants.json", self._create_variant)
        r("GET", "/products/{id}/variants/count.json",
          lambda q, s: Response(200, {"count": len(self._product_of(q, s).variants)}))
        r("GET", "/products/{id}/variants/{variant_id}.json", self._get_variant)
        r("PUT", "/products/{id}/variants/{variant_id}.json", self._update_variant)
        r("GET", "/store/info.json", self._store_info)
        r("GET", "/hooks.json", lambda q, s: Response(200, self._paginate(q, [{"hook": h.to_json()}
                                                                             for h in s.hooks.values()])))
        r("POST", "/hooks.json", self._create_hook)
        r("GET", "/hooks/{id}.json", lambda q, s: Response(200, {"hook": self._hook_of(q, s).to_json()}))
        r("PUT", "/hooks/{id}.json", self._update_hook)
        r("DELETE", "/hooks/{id}.json", self._delete_hook)
        r("GET", "/orders.json", self._list_orders)
        r("GET", "/orders/count.json", lambda q, s: Response(200, {"count": len(s.orders)}))
        r("GET", "/orders/after/{id}.json", self._orders_after)
        r("GET", "/orders/status/{status}.json", self._orders_by_status)
        r("GET", "/orders/{id}.json", lambda q, s: Response(200, {"order": self._order_of(q, s).to_json(s)}))
        r("PUT", "/orders/{id}.json", self._update_order)
        r("GET", "/orders/{id}/documents.json", lambda q, s: Response(200, [{"document": d} for d in
                                                                             self._order_of(q, s).documents]))
        r("POST", "/orders/{id}/documents.json", self._create_document)
        r("GET", "/orders/{id}/history.json", lambda q, s: Response(200, [{"order_history": h} for h in
                                                                           self._order_of(q, s).history]))
        r("POST", "/orders/{id}/history.json", self._create_history)
        r("GET", "/jsapps.json", self._jsapps)
        r("POST", "/jsapps.json", self._jsapps)
        r("DELETE", "/jsapps/{id}.json", self._jsapps)

    def _grant(self, request: Request) -> Grant | None:
        bearer = _bearer(request)
        found = self.oauth.bearer(bearer) if bearer else None
        return found if isinstance(found, Grant) else None

    def _jsapps(self, request: Request, store: JumpsellerStore) -> Response:
        return self.oauth.jsapps_api(request, store, self._grant(request))

    # products

    def _product_json(self, store: JumpsellerStore, product: JsProduct) -> dict[str, Any]:
        return {"product": product.to_json(store.currency)}

    def _list_products(self, request: Request, store: JumpsellerStore) -> Response:
        products = sorted(store.products.values(), key=lambda p: p.id)
        return Response(200, [self._product_json(store, p) for p in self._paginate(request, products)])

    def _products_after(self, request: Request, store: JumpsellerStore) -> Response:
        after = _int(request.params.get("id"), 0)
        products = sorted((p for p in store.products.values() if p.id > after), key=lambda p: p.id)
        return Response(200, [self._product_json(store, p) for p in self._paginate(request, products)])

    def _search_products(self, request: Request, store: JumpsellerStore) -> Response:
        query = request.query
        needle = query.get("query", "").lower()
        # ASSUMPTION: without `fields` the usual text fields are searched; matching is a case-insensitive
        # substring match (observed behaviour is "not exact"; clients must filter the results themselves).
        fields = [f for f in query.get("fields", "name,sku,barcode,brand,description").split(",") if f]
        status = query.get("status")
        found = [
            p for p in sorted(store.products.values(), key=lambda p: p.id)
            if (status is None or p.status == status) and any(needle in text.lower() for text in _texts(p, fields))
        ]
        return Response(200, [self._product_json(store, p) for p in found])

    def _create_product(self, request: Request, store: JumpsellerStore) -> Response:
        spec = self._body(request, "product")
        product = store.add_product(
            spec["name"], sku=spec.get("sku", ""), stock=spec.get("stock", 100), price=spec["price"],
            stock_unlimited=spec.get("stock_unlimited", False), status=spec.get("status", "available"),
            barcode=spec.get("barcode"), brand=spec.get("brand"), description=spec.get("description", ""),
            variants=spec.get("variants") or None,
        )
        return Response(200, self._product_json(store, product))

    def _update_product(self, request: Request, store: JumpsellerStore) -> Response:
        product = self._product_of(request, store)
        store.update_product(product.id, **self._body(request, "product"))
        return Response(200, self._product_json(store, product))

    def _delete_product(self, request: Request, store: JumpsellerStore) -> Response:
        product = self._product_of(request, store)
        store.delete_product(product.id)
        return Response(200, "Product deleted")  # the spec documents a bare JSON string

    def _list_variants(self, request: Request, store: JumpsellerStore) -> Response:
        product = self._product_of(request, store)
        return Response(200, [{"variant": v.to_json()} for v in product.variants])

    def _variant_of(self, request: Request, store: JumpsellerStore) -> tuple[JsProduct, JsVariant]:
        product = self._product_of(request, store)
        variant = next((v for v in product.variants if v.id == _int(request.params.get("variant_id"), -1)), None)
        if variant is None:
            raise _not_found("Variant")
        return product, variant

    def _get_variant(self, request: Request, store: JumpsellerStore) -> Response:
        return Response(200, {"variant": self._variant_of(request, store)[1].to_json()})

    def _update_variant(self, request: Request, store: JumpsellerStore) -> Response:
        product, variant = self._variant_of(request, store)
        store.update_variant(product.id, variant.id, **self._body(request, "variant"))
        return Response(200, {"variant": variant.to_json()})

    def _create_variant(self, request: Request, store: JumpsellerStore) -> Response:
        product = self._product_of(request, store)
        variant = store.add_variant(product.id, **self._body(request, "variant"))
        return Response(200, {"variant": variant.to_json()})

    # store and hooks

    def _store_info(self, request: Request, store: JumpsellerStore) -> Response:
        # Wrapped in "store" like the live API (the spec shows it unwrapped; see sandboxes/_openapi.py).
        return Response(200, {"store": {
            "name": store.name, "code": store.code, "currency": store.currency, "country": "CL",
            "timezone": "America/Santiago", "email": f"admin@{store.code}.example", "hooks_token": store.hooks_token,
            "url": f"https://{store.code}.jumpseller.com", "logo": None, "weight_unit": "kg",
            "subscription_status": "active", "subscription_plan": "pro", "fb_pixel_id": None,
            "address": {"address": "Av. Providencia 1234", "city": "Santiago", "postal": "7500000",
                        "region": "Región Metropolitana", "country": "Chile", "region_code": "RM",
                        "country_code": "CL"},
            "whatsapp_phone": None,
        }})

    @staticmethod
    def _hook_of(request: Request, store: JumpsellerStore) -> Hook:
        hook = store.hooks.get(_int(request.params.get("id"), -1))
        if hook is None:
            raise _not_found("Hook")
        return hook

    def _create_hook(self, request: Request, store: JumpsellerStore) -> Response:
        spec = self._body(request, "hook")
        grant = self._grant(request)
        hook = Hook(self._id("hook"), str(spec["event"]), str(spec["url"]),
                    application_id=grant.app.id if grant else None)
        store.hooks[hook.id] = hook
        return Response(200, {"hook": hook.to_json()})

    def _update_hook(self, request: Request, store: JumpsellerStore) -> Response:
        hook = self._hook_of(request, store)
        spec = self._body(request, "hook")
        hook.event, hook.url = str(spec.get("event", hook.event)), str(spec.get("url", hook.url))
        return Response(200, {"hook": hook.to_json()})

    def _delete_hook(self, request: Request, store: JumpsellerStore) -> Response:
        del store.hooks[self._hook_of(request, store).id]
        return Response(200, "Hook deleted")

    # orders

    @staticmethod
    def _order_of(request: Request, store: JumpsellerStore) -> Order:
        order = store.orders.get(_int(request.params.get("id"), -1))
        if order is None:
            raise _not_found("Order")
        return order

    def _orders_page(self, request: Request, store: JumpsellerStore, orders: Iterable[Order]) -> Response:
        # ASSUMPTION: newest first, like the admin panel lists them.
        ordered = sorted(orders, key=lambda o: o.id, reverse=True)
        return Response(200, [{"order": o.to_json(store)} for o in self._paginate(request, ordered)])

    def _list_orders(self, request: Request, store: JumpsellerStore) -> Response:
        wanted = request.query.get("status_filters[]")
        return self._orders_page(
            request, store, (o for o in store.orders.values() if wanted is None or o.status_enum == wanted)
        )

    def _orders_after(self, request: Request, store: JumpsellerStore) -> Response:
        after = _int(request.params.get("id"), 0)
        ordered = sorted((o for o in store.orders.values() if o.id > after), key=lambda o: o.id)
        return Response(200, [{"order": o.to_json(store)} for o in self._paginate(request, ordered)])

    def _orders_by_status(self, request: Request, store: JumpsellerStore) -> Response:
        status = request.params.get("status", "")
        return self._orders_page(request, store, (o for o in store.orders.values() if o.status_enum == status))

    def _update_order(self, request: Request, store: JumpsellerStore) -> Response:
        order = self._order_of(request, store)
        spec = self._body(request, "order")
        transitions = {"Paid": store.pay_order, "Canceled": store.cancel_order, "Abandoned": store.abandon_order}
        try:
            status = spec.get("status")
            if status is not None and status != ORDER_STATUSES[order.status_enum]:
                if status not in transitions:
                    raise ValueError(f"cannot move order back to {status}")
                transitions[status](order.id)
            for key in ("tracking_number", "tracking_company", "tracking_url", "additional_information"):
                if key in spec:
                    setattr(order, key, spec[key])
            if "additional_fields" in spec:
                order.additional_fields = list(spec["additional_fields"])
            if spec.get("shipment_status") not in (None, order.shipment_status):
                store.set_shipment_status(order.id, spec["shipment_status"])
        except ValueError as exc:
            return Response(422, {"message": str(exc)})
        return Response(200, {"order": order.to_json(store)})

    def _create_document(self, request: Request, store: JumpsellerStore) -> Response:
        order = self._order_of(request, store)
        spec = self._body(request, "document")
        document = {
            "document_type": spec.get("document_type"), "external_id": spec.get("external_id"),
            "public_id": spec.get("public_id") or secrets.token_hex(8), "url": spec.get("url"),
            "order_id": order.id, "app_code": None,
        }
        order.documents.append(document)
        return Response(200, {"document": document})

    def _create_history(self, request: Request, store: JumpsellerStore) -> Response:
        order = self._order_of(request, store)
        spec = self._body(request, "order_history")
        entry = {"id": self._id("history"), "message": spec.get("message"), "created_at": _now_text()}
        order.history.append(entry)
        return Response(200, {"order_history": entry})

    # ------------------------------------------------------------------ admin HTTP API

    def _register_admin(self) -> None:
        a = self.admin.add
        a("GET", "/_sandbox/state", self._admin_state)
        a("GET", "/_sandbox/violations", lambda r: Response(200, [v.__dict__ for v in self.violations]))
        a("DELETE", "/_sandbox/violations", self._admin_clear_violations)
        a("POST", "/_sandbox/stores", self._admin_add_store)
        a("POST", "/_sandbox/demo", self._admin_demo)
        a("POST", "/_sandbox/stores/{code}/products", self._admin_add_product)
        a("PUT", "/_sandbox/stores/{code}/products/{id}", self._admin_update_product)
        a("PUT", "/_sandbox/stores/{code}/products/{id}/variants/{variant_id}", self._admin_update_variant)
        a("DELETE", "/_sandbox/stores/{code}/products/{id}", self._admin_delete_product)
        a("POST", "/_sandbox/stores/{code}/orders", self._admin_create_order)
        a("POST", "/_sandbox/stores/{code}/orders/{id}/{action}", self._admin_order_action)
        a("POST", "/_sandbox/stores/{code}/deliver", self._admin_deliver)
        a("POST", "/_sandbox/apps", self._admin_register_app)
        a("POST", "/_sandbox/stores/{code}/uninstall", self._admin_uninstall)
        a("POST", "/_sandbox/stores/{code}/expire-tokens", self._admin_expire_tokens)

    def _admin_register_app(self, request: Request) -> Response:
        spec = admin_body(request)
        app = self.oauth.register_app(str(spec["redirect_uri"]), name=str(spec.get("name", "Bsale Bridge")))
        return Response(201, {"id": app.id, "client_id": app.client_id, "client_secret": app.client_secret,
                              "redirect_uris": app.redirect_uris})

    def _admin_uninstall(self, request: Request) -> Response:
        with self._lock:
            self.oauth.uninstall(self._admin_store(request).code)
        return Response(204)

    def _admin_expire_tokens(self, request: Request) -> Response:
        with self._lock:
            self.oauth.expire_tokens(self._admin_store(request).code)
        return Response(204)

    def _admin_clear_violations(self, request: Request) -> Response:
        with self._lock:
            self.violations.clear()
        return Response(204)

    def _admin_store(self, request: Request) -> JumpsellerStore:
        store = self.stores.get(request.params["code"])
        if store is None:
            raise HttpError(Response(404, {"error": f"unknown store {request.params['code']}"}))
        return store

    def _admin_state(self, request: Request) -> Response:
        with self._lock:
            return Response(200, {"stores": [_store_summary(s) for s in self.stores.values()],
                                  "violations": len(self.violations)})

    def _admin_add_store(self, request: Request) -> Response:
        spec = admin_body(request)
        store = self.add_store(
            spec.get("code", "demo-store"), spec.get("login"), spec.get("auth_token"), spec.get("hooks_token"),
            name=spec.get("name", "Demo Store"),
        )
        return Response(201, _store_summary(store))

    def _admin_demo(self, request: Request) -> Response:
        spec = admin_body(request)
        store = self.demo_store(spec.pop("code", "demo-store"), **spec)
        return Response(201, _store_summary(store))

    def _admin_add_product(self, request: Request) -> Response:
        spec = admin_body(request)
        store = self._admin_store(request)
        product = store.add_product(spec.pop("name"), **spec)
        return Response(201, self._product_json(store, product))

    def _admin_update_product(self, request: Request) -> Response:
        store = self._admin_store(request)
        product = store.update_product(int(request.params["id"]), **admin_body(request))
        return Response(200, self._product_json(store, product))

    def _admin_update_variant(self, request: Request) -> Response:
        store = self._admin_store(request)
        variant = store.update_variant(int(request.params["id"]), int(request.params["variant_id"]),
                                       **admin_body(request))
        return Response(200, {"variant": variant.to_json()})

    def _admin_delete_product(self, request: Request) -> Response:
        self._admin_store(request).delete_product(int(request.params["id"]))
        return Response(204)

    def _admin_create_order(self, request: Request) -> Response:
        spec = admin_body(request)
        store = self._admin_store(request)
        order = store.create_order(spec.pop("products"), **spec)
        return Response(201, {"order": order.to_json(store)})

    def _admin_order_action(self, request: Request) -> Response:
        store = self._admin_store(request)
        actions = {"pay": store.pay_order, "cancel": store.cancel_order, "abandon": store.abandon_order}
        action = actions.get(request.params["action"])
        if action is None:
            return Response(404, {"error": f"unknown action {request.params['action']}"})
        order = action(int(request.params["id"]))
        return Response(200, {"order": order.to_json(store)})

    def _admin_deliver(self, request: Request) -> Response:
        spec = admin_body(request)
        deliveries = self.deliver(request.params["code"], spec["event"], spec["payload"], sync=True)
        return Response(200, [{"url": d.url, "status": d.status, "error": d.error} for d in deliveries])


# --------------------------------------------------------------------------- helpers

_ID_BASES = {"product": 1001, "variant": 5001, "hook": 12345, "order": 1026, "history": 1, "jsapp": 1}
_DEFAULT_CUSTOMER = {"id": 123, "email": "cliente@example.com", "phone": "+56912345678", "phone_prefix": "+56",
                     "ip": "127.0.0.1", "fullname": "Juana Pérez"}
_DEFAULT_BILLING = {
    "name": "Juana", "surname": "Pérez", "taxid": None, "address": "Av. Siempre Viva 742", "city": "Santiago",
    "postal": "8320000", "region": "Región Metropolitana", "country": "Chile", "country_code": "CL",
    "region_code": "12", "street_number": None, "complement": None, "municipality": "Santiago",
    "neighbourhood": None,
}
_DEFAULT_SHIPPING = {
    key: value for key, value in _DEFAULT_BILLING.items() if key != "taxid"
} | {"latitude": None, "longitude": None}


def _credentials(request: Request) -> tuple[str | None, str | None]:
    header = request.header("authorization") or ""
    if header.lower().startswith("basic "):
        try:
            login, _, token = base64.b64decode(header[6:].strip()).decode().partition(":")
        except ValueError:
            return None, None
        return login, token
    query = request.query
    return query.get("login"), query.get("authtoken")  # deprecated query form, still accepted


def _bearer(request: Request) -> str | None:
    header = request.header("authorization") or ""
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def _texts(product: JsProduct, fields: list[str]) -> Iterable[str]:
    for name in fields:
        if name == "variants":
            for variant in product.variants:
                yield variant.sku
                yield variant.barcode or ""
        elif name == "option_name":
            for variant in product.variants:
                for option in variant.options:
                    yield str(option.get("name", ""))
                    yield str(option.get("value", ""))
        elif name in ("name", "sku", "barcode", "brand", "description"):
            yield getattr(product, name) or ""


def _store_summary(store: JumpsellerStore) -> dict[str, Any]:
    return {
        "code": store.code, "login": store.login, "auth_token": store.auth_token, "hooks_token": store.hooks_token,
        "hooks": [h.to_json() for h in store.hooks.values()],
        "products": [
            {"id": p.id, "name": p.name, "sku": p.sku, "stock": p.total_stock,
             "variants": [{"id": v.id, "sku": v.sku, "stock": v.stock, "price": v.price} for v in p.variants]}
            for p in store.products.values()
        ],
        "orders": [{"id": o.id, "status_enum": o.status_enum, "total": o.total} for o in store.orders.values()],
    }

