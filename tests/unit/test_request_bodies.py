"""What the acknowledging handlers refuse before trusting a body (bridge/intake/body.py): each refusal is a 400 or
413 with a short reason, never an exception further in. The 2,000 generated requests of the e2e hostile test go
through the deployed routes; these pin the edges one by one."""

import json

import pytest

from bridge.errors import BadRequest, PayloadTooLarge
from bridge.intake.body import MAX_DEPTH, check_size, json_object
from bridge.settings import settings


def nested(depth: int) -> bytes:
    """A JSON object `depth` levels deep (the object itself is level 1), alternating objects and lists."""
    text = "0"
    for level in range(depth - 1):
        text = f'{{"k": {text}}}' if level % 2 else f"[{text}]"
    return f'{{"k": {text}}}'.encode()


def refused(raw: bytes) -> str:
    with pytest.raises(BadRequest) as caught:
        json_object(raw)
    assert caught.value.status == 400
    return caught.value.reason


def test_a_body_exactly_as_deep_as_allowed_is_read_and_one_level_more_is_refused() -> None:
    assert json_object(nested(MAX_DEPTH))
    assert refused(nested(MAX_DEPTH + 1)) == f"body nested deeper than {MAX_DEPTH} levels"
    # far deeper than Python's own parser goes: the same reason
    assert refused(b'{"k": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") == f"body nested deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize("raw", [
    b'{"a": "\\ud800"}',  # a lone surrogate: valid JSON, no character
    b'{"\\udfff": 1}',  # in a key
    b'{"a": [1, {"b": ["ok", "\\ud83d"]}]}',  # inside lists and objects
])
def test_a_string_that_is_not_unicode_is_refused_wherever_it_is(raw: bytes) -> None:
    assert refused(raw) == "body holds a string that is not valid Unicode"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\xff\xfe{}", "body is not UTF-8"),
    (b'{"a": NaN}', "body is not valid JSON"),
    (b'{"a": -Infinity}', "body is not valid JSON"),
    (b"{", "body is not valid JSON"),
    (b"[]", "body must be a JSON object"),
    (b'"text"', "body must be a JSON object"),
])
def test_what_is_not_a_json_object_is_refused_with_its_reason(raw: bytes, reason: str) -> None:
    assert refused(raw) == reason


def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() -> None:
    limit = settings().max_body_bytes
    check_size(b"x" * limit)
    with pytest.raises(PayloadTooLarge, match=f"body larger than {limit} bytes"):
        check_size(b"x" * (limit + 1))


def test_a_valid_body_comes_back_as_it_was_sent() -> None:
    body = {"order": {"id": 7, "products": [{"sku": "POL-S", "qty": 2}], "note": "ñandú"}}
    assert json_object(json.dumps(body).encode()) == body
