"""Jumpseller HMAC: base64(HMAC-SHA256(hooks token, raw body)), compared in constant time."""

import base64
import hashlib
import hmac

import pytest

from bridge.errors import Unauthorized
from bridge.intake.jumpseller import signature, verify


def test_signature_matches_the_published_algorithm() -> None:
    body = b'{"order": {"id": 1}}'
    expected = base64.b64encode(hmac.new(b"hooks-secret", body, hashlib.sha256).digest()).decode()
    assert signature("hooks-secret", body) == expected
    verify("hooks-secret", body, expected)


@pytest.mark.parametrize("given", [None, "", "nope", signature("other-secret", b"{}")])
def test_wrong_or_missing_signature_is_refused(given: str | None) -> None:
    with pytest.raises(Unauthorized):
        verify("hooks-secret", b"{}", given)


def test_a_reserialised_body_does_not_verify() -> None:
    raw = b'{"order":{"id":1}}'
    with pytest.raises(Unauthorized):
        verify("s", b'{"order": {"id": 1}}', signature("s", raw))


@pytest.mark.parametrize("given", ["\udcff" * 44, "  ", "ñ" * 44])
def test_a_signature_header_of_any_text_is_refused_not_a_crash(given: str) -> None:
    with pytest.raises(Unauthorized, match="not signed by a connected Jumpseller store"):
        verify("hooks-secret", b"{}", given)
