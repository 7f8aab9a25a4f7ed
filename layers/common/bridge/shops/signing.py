"""Signed, expiring values (OAuth states, panel sessions): HMAC-SHA256 with the app's session key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: str, purpose: str, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key.encode(), f"{purpose}|{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(key: str, purpose: str, token: str, now: float) -> dict[str, Any] | None:
    """The payload when the signature is ours for this purpose and `exp` has not passed; else None."""
    body, _, mac = token.partition(".")
    if not body or not mac:
        return None
    expected = hmac.new(key.encode(), f"{purpose}|{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int) or payload["exp"] <= now:
        return None
    return payload


def digest(key: str, purpose: str, value: str) -> str:
    return _b64(hmac.new(key.encode(), f"{purpose}|{value}".encode(), hashlib.sha256).digest())
