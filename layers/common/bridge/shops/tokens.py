"""A shop's OAuth access token (F17): refreshed before its hour is over; Jumpseller refusing it disconnects the shop.

Several Lambdas may hold the same shop's token. Before refreshing, the stored token is read again (another one
may have refreshed already). Jumpseller rotates the refresh token, so when two refresh at once the slower is
refused while the winner has not stored its tokens yet: the refused one reads again for up to REFUSAL_WAIT seconds
and takes the winner's. Only a refresh Jumpseller refuses with nothing newer stored by then means the app was
removed: the shop is marked disconnected, so nothing calls it until it installs the app again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bridge import secrets
from bridge.clients.jumpseller_accounts import GrantRefused, Tokens
from bridge.errors import ShopDisconnected
from bridge.models.shop import ShopSecrets
from bridge.observability import logger
from bridge.store import shops

REFRESH_MARGIN = 300  # seconds before expiry a token is refreshed, so no call goes out with a dying token
REFUSAL_WAIT = 5.0  # a winner's refresh and its SSM write take well under this; a removed app costs the wait once
REMOVED = "Jumpseller ya no acepta el acceso de la app: se desinstaló o se revocó. Instala la app de nuevo."


def with_tokens(creds: ShopSecrets, tokens: Tokens) -> ShopSecrets:
    return creds.model_copy(update={
        "jumpseller_access_token": tokens.access_token,
        "jumpseller_refresh_token": tokens.refresh_token,
        "jumpseller_token_expires_at": tokens.expires_at,
    })


class AppToken:
    def __init__(self, shop_id: str, creds: ShopSecrets, now: Callable[[], float] = time.time) -> None:
        self.shop_id = shop_id
        self._creds = creds
        self._now = now

    def current(self) -> str:
        if self._creds.jumpseller_token_expires_at - self._now() > REFRESH_MARGIN:
            return self._creds.jumpseller_access_token
        return self.renew()

    def renew(self) -> str:
        """A fresh access token (Jumpseller refused the one we had, or it is about to expire)."""
        from bridge.shops import app

        stored = secrets.get(self.shop_id, fresh=True)
        if (stored.jumpseller_access_token != self._creds.jumpseller_access_token
                and stored.jumpseller_token_expires_at - self._now() > REFRESH_MARGIN):
            self._creds = stored  # another process refreshed meanwhile
            return stored.jumpseller_access_token
        try:
            tokens = app.accounts().refresh(stored.jumpseller_refresh_token)
        except GrantRefused as exc:
            deadline = time.monotonic() + REFUSAL_WAIT
            while True:
                again = secrets.get(self.shop_id, fresh=True)
                if again.jumpseller_refresh_token != stored.jumpseller_refresh_token:
                    self._creds = again  # lost a race with another refresh: use its result
                    return again.jumpseller_access_token
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.25)
            logger.warning("app removed from the store (Jumpseller refused the refresh); shop disconnected",
                           extra={"error": exc.error})
            shops.mark_disconnected(self.shop_id, REMOVED, int(self._now()))
            raise ShopDisconnected(REMOVED) from exc
        self._creds = with_tokens(stored, tokens)
        secrets.put_credentials(self.shop_id, self._creds)
        return self._creds.jumpseller_access_token
