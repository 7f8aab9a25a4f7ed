"""The Jumpseller API, as this product uses it. One instance per shop (its login, its pace)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import requests

from bridge.clients.http import ApiSession, Pace, Waits, pace_for
from bridge.errors import UpstreamError
from bridge.models.shop import JUMPSELLER_API_URL

if TYPE_CHECKING:
    from bridge.models.jumpseller import Hook, JsProduct, JsVariant, Target

PAGE_LIMIT = 100  # Jumpseller's maximum
MAX_PAGES = 1000  # 100,000 products
RATE_PER_SECOND = 20
RATE_PER_MINUTE = 800


def local_pace(login: str) -> Pace:
    return pace_for("jumpseller", login, RATE_PER_SECOND, RATE_PER_MINUTE)


class BearerToken(Protocol):
    """An OAuth app token (F17): `current` refreshes it before it expires, `renew` after Jumpseller refused it."""

    def current(self) -> str: ...

    def renew(self) -> str: ...


class JumpsellerClient(ApiSession):
    service = "Jumpseller"

    def __init__(
        self,
        login: str,
        auth_token: str,
        base_url: str = JUMPSELLER_API_URL,
        session: requests.Session | None = None,
        pace: Waits | None = None,
        bearer: BearerToken | None = None,
    ) -> None:
        super().__init__(base_url, pace or local_pace(login), session)
        self._basic = (login, auth_token)
        self._bearer = bearer

    def _auth(self, headers: dict[str, str]) -> tuple[str, str] | None:
        if self._bearer is not None:
            headers["Authorization"] = f"Bearer {self._bearer.current()}"
            return None
        return self._basic

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                retry_unsafe: bool = False) -> requests.Response:
        try:
            return super().request(method, path, params=params, json=json, retry_unsafe=retry_unsafe)
        except UpstreamError as exc:
            if exc.status_code != 401 or self._bearer is None:
                raise
            # The token was refused before its time (revoked, or a clock apart): renew once; a refused renewal
            # means the app was removed and raises ShopDisconnected.
            self._bearer.renew()
            return super().request(method, path, params=params, json=json, retry_unsafe=retry_unsafe)

    def _error_text(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:500]
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, list) and errors:
                return "; ".join(map(str, errors))[:500]
            return str(body.get("message") or body.get("error") or body)[:500]
        return str(body)[:500]

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        # Jumpseller tells how much of each window is left; an empty minute window means wait for it.
        if response.headers.get("Jumpseller-PerMinuteRateLimit-Remaining") == "0":
            return self.max_backoff
        if response.headers.get("Jumpseller-PerSecondRateLimit-Remaining") == "0":
            return 1.0
        return super()._retry_after(response, attempt)

    # -- catalog --------------------------------------------------------------------------------------------
    # The reads import their models (bridge/models/jumpseller.py) themselves: the order worker holds a
    # JumpsellerClient for its orders' notes and files and reads none of them (issue 12: cold start).
    def products(self) -> Iterator[JsProduct]:
        for page in range(1, MAX_PAGES + 1):
            items = self.products_page(page)
            yield from items
            if len(items) < PAGE_LIMIT:
                return
        # A store that never gives a short page (or loops) fails instead of being read forever.
        raise UpstreamError(self.service, f"products have more than {MAX_PAGES} pages; stopped", retryable=False)

    def products_page(self, page: int) -> list[JsProduct]:
        """One page of products (100, Jumpseller's maximum); a short page is the last."""
        from bridge.models.jumpseller import JsProduct

        items = self.get_json("/products.json", {"page": page, "limit": PAGE_LIMIT})
        return [JsProduct.model_validate(item.get("product", item)) for item in items]

    def product(self, product_id: int) -> JsProduct:
        from bridge.models.jumpseller import JsProduct

        body = self.get_json(f"/products/{product_id}.json")
        return JsProduct.model_validate(body.get("product", body))

    def find_sku(self, sku: str) -> list[tuple[JsProduct, Target]]:
        """Every product or variant whose SKU is exactly `sku` (the search itself matches loosely)."""
        from bridge.models.jumpseller import JsProduct, Target

        items = self.get_json("/products/search.json", {"query": sku, "fields": "sku,variants"})
        found: list[tuple[JsProduct, Target]] = []
        for item in items:
            product = JsProduct.model_validate(item.get("product", item))
            if product.variants:
                found += [(product, Target(product.id, v.id)) for v in product.variants if v.sku == sku]
            elif product.sku == sku:
                found.append((product, Target(product.id)))
        return found

    def write(self, target: Target, changes: dict[str, Any], *, name: str, current_price: float) -> None:
        """One PUT with `changes` (stock, stock_unlimited, price) for a product or one of its variants.

        The official spec requires name and price on a product PUT: the product's own values go along, so
        nothing else changes.
        """
        if target.variant_id is not None:
            self.request("PUT", f"/products/{target.product_id}/variants/{target.variant_id}.json",
                         json={"variant": changes})
        else:
            body = {"name": name, "price": current_price, **changes}
            self.request("PUT", f"/products/{target.product_id}.json", json={"product": body})

    def set_stock(
        self, target: Target, stock: int | None, *, name: str, price: float, unlimited: bool = False
    ) -> None:
        """Write an absolute stock (None with unlimited=True: sell without limit)."""
        changes: dict[str, Any] = {"stock_unlimited": unlimited}
        if stock is not None:
            changes["stock"] = stock
        self.write(target, changes, name=name, current_price=price)

    def create_product(self, fields: dict[str, Any]) -> JsProduct:
        from bridge.models.jumpseller import JsProduct

        body = self.request("POST", "/products.json", json={"product": fields}).json()
        return JsProduct.model_validate(body.get("product", body))

    def create_variant(self, product_id: int, fields: dict[str, Any]) -> JsVariant:
        from bridge.models.jumpseller import JsVariant

        body = self.request("POST", f"/products/{product_id}/variants.json", json={"variant": fields}).json()
        return JsVariant.model_validate(body.get("variant", body))

    # -- hooks ----------------------------------------------------------------------------------------------
    def hooks(self) -> list[Hook]:
        from bridge.models.jumpseller import Hook

        items = self.get_json("/hooks.json", {"limit": PAGE_LIMIT})
        return [Hook.model_validate(item.get("hook", item)) for item in items]

    def create_hook(self, event: str, url: str) -> Hook:
        from bridge.models.jumpseller import Hook

        body = self.request("POST", "/hooks.json", json={"hook": {"event": event, "url": url}}).json()
        return Hook.model_validate(body.get("hook", body))

    def store_info(self) -> dict[str, Any]:
        body = self.get_json("/store/info.json")
        return dict(body.get("store", body))
