"""DynamoDB access shared by the repositories: the table, and plain-Python values in and out."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bridge import aws
from bridge.settings import settings

_ser = TypeSerializer()
_de = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(_to_dynamo(v)) for k, v in item.items() if v is not None}


def value(v: Any) -> Any:
    return _ser.serialize(_to_dynamo(v))


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_de.deserialize(v)) for k, v in item.items()}


def name() -> str:
    return settings().table_name


def client() -> Any:
    return aws.client("dynamodb")


def query_all(condition: str, values: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    """Every item a Query matches, page after page, as raw DynamoDB items (`options`: IndexName, Limit...)."""
    return [item for page in query_pages(condition, values, **options) for item in page]


def query_pages(condition: str, values: dict[str, Any], **options: Any) -> Iterator[list[dict[str, Any]]]:
    """The pages of raw items a Query matches, one at a time (a caller that converts them keeps one page raw)."""
    kwargs: dict[str, Any] = {"TableName": name(), "KeyConditionExpression": condition,
                              "ExpressionAttributeValues": values, **options}
    while True:
        page = client().query(**kwargs)
        yield page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_prefix(partition: str, prefix: str, **options: Any) -> list[dict[str, Any]]:
    """Every item of a partition whose sort key starts with `prefix`, as raw DynamoDB items."""
    return query_all("pk = :p AND begins_with(sk, :s)", {":p": {"S": partition}, ":s": {"S": prefix}}, **options)


def batch_get(item_keys: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The items of these keys that exist (consistent reads), 100 keys a call, as raw DynamoDB items."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(item_keys), 100):
        pending: dict[str, Any] = {name(): {"Keys": [serialize(k) for k in item_keys[start:start + 100]],
                                           "ConsistentRead": True}}
        while pending:
            answer = client().batch_get_item(RequestItems=pending)
            found += answer.get("Responses", {}).get(name(), [])
            pending = answer.get("UnprocessedKeys") or {}
    return found


def batch_put(items: list[dict[str, Any]]) -> None:
    """Put these (plain) items, 25 a call, retrying what DynamoDB left unprocessed."""
    for start in range(0, len(items), 25):
        pending: dict[str, Any] = {name(): [{"PutRequest": {"Item": serialize(i)}} for i in items[start:start + 25]]}
        while pending:
            pending = client().batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
