"""Work messages: what an acknowledging handler hands to a worker through SQS."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge import aws

Kind = Literal["bsale.notification", "jumpseller.webhook", "sync.reconcile", "sync.manual", "sync.sii"]


class WorkMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Kind
    shop_id: str
    received_at: int = Field(default_factory=lambda: int(time.time()))
    payload: dict[str, Any]
    # What a person reads in a dead-letter listing: the order, the SKU or the Bsale resource.
    subject: str = ""
    deferred: int = 0  # times handed back because the shop's API quota was spent (not a failure)


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
