"""A panel session keeps the key that verified it: its CSRF token never mixes two keys within a request."""

from __future__ import annotations

import pytest

from bridge.panel import session
from bridge.shops import app


def _credentials(key: str) -> app.AppCredentials:
    return app.AppCredentials(client_id="id", client_secret="secret", session_key=key)


def test_the_csrf_token_uses_the_key_that_verified_the_cookie(monkeypatch: pytest.MonkeyPatch) -> None:
    # The app credentials are cached for minutes: the cache can expire between reading the cookie and checking
    # the form, and a rotated key must not turn the owner's good form into "request refused" (seen as a 403 in CI).
    keys = iter(["a" * 40] * 3 + ["b" * 40] * 10)
    monkeypatch.setattr(app, "credentials", lambda: _credentials(next(keys)))
    issued, header = session.issue("shop-a", now=1000)
    token = issued.csrf
    cookie = header.split(";")[0]
    found, stale = session.read(cookie, now=1001)
    assert found is not None and not stale
    assert found.shop_id == "shop-a" and found.sid == issued.sid
    assert found.csrf_ok(token)
    assert not found.csrf_ok("x" + token[1:])
    assert not found.csrf_ok(None)


def test_a_session_signed_with_another_key_is_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "credentials", lambda: _credentials("a" * 40))
    _, header = session.issue("shop-a", now=1000)
    monkeypatch.setattr(app, "credentials", lambda: _credentials("b" * 40))
    assert session.read(header.split(";")[0], now=1001) == (None, True)


def test_the_key_is_not_in_the_sessions_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "credentials", lambda: _credentials("s3cr3t" * 7))
    issued, _ = session.issue("shop-a", now=1000)
    assert "s3cr3t" not in repr(issued)
