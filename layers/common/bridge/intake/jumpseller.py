"""Acknowledging a Jumpseller webhook: size, shop, HMAC over the raw body, shape, enqueue.

The signature is checked before the body is parsed: nothing unsigned is ever interpreted. A product event that
says nothing new of the product's catalog (an echo of our own stock write) is answered and not queued
(bridge/store/product_events.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from bridge import queue, secrets
from bridge.errors import BadRequest, Unauthorized, UnknownShop, UnknownStore
from bridge.intake import body as bodies
from bridge.settings import settings
from bridge.store import product_events, shops

_STORE_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ORDER_EVENTS = frozenset({"order_pending_payment", "order_paid", "order_canceled", "order_abandoned", "order_updated",
                          "order_shipped"})
PRODUCT_EVENTS = frozenset({"product_created", "product_updated", "product_deleted", "product_stock_updated"})
ECHOING_EVENTS = frozenset({"product_updated", "product_stock_updated"})  # sent for our own writes too


def signature(hooks_token: str, raw_body: bytes) -> str:
    return base64.b64encode(hmac.new(hooks_token.encode(), raw_body, hashlib.sha256).digest()).decode()


# One answer for a forged signature and for a store that is not connected: no store enumeration.
NOT_SIGNED = "the webhook is not signed by a connected Jumpseller store"
MAX_ID = 2**53  # ids are stored and compared as DynamoDB numbers and JSON integers


def verify(hooks_token: str, raw_body: bytes, given: str | None) -> None:
    # Bytes on both sides: a header may hold any Latin-1 or UTF-8 text, and compare_digest refuses non-ASCII str.
    given_bytes = (given or "").strip().encode("utf-8", "surrogatepass")
    if not given_bytes or not hmac.compare_digest(signature(hooks_token, raw_body).encode(), given_bytes):
        raise Unauthorized(NOT_SIGNED)


def accept(headers: Mapping[str, str], raw_body: bytes) -> queue.WorkMessage | None:
    """The message queued for a signed webhook; None for a product event with nothing new (answered, dropped)."""
    bodies.check_size(raw_body)
    store_code = (headers.get("jumpseller-store-code") or "").strip().lower()
    event = (headers.get("jumpseller-event") or "").strip()
    if not _STORE_CODE.fullmatch(store_code) or shops.get(store_code) is None:
        raise UnknownStore(NOT_SIGNED)
    try:
        hooks_token = secrets.hooks_token(store_code)
    except UnknownShop as exc:
        raise UnknownStore(NOT_SIGNED) from exc
    verify(hooks_token, raw_body, headers.get("jumpseller-hmac-sha256"))
    if event not in ORDER_EVENTS | PRODUCT_EVENTS:
        raise BadRequest(f"unsupported Jumpseller-Event {ascii(event[:40])}")
    body = bodies.json_object(raw_body)
    subject = _subject(event, body)
    digest = catalog_digest(body) if event in ECHOING_EVENTS else None
    product_id = int(subject.removeprefix("product ")) if digest is not None else 0
    if digest is not None and not product_events.is_new(store_code, product_id, digest, int(time.time())):
        return None
    message = queue.WorkMessage(
        kind="jumpseller.webhook", shop_id=store_code, payload={"event": event, "body": body}, subject=subject
    )
    # Orders go to the order worker; product events to the catalog worker, beside Bsale's notifications.
    target = settings().order_queue_url if event in ORDER_EVENTS else settings().catalog_queue_url
    try:
        queue.send(target, message)
    except Exception:
        if digest is not None:  # not queued: Jumpseller's retry of this event must not be taken for an echo
            product_events.let_go(store_code, product_id, digest)
        raise
    return message


def catalog_digest(body: dict[str, Any]) -> str | None:
    """A hash of what the catalog worker follows of a product event (ids, SKUs, name, prices, status: not stock);
    None when the body is not shaped as expected (then it is queued, and the worker decides)."""
    product = body.get("product", body)
    variants = product.get("variants") or []
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        return None
    fields = [product.get(k) for k in ("id", "name", "price", "sku", "status")]
    fields.append([[v.get(k) for k in ("id", "sku", "price")] for v in variants])
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _subject(event: str, body: dict[str, Any]) -> str:
    key = "order" if event.startswith("order_") else "product"
    inner = body.get(key, body)
    ident = inner.get("id") if isinstance(inner, dict) else None
    if not isinstance(ident, int) or isinstance(ident, bool) or not 1 <= ident <= MAX_ID:
        raise BadRequest(f"{key}.id missing or not an integer")
    return f"{key} {ident}"
