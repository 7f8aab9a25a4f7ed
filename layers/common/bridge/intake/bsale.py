"""Acknowledging a Bsale notification: parse, authenticate by the URL token, stamp the shop, enqueue.

No call to Bsale or Jumpseller happens here; Bsale expects an answer within about three seconds.
"""

from __future__ import annotations

import re
import time

from pydantic import ValidationError

from bridge import queue
from bridge.errors import BadRequest, UnknownShop
from bridge.intake import body
from bridge.models.bsale import BsaleNotification
from bridge.settings import settings
from bridge.store import shops

_TOKEN = re.compile(r"^([a-z0-9][a-z0-9-]{0,62})\.([A-Za-z0-9_-]{20,128})$")


def shop_of_token(token: str) -> str:
    match = _TOKEN.fullmatch(token)
    if not match:
        raise UnknownShop("unknown notification token")
    return match.group(1)


def parse(raw_body: str | bytes) -> BsaleNotification:
    raw = raw_body.encode("utf-8", "surrogatepass") if isinstance(raw_body, str) else raw_body
    body.check_size(raw)
    data = body.json_object(raw)
    try:
        return BsaleNotification.model_validate(data)
    except ValidationError as exc:
        # Field names only, a few of them: the reason stays short whatever the body holds.
        fields = sorted({str(e["loc"][0]) if e["loc"] else "body" for e in exc.errors()})
        named = ", ".join(field[:32] for field in fields[:5])
        raise BadRequest(f"not a Bsale notification (check: {named})") from exc


def accept(token: str, raw_body: str | bytes, now: int | None = None) -> queue.WorkMessage:
    notification = parse(raw_body)
    shop_id = shop_of_token(token)
    shops.stamp_notification(shop_id, shops.token_hash(token), notification.cpn_id, now or int(time.time()))
    message = queue.WorkMessage(
        kind="bsale.notification",
        shop_id=shop_id,
        payload=notification.model_dump(by_alias=True),
        subject=f"{notification.topic} {notification.resource_id}",
    )
    queue.send(settings().catalog_queue_url, message)
    return message
