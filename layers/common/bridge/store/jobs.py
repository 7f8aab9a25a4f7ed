"""Bulk jobs of a shop (reconcile, manual sync): one record per kind, a lease, a checkpoint, the last result.

A job runs in slices: each invocation holds the lease, works until its time budget, saves a checkpoint and
queues its continuation. Pieces of what it has read (a page of products) are kept as chunks, so a slice
resumes without reading them again. A lease that outlives its invocation (crash, timeout) can be taken over.
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from typing import Any

from botocore.exceptions import ClientError

from bridge.store import keys
from bridge.store.table import batch_get, client, deserialize, name, query_prefix, serialize, value

LEASE_SECONDS = 960  # longer than one invocation (900 s): a live slice is never taken over
CHUNK_TTL = 2 * 86400


def pack(data: Any) -> str:
    return base64.b64encode(zlib.compress(json.dumps(data, separators=(",", ":")).encode())).decode()


def unpack(text: str) -> Any:
    return json.loads(zlib.decompress(base64.b64decode(text)))


def get(shop_id: str, kind: str) -> dict[str, Any] | None:
    found = client().get_item(TableName=name(), Key=serialize(keys.job(shop_id, kind)), ConsistentRead=True)
    return deserialize(found["Item"]) if "Item" in found else None


def get_many(shop_ids: list[str], kind: str) -> dict[str, dict[str, Any]]:
    """The job records of `kind` of these shops (consistent reads, 100 a call), by shop id."""
    found = [deserialize(item) for item in batch_get([keys.job(s, kind) for s in dict.fromkeys(shop_ids)])]
    return {str(record["pk"]).removeprefix("SHOP#"): record for record in found}


def start(shop_id: str, kind: str, run: str, params: dict[str, Any], now: int) -> bool:
    """Begin a new run unless one is running under a live lease. The last result is kept until replaced."""
    try:
        client().update_item(
            TableName=name(),
            Key=serialize(keys.job(shop_id, kind)),
            UpdateExpression="SET run_id = :r, #s = :running, params = :p, started_at = :now, lease_until = :lease, "
                             "checkpoint = :empty REMOVE failure",
            ConditionExpression="attribute_not_exists(run_id) OR #s <> :running OR lease_until < :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":r": value(run), ":running": value("running"), ":p": value(params),
                                       ":now": value(now), ":lease": value(now + LEASE_SECONDS),
                                       ":empty": value(pack({}))},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def resume(shop_id: str, kind: str, run: str, now: int) -> dict[str, Any] | None:
    """Take the lease of run `run` for one more slice; None if that run is over or someone else holds it."""
    try:
        answer = client().update_item(
            TableName=name(),
            Key=serialize(keys.job(shop_id, kind)),
            UpdateExpression="SET lease_until = :lease, slices = if_not_exists(slices, :zero) + :one",
            ConditionExpression="run_id = :r AND #s = :running",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":r": value(run), ":running": value("running"), ":zero": value(0),
                                       ":one": value(1), ":lease": value(now + LEASE_SECONDS)},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    record = deserialize(answer["Attributes"])
    record["checkpoint"] = unpack(record.get("checkpoint") or pack({}))
    return record


def save_checkpoint(shop_id: str, kind: str, run: str, checkpoint: dict[str, Any]) -> None:
    client().update_item(
        TableName=name(),
        Key=serialize(keys.job(shop_id, kind)),
        UpdateExpression="SET checkpoint = :c",
        ConditionExpression="run_id = :r",
        ExpressionAttributeValues={":c": value(pack(checkpoint)), ":r": value(run)},
    )


def finish(shop_id: str, kind: str, run: str, result: dict[str, Any], now: int, status: str = "done") -> None:
    client().update_item(
        TableName=name(),
        Key=serialize(keys.job(shop_id, kind)),
        UpdateExpression="SET #s = :status, finished_at = :now, #result = :res, checkpoint = :empty",
        ConditionExpression="run_id = :r",
        ExpressionAttributeNames={"#s": "status", "#result": "result"},
        ExpressionAttributeValues={":status": value(status), ":now": value(now), ":res": value(pack(result)),
                                   ":empty": value(pack({})), ":r": value(run)},
    )


def result_of(record: dict[str, Any]) -> dict[str, Any] | None:
    return unpack(record["result"]) if record.get("result") else None


def put_chunk(shop_id: str, kind: str, run: str, part: str, data: Any, now: int) -> None:
    item = {**keys.job_chunk(shop_id, kind, run, part), "data": pack(data), "expires_at": now + CHUNK_TTL}
    client().put_item(TableName=name(), Item=serialize(item))


def chunks(shop_id: str, kind: str, run: str, prefix: str) -> list[Any]:
    """Every chunk of a run whose part starts with `prefix`, in key order."""
    start_key = keys.job_chunk(shop_id, kind, run, prefix)
    items = query_prefix(start_key["pk"], start_key["sk"], Limit=100)  # a chunk holds up to a page of products
    return [unpack(deserialize(item)["data"]) for item in items]


def now() -> int:
    return int(time.time())
