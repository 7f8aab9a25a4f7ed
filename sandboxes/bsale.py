"""Bsale API sandbox: an in-memory double of ``api.bsale.io`` v1 (plus ``credential.bsale.io``) for tests.

Contract source: ``reference/bsale.md`` and the official fixtures. Where the docs leave behaviour open the choice
made here is marked ASSUMPTION so that it is easy to revisit once the real API has been observed.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

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

AUTH_ERROR = "Sorry, this request can not be authenticated"
IVA = 19.0
DEFAULT_LIMIT, MAX_LIMIT = 25, 50

BsaleHandler = Callable[[Request, "BsaleAccount"], Response]


def _fail(status: int, message: str) -> HttpError:
    return HttpError(Response(status, {"error": message}))


def _peso(value: float) -> float:
    """Round to whole pesos the way an invoice does (half up), kept as float like Bsale's JSON."""
    return float(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _cents(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _flag(value: Any) -> int:
    return 1 if value in (True, 1, "1", "true") else 0


# --------------------------------------------------------------------------- model


@dataclass
class Office:
    id: int
    name: str
    state: int = 0
    is_virtual: int = 0
    address: str = ""
    city: str = "Santiago"
    municipality: str = "Santiago"
    price_list_id: int | None = None  # default list used by documents issued from this office


@dataclass
class PriceList:
    id: int
    name: str
    state: int = 0
    description: str = ""


@dataclass
class DocumentType:
    id: int
    name: str
    code_sii: str
    use: int = 0  # 0 sale, 1 return, 2 dispatch, 3 settlement
    state: int = 0
    initial_number: int = 1
    next_number: int = 1
    folios_available: bool = True

    @property
    def is_credit_note(self) -> int:
        return 1 if self.use == 1 else 0


@dataclass
class Product:
    id: int
    name: str
    classification: int = 0  # 0 product, 1 service, 3 pack/promotion
    stock_control: int = 1
    state: int = 0
    serial_number: int = 0
    description: str = ""


@dataclass
class Variant:
    id: int
    product_id: int
    code: str
    description: str = ""
    state: int = 0
    allow_negative_stock: int = 0
    unlimited_stock: int = 0
    serial_number: int = 0
    bar_code: str = ""


@dataclass
class Stock:
    id: int
    variant_id: int
    office_id: int
    quantity: float = 0.0
    reserved: float = 0.0

    @property
    def available(self) -> float:
        return self.quantity - self.reserved


@dataclass
class PriceDetail:
    id: int
    price_list_id: int
    variant_id: int
    net: float
    gross: float


@dataclass
class DocumentLine:
    id: int
    line_number: int
    variant_id: int | None
    quantity: float
    net_unit: float
    discount: float
    tax_rate: float  # 0 for exempt lines
    comment: str
    returned: float = 0.0

    @property
    def net_amount(self) -> float:
        return self.net_unit * self.quantity * (1 - self.discount / 100)


@dataclass
class SiiOutcome:
    """What the SII will decide about the account's next documents: `informed` (0 accepted, 2 rejected, 1 never
    decides) `delay` seconds after the document is made, with `message` (responseMsgSii)."""

    informed: int = 0
    delay: float = 0.0
    message: str | None = None
    due_at: float = 0.0


@dataclass
class Document:
    id: int
    document_type_id: int
    number: int
    office_id: int
    price_list_id: int | None
    emission_date: int
    expiration_date: int
    generation_date: int
    sales_id: str | None
    client_id: int | None
    client: dict[str, Any] | None
    lines: list[DocumentLine]
    dispatched: bool
    token: str
    declare_sii: int = 1
    informed_sii: int = 0  # the SII's verdict: 0 accepted, 1 sent, 2 rejected
    state: int = 0
    reference_document_id: int | None = None
    response_msg_sii: str | None = None
    sii_pending: SiiOutcome | None = None  # the verdict the SII will give, and when

    @property
    def net_amount(self) -> float:
        return _peso(sum(line.net_amount for line in self.lines if line.tax_rate))

    @property
    def exempt_amount(self) -> float:
        return _peso(sum(line.net_amount for line in self.lines if not line.tax_rate))

    @property
    def tax_amount(self) -> float:
        by_rate: dict[float, float] = {}
        for line in self.lines:
            if line.tax_rate:
                by_rate[line.tax_rate] = by_rate.get(line.tax_rate, 0.0) + line.net_amount
        return sum(_peso(_peso(net) * rate / 100) for rate, net in by_rate.items())

    @property
    def total_amount(self) -> float:
        return self.net_amount + self.tax_amount + self.exempt_amount


@dataclass
class ReturnLine:
    id: int
    document_detail_id: int
    quantity: float
    unit_value: float
    quantity_dev_stock: float


@dataclass
class Return:
    id: int
    code: str
    reference_document_id: int
    credit_note_id: int
    office_id: int
    motive: str
    type: int
    price_adjustment: int
    edit_texts: int
    return_date: int
    amount: float
    lines: list[ReturnLine]


@dataclass
class StockMovement:
    """A reception (adds stock) or a consumption (takes stock)."""

    id: int
    kind: str  # "reception" | "consumption"
    office_id: int
    date: int
    note: str
    lines: list[tuple[int, int, float, float]]  # (detail id, variant id, quantity, cost)
    document: str = ""
    document_number: str = ""


# --------------------------------------------------------------------------- account (one company)


class BsaleAccount:
    """One Bsale company and everything it owns. Mutators fire the webhooks Bsale would send."""

    def __init__(self, sandbox: BsaleSandbox, token: str, cpn_id: int, name: str, code: str) -> None:
        self.sandbox = sandbox
        self.token = token
        self.cpn_id = cpn_id
        self.name = name
        self.code = code  # company RUT
        self.blocked = False  # True → every call answers 402 (instance blocked for non-payment)
        self.offices: dict[int, Office] = {}
        self.price_lists: dict[int, PriceList] = {}
        self.document_types: dict[int, DocumentType] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.stocks: dict[tuple[int, int], Stock] = {}  # (variant id, office id)
        self.prices: dict[tuple[int, int], PriceDetail] = {}  # (price list id, variant id)
        self.documents: dict[int, Document] = {}
        self.returns: dict[int, Return] = {}
        self.movements: dict[tuple[str, int], StockMovement] = {}  # (kind, id)
        self.clients: dict[str, int] = {}  # RUT → client id
        self.sii_outcome: SiiOutcome | None = None  # None: documents are accepted at once (informedSii 0)
        self._lock = sandbox._lock

    # ------------------------------------------------------------------ seeding

    def add_office(
        self, name: str, *, is_virtual: bool = False, state: int = 0, id: int | None = None, **extra: Any
    ) -> Office:
        with self._lock:
            office = Office(self.sandbox._id("office", id), name, state=state, is_virtual=int(is_virtual), **extra)
            self.offices[office.id] = office
            return office

    def add_price_list(self, name: str, *, state: int = 0, id: int | None = None, description: str = "") -> PriceList:
        with self._lock:
            price_list = PriceList(self.sandbox._id("price_list", id), name, state=state, description=description)
            self.price_lists[price_list.id] = price_list
            return price_list

    def add_document_type(
        self, name: str, code_sii: str | int, *, use: int = 0, state: int = 0, id: int | None = None,
        initial_number: int = 1,
    ) -> DocumentType:
        with self._lock:
            doc_type = DocumentType(
                self.sandbox._id("document_type", id), name, str(code_sii), use=use, state=state,
                initial_number=initial_number, next_number=initial_number,
            )
            self.document_types[doc_type.id] = doc_type
            return doc_type

    def add_product(
        self,
        name: str,
        variants: Iterable[dict[str, Any]] = (),
        *,
        classification: int = 0,
        stock_control: bool = True,
        state: int = 0,
        serial_number: bool = False,
        description: str = "",
        id: int | None = None,
    ) -> Product:
        """Create a product and its variants.

        Each variant dict takes ``code`` (SKU), optional ``description``, ``state``, ``allow_negative_stock``,
        ``unlimited_stock``, ``serial_number``, ``bar_code``, ``id``, ``stock`` ({office_id: qty}), ``price``
        (gross, set on every price list) or ``prices`` ({price_list_id: gross}).
        """
        with self._lock:
            product = Product(
                self.sandbox._id("product", id), name, classification=classification,
                stock_control=int(stock_control), state=state, serial_number=int(serial_number),
                description=description,
            )
            self.products[product.id] = product
            self._notify("product", "post", f"/v2/products/{product.id}.json", product.id)
            for spec in variants:
                self.add_variant(product.id, **spec)
            return product

    def add_variant(
        self,
        product_id: int,
        code: str,
        *,
        description: str = "",
        state: int = 0,
        allow_negative_stock: bool = False,
        unlimited_stock: bool = False,
        serial_number: bool | None = None,
        bar_code: str = "",
        id: int | None = None,
        stock: dict[int, float] | None = None,
        price: float | None = None,
        prices: dict[int, float] | None = None,
    ) -> Variant:
        with self._lock:
            product = self.products[product_id]
            variant = Variant(
                self.sandbox._id("variant", id), product_id, code, description=description or product.name,
                state=state, allow_negative_stock=int(allow_negative_stock), unlimited_stock=int(unlimited_stock),
                serial_number=product.serial_number if serial_number is None else int(serial_number),
                bar_code=bar_code,
            )
            self.variants[variant.id] = variant
            self._notify("variant", "post", f"/v2/variants/{variant.id}.json", variant.id)
            for office_id, quantity in (stock or {}).items():
                self.set_stock(variant.id, office_id, quantity)
            if price is not None:
                prices = dict.fromkeys(self.price_lists, price)
            for price_list_id, gross in (prices or {}).items():
                self.set_price(price_list_id, variant.id, gross)
            return variant

    def update_product(self, product_id: int, **changes: Any) -> Product:
        """Change product attributes (``name``, ``state``, ``stock_control``...); fires a ``product`` put."""
        with self._lock:
            product = self.products[product_id]
            for key, value in changes.items():
                if not hasattr(product, key) or key == "id":
                    raise AttributeError(f"Product has no attribute {key!r}")
                setattr(product, key, value)
            self._notify("product", "put", f"/v2/products/{product.id}.json", product.id)
            return product

    def update_variant(self, variant_id: int, **changes: Any) -> Variant:
        """Change variant attributes (``code``, ``state``, ``allow_negative_stock``...); fires a ``variant`` put."""
        with self._lock:
            variant = self.variants[variant_id]
            for key, value in changes.items():
                if not hasattr(variant, key) or key in ("id", "product_id"):
                    raise AttributeError(f"Variant has no attribute {key!r}")
                setattr(variant, key, value)
            self._notify("variant", "put", f"/v2/variants/{variant.id}.json", variant.id)
            return variant

    def forget_variant(self, variant_id: int, notify: bool = True) -> None:
        """Make a variant vanish (its reads answer 404, its stock and prices go); with ``notify``, fire a
        ``variant`` delete. Bsale documents only deactivation, but a notification can outlive its variant."""
        with self._lock:
            self.variants.pop(variant_id)
            for key in [k for k in self.stocks if k[0] == variant_id]:
                del self.stocks[key]
            for key in [k for k in self.prices if k[1] == variant_id]:
                del self.prices[key]
            if notify:
                self._notify("variant", "delete", f"/v2/variants/{variant_id}.json", variant_id)

    def set_stock(self, variant_id: int, office_id: int, quantity: float, reserved: float | None = None) -> Stock:
        """Set the physical stock of a variant in an office (like an inventory count); fires a ``stock`` put."""
        with self._lock:
            if variant_id not in self.variants or office_id not in self.offices:
                raise KeyError(f"unknown variant {variant_id} or office {office_id}")
            row = self._stock_row(variant_id, office_id)
            row.quantity = float(quantity)
            if reserved is not None:
                row.reserved = float(reserved)
            self._notify_stock(variant_id, office_id)
            return row

    def stock_of(self, variant_id: int, office_id: int) -> float:
        """Physical quantity (0 when no stock row exists yet)."""
        with self._lock:
            row = self.stocks.get((variant_id, office_id))
            return 0.0 if row is None else row.quantity

    def set_price(
        self, price_list_id: int, variant_id: int, gross: float | None = None, *, net: float | None = None
    ) -> PriceDetail:
        """Set a variant's price in a list, by gross (IVA included) or net value; fires a ``price`` put."""
        if (gross is None) == (net is None):
            raise ValueError("give exactly one of gross or net")
        with self._lock:
            if price_list_id not in self.price_lists or variant_id not in self.variants:
                raise KeyError(f"unknown price list {price_list_id} or variant {variant_id}")
            if net is None:
                assert gross is not None
                net = _cents(gross / (1 + IVA / 100))
            else:
                gross = _peso(net * (1 + IVA / 100))
            detail = self.prices.get((price_list_id, variant_id))
            if detail is None:
                detail = PriceDetail(self.sandbox._id("price_detail"), price_list_id, variant_id, net, float(gross))
                self.prices[(price_list_id, variant_id)] = detail
            else:
                detail.net, detail.gross = net, float(gross)
            self._notify(
                "price", "put", f"/v2/price_lists/{price_list_id}/details.json?variant={variant_id}", variant_id,
                priceListId=str(price_list_id),
            )
            return detail

    def exhaust_folios(self, code_sii: str | int | None = None, exhausted: bool = True) -> None:
        """Simulate exhausted CAF folios for one SII code (or all types); documents then fail with 400."""
        with self._lock:
            for doc_type in self.document_types.values():
                if code_sii is None or doc_type.code_sii == str(code_sii):
                    doc_type.folios_available = not exhausted

    def set_informed_sii(self, document_id: int, value: int, message: str | None = None) -> None:
        """Simulate the asynchronous SII outcome (0 accepted, 1 sent, 2 rejected, with the SII's message)."""
        with self._lock:
            document = self.documents[document_id]
            document.informed_sii, document.response_msg_sii, document.sii_pending = value, message, None

    def decide_sii(self, informed: int | None, delay: float = 0.0, message: str | None = None) -> None:
        """From now on, new documents are "sent" (informedSii 1) and the SII gives `informed` (0 accepted,
        2 rejected, 1 never decides) after `delay` seconds, with `message`. None: accepted at once (the default)."""
        with self._lock:
            self.sii_outcome = None if informed is None else SiiOutcome(informed, delay, message)

    def _sii_decides(self, now: float) -> None:
        """Apply the verdicts whose time has come (lazily, before every request of the account)."""
        for document in self.documents.values():
            pending = document.sii_pending
            if pending is not None and pending.due_at <= now:
                document.informed_sii, document.response_msg_sii = pending.informed, pending.message
                document.sii_pending = None

    # ------------------------------------------------------------------ lookups

    def variant_by_code(self, code: str) -> Variant | None:
        with self._lock:
            return next((v for v in self.variants.values() if v.code == code), None)

    def document_type_by_code(self, code_sii: str | int) -> DocumentType | None:
        with self._lock:
            return next(
                (t for t in self.document_types.values() if t.code_sii == str(code_sii) and t.state == 0), None
            )

    def documents_by_sales_id(self, sales_id: str) -> list[Document]:
        with self._lock:
            return [d for d in self.documents.values() if d.sales_id == sales_id]

    # ------------------------------------------------------------------ internals

    def _stock_row(self, variant_id: int, office_id: int) -> Stock:
        # ASSUMPTION: stock rows appear once stock is set or moved; "no row" reads as zero stock.
        row = self.stocks.get((variant_id, office_id))
        if row is None:
            row = Stock(self.sandbox._id("stock"), variant_id, office_id)
            self.stocks[(variant_id, office_id)] = row
        return row

    def _notify_stock(self, variant_id: int, office_id: int) -> None:
        self._notify(
            "stock", "put", f"/v2/stocks.json?variant={variant_id}&office={office_id}", variant_id,
            officeId=str(office_id),
        )

    def _notify(self, topic: str, action: str, resource: str, resource_id: int, **extra: str) -> None:
        payload: dict[str, Any] = {
            "cpnId": self.cpn_id,
            "resource": resource,
            "resourceId": str(resource_id),
            "topic": topic,
            "action": action,
            **extra,
            "send": int(time.time()),
        }
        self.sandbox._notify(self.cpn_id, payload)

    def _seed_document_types(self) -> None:
        self.add_document_type("BOLETA ELECTRÓNICA T", 39)
        self.add_document_type("FACTURA ELECTRÓNICA T", 33)
        self.add_document_type("NOTA DE CRÉDITO ELECTRÓNICA T", 61, use=1)


# --------------------------------------------------------------------------- the sandbox


class BsaleSandbox(SandboxServer):
    """In-memory Bsale API on ``http://127.0.0.1:<port>``; see the module docstring and ``README`` in the brief."""

    service_name = "bsale"

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        rate_limit_per_second: int | None = 8,
        clock: Clock | None = None,
        notification_timeout: float = 3.0,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock, webhook_timeout=notification_timeout)
        self.accounts: dict[str, BsaleAccount] = {}  # by access token
        self.subscriptions: dict[int, list[str]] = {}  # cpnId → webhook URLs
        self.notifications_enabled = True  # False simulates notifications Bsale never sent
        self.suppressed: list[dict[str, Any]] = []  # notifications skipped while disabled
        self.rate_limit_per_second = rate_limit_per_second
        self.limiter = SlidingWindowLimiter(
            [(rate_limit_per_second, 1.0)] if rate_limit_per_second else [], self.clock
        )
        self._ids: dict[str, itertools.count[int]] = {}
        self._used_ids: dict[str, set[int]] = {}
        self._routes: Router[BsaleHandler] = Router()
        self._register_routes()
        self._register_admin()

    # ------------------------------------------------------------------ accounts

    def add_account(
        self, token: str, cpn_id: int, name: str = "Demo", *, code: str = "76.543.210-3", seed: bool = True
    ) -> BsaleAccount:
        """Register a company reachable with ``access_token: token``; seeds boleta/factura/NC types by default."""
        with self._lock:
            if token in self.accounts:
                raise ValueError(f"token {token!r} already registered")
            account = BsaleAccount(self, token, cpn_id, name, code)
            self.accounts[token] = account
            if seed:
                account._seed_document_types()
            return account

    def account(self, cpn_id: int) -> BsaleAccount:
        with self._lock:
            return next(a for a in self.accounts.values() if a.cpn_id == cpn_id)

    def demo_account(self, token: str = "demo-token", cpn_id: int = 1001, name: str = "Demo SpA") -> BsaleAccount:
        """A ready-to-use company: 2 offices, 2 price lists, a few products covering the interesting flags."""
        account = self.add_account(token, cpn_id, name)
        main = account.add_office("Casa Matriz")
        web = account.add_office("Tienda Online", is_virtual=True)
        retail = account.add_price_list("Lista Base")
        account.add_price_list("Mayorista")
        main.price_list_id = web.price_list_id = retail.id
        account.add_product("Polera", [
            {"code": "POL-S", "description": "Polera S", "stock": {main.id: 10, web.id: 5}, "price": 9990},
            {"code": "POL-M", "description": "Polera M", "stock": {main.id: 8, web.id: 3}, "price": 9990},
        ])
        account.add_product("Taza", [{"code": "TAZA-1", "stock": {web.id: 20}, "price": 4990}])
        account.add_product("Tarjeta regalo", [{"code": "GIFT", "unlimited_stock": True, "price": 10000}])
        account.add_product("Preventa", [{"code": "PRE-1", "allow_negative_stock": True, "price": 15990}])
        account.add_product("Notebook", [{"code": "NB-1", "stock": {web.id: 2}, "price": 499990}],
                            serial_number=True)
        account.add_product("Instalación", [{"code": "SERV-1", "price": 25000}], classification=1,
                            stock_control=False)
        return account

    # ------------------------------------------------------------------ notifications

    def subscribe(self, cpn_id: int, url: str) -> None:
        """Register a webhook target for a company (Bsale staff do this by e-mail in real life)."""
        with self._lock:
            self.subscriptions.setdefault(cpn_id, []).append(url)

    def unsubscribe(self, cpn_id: int, url: str | None = None) -> None:
        with self._lock:
            if url is None:
                self.subscriptions.pop(cpn_id, None)
            elif url in self.subscriptions.get(cpn_id, []):
                self.subscriptions[cpn_id].remove(url)

    def _notify(self, cpn_id: int, payload: dict[str, Any]) -> None:
        if not self.notifications_enabled:
            self.suppressed.append(payload)
            return
        body = json.dumps(payload).encode()
        for url in self.subscriptions.get(cpn_id, []):
            headers = {"Content-Type": "application/json"}
            self._sender.enqueue(Delivery(url, payload["topic"], payload, headers, body))

    # ------------------------------------------------------------------ ids

    def _id(self, kind: str, wanted: int | None = None) -> int:
        """Next id of a kind; an explicit id is honoured (the counter skips it later)."""
        used = self._used_ids.setdefault(kind, set())
        if wanted is not None:
            if wanted in used:
                raise ValueError(f"{kind} id {wanted} already used")
            used.add(wanted)
            return wanted
        counter = self._ids.setdefault(kind, itertools.count(_ID_BASES.get(kind, 1)))
        while (candidate := next(counter)) in used:
            pass
        used.add(candidate)
        return candidate

    # ------------------------------------------------------------------ HTTP: dispatch, auth, rate limit

    def credential_of(self, request: Request) -> str | None:
        return request.header("access_token")

    def handle_api(self, request: Request) -> Response:
        if request.path.startswith("/view/"):
            return self._view(request)
        if request.path.startswith("/v1/instances/basic/"):
            return self._instance(request)
        account = self.accounts.get(request.header("access_token") or "")
        if account is None:
            return Response(401, {"error": AUTH_ERROR})
        if account.blocked:
            return Response(402, {"error": "Payment Required"})
        if self.rate_limit_per_second and not self.limiter.hit(account.token).allowed:
            # ASSUMPTION: no Retry-After header; whether real Bsale sends one is unconfirmed.
            return Response(429, {"error": "Too Many Requests"})
        resolved = self._routes.resolve(request.method, request.path)
        if resolved == "no-path":
            return Response(404, {"error": f"resource not found: {request.path}"})
        if resolved == "no-method":
            return Response(405, {"error": "Method Not Allowed"})
        handler, request.params = resolved
        with self._lock:
            account._sii_decides(time.time())
            return handler(request, account)

    def _instance(self, request: Request) -> Response:
        token = request.path.removeprefix("/v1/instances/basic/").removesuffix(".json")
        account = self.accounts.get(token)
        if account is None or request.method != "GET":
            return Response(404, {"error": "instance not found"})
        return Response(200, {
            "id": account.cpn_id, "code": account.code, "name": account.name, "state": 0, "country": "CL",
            "trial": 0, "trialEnd": None,
        })

    def _view(self, request: Request) -> Response:
        # Stand-in for urlPdf/urlPublicView so clients that download the PDF get something.
        token = request.path.rsplit("/", 1)[-1].removesuffix(".pdf")
        with self._lock:
            known = any(d.token == token for a in self.accounts.values() for d in a.documents.values())
        if not known:
            return Response(404, raw=b"not found", content_type="text/plain")
        if request.path.endswith(".pdf"):
            return Response(200, raw=_MINIMAL_PDF, content_type="application/pdf")
        return Response(200, raw=f"<html><body>Documento {token}</body></html>".encode(), content_type="text/html")

    # ------------------------------------------------------------------ HTTP: helpers

    @property
    def _base(self) -> str:
        return f"{self.url}/v1"

    def _node(self, kind: str, id: int) -> dict[str, str]:
        return {"href": f"{self._base}/{kind}/{id}.json", "id": str(id)}

    def _page(self, request: Request, items: list[Any], render: Callable[[Any], JSON] | None = None) -> Response:
        """One page of `items`; with `render`, only the page's items are rendered (a 10,000-row list is read page
        by page, and rendering all of it for each page would cost this double more CPU than the bridge)."""
        query = request.query
        limit = _int(query.get("limit"), DEFAULT_LIMIT)
        limit = DEFAULT_LIMIT if limit < 1 else min(limit, MAX_LIMIT)
        offset = max(0, _int(query.get("offset"), 0))
        page = items[offset:offset + limit]
        envelope: dict[str, Any] = {
            "href": f"{self.url}{request.path}",
            "count": len(items),
            "limit": limit,
            "offset": offset,
            "items": [render(item) for item in page] if render else page,
        }
        if offset + limit < len(items):
            rest = [(k, v) for k, v in query.items() if k not in ("limit", "offset")]
            next_query = urlencode([*rest, ("limit", limit), ("offset", offset + limit)])
            envelope["next"] = f"{self.url}{request.path}?{next_query}"
        return Response(200, envelope)

    def _param_id(self, request: Request, name: str = "id") -> int:
        value = _int(request.params.get(name), -1)
        if value < 0:
            raise _fail(404, "resource not found")
        return value

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _fail(400, "Invalid JSON object")
        return body

    # ------------------------------------------------------------------ HTTP: JSON views

    def _office_json(self, office: Office) -> dict[str, Any]:
        return {
            "href": f"{self._base}/offices/{office.id}.json", "id": office.id, "name": office.name,
            "description": "", "address": office.address, "latitude": "", "longitude": "",
            "isVirtual": office.is_virtual, "country": "Chile", "municipality": office.municipality,
            "city": office.city, "zipCode": "", "costCenter": "", "state": office.state, "imagestionCellarId": 0,
        }

    def _price_list_json(self, price_list: PriceList) -> dict[str, Any]:
        return {
            "href": f"{self._base}/price_lists/{price_list.id}.json", "id": price_list.id, "name": price_list.name,
            "description": price_list.description, "state": price_list.state, "coin": self._node("coins", 1),
            "details": {"href": f"{self._base}/price_lists/{price_list.id}/details.json"},
        }

    def _price_detail_json(self, detail: PriceDetail, expand: set[str], account: BsaleAccount) -> dict[str, Any]:
        variant: dict[str, Any] = self._node("variants", detail.variant_id)
        if "variant" in expand:
            variant = self._variant_json(account.variants[detail.variant_id], set(), account)
        return {
            "href": f"{self._base}/price_lists/{detail.price_list_id}/details/{detail.id}.json", "id": detail.id,
            "variantValue": detail.net, "variantValueWithTaxes": detail.gross, "variant": variant,
        }

    def _document_type_json(self, doc_type: DocumentType) -> dict[str, Any]:
        return {
            "href": f"{self._base}/document_types/{doc_type.id}.json", "id": doc_type.id, "name": doc_type.name,
            "initialNumber": doc_type.initial_number, "codeSii": doc_type.code_sii, "isElectronicDocument": 1,
            "breakdownTax": 1, "use": doc_type.use, "isSalesNote": 0, "isExempt": 0, "restrictsTax": 0,
            "useClient": 1 if doc_type.code_sii == "33" else 0, "messageBodyFormat": "", "thermalPrinter": 0,
            "state": doc_type.state, "copyNumber": 1, "isCreditNote": doc_type.is_credit_note, "continuedHigh": 0,
            "ledgerAccount": "", "ipadPrint": 0, "ipadPrintHigh": "",
            "book_type": self._node("book_types", 1),
        }

    def _product_json(self, product: Product) -> dict[str, Any]:
        return {
            "href": f"{self._base}/products/{product.id}.json", "id": product.id, "name": product.name,
            "description": product.description, "classification": product.classification, "ledgerAccount": "",
            "costCenter": "", "allowDecimal": 0, "stockControl": product.stock_control, "printDetailPack": 0,
            "state": product.state, "prestashopProductId": 0, "presashopAttributeId": 0,
            "product_type": self._node("product_types", 1),
            "variants": {"href": f"{self._base}/products/{product.id}/variants.json"},
            "product_taxes": {"href": f"{self._base}/products/{product.id}/product_taxes.json"},
        }

    def _variant_json(self, variant: Variant, expand: set[str], account: BsaleAccount) -> dict[str, Any]:
        product: dict[str, Any] = self._node("products", variant.product_id)
        if "product" in expand:
            product = self._product_json(account.products[variant.product_id])
        return {
            "href": f"{self._base}/variants/{variant.id}.json", "id": variant.id, "description": variant.description,
            "unlimitedStock": variant.unlimited_stock, "allowNegativeStock": variant.allow_negative_stock,
            "state": variant.state, "barCode": variant.bar_code, "code": variant.code,
            "imagestionCenterCost": 0, "imagestionAccount": 0, "imagestionConceptCod": 0,
            "imagestionProyectCod": 0, "imagestionCategoryCod": 0, "imagestionProductId": 0,
            "serialNumber": variant.serial_number, "isLot": 0, "prestashopCombinationId": 0,
            "prestashopValueId": 0, "product": product,
            "attribute_values": {"href": f"{self._base}/variants/{variant.id}/attribute_values.json"},
            "costs": {"href": f"{self._base}/variants/{variant.id}/costs.json"},
        }

    def _stock_json(self, row: Stock, expand: set[str], account: BsaleAccount) -> dict[str, Any]:
        variant: dict[str, Any] = self._node("variants", row.variant_id)
        office: dict[str, Any] = self._node("offices", row.office_id)
        if "variant" in expand:
            variant = self._variant_json(account.variants[row.variant_id], set(), account)
        if "office" in expand:
            office = self._office_json(account.offices[row.office_id])
        return {
            "href": f"{self._base}/stocks/{row.id}.json", "id": row.id, "quantity": row.quantity,
            "quantityReserved": row.reserved, "quantityAvailable": row.available, "variant": variant,
            "office": office,
        }

    def _document_json(self, document: Document, account: BsaleAccount) -> dict[str, Any]:
        href = f"{self._base}/documents/{document.id}"
        view = f"{self.url}/view/{account.cpn_id}/{document.token}"
        client = document.client or {}
        body: dict[str, Any] = {
            "href": f"{href}.json", "id": document.id, "emissionDate": document.emission_date,
            "expirationDate": document.expiration_date, "generationDate": document.generation_date,
            "number": document.number, "serialNumber": None, "trackingNumber": None,
            "totalAmount": document.total_amount, "netAmount": document.net_amount,
            "taxAmount": document.tax_amount, "exemptAmount": document.exempt_amount,
            "exportTotalAmount": 0.0, "exportNetAmount": 0.0, "exportTaxAmount": 0.0, "exportExemptAmount": 0.0,
            "commissionRate": 0.0, "commissionNetAmount": 0.0, "commissionTaxAmount": 0.0,
            "commissionTotalAmount": 0.0, "percentageTaxWithheld": 0.0, "purchaseTaxAmount": 0.0,
            "purchaseTotalAmount": 0.0, "address": client.get("address", ""),
            "municipality": client.get("municipality", ""), "city": client.get("city", ""), "urlTimbre": None,
            "urlPublicView": f"{view}?sfd=99", "urlPdf": f"{view}.pdf?sfd=99", "urlPublicViewOriginal": view,
            "urlPdfOriginal": f"{view}.pdf", "token": document.token, "state": document.state,
            "commercialState": 0, "urlXml": f"{self.url}/v1/{account.cpn_id}/files/{document.token}.xml",
            "ted": None, "salesId": document.sales_id, "informedSii": document.informed_sii,
            "responseMsgSii": document.response_msg_sii,
            "document_type": self._node("document_types", document.document_type_id),
            "office": self._node("offices", document.office_id),
            "user": self._node("users", 1),
            "coin": self._node("coins", 1),
            "references": {"href": f"{href}/references.json"},
            "document_taxes": {"href": f"{href}/document_taxes.json"},
            "details": {"href": f"{href}/details.json"},
            "sellers": {"href": f"{href}/sellers.json"},
            "attributes": {"href": f"{href}/attributes.json"},
        }
        if document.client_id is not None:
            body["client"] = self._node("clients", document.client_id)
        return body

    def _line_json(self, document: Document, line: DocumentLine, account: BsaleAccount) -> dict[str, Any]:
        variant = account.variants.get(line.variant_id) if line.variant_id is not None else None
        gross_unit = line.net_unit * (1 + line.tax_rate / 100)
        discount = line.discount / 100
        return {
            "href": f"{self._base}/documents/{document.id}/details/{line.id}.json", "id": line.id,
            "lineNumber": line.line_number, "quantity": line.quantity, "netUnitValue": line.net_unit,
            "totalUnitValue": _cents(gross_unit), "netAmount": _cents(line.net_amount),
            "taxAmount": _cents(line.net_amount * line.tax_rate / 100),
            "totalAmount": _peso(line.net_amount * (1 + line.tax_rate / 100)),
            "netDiscount": _cents(line.net_unit * line.quantity * discount),
            "totalDiscount": _cents(gross_unit * line.quantity * discount),
            "variant": None if variant is None else {
                "href": f"{self._base}/variants/{variant.id}.json", "id": variant.id,
                "description": variant.description, "code": variant.code,
            },
            "note": "", "comment": line.comment, "relatedDetailId": 0,
        }

    def _return_json(self, ret: Return) -> dict[str, Any]:
        return {
            "href": f"{self._base}/returns/{ret.id}.json", "id": ret.id, "code": ret.code,
            "returnDate": ret.return_date, "motive": ret.motive, "type": ret.type,
            "priceAdjustment": ret.price_adjustment, "editTexts": ret.edit_texts, "amount": ret.amount,
            "office": self._node("offices", ret.office_id),
            "reference_document": self._node("documents", ret.reference_document_id),
            "credit_note": self._node("documents", ret.credit_note_id),
            "details": {"href": f"{self._base}/returns/{ret.id}/details.json"},
        }

    def _movement_json(self, movement: StockMovement) -> dict[str, Any]:
        kind = "receptions" if movement.kind == "reception" else "consumptions"
        body: dict[str, Any] = {
            "href": f"{self._base}/stocks/{kind}/{movement.id}.json", "id": movement.id, "note": movement.note,
            "office": self._node("offices", movement.office_id), "user": self._node("users", 1),
            "details": {"href": f"{self._base}/stocks/{kind}/{movement.id}/details.json"},
        }
        if movement.kind == "reception":
            body |= {"admissionDate": movement.date, "document": movement.document,
                     "documentNumber": movement.document_number}
        else:
            body["consumptionDate"] = movement.date
        return body

    # ------------------------------------------------------------------ HTTP: routes

    def _register_routes(self) -> None:
        r = self._routes.add
        r("GET", "/v1/offices.json", self._list_offices)
        r("GET", "/v1/offices/{id}.json", self._get_office)
        r("GET", "/v1/price_lists.json", self._list_price_lists)
        r("GET", "/v1/price_lists/{id}.json", self._get_price_list)
        r("GET", "/v1/price_lists/{id}/details.json", self._list_price_details)
        r("GET", "/v1/price_lists/{id}/details/{detail}.json", self._get_price_detail)
        r("GET", "/v1/document_types.json", self._list_document_types)
        r("GET", "/v1/document_types/{id}.json", self._get_document_type)
        # Literal paths before /v1/stocks/{id}.json: the first matching route wins.
        r("GET", "/v1/stocks/consumptions.json", lambda q, a: self._list_movements(q, a, "consumption"))
        r("POST", "/v1/stocks/consumptions.json", lambda q, a: self._post_movement(q, a, "consumption"))
        r("GET", "/v1/stocks/consumptions/{id}.json", lambda q, a: self._get_movement(q, a, "consumption"))
        r("GET", "/v1/stocks/receptions.json", lambda q, a: self._list_movements(q, a, "reception"))
        r("POST", "/v1/stocks/receptions.json", lambda q, a: self._post_movement(q, a, "reception"))
        r("GET", "/v1/stocks/receptions/{id}.json", lambda q, a: self._get_movement(q, a, "reception"))
        r("GET", "/v1/stocks.json", self._list_stocks)
        r("GET", "/v1/stocks/{id}.json", self._get_stock)
        r("GET", "/v1/variants.json", self._list_variants)
        r("GET", "/v1/variants/{id}.json", self._get_variant)
        r("GET", "/v1/products.json", self._list_products)
        r("GET", "/v1/products/{id}.json", self._get_product)
        r("GET", "/v1/products/{id}/variants.json", self._list_product_variants)
        r("GET", "/v1/documents.json", self._list_documents)
        r("POST", "/v1/documents.json", self._post_document)
        r("GET", "/v1/documents/{id}.json", self._get_document)
        r("GET", "/v1/documents/{id}/details.json", self._list_document_details)
        r("GET", "/v1/returns.json", self._list_returns)
        r("POST", "/v1/returns.json", self._post_return)
        r("GET", "/v1/returns/{id}.json", self._get_return)
        r("GET", "/v1/returns/{id}/details.json", self._list_return_details)

    @staticmethod
    def _get_or_404(table: dict[int, Any], key: int) -> Any:
        if key not in table:
            raise _fail(404, "resource not found")
        return table[key]

    def _list_offices(self, request: Request, account: BsaleAccount) -> Response:
        q = request.query
        offices = [o for o in account.offices.values() if _matches(q, "state", o.state)]
        return self._page(request, [self._office_json(o) for o in offices])

    def _get_office(self, request: Request, account: BsaleAccount) -> Response:
        return Response(200, self._office_json(self._get_or_404(account.offices, self._param_id(request))))

    def _list_price_lists(self, request: Request, account: BsaleAccount) -> Response:
        q = request.query
        lists = [p for p in account.price_lists.values() if _matches(q, "state", p.state)]
        return self._page(request, [self._price_list_json(p) for p in lists])

    def _get_price_list(self, request: Request, account: BsaleAccount) -> Response:
        price_list = self._get_or_404(account.price_lists, self._param_id(request))
        return Response(200, self._price_list_json(price_list))

    def _list_price_details(self, request: Request, account: BsaleAccount) -> Response:
        list_id = self._param_id(request)
        self._get_or_404(account.price_lists, list_id)
        q, expand = request.query, _expand(request)
        details = [
            d for d in account.prices.values()
            if d.price_list_id == list_id and _matches(q, "variantid", d.variant_id)
            and _matches(q, "code", account.variants[d.variant_id].code)
            and _matches(q, "barcode", account.variants[d.variant_id].bar_code)
        ]
        details.sort(key=lambda d: d.id)
        return self._page(request, details, lambda d: self._price_detail_json(d, expand, account))

    def _get_price_detail(self, request: Request, account: BsaleAccount) -> Response:
        list_id, detail_id = self._param_id(request), self._param_id(request, "detail")
        detail = next(
            (d for d in account.prices.values() if d.price_list_id == list_id and d.id == detail_id), None
        )
        if detail is None:
            raise _fail(404, "resource not found")
        return Response(200, self._price_detail_json(detail, _expand(request), account))

    def _list_document_types(self, request: Request, account: BsaleAccount) -> Response:
        q = request.query
        types = [
            t for t in account.document_types.values()
            if _matches(q, "state", t.state) and _matches(q, "codesii", t.code_sii)
        ]
        return self._page(request, [self._document_type_json(t) for t in types])

    def _get_document_type(self, request: Request, account: BsaleAccount) -> Response:
        doc_type = self._get_or_404(account.document_types, self._param_id(request))
        return Response(200, self._document_type_json(doc_type))

    def _list_stocks(self, request: Request, account: BsaleAccount) -> Response:
        q, expand = request.query, _expand(request)
        rows = [
            s for s in account.stocks.values()
            if _matches(q, "variantid", s.variant_id) and _matches(q, "officeid", s.office_id)
            and _matches(q, "code", account.variants[s.variant_id].code)
            and _matches(q, "barcode", account.variants[s.variant_id].bar_code)
        ]
        rows.sort(key=lambda s: s.id)
        return self._page(request, rows, lambda s: self._stock_json(s, expand, account))

    def _get_stock(self, request: Request, account: BsaleAccount) -> Response:
        stock_id = self._param_id(request)
        row = next((s for s in account.stocks.values() if s.id == stock_id), None)
        if row is None:
            raise _fail(404, "resource not found")
        return Response(200, self._stock_json(row, _expand(request), account))

    def _list_variants(self, request: Request, account: BsaleAccount) -> Response:
        q, expand = request.query, _expand(request)
        # Without a state filter both active and inactive variants come back, as observed live.
        variants = [
            v for v in account.variants.values()
            if _matches(q, "code", v.code) and _matches(q, "productid", v.product_id)
            and _matches(q, "state", v.state) and _matches(q, "barcode", v.bar_code)
        ]
        return self._page(request, variants, lambda v: self._variant_json(v, expand, account))

    def _get_variant(self, request: Request, account: BsaleAccount) -> Response:
        variant = self._get_or_404(account.variants, self._param_id(request))
        return Response(200, self._variant_json(variant, _expand(request), account))

    def _list_products(self, request: Request, account: BsaleAccount) -> Response:
        q = request.query
        products = [
            p for p in account.products.values()
            if _matches(q, "state", p.state) and _matches(q, "classification", p.classification)
            and (q.get("name") is None or q["name"].lower() in p.name.lower())
        ]
        return self._page(request, products, self._product_json)

    def _get_product(self, request: Request, account: BsaleAccount) -> Response:
        return Response(200, self._product_json(self._get_or_404(account.products, self._param_id(request))))

    def _list_product_variants(self, request: Request, account: BsaleAccount) -> Response:
        product_id = self._param_id(request)
        self._get_or_404(account.products, product_id)
        variants = [v for v in account.variants.values() if v.product_id == product_id]
        return self._page(request, [self._variant_json(v, _expand(request), account) for v in variants])

    # ------------------------------------------------------------------ documents

    def _list_documents(self, request: Request, account: BsaleAccount) -> Response:
        q = request.query
        # Only documented filters; `salesid` is not one, so it is ignored like any unknown parameter.
        docs = [
            d for d in account.documents.values()
            if _matches(q, "documenttypeid", d.document_type_id)
            and _matches(q, "codesii", account.document_types[d.document_type_id].code_sii)
            and _matches(q, "number", d.number) and _matches(q, "officeid", d.office_id)
            and _matches(q, "state", d.state) and _matches(q, "informedsii", d.informed_sii)
            and _matches(q, "token", d.token) and _matches(q, "emissiondate", d.emission_date)
            and _in_range(q, "emissiondaterange", d.emission_date)
        ]
        return self._page(request, [self._document_json(d, account) for d in docs])

    def _get_document(self, request: Request, account: BsaleAccount) -> Response:
        document = self._get_or_404(account.documents, self._param_id(request))
        return Response(200, self._document_json(document, account))

    def _list_document_details(self, request: Request, account: BsaleAccount) -> Response:
        document = self._get_or_404(account.documents, self._param_id(request))
        return self._page(request, [self._line_json(document, line, account) for line in document.lines])

    def _resolve_type(self, account: BsaleAccount, body: dict[str, Any], use: int) -> DocumentType:
        doc_type: DocumentType | None = None
        if body.get("documentTypeId") not in (None, ""):
            doc_type = account.document_types.get(_int(body["documentTypeId"], -1))
        elif body.get("codeSii") not in (None, ""):
            doc_type = account.document_type_by_code(body["codeSii"])
        elif use == 1:
            doc_type = next((t for t in account.document_types.values() if t.use == 1 and t.state == 0), None)
        if doc_type is None or doc_type.state != 0 or doc_type.use != use:
            raise _fail(400, "invalid documentType")
        return doc_type

    def _resolve_office(self, account: BsaleAccount, body: dict[str, Any]) -> Office:
        if body.get("officeId") in (None, ""):
            office = next((o for o in account.offices.values() if o.state == 0), None)
        else:
            office = account.offices.get(_int(body["officeId"], -1))
        if office is None or office.state != 0:
            raise _fail(400, "invalid office")  # ASSUMPTION: exact wording not documented
        return office

    def _resolve_variant(self, account: BsaleAccount, line: dict[str, Any]) -> Variant | None:
        """The line's variant, None for a gloss line (comment only); 400 when a reference does not resolve."""
        variant: Variant | None = None
        if line.get("variantId") not in (None, ""):
            variant = account.variants.get(_int(line["variantId"], -1))
        elif line.get("code") not in (None, ""):
            variant = next((v for v in account.variants.values() if v.code == str(line["code"])), None)
        elif line.get("barCode") not in (None, ""):
            variant = next((v for v in account.variants.values() if v.bar_code == str(line["barCode"])), None)
        else:
            return None
        if variant is None or variant.state != 0:
            raise _fail(400, "invalid variant")
        return variant

    def _check_stock(self, account: BsaleAccount, office_id: int, wanted: dict[int, float]) -> None:
        for variant_id, quantity in wanted.items():
            variant = account.variants[variant_id]
            product = account.products[variant.product_id]
            # ASSUMPTION (inferred from the flag names): these variants may go below zero.
            if not product.stock_control or variant.unlimited_stock or variant.allow_negative_stock:
                continue
            row = account.stocks.get((variant_id, office_id))
            if row is None or row.available < quantity:
                raise _fail(400, f'There is no stock for this products: "{variant.code}"')

    def _move_stock(self, account: BsaleAccount, office_id: int, deltas: dict[int, float]) -> None:
        for variant_id, delta in deltas.items():
            variant = account.variants[variant_id]
            if not account.products[variant.product_id].stock_control:
                continue
            row = account._stock_row(variant_id, office_id)
            row.quantity += delta
            account._notify_stock(variant_id, office_id)

    def _post_document(self, request: Request, account: BsaleAccount) -> Response:
        body = self._body(request)
        doc_type = self._resolve_type(account, body, use=0)
        sales_id = body.get("salesId")
        if sales_id not in (None, ""):
            # Documented idempotency: same salesId within the same document type → 200 with the existing one.
            existing = next(
                (d for d in account.documents.values()
                 if d.sales_id == str(sales_id) and d.document_type_id == doc_type.id), None,
            )
            if existing is not None:
                return Response(200, self._document_json(existing, account))
        office = self._resolve_office(account, body)
        price_list_id = body.get("priceListId", office.price_list_id)
        if price_list_id not in (None, "") and _int(price_list_id, -1) not in account.price_lists:
            raise _fail(400, "invalid price list")
        client = body.get("client") if isinstance(body.get("client"), dict) else None
        client_id = _int(body["clientId"], -1) if body.get("clientId") not in (None, "") else None
        if doc_type.code_sii == "33" and client_id is None:
            required = ("code", "activity", "address", "city", "municipality")
            if client is None or any(not str(client.get(k) or "").strip() for k in required):
                raise _fail(400, "client attribute required : code,activity,address,city,municipality")
        dispatch = _flag(body.get("dispatch"))
        lines = self._parse_lines(account, body.get("details"), dispatch)
        if dispatch:
            wanted: dict[int, float] = {}
            for line in lines:
                if line.variant_id is not None:
                    wanted[line.variant_id] = wanted.get(line.variant_id, 0.0) + line.quantity
            self._check_stock(account, office.id, wanted)
        if not doc_type.folios_available:
            raise _fail(400, "does not have numbers available, check sii caf")
        if client is not None and client.get("code"):
            client_id = account.clients.setdefault(str(client["code"]), self._id("client"))
        document = self._create_document(
            account, doc_type, office.id, body, lines, dispatched=bool(dispatch),
            price_list_id=None if price_list_id in (None, "") else _int(price_list_id, 0),
            client=client, client_id=client_id,
        )
        if dispatch:
            deltas: dict[int, float] = {}
            for line in document.lines:
                if line.variant_id is not None:
                    deltas[line.variant_id] = deltas.get(line.variant_id, 0.0) - line.quantity
            self._move_stock(account, office.id, deltas)
        account._notify("document", "post", f"/documents/{document.id}.json", document.id, officeId=str(office.id))
        return Response(201, self._document_json(document, account))

    def _parse_lines(self, account: BsaleAccount, details: Any, dispatch: int) -> list[DocumentLine]:
        if not isinstance(details, list) or not details:
            raise _fail(400, "the json does not have details")  # ASSUMPTION: exact wording not documented
        lines: list[DocumentLine] = []
        for number, raw in enumerate(details, start=1):
            if not isinstance(raw, dict):
                raise _fail(400, "Invalid JSON object")
            variant = self._resolve_variant(account, raw)
            net_unit = _float(raw.get("netUnitValue"))
            if net_unit is None or net_unit <= 0:
                raise _fail(
                    400, "Invalid net unit value, zero or negative values are not allowed for this type of document"
                )
            quantity = _float(raw.get("quantity"))
            if quantity is None or quantity <= 0:
                raise _fail(400, "invalid quantity")
            comment = str(raw.get("comment") or "")
            if dispatch and variant is not None and variant.serial_number and not comment.strip():
                raise _fail(400, "Use 'comment' to especify the serie of detailid to dispatch.")
            lines.append(DocumentLine(
                id=0, line_number=number, variant_id=None if variant is None else variant.id, quantity=quantity,
                net_unit=net_unit, discount=_float(raw.get("discount")) or 0.0, tax_rate=_tax_rate(raw),
                comment=comment,
            ))
        return lines

    def _create_document(
        self, account: BsaleAccount, doc_type: DocumentType, office_id: int, body: dict[str, Any],
        lines: list[DocumentLine], *, dispatched: bool, price_list_id: int | None,
        client: dict[str, Any] | None, client_id: int | None, reference_document_id: int | None = None,
    ) -> Document:
        now = int(time.time())
        emission = _int(body.get("emissionDate"), now)
        expiration = _int(body.get("expirationDate"), emission)
        for line in lines:
            line.id = self._id("document_detail")
        sales_id = body.get("salesId")
        document = Document(
            id=self._id("document"), document_type_id=doc_type.id, number=doc_type.next_number,
            office_id=office_id, price_list_id=price_list_id,
            emission_date=emission - emission % 86400,  # Bsale keeps only the UTC date
            expiration_date=expiration - expiration % 86400, generation_date=now,
            sales_id=None if sales_id in (None, "") else str(sales_id), client_id=client_id, client=client,
            lines=lines, dispatched=dispatched, token=secrets.token_hex(6),
            declare_sii=_int(body.get("declareSii"), 1), reference_document_id=reference_document_id,
        )
        outcome = account.sii_outcome
        if outcome is not None:
            document.informed_sii = 1
            if outcome.informed != 1:
                document.sii_pending = SiiOutcome(outcome.informed, outcome.delay, outcome.message,
                                                  due_at=time.time() + outcome.delay)
        doc_type.next_number += 1
        account.documents[document.id] = document
        return document

    # ------------------------------------------------------------------ returns (credit notes)

    def _list_returns(self, request: Request, account: BsaleAccount) -> Response:
        q = request.query
        returns = [
            r for r in account.returns.values()
            if _matches(q, "referencedocumentid", r.reference_document_id)
            and _matches(q, "creditnoteid", r.credit_note_id) and _matches(q, "officeid", r.office_id)
            and _matches(q, "code", r.code) and _matches(q, "type", r.type)
        ]
        return self._page(request, [self._return_json(r) for r in returns])

    def _get_return(self, request: Request, account: BsaleAccount) -> Response:
        return Response(200, self._return_json(self._get_or_404(account.returns, self._param_id(request))))

    def _list_return_details(self, request: Request, account: BsaleAccount) -> Response:
        ret: Return = self._get_or_404(account.returns, self._param_id(request))
        items = [
            {
                "href": f"{self._base}/returns/{ret.id}/details/{line.id}.json", "id": line.id,
                "quantity": line.quantity, "quantityDevStock": line.quantity_dev_stock, "variantStock": 0.0,
                "variantCost": 0.0,
                "document_detail": {
                    "href": f"{self._base}/documents/{ret.reference_document_id}/details/"
                            f"{line.document_detail_id}.json",
                    "id": str(line.document_detail_id),
                },
            }
            for line in ret.lines
        ]
        return self._page(request, items)

    def _post_return(self, request: Request, account: BsaleAccount) -> Response:
        body = self._body(request)
        if body.get("referenceDocumentId") in (None, ""):
            raise _fail(400, "the json does not have reference document")
        reference = account.documents.get(_int(body["referenceDocumentId"], -1))
        if reference is None:
            raise _fail(400, "invalid reference document")  # ASSUMPTION: exact wording not documented
        doc_type = self._resolve_type(account, body, use=1)
        office_id = _int(body.get("officeId"), reference.office_id)
        if office_id not in account.offices:
            raise _fail(400, "invalid office")
        price_adjustment, edit_texts = _flag(body.get("priceAdjustment")), _flag(body.get("editTexts"))
        by_id = {line.id: line for line in reference.lines}
        requested: list[tuple[DocumentLine, float, float]] = []
        for raw in body.get("details") or []:
            if not isinstance(raw, dict) or _int(raw.get("documentDetailId"), -1) not in by_id:
                raise _fail(400, "invalid reference detail")
            line = by_id[_int(raw["documentDetailId"], -1)]
            quantity, unit_value = _float(raw.get("quantity")) or 0.0, _float(raw.get("unitValue")) or 0.0
            available = line.quantity - line.returned
            if not price_adjustment and not edit_texts and quantity > available:
                raise _fail(
                    400,
                    f"The quantity returned ({quantity}) is higher than the available ({available}) "
                    f'for detail: "{line.id}"',
                )
            requested.append((line, quantity, unit_value))
        if not requested:
            raise _fail(400, "invalid reference detail")
        if not doc_type.folios_available:
            raise _fail(400, "does not have numbers available, check sii caf")
        # Return-quantities mode credits the original price; price adjustments credit unitValue per unit of
        # the original line (simplified); text corrections credit nothing.
        credit_lines = [
            DocumentLine(
                id=0, line_number=n, variant_id=line.variant_id,
                quantity=line.quantity if price_adjustment else quantity,
                net_unit=unit_value if price_adjustment else (0.0 if edit_texts else line.net_unit),
                discount=line.discount, tax_rate=line.tax_rate, comment=line.comment,
            )
            for n, (line, quantity, unit_value) in enumerate(requested, start=1)
        ]
        client = body.get("client") if isinstance(body.get("client"), dict) else reference.client
        credit_note = self._create_document(
            account, doc_type, office_id, body, credit_lines, dispatched=False, price_list_id=reference.price_list_id,
            client=client, client_id=reference.client_id, reference_document_id=reference.id,
        )
        restock: dict[int, float] = {}
        return_lines: list[ReturnLine] = []
        for line, quantity, unit_value in requested:
            back = 0.0
            if not price_adjustment and not edit_texts:
                line.returned += quantity
                if reference.dispatched and line.variant_id is not None:
                    back = quantity
                    restock[line.variant_id] = restock.get(line.variant_id, 0.0) + quantity
            return_lines.append(ReturnLine(self._id("return_detail"), line.id, quantity, unit_value, back))
        self._move_stock(account, office_id, restock)
        now = int(time.time())
        ret = Return(
            id=self._id("return"), code=str(now) + str(self._id("return_code")), reference_document_id=reference.id,
            credit_note_id=credit_note.id, office_id=office_id, motive=str(body.get("motive") or ""),
            type=_int(body.get("type"), 0), price_adjustment=price_adjustment, edit_texts=edit_texts,
            return_date=credit_note.emission_date, amount=credit_note.total_amount, lines=return_lines,
        )
        account.returns[ret.id] = ret
        account._notify(
            "document", "post", f"/documents/{credit_note.id}.json", credit_note.id, officeId=str(office_id)
        )
        return Response(201, self._return_json(ret))

    # ------------------------------------------------------------------ receptions and consumptions

    def _list_movements(self, request: Request, account: BsaleAccount, kind: str) -> Response:
        q = request.query
        # Documented filters served: `officeid`; receptions also `documentnumber` (bsale.md §3.3).
        items = [
            self._movement_json(m) for m in account.movements.values()
            if m.kind == kind and _matches(q, "officeid", m.office_id)
            and (kind != "reception" or _matches(q, "documentnumber", m.document_number))
        ]
        return self._page(request, items)

    def _get_movement(self, request: Request, account: BsaleAccount, kind: str) -> Response:
        movement = account.movements.get((kind, self._param_id(request)))
        if movement is None:
            raise _fail(404, "resource not found")
        return Response(200, self._movement_json(movement))

    def _post_movement(self, request: Request, account: BsaleAccount, kind: str) -> Response:
        # No deduplication on purpose: real Bsale creates a new movement for every POST.
        body = self._body(request)
        office = self._resolve_office(account, body)
        parsed: list[tuple[int, float, float]] = []
        for raw in body.get("details") or []:
            if not isinstance(raw, dict):
                raise _fail(400, "Invalid JSON object")
            variant = self._resolve_variant(account, raw)
            if variant is None:
                raise _fail(400, "invalid variant")
            quantity = _float(raw.get("quantity"))
            if quantity is None or quantity <= 0:
                raise _fail(400, "invalid quantity")
            parsed.append((variant.id, quantity, _float(raw.get("cost")) or 0.0))
        if not parsed:
            raise _fail(400, "the json does not have details")
        sign = 1.0 if kind == "reception" else -1.0
        deltas: dict[int, float] = {}
        for variant_id, quantity, _ in parsed:
            deltas[variant_id] = deltas.get(variant_id, 0.0) + sign * quantity
        if kind == "consumption":
            # ASSUMPTION: consumptions obey the same availability rule as dispatched sales.
            self._check_stock(account, office.id, {v: -d for v, d in deltas.items()})
        now = int(time.time())
        movement = StockMovement(
            id=self._id(kind), kind=kind, office_id=office.id,
            date=_int(body.get("admissionDate") or body.get("consumptionDate"), now), note=str(body.get("note") or ""),
            lines=[(self._id(f"{kind}_detail"), v, q, c) for v, q, c in parsed],
            document=str(body.get("document") or ""), document_number=str(body.get("documentNumber") or ""),
        )
        account.movements[(kind, movement.id)] = movement
        self._move_stock(account, office.id, deltas)
        return Response(201, self._movement_json(movement))

    # ------------------------------------------------------------------ admin HTTP API

    def _register_admin(self) -> None:
        a = self.admin.add
        a("GET", "/_sandbox/state", self._admin_state)
        a("POST", "/_sandbox/accounts", self._admin_add_account)
        a("POST", "/_sandbox/demo", self._admin_demo)
        a("POST", "/_sandbox/accounts/{cpn}/offices", self._admin_add_office)
        a("POST", "/_sandbox/accounts/{cpn}/price_lists", self._admin_add_price_list)
        a("POST", "/_sandbox/accounts/{cpn}/products", self._admin_add_product)
        a("PUT", "/_sandbox/accounts/{cpn}/products/{id}", self._admin_update_product)
        a("PUT", "/_sandbox/accounts/{cpn}/variants/{id}", self._admin_update_variant)
        a("PUT", "/_sandbox/accounts/{cpn}/stock", self._admin_set_stock)
        a("PUT", "/_sandbox/accounts/{cpn}/price", self._admin_set_price)
        a("PUT", "/_sandbox/accounts/{cpn}/folios", self._admin_folios)
        a("PUT", "/_sandbox/accounts/{cpn}/blocked", self._admin_blocked)
        a("PUT", "/_sandbox/accounts/{cpn}/sii", self._admin_sii)
        a("PUT", "/_sandbox/accounts/{cpn}/documents/{id}/sii", self._admin_document_sii)
        a("POST", "/_sandbox/subscriptions", self._admin_subscribe)
        a("PUT", "/_sandbox/notifications", self._admin_notifications)

    def _admin_account(self, request: Request) -> BsaleAccount:
        try:
            return self.account(int(request.params["cpn"]))
        except (StopIteration, ValueError) as exc:
            raise HttpError(Response(404, {"error": f"unknown account {request.params['cpn']}"})) from exc

    def _admin_state(self, request: Request) -> Response:
        with self._lock:
            return Response(200, {
                "notificationsEnabled": self.notifications_enabled,
                "subscriptions": {str(k): v for k, v in self.subscriptions.items()},
                "accounts": [_account_summary(a) for a in self.accounts.values()],
            })

    def _admin_add_account(self, request: Request) -> Response:
        spec = admin_body(request)
        account = self.add_account(
            spec["token"], int(spec["cpn_id"]), spec.get("name", "Demo"), code=spec.get("code", "76.543.210-3")
        )
        return Response(201, _account_summary(account))

    def _admin_demo(self, request: Request) -> Response:
        spec = admin_body(request)
        account = self.demo_account(**{k: spec[k] for k in ("token", "cpn_id", "name") if k in spec})
        return Response(201, _account_summary(account))

    def _admin_add_office(self, request: Request) -> Response:
        spec = admin_body(request)
        office = self._admin_account(request).add_office(
            spec["name"], is_virtual=bool(spec.get("is_virtual")), state=int(spec.get("state", 0)), id=spec.get("id")
        )
        return Response(201, {"id": office.id, "name": office.name})

    def _admin_add_price_list(self, request: Request) -> Response:
        spec = admin_body(request)
        price_list = self._admin_account(request).add_price_list(spec["name"], id=spec.get("id"))
        return Response(201, {"id": price_list.id, "name": price_list.name})

    def _admin_add_product(self, request: Request) -> Response:
        spec = admin_body(request)
        variants = [
            {**v, "stock": {int(k): q for k, q in (v.get("stock") or {}).items()}} for v in spec.pop("variants", [])
        ]
        account = self._admin_account(request)
        product = account.add_product(spec.pop("name"), variants, **spec)
        return Response(201, {
            "id": product.id, "variants": [{"id": v.id, "code": v.code} for v in account.variants.values()
                                           if v.product_id == product.id],
        })

    def _admin_update_product(self, request: Request) -> Response:
        product = self._admin_account(request).update_product(int(request.params["id"]), **admin_body(request))
        return Response(200, {"id": product.id, "name": product.name, "state": product.state})

    def _admin_update_variant(self, request: Request) -> Response:
        variant = self._admin_account(request).update_variant(int(request.params["id"]), **admin_body(request))
        return Response(200, {"id": variant.id, "code": variant.code, "state": variant.state})

    def _admin_set_stock(self, request: Request) -> Response:
        spec = admin_body(request)
        row = self._admin_account(request).set_stock(
            int(spec["variant_id"]), int(spec["office_id"]), float(spec["quantity"]), spec.get("reserved")
        )
        return Response(200, {"id": row.id, "quantity": row.quantity, "quantityAvailable": row.available})

    def _admin_set_price(self, request: Request) -> Response:
        spec = admin_body(request)
        detail = self._admin_account(request).set_price(
            int(spec["price_list_id"]), int(spec["variant_id"]), spec.get("gross"), net=spec.get("net")
        )
        return Response(200, {"id": detail.id, "variantValue": detail.net, "variantValueWithTaxes": detail.gross})

    def _admin_folios(self, request: Request) -> Response:
        spec = admin_body(request)
        self._admin_account(request).exhaust_folios(spec.get("code_sii"), exhausted=bool(spec.get("exhausted", True)))
        return Response(204)

    def _admin_sii(self, request: Request) -> Response:
        spec = admin_body(request)
        informed = spec.get("informed")
        self._admin_account(request).decide_sii(None if informed is None else int(informed),
                                                float(spec.get("delay", 0)), spec.get("message"))
        return Response(204)

    def _admin_document_sii(self, request: Request) -> Response:
        spec = admin_body(request)
        account = self._admin_account(request)
        document_id = int(request.params["id"])
        if document_id not in account.documents:
            return Response(404, {"error": f"unknown document {document_id}"})
        account.set_informed_sii(document_id, int(spec["informed"]), spec.get("message"))
        return Response(204)

    def _admin_blocked(self, request: Request) -> Response:
        self._admin_account(request).blocked = bool(admin_body(request).get("blocked", True))
        return Response(204)

    def _admin_subscribe(self, request: Request) -> Response:
        spec = admin_body(request)
        self.subscribe(int(spec["cpn_id"]), str(spec["url"]))
        return Response(201, {str(k): v for k, v in self.subscriptions.items()})

    def _admin_notifications(self, request: Request) -> Response:
        self.notifications_enabled = bool(admin_body(request).get("enabled", True))
        return Response(200, {"enabled": self.notifications_enabled})


# --------------------------------------------------------------------------- small helpers

# Realistic-looking id ranges, so that ids of different kinds never collide by accident in assertions.
_ID_BASES = {
    "office": 1, "price_list": 1, "document_type": 1, "product": 100, "variant": 1000, "stock": 5000,
    "price_detail": 600, "document": 4000, "document_detail": 20000, "return": 70, "return_detail": 300,
    "client": 50, "consumption": 10, "reception": 10,
}

_MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        try:
            return int(float(str(value)))
        except (TypeError, ValueError):
            return default


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _filter(query: dict[str, str], name: str) -> str | None:
    """A filter value in either the plain (``?variantid=7``) or the bracket (``?variantid=[7]``) form."""
    value = query.get(name)
    if value is None:
        return None
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1].strip()
    return value


def _in_range(query: dict[str, str], name: str, actual: int) -> bool:
    """A `[from,to]` filter (unix times, both included); a malformed one is a 400 like Bsale's."""
    wanted = _filter(query, name)
    if wanted is None:
        return True
    try:
        low, high = (int(part) for part in wanted.split(","))
    except ValueError as exc:
        raise _fail(400, f"invalid {name}") from exc  # ASSUMPTION: exact wording not documented
    return low <= actual <= high


def _matches(query: dict[str, str], name: str, actual: Any) -> bool:
    wanted = _filter(query, name)
    return wanted is None or wanted == str(actual)


def _expand(request: Request) -> set[str]:
    raw = request.query.get("expand", "").strip("[]")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _tax_rate(line: dict[str, Any]) -> float:
    """IVA percentage of a detail line; a line without ``taxId``/``taxes`` is exempt."""
    taxes = line.get("taxes")
    if isinstance(taxes, list) and taxes:
        first = taxes[0]
        if isinstance(first, dict):
            return _float(first.get("percentage")) or IVA
        return IVA
    tax_id = str(line.get("taxId") or "").strip("[] ")
    return IVA if tax_id else 0.0


def _account_summary(account: BsaleAccount) -> dict[str, Any]:
    return {
        "token": account.token, "cpnId": account.cpn_id, "name": account.name, "blocked": account.blocked,
        "offices": [{"id": o.id, "name": o.name} for o in account.offices.values()],
        "priceLists": [{"id": p.id, "name": p.name} for p in account.price_lists.values()],
        "documentTypes": [{"id": t.id, "codeSii": t.code_sii, "folios": t.folios_available}
                          for t in account.document_types.values()],
        "variants": [
            {"id": v.id, "code": v.code, "productId": v.product_id,
             "stock": {str(o): account.stock_of(v.id, o) for o in account.offices}}
            for v in account.variants.values()
        ],
        "documents": len(account.documents),
    }

