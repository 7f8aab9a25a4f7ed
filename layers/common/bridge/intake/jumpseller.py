"""Acknowledging a Jumpseller webhook: size, shop, HMAC over the raw body, shape, enqueue.

The signature is checked before the body is parsed: nothing unsigned is ever interpreted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from bridge import queue, secrets
from bridge.errors import BadRequest, PayloadTooLarge, Unauthorized, UnknownShop
from bridge.settings import settings
from bridge.store import shops

_STORE_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ORDER_EVENTS = frozenset({"order_pending_payment", "order_paid", "order_canceled", "order_abandoned", "order_updated",
                          "order_shipped"})
PRODUCT_EVENTS = frozenset({"product_created", "product_updated", "product_deleted", "product_stock_updated"})


def signature(hooks_token: str, raw_body: bytes) -> str:
    return base64.b64encode(hmac.new(hooks_token.encode(), raw_body, hashlib.sha256).digest()).decode()


def verify(hooks_token: str, raw_body: bytes, given: str | None) -> None:
    if not given or not hmac.compare_digest(signature(hooks_token, raw_body), given.strip()):
        raise Unauthorized("Jumpseller-Hmac-Sha256 does not match the body")


def accept(headers: Mapping[str, str], raw_body: bytes) -> queue.WorkMessage:
    if len(raw_body) > settings().max_body_bytes:
        raise PayloadTooLarge(f"body larger than {settings().max_body_bytes} bytes")
    store_code = (headers.get("jumpseller-store-code") or "").strip().lower()
    event = (headers.get("jumpseller-event") or "").strip()
    if not _STORE_CODE.match(store_code):
        raise UnknownShop("missing or malformed Jumpseller-Store-Code")
    if shops.get(store_code) is None:
        raise UnknownShop(f"no shop '{store_code}' is connected")
    verify(secrets.get(store_code).jumpseller_hooks_token, raw_body, headers.get("jumpseller-hmac-sha256"))
    if event not in ORDER_EVENTS | PRODUCT_EVENTS:
        raise BadRequest(f"unsupported Jumpseller-Event '{event[:40]}'")
    body = _json_object(raw_body)
    subject = _subject(event, body)
    message = queue.WorkMessage(
        kind="jumpseller.webhook", shop_id=store_code, payload={"event": event, "body": body}, subject=subject
    )
    # Orders go to the order worker; product events to the catalog worker, beside Bsale's notifications.
    target = settings().order_queue_url if event in ORDER_EVENTS else settings().bsale_queue_url
    queue.send(target, message)
    return message


def _json_object(raw_body: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _subject(event: str, body: dict[str, Any]) -> str:
    key = "order" if event.startswith("order_") else "product"
    inner = body.get(key, body)
    ident = inner.get("id") if isinstance(inner, dict) else None
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise BadRequest(f"{key}.id missing or not an integer")
    return f"{key} {ident}"
