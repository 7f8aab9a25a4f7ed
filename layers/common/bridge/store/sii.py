"""Documents the bridge made whose SII verdict is not final yet (F19): one item each, in a partition of their own.

The schedule's watch reads only this partition (the outstanding documents, not every order a shop ever had).
An item is written when the document is recorded (idempotent: keyed by the Bsale document id), takes its verdict
once (`decide`: the first attempt to see a rejection counts it; a replay finds it decided) and is deleted once
the verdict has been applied to the order.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from bridge.store import keys
from bridge.store.table import client, deserialize, name, query_prefix, serialize, value


class Watched(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    document_id: int
    order_id: int
    kind: str  # boleta | factura | nota de crédito
    emitted_at: int  # the document's emissionDate (what Bsale's list filters by)
    made_at: int  # when the bridge recorded it (the overdue limit counts from here)
    checked_at: int | None = None  # last read one by one (the fallback when the lists were too long)
    verdict: str | None = None  # accepted | rejected, once decided (applied to the order, then deleted)
    message: str | None = None  # the SII's words with a rejection
    overdue_at: int | None = None  # flagged as not final past the shop's limit


def _conditional(**request: Any) -> bool:
    try:
        client().update_item(TableName=name(), **request)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def watch(shop_id: str, item: Watched) -> bool:
    """Start following a document; False when it is followed already (a replayed step)."""
    row = {**keys.sii_watch(shop_id, item.document_id), **item.model_dump(mode="json", exclude_none=True)}
    try:
        client().put_item(TableName=name(), Item=serialize(row), ConditionExpression="attribute_not_exists(pk)")
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def outstanding(shop_id: str) -> list[Watched]:
    partition = keys.sii_watch(shop_id, 0)["pk"]
    items = query_prefix(partition, keys.sii_watch_prefix(), ConsistentRead=True)
    return [Watched.model_validate(deserialize(item)) for item in items]


def decide(shop_id: str, document_id: int, verdict: str, message: str | None, now: int) -> bool:
    """Record the verdict once: True only for the first caller (who counts it)."""
    sets = "SET verdict = :v, decided_at = :now" + (", message = :m" if message is not None else "")
    values = {":v": value(verdict), ":now": value(now)} | ({":m": value(message)} if message is not None else {})
    return _conditional(Key=serialize(keys.sii_watch(shop_id, document_id)), UpdateExpression=sets,
                        ConditionExpression="attribute_exists(pk) AND attribute_not_exists(verdict)",
                        ExpressionAttributeValues=values)


def flag_overdue(shop_id: str, document_id: int, now: int) -> bool:
    """Flag a document still not final past its limit, once: True only for the first caller."""
    return _conditional(Key=serialize(keys.sii_watch(shop_id, document_id)), UpdateExpression="SET overdue_at = :now",
                        ConditionExpression="attribute_exists(pk) AND attribute_not_exists(overdue_at)",
                        ExpressionAttributeValues={":now": value(now)})


def checked(shop_id: str, document_id: int, now: int) -> None:
    _conditional(Key=serialize(keys.sii_watch(shop_id, document_id)), UpdateExpression="SET checked_at = :now",
                 ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":now": value(now)})


def forget(shop_id: str, document_id: int) -> None:
    client().delete_item(TableName=name(), Key=serialize(keys.sii_watch(shop_id, document_id)))
