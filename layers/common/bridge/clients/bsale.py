"""The Bsale API, as this product uses it. One instance per shop (its token, its pace)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import requests

from bridge.clients.http import ApiSession, Pace, Waits, origin, pace_for
from bridge.errors import ConfigurationError, UpstreamError
from bridge.models.shop import BSALE_API_URL, BSALE_CREDENTIAL_URL

if TYPE_CHECKING:
    from bridge.models.bsale import DocumentType, Instance, Office, PriceDetail, PriceList, Variant

PAGE_LIMIT = 50  # Bsale's maximum
MAX_PAGES = 2000  # 100,000 items: more than any listing this product reads (a 10,000-SKU shop is 200 pages)
RATE_PER_SECOND = 8  # Bsale's published limit since 10/2025


class BsaleNotFound(ConfigurationError):
    """Bsale answered 404 for one resource: it does not have it (any more)."""

    def __init__(self, what: str, ident: Any) -> None:
        super().__init__(f"Bsale has no {what} with id {ident}")
        self.what, self.ident = what, str(ident)


def local_pace(token: str) -> Pace:
    return pace_for("bsale", token, RATE_PER_SECOND)


class BsaleClient(ApiSession):
    service = "Bsale"

    def __init__(
        self,
        token: str,
        base_url: str = BSALE_API_URL,
        credential_url: str = BSALE_CREDENTIAL_URL,
        session: requests.Session | None = None,
        pace: Waits | None = None,
    ) -> None:
        super().__init__(base_url, pace or local_pace(token), session)
        self._token = token
        self.credential_url = credential_url.rstrip("/")
        self.origins.add(origin(self.credential_url))

    def _auth(self, headers: dict[str, str]) -> None:
        headers["access_token"] = self._token
        return None

    def _error_text(self, response: requests.Response) -> str:
        # Bsale answers {"error": "..."}; keep its words verbatim, they are what its support understands.
        try:
            body = response.json()
        except ValueError:
            return response.text[:500]
        if isinstance(body, dict):
            return str(body.get("error") or body.get("message") or body)[:500]
        return str(body)[:500]

    # -- reads ----------------------------------------------------------------------------------------------
    # Each imports its models (bridge/models/bsale.py) itself: the order worker holds a BsaleClient for documents
    # and stock movements and reads none of these, the panel only when a shop connects (issue 12: cold start).
    def instance(self) -> Instance:
        """The company behind the token (its id is the `cpnId` notifications carry)."""
        from bridge.models.bsale import Instance

        return Instance.model_validate(self.get_json(f"{self.credential_url}/v1/instances/basic/{self._token}.json"))

    def office(self, office_id: int) -> Office:
        from bridge.models.bsale import Office

        return Office.model_validate(self._get_one(f"/v1/offices/{office_id}.json", "office", office_id))

    def price_list(self, price_list_id: int) -> PriceList:
        from bridge.models.bsale import PriceList

        return PriceList.model_validate(
            self._get_one(f"/v1/price_lists/{price_list_id}.json", "price list", price_list_id)
        )

    def document_types(self, code_sii: str) -> list[DocumentType]:
        from bridge.models.bsale import DocumentType

        items = self.pages("/v1/document_types.json", {"codesii": code_sii, "state": 0})
        return [DocumentType.model_validate(item) for item in items]

    def available_stock(self, variant_id: str, office_id: str) -> float:
        """Available quantity of one variant in one office: the one read a stock notification needs."""
        from bridge.models.bsale import Stock

        body = self.get_json("/v1/stocks.json", {"variantid": variant_id, "officeid": office_id})
        rows = [Stock.model_validate(item) for item in body.get("items", [])]
        rows = [row for row in rows if row.office.id == str(office_id) and row.variant.id == str(variant_id)]
        if not rows:
            # No stock row reads as none in stock, unless the variant itself is gone (BsaleNotFound): then
            # nothing may be written for it. One more read, only in this rare case.
            self.variant(variant_id)
        return sum(row.quantity_available for row in rows)

    def variant(self, variant_id: str) -> Variant:
        from bridge.models.bsale import Variant

        body = self._get_one(f"/v1/variants/{variant_id}.json", "variant", variant_id, {"expand": "[product]"})
        return Variant.model_validate(body)

    def price(self, price_list_id: str, variant_id: str) -> PriceDetail | None:
        from bridge.models.bsale import PriceDetail

        body = self.get_json(f"/v1/price_lists/{price_list_id}/details.json", {"variantid": variant_id})
        items = [PriceDetail.model_validate(item) for item in body.get("items", [])]
        return next((item for item in items if item.variant.id == str(variant_id)), None)

    def price_of(self, price_list_id: str, variant_id: str) -> float | None:
        detail = self.price(price_list_id, variant_id)
        return detail.variant_value_with_taxes if detail else None

    def document_variant_ids(self, document_id: str) -> list[str]:
        """The variants a sale document moved (its detail lines; gloss lines have none)."""
        ids = []
        for line in self.pages(f"/v1/documents/{document_id}/details.json"):
            variant = line.get("variant") or {}
            if variant.get("id") is not None:
                ids.append(str(variant["id"]))
        return ids

    def variants_by_code(self, code: str) -> list[Variant]:
        from bridge.models.bsale import Variant

        return [Variant.model_validate(v) for v in self.pages("/v1/variants.json", {"code": code,
                                                                                   "expand": "[product]"})]

    def variants_of_product(self, product_id: str) -> list[Variant]:
        from bridge.models.bsale import Variant

        return [Variant.model_validate(v) for v in self.pages("/v1/variants.json", {"productid": product_id,
                                                                                   "expand": "[product]"})]

    def page(self, path: str, offset: int, params: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], bool]:
        """One page of a list endpoint at `offset` (for jobs that checkpoint); True when more pages follow."""
        body = self.get_json(path, {**(params or {}), "limit": PAGE_LIMIT, "offset": offset})
        items = list(body.get("items", []))
        return items, bool(body.get("next")) and len(items) == PAGE_LIMIT

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, 50 a page, while Bsale says a `next` page exists.

        The next page is asked by offset on the shop's own API host, never by following the `next` link: a link
        may name any host, and the token goes with every request. At most MAX_PAGES pages: a listing that never
        ends (or loops) fails instead of running forever.
        """
        for number in range(MAX_PAGES):
            body = self.get_json(path, {**(params or {}), "limit": PAGE_LIMIT, "offset": number * PAGE_LIMIT})
            items = list(body.get("items", []))
            yield from items
            if not body.get("next") or not items:
                return
        raise UpstreamError(self.service, f"{path} has more than {MAX_PAGES} pages; stopped", retryable=False)

    def _get_one(self, path: str, what: str, ident: Any, params: dict[str, Any] | None = None) -> Any:
        try:
            return self.get_json(path, params)
        except UpstreamError as exc:
            if exc.status_code == 404:
                raise BsaleNotFound(what, ident) from exc
            raise
