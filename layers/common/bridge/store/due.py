"""When the schedule must next look at each shop: one "due" item per shop and kind, read by a query on time.

The schedule tick never reads every shop. Each shop has up to three due items (`SHOP#<shop>` / `DUE#<kind>`),
indexed in gsi1 under `DUE#<kind>` by the epoch they come due, and a tick queries each kind for `at <= now`
(bridge/ops/stale.py, bridge/sync/schedule.py). The rule that keeps a shop from ever being missed:

    an item's `at` is never later than the moment its shop truly becomes due.

So an item may come due early (the tick reads the shop, finds it is not due yet and moves the item to when it
will be), never late. Whatever can make a shop due sooner writes its item at `now`: saving a shop's settings
(a shorter threshold or period: in the same transaction as the settings), a document the SII must decide, an app
installed again. Stamping a Bsale notification writes nothing here (it only makes the shop due later), so the
acknowledgement keeps its one UpdateItem.

Every write gives the item a fresh `token`; the tick moves or drops an item only if its token is the one it read,
so a reset made meanwhile (settings saved during the tick) is never overwritten by a decision taken on older data.
The index is eventually consistent: an item written a moment before a tick may be seen only by the next tick, and
an outdated copy carries an outdated token, so nothing is moved or dropped on it.

Deployments older than these items: `backfill_once` (run by the schedule at the start of every tick, a GetItem of
the marker once done) writes every shop's three items at `now` and then the marker; interrupted, the next tick
does it again (idempotent: `now` is never later than the truth).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from bridge.store import keys
from bridge.store.table import batch_put, client, deserialize, name, query_all, serialize, value

STALE, RECONCILE, SII = "stale", "reconcile", "sii"
KINDS = (STALE, RECONCILE, SII)


@dataclass(frozen=True)
class Due:
    shop_id: str
    kind: str
    at: int
    token: str


def _item(shop_id: str, kind: str, at: int) -> dict[str, Any]:
    return {**keys.due(shop_id, kind), **keys.due_index(kind, at), "shop_id": shop_id, "kind": kind, "at": at,
            "token": uuid.uuid4().hex}


def _due(item: dict[str, Any]) -> Due:
    data = deserialize(item)
    return Due(str(data["shop_id"]), str(data["kind"]), int(data["at"]), str(data["token"]))


def mark(shop_id: str, kind: str, at: int) -> None:
    """Look at this shop for `kind` from `at` on (unconditional: use it only with an `at` no later than the truth)."""
    client().put_item(TableName=name(), Item=serialize(_item(shop_id, kind, at)))


def mark_request(shop_id: str, kind: str, at: int) -> dict[str, Any]:
    """The same write as `mark`, as one part of a TransactWriteItems."""
    return {"Put": {"TableName": name(), "Item": serialize(_item(shop_id, kind, at))}}


def get(shop_id: str, kind: str) -> Due | None:
    found = client().get_item(TableName=name(), Key=serialize(keys.due(shop_id, kind)), ConsistentRead=True)
    return _due(found["Item"]) if "Item" in found else None


def listed(kind: str, now: int) -> list[Due]:
    """Every item of `kind` due at `now` (at <= now): one Query of the due index, nothing else read."""
    partition, below = keys.due_before(kind, now)
    items = query_all("gsi1pk = :k AND gsi1sk < :b", {":k": {"S": partition}, ":b": {"S": below}},
                      IndexName=keys.GSI1)
    return [_due(item) for item in items]


def move(seen: Due, at: int) -> bool:
    """Move an item the tick read to `at`, unless it was written since (then it stays as that write left it)."""
    item = _item(seen.shop_id, seen.kind, at)
    try:
        client().update_item(
            TableName=name(), Key=serialize(keys.due(seen.shop_id, seen.kind)),
            UpdateExpression="SET gsi1sk = :sk, #at = :at, #token = :new",
            ConditionExpression="#token = :seen",
            ExpressionAttributeNames={"#at": "at", "#token": "token"},
            ExpressionAttributeValues={":sk": value(item["gsi1sk"]), ":at": value(at), ":new": value(item["token"]),
                                       ":seen": value(seen.token)},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def drop(seen: Due) -> bool:
    """Delete an item that no longer applies, unless it was written since it was read."""
    try:
        client().delete_item(TableName=name(), Key=serialize(keys.due(seen.shop_id, seen.kind)),
                             ConditionExpression="#token = :seen", ExpressionAttributeNames={"#token": "token"},
                             ExpressionAttributeValues={":seen": value(seen.token)})
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def backfilled() -> bool:
    found = client().get_item(TableName=name(), Key=serialize(keys.due_backfill_marker()), ConsistentRead=True)
    return "Item" in found


def backfill_once(now: int) -> int:
    """Give every shop saved before due items existed its three, at `now`; then the marker. Returns the shops done
    (0 once the marker is there: one GetItem)."""
    if backfilled():
        return 0
    partition = {":p": {"S": keys.SHOPS_PARTITION}}
    shop_ids = [deserialize(item)["gsi1sk"] for item in
                query_all("gsi1pk = :p", partition, IndexName=keys.GSI1, ProjectionExpression="gsi1sk")]
    batch_put([_item(str(shop_id), kind, now) for shop_id in shop_ids for kind in KINDS])
    client().put_item(TableName=name(), Item=serialize({**keys.due_backfill_marker(), "at": now,
                                                         "shops": len(shop_ids)}))
    return len(shop_ids)
