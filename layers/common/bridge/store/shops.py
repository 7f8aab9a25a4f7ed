"""Shops in DynamoDB: their settings, their notification stamp and stale flag."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from typing import Any

from botocore.exceptions import ClientError

from bridge.errors import BridgeError, UnknownShop, WrongCompany
from bridge.models.shop import Shop
from bridge.store import due, keys
from bridge.store.table import batch_get, client, deserialize, name, query_all, serialize, value

_SHOP_FIELDS = set(Shop.model_fields)


def token_hash(token: str) -> str:
    """What the table keeps of a Bsale notification token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def save(shop: Shop, notify_hash: str, now: int | None = None) -> None:
    """Create or replace a shop's settings, keeping its stamps when it already exists."""
    item = {
        **keys.shop(shop.shop_id),
        **keys.shops_index(shop.shop_id),
        **shop.model_dump(exclude={"last_notification_at", "stale_since", "disconnected_at", "disconnected_reason"}),
        "notify_hash": notify_hash,
    }
    sets = ", ".join(f"#{k} = :{k}" for k in item if k not in ("pk", "sk"))
    settings_write = {"Update": {
        "TableName": name(),
        "Key": serialize(keys.shop(shop.shop_id)),
        # Connecting checked the credentials just now: a shop marked disconnected is connected again.
        "UpdateExpression": f"SET {sets} REMOVE disconnected_at, disconnected_reason",
        "ExpressionAttributeNames": {f"#{k}": k for k in item if k not in ("pk", "sk")},
        "ExpressionAttributeValues": {f":{k}": value(v) for k, v in item.items() if k not in ("pk", "sk")},
    }}
    # New thresholds or periods may make the shop due sooner: the schedule looks at it at its next tick, and in
    # the same transaction, so no crash can leave new settings behind a due time computed from the old ones.
    now = int(time.time()) if now is None else now
    looks = [due.mark_request(shop.shop_id, kind, now) for kind in (due.STALE, due.RECONCILE)] \
        if shop.bsale_account else []
    client().transact_write_items(TransactItems=[settings_write, *looks])


def get(shop_id: str) -> Shop | None:
    found = client().get_item(TableName=name(), Key=serialize(keys.shop(shop_id)), ConsistentRead=True)
    return _shop(found["Item"]) if "Item" in found else None


def require(shop_id: str) -> Shop:
    shop = get(shop_id)
    if shop is None:
        raise UnknownShop(f"no shop '{shop_id}' is connected")
    return shop


def get_many(shop_ids: list[str]) -> dict[str, Shop]:
    """These shops by id (consistent reads, 100 a call); a shop that does not exist is absent."""
    found = [_shop(item) for item in batch_get([keys.shop(s) for s in dict.fromkeys(shop_ids)])]
    return {shop.shop_id: shop for shop in found}


def all_shops() -> list[Shop]:
    items = query_all("gsi1pk = :p", {":p": {"S": keys.SHOPS_PARTITION}}, IndexName=keys.GSI1)
    return [_shop(item) for item in items]


class BadCursor(BridgeError):
    status = 400
    code = "bad_cursor"


def page(limit: int = 100, cursor: str | None = None) -> tuple[list[Shop], str | None]:
    """At most `limit` shops in shop-id order from `cursor` (None: the first), and the next page's cursor.

    One Query of the shops index per page: a fleet of any size is read a page at a time. The cursor is
    DynamoDB's LastEvaluatedKey, opaque to callers; None means there is no next page (DynamoDB may still
    hand one back at the exact end: that page is then empty)."""
    if not 1 <= limit <= 1000:
        raise BadCursor("a page holds 1 to 1000 shops")
    kwargs: dict[str, Any] = {"TableName": name(), "IndexName": keys.GSI1, "Limit": limit,
                              "KeyConditionExpression": "gsi1pk = :p",
                              "ExpressionAttributeValues": {":p": {"S": keys.SHOPS_PARTITION}}}
    if cursor:
        kwargs["ExclusiveStartKey"] = _start_key(cursor)
    answer = client().query(**kwargs)
    last = answer.get("LastEvaluatedKey")
    following = base64.urlsafe_b64encode(json.dumps(deserialize(last)).encode()).decode() if last else None
    return [_shop(item) for item in answer.get("Items", [])], following


def _start_key(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as exc:
        raise BadCursor("not a cursor this command printed") from exc
    if not isinstance(key, dict) or set(key) != {"pk", "sk", "gsi1pk", "gsi1sk"} or \
            key["gsi1pk"] != keys.SHOPS_PARTITION or not all(isinstance(v, str) for v in key.values()):
        raise BadCursor("not a cursor this command printed")
    return serialize(key)


def stamp_notification(shop_id: str, notify_hash: str, cpn_id: int, now: int) -> None:
    """Record that Bsale just notified this shop and clear its stale flag, in one conditional write.

    The condition is the authentication: the token's hash must be the shop's and the company its own.
    Nothing is written when it fails.
    """
    try:
        client().update_item(
            TableName=name(),
            Key=serialize(keys.shop(shop_id)),
            UpdateExpression="SET last_notification_at = :now REMOVE stale_since",
            ConditionExpression="notify_hash = :h AND cpn_id = :c",
            ExpressionAttributeValues={":now": value(now), ":h": value(notify_hash), ":c": value(cpn_id)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        old = deserialize(dict(exc.response.get("Item", {})))  # type: ignore[call-overload]
        if old.get("notify_hash") == notify_hash:
            raise WrongCompany(f"cpnId {cpn_id} is not the Bsale company of this shop") from exc
        raise UnknownShop("unknown notification token") from exc


def flag_stale(shop_id: str, since: int) -> bool:
    """Flag a shop as not receiving updates; False when it already was (or notified meanwhile)."""
    try:
        client().update_item(
            TableName=name(),
            Key=serialize(keys.shop(shop_id)),
            UpdateExpression="SET stale_since = :s",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(stale_since)",
            ExpressionAttributeValues={":s": value(since)},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def mark_disconnected(shop_id: str, reason: str, now: int) -> None:
    """Jumpseller stopped accepting the shop's app tokens: keep why and when (status shows it; workers skip it)."""
    try:
        client().update_item(
            TableName=name(),
            Key=serialize(keys.shop(shop_id)),
            UpdateExpression="SET disconnected_at = if_not_exists(disconnected_at, :now), disconnected_reason = :r",
            ConditionExpression="attribute_exists(pk)",  # a shop not connected to Bsale yet has no record
            ExpressionAttributeValues={":now": value(now), ":r": value(reason)},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def mark_reconnected(shop_id: str) -> None:
    """The app was installed again: the shop is called again, and reconciled at the schedule's next tick."""
    try:
        client().update_item(
            TableName=name(), Key=serialize(keys.shop(shop_id)),
            UpdateExpression="REMOVE disconnected_at, disconnected_reason", ConditionExpression="attribute_exists(pk)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return
    # While disconnected the schedule looked at the shop once a period; a crash here delays its reconcile by at
    # most that period (the item is never later than one period ahead).
    due.mark(shop_id, due.RECONCILE, int(time.time()))


def record_event(shop_id: str, kind: str, ident: str, body: dict[str, Any], now: int, ttl_days: int = 30) -> None:
    """Keep an accepted event the current workers do not act on, so nothing accepted is lost silently."""
    item = {**keys.event(shop_id, kind, ident), "body": body, "at": now, "expires_at": now + ttl_days * 86400}
    client().put_item(TableName=name(), Item=serialize(item))


def _shop(item: dict[str, Any]) -> Shop:
    data = deserialize(item)
    return Shop.model_validate({k: v for k, v in data.items() if k in _SHOP_FIELDS})


def events(shop_id: str, kind: str, limit: int = 20) -> list[dict[str, Any]]:
    """The latest recorded events of a kind ("problem": what the catalog worker could not apply)."""
    prefix = keys.event(shop_id, kind, "")
    page = client().query(
        TableName=name(), Limit=limit, ScanIndexForward=False,
        KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        ExpressionAttributeValues={":p": {"S": prefix["pk"]}, ":s": {"S": prefix["sk"]}},
    )
    return [deserialize(item) for item in page.get("Items", [])]
