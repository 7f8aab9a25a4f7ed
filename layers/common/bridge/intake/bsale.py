"""Acknowledging a Bsale notification: parse, authenticate by the URL token, stamp the shop, enqueue.

No call to Bsale or Jumpseller happens here; Bsale expects an answer within about three seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import time

from pydantic import ValidationError

from bridge import queue
from bridge.errors import BadRequest, PayloadTooLarge, UnknownShop
from bridge.models.bsale import BsaleNotification
from bridge.settings import settings
from bridge.store import shops

_TOKEN = re.compile(r"^([a-z0-9][a-z0-9-]{0,62})\.([A-Za-z0-9_-]{20,128})$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def shop_of_token(token: str) -> str:
    match = _TOKEN.match(token)
    if not match:
        raise UnknownShop("unknown notification token")
    return match.group(1)


def parse(raw_body: str) -> BsaleNotification:
    if len(raw_body.encode()) > settings().max_body_bytes:
        raise PayloadTooLarge(f"body larger than {settings().max_body_bytes} bytes")
    try:
        data = json.loads(raw_body)
    except (ValueError, TypeError) as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    try:
        return BsaleNotification.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in exc.errors())
        raise BadRequest(f"not a Bsale notification (check: {fields})") from exc


def accept(token: str, raw_body: str, now: int | None = None) -> queue.WorkMessage:
    notification = parse(raw_body)
    shop_id = shop_of_token(token)
    shops.stamp_notification(shop_id, token_hash(token), notification.cpn_id, now or int(time.time()))
    message = queue.WorkMessage(
        kind="bsale.notification",
        shop_id=shop_id,
        payload=notification.model_dump(by_alias=True),
        subject=f"{notification.topic} {notification.resource_id}",
    )
    queue.send(settings().bsale_queue_url, message)
    return message
