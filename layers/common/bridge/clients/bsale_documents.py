"""Bsale documents, returns and stock movements, as the order flow uses them (reference/bsale.md §3.3, §8-§10).

Functions over a shop's BsaleClient (its token, its pace, its retries). Which POSTs may be repeated:
- documents: yes, Bsale deduplicates by `salesId` within a document type (201 new, 200 the existing one), so
  they are sent with `retry_unsafe=True` and a replay is reported as such;
- returns, consumptions, receptions: no deduplication is documented, so they are sent once per call and the
  caller looks for an earlier one first (returns by `referencedocumentid`, receptions by `documentnumber`,
  consumptions by their note).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.clients.bsale import BsaleClient

if TYPE_CHECKING:
    from bridge.models.bsale import Variant

# A consumption can only be found by reading the office's consumptions (no documented filter by note);
# beyond this many the search gives up and says so, rather than risk a second consumption.
MAX_CONSUMPTIONS_SCANNED = 2500


@dataclass(frozen=True)
class Posted:
    body: dict[str, Any]
    replayed: bool  # Bsale answered 200: it already had this document (same salesId and type)


def create_document(bsale: BsaleClient, body: dict[str, Any]) -> Posted:
    response = bsale.request("POST", "/v1/documents.json", json=body, retry_unsafe=True)
    return Posted(dict(response.json()), replayed=response.status_code == 200)


def document(bsale: BsaleClient, document_id: int) -> dict[str, Any]:
    return dict(bsale.get_json(f"/v1/documents/{document_id}.json"))


def document_details(bsale: BsaleClient, document_id: int) -> list[dict[str, Any]]:
    """Every line of a document (paged: `expand=[details]` was not reliable live, bsale.md §8.5)."""
    return list(bsale.pages(f"/v1/documents/{document_id}/details.json"))


def returns_of(bsale: BsaleClient, document_id: int) -> list[dict[str, Any]]:
    return list(bsale.pages("/v1/returns.json", {"referencedocumentid": document_id}))


def create_return(bsale: BsaleClient, body: dict[str, Any]) -> dict[str, Any]:
    return dict(bsale.request("POST", "/v1/returns.json", json=body).json())


def create_consumption(bsale: BsaleClient, body: dict[str, Any]) -> dict[str, Any]:
    return dict(bsale.request("POST", "/v1/stocks/consumptions.json", json=body).json())


def find_consumption(bsale: BsaleClient, office_id: int, note: str) -> tuple[dict[str, Any] | None, bool]:
    """(the office's consumption with exactly this note or None, whether every consumption was read)."""
    for seen, item in enumerate(bsale.pages("/v1/stocks/consumptions.json", {"officeid": office_id})):
        if seen >= MAX_CONSUMPTIONS_SCANNED:
            return None, False
        if str(item.get("note") or "") == note:
            return dict(item), True
    return None, True


def create_reception(bsale: BsaleClient, body: dict[str, Any]) -> dict[str, Any]:
    return dict(bsale.request("POST", "/v1/stocks/receptions.json", json=body).json())


def receptions_numbered(bsale: BsaleClient, document_number: str) -> list[dict[str, Any]]:
    return list(bsale.pages("/v1/stocks/receptions.json", {"documentnumber": document_number}))


def variants_with_code(bsale: BsaleClient, code: str) -> list[Variant]:
    from bridge.models.bsale import Variant  # only for a SKU the catalog has not linked (issue 12: cold start)

    return [Variant.model_validate(item) for item in bsale.pages("/v1/variants.json", {"code": code})]


def documents_informed(bsale: BsaleClient, informed: int, office_id: int, first_day: int, last_day: int,
                       max_pages: int) -> tuple[list[dict[str, Any]], bool, int]:
    """The office's documents emitted between two days (unix times) in one SII state (`informedsii`: 0 accepted,
    1 sent, 2 rejected), at most `max_pages` pages: (items, whether every one was read, calls made)."""
    from bridge.clients.bsale import PAGE_LIMIT

    params = {"informedsii": informed, "officeid": office_id, "emissiondaterange": f"[{first_day},{last_day}]"}
    items: list[dict[str, Any]] = []
    for page in range(max_pages):
        found, more = bsale.page("/v1/documents.json", page * PAGE_LIMIT, params)
        items += found
        if not more:
            return items, True, page + 1
    return items, False, max_pages
