"""Jumpseller orders as the order flow uses them: read one, attach a document, add a history note.

Bodies follow the official OpenAPI file (reference/jumpseller.md §3.4): `{"document": {...}}` with
`document_type` 1 (invoice: boleta or factura) or 0 (credit note), and `{"order_history": {"message": ...}}`.
Neither POST is deduplicated by Jumpseller, so callers look at what the order already has first.
"""

from __future__ import annotations

from typing import Any

from bridge.clients.jumpseller import JumpsellerClient

INVOICE = 1
CREDIT_NOTE = 0


def order(jumpseller: JumpsellerClient, order_id: int) -> dict[str, Any]:
    """The order as `GET /orders/{id}.json` gives it (unwrapped)."""
    body = jumpseller.get_json(f"/orders/{order_id}.json")
    return dict(body.get("order", body)) if isinstance(body, dict) else {}


def documents(jumpseller: JumpsellerClient, order_id: int) -> list[dict[str, Any]]:
    items = jumpseller.get_json(f"/orders/{order_id}/documents.json")
    return [dict(i.get("document", i)) for i in items if isinstance(i, dict)]


def attach_document(
    jumpseller: JumpsellerClient, order_id: int, *, document_type: int, external_id: str, public_id: str,
    url: str | None,
) -> None:
    fields: dict[str, Any] = {"document_type": document_type, "external_id": external_id, "public_id": public_id,
                              "order_id": order_id}
    if url:
        fields["url"] = url
    jumpseller.request("POST", f"/orders/{order_id}/documents.json", json={"document": fields})


def history(jumpseller: JumpsellerClient, order_id: int) -> list[dict[str, Any]]:
    items = jumpseller.get_json(f"/orders/{order_id}/history.json")
    return [dict(i.get("order_history", i)) for i in items if isinstance(i, dict)]


def add_history(jumpseller: JumpsellerClient, order_id: int, message: str) -> None:
    jumpseller.request("POST", f"/orders/{order_id}/history.json", json={"order_history": {"message": message}})
