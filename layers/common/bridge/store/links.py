"""Product links: a Bsale variant and the Jumpseller product or variant with the same SKU."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from bridge.store import keys
from bridge.store.table import client, deserialize, name, query_pages, query_prefix, serialize, value

if TYPE_CHECKING:
    from bridge.models.jumpseller import Target

# Items per Query page when reading a whole catalog: small enough that every call stays short, even on moto
# (whose Query time grows with the partition), large enough for few round trips on DynamoDB.
PAGE_ITEMS = 500
# Write claims per kind of field written to Jumpseller (see `claim`).
CLAIMS = {"stock": "stock_read_at", "price": "price_read_at"}


class Link(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    shop_id: str
    variant_id: str  # Bsale variant id
    sku: str
    js_product_id: int
    js_variant_id: int | None = None
    js_name: str = ""  # sent back on product PUTs, which the official spec requires
    js_price: float = 0
    allow_negative: bool = False  # Bsale sells it without stock (pre-sale makes it unlimited)
    untracked: bool = False  # Bsale does not count its stock at all: always unlimited
    # What Jumpseller shows, as far as the bridge knows: the stock it last wrote, or last read there (Jumpseller
    # moves stock itself for orders, so every order event reads it again: sync/push.py). None: unlimited or never.
    pushed_stock: int | None = None
    pushed_unlimited: bool = False
    # Made by automatic linking, Bsale's stock not yet decided: the event that made it stopped before its first
    # push (quota spent, timeout, crash), so whoever sees the link next pushes (sync/linking.py). Cleared with the
    # first stock decision recorded (sync/push.py).
    first_push_due: bool = False
    # Write claims: the ns clock taken before the reads behind the newest write (or decision) of each kind.
    # An older read never lands last (sync/push.py).
    stock_read_at: int = 0
    price_read_at: int = 0
    held: int = 0  # units held by Jumpseller orders pending payment

    @property
    def target(self) -> Target:
        from bridge.models.jumpseller import Target  # the catalog's: the order worker reads links, never writes

        return Target(self.js_product_id, self.js_variant_id)


def get(shop_id: str, variant_id: str) -> Link | None:
    found = client().get_item(TableName=name(), Key=serialize(keys.link(shop_id, variant_id)), ConsistentRead=True)
    return Link.model_validate(deserialize(found["Item"])) if "Item" in found else None


def create(link: Link) -> Link:
    """Save a new link unless another worker made one for this variant meanwhile; return the one that stands.

    Two events of one new variant (its stock and its price notification) race to link it: the first link wins,
    so the second cannot overwrite what the first already wrote to Jumpseller with its own older reading.
    """
    try:
        save(link, only_new=True)
        return link
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    existing = get(link.shop_id, link.variant_id)
    assert existing is not None
    return existing


def save(link: Link, *, only_new: bool = False) -> None:
    """Create or update a link (and forget why the variant was unlinked, if it was).

    Never writes `held`: pending orders move it with atomic ADDs (store/held.py), and a link rewritten from
    an older read must not undo one. Nor lowers the write claims: a relink must not let an older read win.
    """
    item = {**keys.sku_index(link.shop_id, link.sku), **keys.js_product_index(link.shop_id, link.js_product_id),
            **link.model_dump(exclude={"held", *CLAIMS.values()})}
    condition = {"ConditionExpression": "attribute_not_exists(pk)"} if only_new else {}
    kept = "".join(f", {c} = if_not_exists({c}, :zero)" for c in CLAIMS.values())
    client().update_item(
        TableName=name(), Key=serialize(keys.link(link.shop_id, link.variant_id)), **condition,
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in item) + ", held = if_not_exists(held, :zero)"
        + kept,
        ExpressionAttributeNames={f"#{k}": k for k in item},
        ExpressionAttributeValues={**{f":{k}": value(v) if v is not None else {"NULL": True}
                                      for k, v in item.items()}, ":zero": value(0)},
    )
    client().delete_item(TableName=name(), Key=serialize(keys.unlinked(link.shop_id, link.variant_id)))


def save_many(new_links: Sequence[Link], changed_links: Sequence[Link] = ()) -> None:
    """`save` for a whole catalog: links that did not exist go 25 a request; existing ones one by one, since a
    batch put would replace their `held`."""
    requests: list[dict[str, Any]] = []
    for link in new_links:
        item = {**keys.link(link.shop_id, link.variant_id), **keys.sku_index(link.shop_id, link.sku),
                **keys.js_product_index(link.shop_id, link.js_product_id), **link.model_dump()}
        requests.append({"PutRequest": {"Item": serialize(item)}})
        requests.append({"DeleteRequest": {"Key": serialize(keys.unlinked(link.shop_id, link.variant_id))}})
    _batch_write(requests)
    for link in changed_links:
        save(link)


def record_unlinked_many(shop_id: str, entries: list[tuple[str, str | None, str]]) -> None:
    """`record_unlinked` for many (variant id, SKU, reason) at once."""
    requests: list[dict[str, Any]] = []
    for variant_id, sku, reason in entries:
        item = {**keys.unlinked(shop_id, variant_id), "variant_id": variant_id, "sku": sku, "reason": reason}
        requests.append({"PutRequest": {"Item": serialize(item)}})
        requests.append({"DeleteRequest": {"Key": serialize(keys.link(shop_id, variant_id))}})
    _batch_write(requests)


def _batch_write(requests: list[dict[str, Any]]) -> None:
    for start in range(0, len(requests), 24):  # even, so an item's put and delete of the other key stay together
        pending: dict[str, Any] = {name(): requests[start:start + 24]}
        for attempt in range(8):
            answer = client().batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(0.05 * 2**attempt)  # throttled: back off, then send what was left
        else:
            raise RuntimeError("DynamoDB kept refusing a batch of link writes")


def delete(shop_id: str, variant_id: str) -> None:
    client().delete_item(TableName=name(), Key=serialize(keys.link(shop_id, variant_id)))


def variant_ids_of_js_product(shop_id: str, product_id: int) -> list[str]:
    """Bsale variant ids of every link into one Jumpseller product."""
    index = keys.js_product_index(shop_id, product_id)
    page = client().query(
        TableName=name(), IndexName=keys.GSI2, KeyConditionExpression="gsi2pk = :p",
        ExpressionAttributeValues={":p": {"S": index["gsi2pk"]}},
    )
    return [deserialize(item)["sk"].removeprefix(keys.link_prefix()) for item in page.get("Items", [])]


def update_js_fields(link: Link, **fields: object) -> None:
    """Refresh what the link remembers of the Jumpseller side (name, price, ids) without touching the rest."""
    sets = ", ".join(f"#{k} = :{k}" for k in fields)
    client().update_item(
        TableName=name(), Key=serialize(keys.link(link.shop_id, link.variant_id)),
        UpdateExpression=f"SET {sets}", ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={f"#{k}": k for k in fields},
        ExpressionAttributeValues={f":{k}": value(v) for k, v in fields.items()},
    )


def claim(link: Link, kind: str, version: int) -> Link | None:
    """Take the right to write `kind` ("stock" or "price") from reads begun at `version` (ns clock taken before
    reading the link and Bsale): the link as it stands once claimed, or None when a read begun later already
    took it (or the link is gone).

    Two workers for one variant can overlap (duplicate notifications, a reconcile slice, an order event); the
    older truth must not land last.
    """
    claimed, ours = claim_variant(link.shop_id, link.variant_id, kind, version)
    return claimed if ours else None


def claim_variant(shop_id: str, variant_id: str, kind: str, version: int) -> tuple[Link | None, bool]:
    """`claim` for a caller that has not read the link yet, in the same one call: (the link once claimed, True);
    (the link as it stands, False) when a read begun later already took the claim; (None, False): not linked."""
    attr = CLAIMS[kind]
    try:
        answer = client().update_item(
            TableName=name(),
            Key=serialize(keys.link(shop_id, variant_id)),
            UpdateExpression=f"SET {attr} = :t",
            ConditionExpression=f"attribute_exists(pk) AND (attribute_not_exists({attr}) OR {attr} < :t)",
            ExpressionAttributeValues={":t": value(version)},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        current = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
        return (Link.model_validate(deserialize(current)) if current else None), False
    return Link.model_validate(deserialize(answer["Attributes"])), True


def record_if_claimed(link: Link, claims: dict[str, int], fields: dict[str, object],
                      unchanged: dict[str, int] | None = None) -> bool:
    """Remember `fields` (what Jumpseller now shows) only if every claim in `claims` (kind → version) still
    stands and every claim in `unchanged` still has the value it had when the link was read; False otherwise.

    False means a newer read took the variant after our claim: our write may have landed after its one, so the
    caller must look at Jumpseller again (sync/push.py).
    """
    conditions = ["attribute_exists(pk)"]
    values: dict[str, Any] = {}
    for kind, version in claims.items():
        conditions.append(f"{CLAIMS[kind]} = :c_{kind}")
        values[f":c_{kind}"] = value(version)
    for kind, seen in (unchanged or {}).items():
        attr = CLAIMS[kind]
        absent = f"attribute_not_exists({attr}) OR " if not seen else ""
        conditions.append(f"({absent}{attr} = :u_{kind})")
        values[f":u_{kind}"] = value(seen)
    remembered = fields or {"shop_id": link.shop_id}  # nothing to remember: the condition is all that counts
    values.update({f":{k}": value(v) if v is not None else {"NULL": True} for k, v in remembered.items()})
    try:
        client().update_item(
            TableName=name(), Key=serialize(keys.link(link.shop_id, link.variant_id)),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in remembered),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames={f"#{k}": k for k in remembered},
            ExpressionAttributeValues=values,
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def remember_shown(link: Link, read_at: int, **fields: object) -> bool:
    """Remember what Jumpseller showed when read at `read_at` (name, price), unless a price write was claimed
    since (its value is newer than this reading)."""
    try:
        client().update_item(
            TableName=name(), Key=serialize(keys.link(link.shop_id, link.variant_id)),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(price_read_at) OR price_read_at < :t)",
            ExpressionAttributeNames={f"#{k}": k for k in fields},
            ExpressionAttributeValues={**{f":{k}": value(v) for k, v in fields.items()}, ":t": value(read_at)},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


# What a catalog-wide comparison reads of each link (the reconcile; a status counts and sums `held`): the
# Jumpseller side and what decides the stock to show. Not the write claims nor what Jumpseller last showed, so
# a link read this way is for comparing only; a write re-reads it whole (`get`). Half the attributes: half the
# bytes read and, on moto, half of a whole-catalog Query's time, most of which goes to serializing attributes.
COMPARED = ("variant_id", "sku", "js_product_id", "js_variant_id", "js_name", "js_price", "allow_negative",
            "untracked", "first_push_due", "held")
HELD = ("variant_id", "sku", "js_product_id", "held")  # what counting links and their held units needs


def all_links(shop_id: str, attributes: Sequence[str] | None = None) -> list[Link]:
    """Every link of the shop; with `attributes` (e.g. COMPARED), only those are read, the rest keep defaults."""
    return [link for page in link_pages(shop_id, attributes) for link in page]


def link_pages(shop_id: str, attributes: Sequence[str] | None = None) -> Iterator[list[Link]]:
    """The shop's links a page at a time, in the order of their variant ids as strings (the sort key's)."""
    projection = {"ProjectionExpression": ", ".join(f"#{a}" for a in attributes),
                  "ExpressionAttributeNames": {f"#{a}": a for a in attributes}} if attributes else {}
    # Converted page by page: only one page of raw items is held at a time (issue 12: a reconcile's memory).
    for page in query_pages("pk = :p AND begins_with(sk, :s)", {":p": {"S": keys.links_partition(shop_id)},
                                                                ":s": {"S": keys.link_prefix()}},
                            Limit=PAGE_ITEMS, **projection):
        yield [Link.model_validate({"shop_id": shop_id, **deserialize(item)}) for item in page]


def record_unlinked(shop_id: str, variant_id: str, sku: str | None, reason: str) -> None:
    """Remember why a variant is not linked, for the shop's status (and drop its link, if it had one)."""
    item = {**keys.unlinked(shop_id, variant_id), "variant_id": variant_id, "sku": sku, "reason": reason}
    client().put_item(TableName=name(), Item=serialize(item))
    delete(shop_id, variant_id)


def unlinked_reasons(shop_id: str) -> list[dict[str, Any]]:
    return [deserialize(item) for item in query_prefix(keys.unlinked_partition(shop_id), "UNLINKED#", Limit=PAGE_ITEMS)]


def by_sku(shop_id: str, sku: str) -> list[Link]:
    """Links whose SKU is `sku` (one when the catalog is clean; orders and Jumpseller events speak SKU)."""
    index = keys.sku_index(shop_id, sku)
    page = client().query(
        TableName=name(),
        IndexName=keys.GSI1,
        KeyConditionExpression="gsi1pk = :p AND gsi1sk = :s",
        ExpressionAttributeValues={":p": {"S": index["gsi1pk"]}, ":s": {"S": index["gsi1sk"]}},
    )
    return [Link.model_validate(deserialize(item)) for item in page.get("Items", [])]
