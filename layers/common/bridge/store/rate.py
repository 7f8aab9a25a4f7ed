"""Per-shop API quotas shared by every process, as fixed-window counters in the table.

Each outbound call takes one unit of the current window with a conditional ADD; a full window means wait
for the next. Windows expire by TTL. This is what keeps five webhook workers and a reconcile of the same shop
under Bsale's 8 requests per second together; the in-process pace only smooths one process.
"""

from __future__ import annotations

import math
import time

from botocore.exceptions import ClientError

from bridge.store import keys
from bridge.store.table import client, name, serialize, value


def take(shop_id: str, api: str, window_seconds: int, cap: int, now: float | None = None) -> float:
    """Take one call from the current window; return 0, or the seconds until the next window when it is full."""
    now = time.time() if now is None else now
    window = math.floor(now / window_seconds)
    try:
        client().update_item(
            TableName=name(),
            Key=serialize(keys.rate_window(shop_id, api, window)),
            UpdateExpression="ADD calls :one SET expires_at = if_not_exists(expires_at, :ttl)",
            ConditionExpression="attribute_not_exists(calls) OR calls < :cap",
            ExpressionAttributeValues={":one": value(1), ":cap": value(cap),
                                       ":ttl": value(int(now) + window_seconds + 3600)},
        )
        return 0.0
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return (window + 1) * window_seconds - now
