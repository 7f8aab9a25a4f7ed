"""The last Jumpseller product event accepted for each product: an echo is acknowledged and not queued.

Jumpseller sends `product_updated` (and `product_stock_updated`) for our own stock writes too: as many events
as writes, each of which the catalog worker would read links for, to find nothing to do. What it follows of a
product event is the catalog: ids, SKUs, names and prices, never stock (Bsale has the truth of that). So an event
whose catalog fields are those of the last event accepted for the product, within WINDOW seconds, changes
nothing the worker would act on: it is answered and dropped. One conditional write decides, atomically, so of
two copies arriving together exactly one is queued; after WINDOW an unchanged event is queued again, so a
dropped event never waits on the first one's fate for long (and that one's failure is in the dead letters). An
event accepted here but not queued (SQS failed; Jumpseller is answered 5xx and sends it again) lets its catalog go.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from bridge.store import keys
from bridge.store.table import client, name, serialize, value

WINDOW = 600  # seconds an event's catalog fields silence identical ones


def is_new(shop_id: str, product_id: int, digest: str, now: int) -> bool:
    """Record `digest` as the product's last accepted catalog, unless it already was within WINDOW: then False."""
    try:
        client().update_item(
            TableName=name(),
            Key=serialize(keys.product_event(shop_id, product_id)),
            UpdateExpression="SET digest = :d, accepted_at = :now, expires_at = :expires",
            ConditionExpression="attribute_not_exists(digest) OR digest <> :d OR accepted_at <= :stale",
            ExpressionAttributeValues={":d": value(digest), ":now": value(now), ":stale": value(now - WINDOW),
                                       ":expires": value(now + 2 * WINDOW)},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def let_go(shop_id: str, product_id: int, digest: str) -> None:
    """Forget `digest` as the product's last accepted catalog (its event could not be queued: the retry must be),
    unless another event's catalog was recorded since."""
    try:
        client().delete_item(TableName=name(), Key=serialize(keys.product_event(shop_id, product_id)),
                             ConditionExpression="digest = :d", ExpressionAttributeValues={":d": value(digest)})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
