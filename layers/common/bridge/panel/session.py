"""Panel sign-in: a signed, expiring session cookie naming one shop, and the CSRF token every form carries.

The shop in a session comes only from a finished OAuth install (Jumpseller said which store authorised the app);
nothing a browser sends in a URL or a form can name another shop. The cookie is `SameSite=None; Secure;
Partitioned` so it works inside the Jumpseller admin's iframe; since such a cookie also rides along on requests
other sites make, every POST must carry the session's CSRF token (an HMAC of the session id).
"""

from __future__ import annotations

import hmac
import secrets as random_secrets
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie

from bridge.settings import settings
from bridge.shops import app, signing

COOKIE = "panel_session"
PURPOSE = "panel-session"


@dataclass(frozen=True)
class Session:
    shop_id: str
    sid: str
    expires_at: int
    # The key that signed or verified this session. Its CSRF token uses the same key, so a key that changes
    # mid-request (the cached credentials expiring between two reads) cannot turn a good form into a 403.
    key: str = field(repr=False)

    @property
    def csrf(self) -> str:
        return signing.digest(self.key, "csrf", self.sid)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


def issue(shop_id: str, now: float | None = None) -> tuple[Session, str]:
    """A new session for the shop, and its Set-Cookie header value."""
    now = time.time() if now is None else now
    seconds = settings().panel_session_minutes * 60
    key = app.credentials().session_key
    session = Session(shop_id, random_secrets.token_urlsafe(16), int(now) + seconds, key)
    value = signing.sign(key, PURPOSE,
                         {"s": shop_id, "i": session.sid, "exp": session.expires_at})
    return session, _cookie(value, seconds)


def clear() -> str:
    return _cookie("", 0)


def read(cookie_header: str | None, now: float | None = None) -> tuple[Session | None, bool]:
    """(the session, or None; True when a session cookie was there but is expired or not ours)."""
    if not cookie_header:
        return None, False
    try:
        jar = SimpleCookie(cookie_header)
    except CookieError:
        return None, True
    morsel = jar.get(COOKIE)
    if morsel is None or not morsel.value:
        return None, False
    key = app.credentials().session_key
    payload = signing.verify(key, PURPOSE, morsel.value, time.time() if now is None else now)
    if payload is None or not isinstance(payload.get("s"), str) or not isinstance(payload.get("i"), str):
        return None, True
    return Session(payload["s"], payload["i"], int(payload["exp"]), key), False


def _cookie(value: str, max_age: int) -> str:
    return (f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=None; Partitioned")
