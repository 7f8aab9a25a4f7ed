"""Stock held by Jumpseller orders pending payment (F6), applied to the links' `held` exactly once per order.

Jumpseller takes stock when an order is created; Bsale hears of it only when the order is paid (document or
consumption). Meanwhile the units are "held": the stock pushed to Jumpseller is Bsale's available minus them.

Each order gets one hold item (`HOLD#<order>`) listing what it holds per Bsale variant. Holding writes that
item (only if absent) and ADDs the quantities to the links in ONE transaction; releasing flips the item to
`released` (only if `held`) and subtracts them in one transaction. So a duplicate `order_pending_payment`
holds nothing more, a second release releases nothing, and a release that comes first (paid or canceled
before the pending event arrived) leaves a `released` item that makes the late pending event a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from bridge.store import keys, links
from bridge.store.table import client, deserialize, name, query_prefix, serialize, value

HELD = "held"
RELEASED = "released"
_ATTEMPTS = 5


def get(shop_id: str, order_id: int) -> dict[str, Any] | None:
    found = client().get_item(TableName=name(), Key=serialize(keys.hold(shop_id, order_id)), ConsistentRead=True)
    return deserialize(found["Item"]) if "Item" in found else None


def hold(shop_id: str, order_id: int, lines: Mapping[str, int], skus: Mapping[str, str], now: int) -> bool:
    """Hold `lines` (Bsale variant id → units) for the order; False when it already has a hold item."""
    wanted = {variant: qty for variant, qty in lines.items() if qty > 0}
    for _ in range(_ATTEMPTS):
        item = {**keys.hold(shop_id, order_id), "state": HELD, "lines": wanted,
                "skus": {v: skus.get(v, "") for v in wanted}, "held_at": now}
        transaction = [{"Put": {"TableName": name(), "Item": serialize(item),
                                "ConditionExpression": "attribute_not_exists(pk)"}}]
        transaction += [_link_update(shop_id, variant, qty) for variant, qty in wanted.items()]
        reasons = _transact(transaction)
        if reasons is None:
            return True
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False  # already held (or already released): nothing more to do
        # A link vanished meanwhile (unlinked): hold the rest only; on a conflict just try again.
        gone = {v for v, r in zip(wanted, reasons[1:], strict=False) if r == "ConditionalCheckFailed"}
        wanted = {v: q for v, q in wanted.items() if v not in gone}
        time.sleep(0.05)
    raise RuntimeError(f"could not record the hold of order {order_id}")


def release(shop_id: str, order_id: int, reason: str, now: int) -> bool:
    """Give back what the order holds; True only for the call that released it.

    With no hold item yet (the pending event is late or lost), a `released` one is written so that a late
    pending event holds nothing.
    """
    for _ in range(_ATTEMPTS):
        current = get(shop_id, order_id)
        if current is None:
            tombstone = {**keys.hold(shop_id, order_id), "state": RELEASED, "lines": {}, "released_at": now,
                         "release_reason": reason}
            try:
                client().put_item(TableName=name(), Item=serialize(tombstone),
                                  ConditionExpression="attribute_not_exists(pk)")
                return False  # nothing was held
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue  # the pending event just held: release that
        if current.get("state") != HELD:
            return False
        lines = {str(v): int(q) for v, q in (current.get("lines") or {}).items()}
        transaction: list[dict[str, Any]] = [{"Update": {
            "TableName": name(), "Key": serialize(keys.hold(shop_id, order_id)),
            "UpdateExpression": "SET #s = :released, released_at = :now, release_reason = :why",
            "ConditionExpression": "#s = :held",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {":released": value(RELEASED), ":held": value(HELD), ":now": value(now),
                                          ":why": value(reason)},
        }}]
        transaction += [_link_release(shop_id, variant, qty) for variant, qty in lines.items()]
        reasons = _transact(transaction)
        if reasons is None:
            return True
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False  # released meanwhile by another event
        for variant, code in zip(lines, reasons[1:], strict=False):
            if code == "ConditionalCheckFailed":
                _settle_link(shop_id, variant, order_id, now)
        time.sleep(0.05)
    raise RuntimeError(f"could not release the hold of order {order_id}")


def _transact(transaction: list[dict[str, Any]]) -> list[str] | None:
    """Write the items together: None once written, else why DynamoDB cancelled it (one reason per item)."""
    try:
        client().transact_write_items(TransactItems=transaction)
        return None
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])]


def _link_update(shop_id: str, variant_id: str, qty: int) -> dict[str, Any]:
    return {"Update": {
        "TableName": name(), "Key": serialize(keys.link(shop_id, variant_id)),
        "UpdateExpression": "ADD held :q", "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {":q": value(qty)},
    }}


def _link_release(shop_id: str, variant_id: str, qty: int) -> dict[str, Any]:
    # Never below zero: a link re-made since the hold starts again at 0.
    return {"Update": {
        "TableName": name(), "Key": serialize(keys.link(shop_id, variant_id)),
        "UpdateExpression": "ADD held :neg",
        "ConditionExpression": "attribute_exists(pk) AND held >= :q",
        "ExpressionAttributeValues": {":neg": value(-qty), ":q": value(qty)},
    }}


def _settle_link(shop_id: str, variant_id: str, order_id: int, now: int) -> None:
    """A link the release cannot subtract from: gone (drop it from the hold) or holding less (zero it)."""
    link = links.get(shop_id, variant_id)
    if link is None:
        client().update_item(
            TableName=name(), Key=serialize(keys.hold(shop_id, order_id)),
            UpdateExpression="REMOVE #l.#v", ExpressionAttributeNames={"#l": "lines", "#v": variant_id},
        )
        return
    try:
        client().update_item(
            TableName=name(), Key=serialize(keys.link(shop_id, variant_id)),
            UpdateExpression="SET held = :zero", ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":zero": value(0)},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    # The hold item then releases 0 units of that variant.
    client().update_item(
        TableName=name(), Key=serialize(keys.hold(shop_id, order_id)),
        UpdateExpression="SET #l.#v = :zero", ExpressionAttributeNames={"#l": "lines", "#v": variant_id},
        ExpressionAttributeValues={":zero": value(0)},
    )


def held_by_sku(shop_id: str) -> dict[str, int]:
    """Units held per SKU, as the stock push uses them (the links' `held`)."""
    held: dict[str, int] = {}
    for link in links.all_links(shop_id, links.HELD):
        if link.held:
            held[link.sku] = held.get(link.sku, 0) + link.held
    return dict(sorted(held.items()))


def active(shop_id: str) -> list[dict[str, Any]]:
    """Hold items still holding (one per pending order)."""
    items = query_prefix(keys.holds_partition(shop_id), keys.hold_prefix(), ConsistentRead=True)
    return [i for i in map(deserialize, items) if i.get("state") == HELD]


def variant_ids_of(shop_id: str, order_id: int) -> list[str]:
    """The Bsale variants an order holds or held (its hold item's lines, kept after release)."""
    item = get(shop_id, order_id)
    return sorted(str(v) for v in ((item or {}).get("lines") or {}))


def order_variants(shop_id: str, order_id: int, skus: Iterable[str] = ()) -> list[str]:
    """The linked variants an order names: those it holds or held, and those of its SKUs linked now."""
    variant_ids = set(variant_ids_of(shop_id, order_id))
    for sku in skus:
        found = links.by_sku(shop_id, sku)
        if len(found) == 1:
            variant_ids.add(found[0].variant_id)
    return sorted(variant_ids)
