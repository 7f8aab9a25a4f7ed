"""What an acknowledging handler does with a request body before trusting any of it.

Anyone on the internet can post anything: bytes that are not UTF-8, JSON nested thousands of levels deep, numbers
of a thousand digits, `NaN`, lone surrogates. Each of those is a 400 with a short reason here, never an exception
further in (a 5xx, a traceback, a message a worker cannot read).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from bridge.errors import BadRequest, PayloadTooLarge
from bridge.settings import settings

MAX_DEPTH = 32  # Bsale's notifications are flat; Jumpseller's orders nest about 5 levels


def raw(body: str | None, is_base64: bool) -> bytes:
    """The request's bytes as API Gateway received them (binary bodies arrive base64-encoded)."""
    if not body:
        return b""
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("body is not valid base64") from exc
    return body.encode("utf-8", "surrogatepass")


def check_size(raw_body: bytes) -> None:
    if len(raw_body) > settings().max_body_bytes:
        raise PayloadTooLarge(f"body larger than {settings().max_body_bytes} bytes")


def json_object(raw_body: bytes) -> dict[str, Any]:
    """The body as a JSON object of bounded depth whose every string is valid Unicode, or BadRequest."""
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("body is not UTF-8") from exc
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        raise BadRequest(f"body nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # bad JSON, NaN / Infinity, integers beyond Python's digit limit
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    _check_tree(data)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_tree(root: dict[str, Any]) -> None:
    """Depth and strings, walked without recursion (the depth is what is being checked)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise BadRequest(f"body nested deeper than {MAX_DEPTH} levels")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                if isinstance(key, str):
                    _check_string(key)
                stack.append((value, depth + 1))
        elif isinstance(node, str):
            _check_string(node)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # "\ud800" is valid JSON but no character: nothing downstream can encode it
        raise BadRequest("body holds a string that is not valid Unicode") from exc
