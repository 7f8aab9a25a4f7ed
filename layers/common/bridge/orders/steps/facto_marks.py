"""What the rest of the order code knows of Facto without loading Facto's emission (`facto_document`: its SOAP
client and document rules), which only the few shops that emit with Facto need: kept out of every order worker's
cold start (issue 12)."""

from __future__ import annotations

from bridge.models.order_record import OrderRecord

PROVIDER = "facto"  # the shop's document provider, as recorded on its intents and documents
UNKNOWN = "facto_unknown"  # Facto may hold a document the order does not record
DRAFT = "facto_draft"  # Facto kept a draft it did not send to the SII


def is_facto(record: OrderRecord) -> bool:
    """The step the order is on (its intent) goes through Facto."""
    return (record.intent or {}).get("provider") == PROVIDER
