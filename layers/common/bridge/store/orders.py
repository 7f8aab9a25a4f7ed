"""Order state records in DynamoDB. Every change is a conditional write: a record never moves twice.

The conditions are the whole exactly-once argument on our side, so they live here, each in one function:
- `create`: a record is made once per (shop, order);
- `claim`: a step starts only from the state the caller saw (`state IN (...)`);
- `take_over`: an in-flight step is resumed only by its own claim, an unclaimed one, or a stale claim;
- `settle` / `unclaim`: only the holder of the claim ends the step or lets it go.
Each returns the record as written (ALL_NEW), or None when the condition failed: someone else moved it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from bridge.models.order_record import OrderRecord, OrderState
from bridge.store import keys
from bridge.store.table import client, deserialize, name, query_prefix, serialize, value

_KEY_FIELDS = ("pk", "sk")


def _record(item: Mapping[str, Any]) -> OrderRecord:
    data = deserialize(dict(item))
    return OrderRecord.model_validate({k: v for k, v in data.items() if k not in _KEY_FIELDS})


def _plain(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Pydantic values as plain JSON-like data (None kept: it means REMOVE for `_update`)."""
    out: dict[str, Any] = {}
    for field, v in fields.items():
        out[field] = v.model_dump(mode="json", exclude_none=True) if hasattr(v, "model_dump") else v
        if isinstance(v, list):
            out[field] = [i.model_dump(mode="json", exclude_none=True) if hasattr(i, "model_dump") else i for i in v]
    return out


def get(shop_id: str, order_id: int) -> OrderRecord | None:
    found = client().get_item(TableName=name(), Key=serialize(keys.order(shop_id, order_id)), ConsistentRead=True)
    return _record(found["Item"]) if "Item" in found else None


def create(record: OrderRecord) -> bool:
    """Write a new record; False when the order already has one (the caller then reads it)."""
    item = {**keys.order(record.shop_id, record.order_id), **record.model_dump(mode="json", exclude_none=True)}
    try:
        client().put_item(TableName=name(), Item=serialize(item), ConditionExpression="attribute_not_exists(pk)")
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def _update(
    shop_id: str,
    order_id: int,
    *,
    sets: Mapping[str, Any],
    condition: str,
    values: Mapping[str, Any],
    note: dict[str, Any] | None = None,
) -> OrderRecord | None:
    """SET `sets` (None values are REMOVEd), append `note` to the history, when `condition` holds."""
    names = {f"#{k}": k for k in sets} | {"#state": "state", "#history": "history"}
    assignments = [f"#{k} = :v_{k}" for k, v in sets.items() if v is not None]
    removals = [f"#{k}" for k, v in sets.items() if v is None]
    expression_values = {f":v_{k}": value(v) for k, v in _plain(sets).items() if v is not None}
    expression_values |= {k: value(v) for k, v in values.items()}
    if note is not None:
        assignments.append("#history = list_append(if_not_exists(#history, :empty), :note)")
        expression_values[":empty"] = {"L": []}
        expression_values[":note"] = value([note])
    update = "SET " + ", ".join(assignments)
    if removals:
        update += " REMOVE " + ", ".join(removals)
    used = {n for n in names if n in update or n in condition}
    try:
        answer = client().update_item(
            TableName=name(),
            Key=serialize(keys.order(shop_id, order_id)),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={n: names[n] for n in used},
            ExpressionAttributeValues=expression_values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return _record(answer["Attributes"])


def _states(states: Iterable[OrderState]) -> tuple[str, dict[str, Any]]:
    listed = list(dict.fromkeys(states))
    placeholders = {f":s{i}": s.value for i, s in enumerate(listed)}
    return f"#state IN ({', '.join(placeholders)})", placeholders


def _note(now: int, state: OrderState, what: str) -> dict[str, Any]:
    return {"at": now, "state": state.value, "what": what}


def claim(
    shop_id: str,
    order_id: int,
    *,
    from_states: Iterable[OrderState],
    to: OrderState,
    attempt: str,
    now: int,
    sets: Mapping[str, Any] | None = None,
    what: str = "",
) -> OrderRecord | None:
    """Start a step: move from one of `from_states` to the in-flight `to`, holding the claim."""
    condition, values = _states(from_states)
    fields = {"state": to.value, "claim_id": attempt, "claimed_at": now, "updated_at": now, **(sets or {})}
    return _update(shop_id, order_id, sets=fields, condition=condition, values=values, note=_note(now, to, what))


def take_over(
    shop_id: str, order_id: int, *, state: OrderState, attempt: str, now: int, stale_before: int, force: bool = False
) -> OrderRecord | None:
    """Resume an in-flight step: when the claim is ours (a redelivered message), nobody's, or stale (or `force`)."""
    condition = "#state = :s0"
    values: dict[str, Any] = {":s0": state.value}
    if not force:
        condition += " AND (attribute_not_exists(claim_id) OR claim_id = :me OR claimed_at < :stale)"
        values |= {":me": attempt, ":stale": stale_before}
    fields = {"claim_id": attempt, "claimed_at": now, "updated_at": now}
    return _update(shop_id, order_id, sets=fields, condition=condition, values=values,
                   note=_note(now, state, "resumed"))


def settle(
    shop_id: str,
    order_id: int,
    *,
    attempt: str,
    from_state: OrderState,
    to: OrderState,
    now: int,
    sets: Mapping[str, Any] | None = None,
    what: str = "",
) -> OrderRecord | None:
    """End the step we hold: `from_state` → `to`, claim and intent dropped."""
    fields = {"state": to.value, "claim_id": None, "claimed_at": None, "intent": None, "updated_at": now,
              **(sets or {})}
    return _update(shop_id, order_id, sets=fields, condition="#state = :s0 AND claim_id = :me",
                   values={":s0": from_state.value, ":me": attempt}, note=_note(now, to, what))


def unclaim(shop_id: str, order_id: int, *, attempt: str, now: int, sets: Mapping[str, Any]) -> OrderRecord | None:
    """Let go of a step after a retryable failure: it stays in flight, with its intent, for the next attempt."""
    fields = {"claim_id": None, "claimed_at": None, "updated_at": now, **sets}
    return _update(shop_id, order_id, sets=fields, condition="claim_id = :me", values={":me": attempt})


def move(
    shop_id: str,
    order_id: int,
    *,
    from_states: Iterable[OrderState],
    to: OrderState,
    now: int,
    sets: Mapping[str, Any] | None = None,
    what: str = "",
) -> OrderRecord | None:
    """A transition with no request to Bsale in between (skip, fail before sending, cancel with nothing to undo)."""
    condition, values = _states(from_states)
    fields = {"state": to.value, "updated_at": now, **(sets or {})}
    return _update(shop_id, order_id, sets=fields, condition=condition, values=values, note=_note(now, to, what))


def amend(
    shop_id: str, order_id: int, *, in_states: Iterable[OrderState], now: int, sets: Mapping[str, Any]
) -> OrderRecord | None:
    """Change attributes without moving (a newer order snapshot, follow-ups done), while the state is one of these."""
    condition, values = _states(in_states)
    return _update(shop_id, order_id, sets={"updated_at": now, **sets}, condition=condition, values=values)


def _reservation(what: str) -> str:
    return f"following {what}"


def reserve(shop_id: str, order_id: int, what: str, now: int, stale_before: int) -> bool:
    """Take the right to make one follow-up in Jumpseller (attach a document, add a note), unless it is done or
    another attempt took it less than a lease ago. Jumpseller does not deduplicate these."""
    try:
        client().update_item(
            TableName=name(),
            Key=serialize(keys.order(shop_id, order_id)),
            UpdateExpression="SET #r = :now",
            ConditionExpression="attribute_exists(pk) AND NOT contains(#done, :what) "
                                "AND (attribute_not_exists(#r) OR #r < :stale)",
            ExpressionAttributeNames={"#r": _reservation(what), "#done": "done"},
            ExpressionAttributeValues={":now": value(now), ":what": value(what), ":stale": value(stale_before)},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def unreserve(shop_id: str, order_id: int, what: str) -> None:
    client().update_item(TableName=name(), Key=serialize(keys.order(shop_id, order_id)), UpdateExpression="REMOVE #r",
                         ExpressionAttributeNames={"#r": _reservation(what)})


def mark_done(shop_id: str, order_id: int, what: str, now: int) -> None:
    """Remember a follow-up made in Jumpseller (document attached, history note)."""
    client().update_item(
        TableName=name(),
        Key=serialize(keys.order(shop_id, order_id)),
        UpdateExpression="SET #done = list_append(if_not_exists(#done, :empty), :what), updated_at = :now REMOVE #r",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#done": "done", "#r": _reservation(what)},
        ExpressionAttributeValues={":empty": {"L": []}, ":what": value([what]), ":now": value(now)},
    )


def for_shop(shop_id: str) -> list[OrderRecord]:
    items = query_prefix(keys.orders_partition(shop_id), keys.order_prefix(), ConsistentRead=True)
    return sorted((_record(item) for item in items), key=lambda r: r.order_id)
