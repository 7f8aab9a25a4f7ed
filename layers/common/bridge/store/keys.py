"""The one place that knows the table's key layout (single table, generic pk / sk and one GSI)."""

from __future__ import annotations

GSI1 = "gsi1"  # generic second index: shops by partition SHOPS, links by SKU
SHOPS_PARTITION = "SHOPS"


def shop(shop_id: str) -> dict[str, str]:
    return {"pk": f"SHOP#{shop_id}", "sk": "SHOP"}


def links_partition(shop_id: str) -> str:
    """Links have a partition of their own: a catalog of 10,000 SKUs is read whole, and nothing else with it."""
    return f"SHOP#{shop_id}#LINKS"


def link(shop_id: str, variant_id: str) -> dict[str, str]:
    """A Bsale variant linked to a Jumpseller product or variant, keyed by the id notifications carry."""
    return {"pk": links_partition(shop_id), "sk": f"LINK#{variant_id}"}


def link_prefix() -> str:
    return "LINK#"


def sku_index(shop_id: str, sku: str) -> dict[str, str]:
    """Secondary key of a link item, to find it by SKU (orders and Jumpseller events speak SKU)."""
    return {"gsi1pk": f"SHOP#{shop_id}#SKU", "gsi1sk": sku}


GSI2 = "gsi2"  # links by Jumpseller product (keys only)


def js_product_index(shop_id: str, product_id: int) -> dict[str, str]:
    """Tertiary key of a link item: every link into one Jumpseller product (its variants, or itself)."""
    return {"gsi2pk": f"SHOP#{shop_id}#JSP#{product_id}", "gsi2sk": "LINK"}


def unlinked_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#UNLINKED"


def unlinked(shop_id: str, variant_id: str) -> dict[str, str]:
    return {"pk": unlinked_partition(shop_id), "sk": f"UNLINKED#{variant_id}"}


def job(shop_id: str, kind: str) -> dict[str, str]:
    """The state of a shop's bulk job (reconcile, manual sync): one per kind, with its checkpoint."""
    return {"pk": f"SHOP#{shop_id}", "sk": f"JOB#{kind}"}


def job_chunk(shop_id: str, kind: str, run: str, part: str) -> dict[str, str]:
    """A piece of what a running job has read (a page of Jumpseller products...), to resume without re-reading."""
    return {"pk": f"SHOP#{shop_id}#JOBDATA#{kind}#{run}", "sk": part}


def rate(shop_id: str, api: str) -> dict[str, str]:
    """The shop's rolling-window quota log for one API (bridge.store.rate)."""
    return {"pk": f"SHOP#{shop_id}", "sk": f"RATE#{api}"}


def shops_index(shop_id: str) -> dict[str, str]:
    return {"gsi1pk": SHOPS_PARTITION, "gsi1sk": shop_id}


def event(shop_id: str, kind: str, ident: str) -> dict[str, str]:
    """A record of an event accepted but not acted upon yet (topics later issues handle)."""
    return {"pk": f"SHOP#{shop_id}", "sk": f"EVENT#{kind}#{ident}"}


def dead_letter(shop_id: str, queue: str, message_id: str) -> dict[str, str]:
    """A message of this shop that its worker failed for the last time, so SQS dead-letters it.

    In the shop's own partition: `status` counts a shop's dead letters with one small Query, never receiving them.
    Deleted when the message is replayed or purged; expires with the dead-letter queue's retention."""
    return {"pk": f"SHOP#{shop_id}", "sk": f"DEADLETTER#{queue}#{message_id}"}


def dead_letter_prefix(queue: str = "") -> str:
    return f"DEADLETTER#{queue}#" if queue else "DEADLETTER#"


def orders_partition(shop_id: str) -> str:
    """Order state records have a partition of their own (a shop's orders are listed without its links)."""
    return f"SHOP#{shop_id}#ORDERS"


def order(shop_id: str, order_id: int) -> dict[str, str]:
    """The state record of one Jumpseller order (documents, consumption, cancellation): one per shop and order.

    Kept for good: it is what makes a replay or a late event months later do nothing."""
    return {"pk": orders_partition(shop_id), "sk": f"ORDER#{order_id}"}


def order_prefix() -> str:
    return "ORDER#"


def holds_partition(shop_id: str) -> str:
    return f"SHOP#{shop_id}#HOLDS"


def hold(shop_id: str, order_id: int) -> dict[str, str]:
    """What one pending order holds, per Bsale variant; applied to the links' `held` once, released once."""
    return {"pk": holds_partition(shop_id), "sk": f"HOLD#{order_id}"}


def hold_prefix() -> str:
    return "HOLD#"


def sii_watch(shop_id: str, document_id: int) -> dict[str, str]:
    """A document the bridge made whose SII verdict is not final yet (F19): deleted once it is."""
    return {"pk": f"SHOP#{shop_id}#SII", "sk": f"DOC#{document_id}"}


def sii_watch_prefix() -> str:
    return "DOC#"


def due(shop_id: str, kind: str) -> dict[str, str]:
    """When the schedule must next look at this shop for `kind` (stale, reconcile, sii): one item each."""
    return {"pk": f"SHOP#{shop_id}", "sk": f"DUE#{kind}"}


def due_index(kind: str, at: int) -> dict[str, str]:
    """Secondary key of a due item: one partition per kind, sorted by the epoch it comes due (zero-padded, so
    the string order is the time order), so the schedule reads only what is due with one Query."""
    return {"gsi1pk": f"DUE#{kind}", "gsi1sk": f"{max(0, at):012d}"}


def due_before(kind: str, now: int) -> tuple[str, str]:
    """The due index's partition and the sort key below which everything is due at `now`."""
    return f"DUE#{kind}", f"{max(0, now) + 1:012d}"


def due_backfill_marker() -> dict[str, str]:
    """Written once the due items of every shop saved before they existed have been made (store/due.py)."""
    return {"pk": "DUE", "sk": "BACKFILL#1"}


def oauth_state(nonce: str) -> dict[str, str]:
    """An app install in progress (F17): its state is used once, then deleted; TTL removes the abandoned ones."""
    return {"pk": f"OAUTHSTATE#{nonce}", "sk": "STATE"}


def product_event(shop_id: str, product_id: int) -> dict[str, str]:
    """The catalog the last Jumpseller event accepted for one product said (bridge.store.product_events)."""
    return {"pk": f"SHOP#{shop_id}#JSEVENTS", "sk": f"PRODUCT#{product_id}"}
