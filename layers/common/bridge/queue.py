"""Work messages: what an acknowledging handler hands to a worker through SQS."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge import aws
from bridge.settings import settings

Kind = Literal["bsale.notification", "jumpseller.webhook", "sync.reconcile", "sync.manual"]


class WorkMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Kind
    shop_id: str
    received_at: int = Field(default_factory=lambda: int(time.time()))
    payload: dict[str, Any]
    # What a person reads in a dead-letter listing: the order, the SKU or the Bsale resource.
    subject: str = ""
    deferred: int = 0  # times handed back because the shop's API quota was spent (not a failure)
    first_deferred_at: int | None = None  # when it was first handed back (the deferrals' age is bounded too)


def send(queue_url: str, message: WorkMessage, delay_seconds: int = 0) -> str:
    answer = aws.client("sqs").send_message(
        QueueUrl=queue_url,
        DelaySeconds=max(0, min(900, delay_seconds)),
        MessageBody=message.model_dump_json(),
        MessageAttributes={
            "shop_id": {"DataType": "String", "StringValue": message.shop_id},
            "kind": {"DataType": "String", "StringValue": message.kind},
        },
    )
    return str(answer["MessageId"])


# ------------------------------------------------------------------------------------------- handing work back

@dataclass(frozen=True)
class DeferralLimit:
    count: int
    minutes: int


# Per queue (the names of bridge/ops/dead_letters.py's registry). Generous enough for a shop's burst to wait its
# turn (a mass price change of a few thousand variants), short enough that a quota that never comes back (a
# Jumpseller answering 429 for good) ends in the dead letters, where the alarm fires and an operator sees why.
# Override per queue with the DEFERRAL_LIMITS setting.
DEFERRAL_LIMITS = {
    "bsale": DeferralLimit(count=100, minutes=30),  # a stock change older than that is stale; reconcile fixes it
    "order": DeferralLimit(count=100, minutes=60),  # a paid order waits for its document: a person should know
    "sync": DeferralLimit(count=200, minutes=360),  # bulk jobs wait their turn behind the shop's live changes
}


class DeferralsExhausted(Exception):
    """A message was handed back as often, or for as long, as its queue allows: the work fails instead, so SQS
    retries it a few times and then moves it to the dead-letter queue (with this as its recorded last error)."""


def deferral_limit(queue: str) -> DeferralLimit:
    default = DEFERRAL_LIMITS[queue]
    override = settings().deferral_limits.get(queue, {})
    return DeferralLimit(int(override.get("count", default.count)), int(override.get("minutes", default.minutes)))


def defer(queue: str, queue_url: str, message: WorkMessage, seconds: float, reason: str,
          now: int | None = None) -> WorkMessage:
    """Hand `message` back to its queue, delayed `seconds`, counting the deferral; or raise DeferralsExhausted
    (with `reason`, how often and for how long) once its queue's limit is reached."""
    at = now if now is not None else int(time.time())
    first = message.first_deferred_at or at
    limit = deferral_limit(queue)
    if message.deferred >= limit.count or at - first >= limit.minutes * 60:
        raise DeferralsExhausted(
            f"{reason}; handed back {message.deferred} times over {at - first} s, the {queue} queue allows "
            f"{limit.count} times or {limit.minutes} min"
        )
    copy = message.model_copy(update={"deferred": message.deferred + 1, "first_deferred_at": first})
    send(queue_url, copy, delay_seconds=math.ceil(seconds))
    return copy
