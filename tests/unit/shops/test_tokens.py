"""F17: two Lambdas that refresh the same shop's OAuth token at once. Jumpseller rotates the refresh token, so the
slower one is refused; it must take the winner's tokens, never take the refusal for a removed app."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from bridge.clients.jumpseller_accounts import GrantRefused, Tokens
from bridge.errors import ShopDisconnected
from bridge.models.shop import ShopSecrets
from bridge.shops import app, tokens

NOW = 1_000_000.0


class World:
    """The stored credentials (SSM) and Jumpseller's accounts server, which rotates refresh tokens."""

    def __init__(self, write_delay: float) -> None:
        self.stored = ShopSecrets(jumpseller_hooks_token="h", notify_token="n", jumpseller_access_token="a1",
                                  jumpseller_refresh_token="r1", jumpseller_token_expires_at=int(NOW) + 60)
        self.valid_refresh = "r1"
        self.issued = 0
        self.write_delay = write_delay  # how long the winner takes to store what it got
        self.disconnected: list[str] = []
        self.lock = threading.Lock()

    def refresh(self, refresh_token: str) -> Tokens:
        with self.lock:
            if refresh_token != self.valid_refresh:
                raise GrantRefused("invalid_grant", "refresh token already used")
            self.issued += 1
            self.valid_refresh = f"r{self.issued + 1}"
            return Tokens(access_token=f"a{self.issued + 1}", refresh_token=self.valid_refresh,
                          created_at=int(NOW), expires_in=3600)

    def put(self, shop_id: str, creds: ShopSecrets) -> None:
        time.sleep(self.write_delay)
        self.stored = creds


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    w = World(write_delay=0.3)

    class Accounts:
        def refresh(self, refresh_token: str) -> Tokens:
            return w.refresh(refresh_token)

    monkeypatch.setattr(app, "accounts", lambda: Accounts())
    monkeypatch.setattr(tokens.secrets, "get", lambda shop_id, fresh=False: w.stored)
    monkeypatch.setattr(tokens.secrets, "put_credentials", w.put)
    monkeypatch.setattr(tokens.shops, "mark_disconnected", lambda shop_id, *a: w.disconnected.append(shop_id))
    monkeypatch.setattr(tokens, "REFUSAL_WAIT", 2.0)
    return w


def test_two_processes_refreshing_at_once_both_end_with_the_winners_token(world: World) -> None:
    got: dict[str, Any] = {}
    holders = {name: tokens.AppToken("tienda", world.stored, now=lambda: NOW) for name in ("a", "b")}

    def use(name: str) -> None:
        try:
            got[name] = holders[name].current()
        except ShopDisconnected as exc:
            got[name] = exc

    threads = [threading.Thread(target=use, args=(name,)) for name in holders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert world.issued == 1  # one refresh went through; the other was refused (the refresh token had rotated)
    assert got == {"a": "a2", "b": "a2"} and world.disconnected == []


def test_a_refusal_with_nothing_newer_stored_still_means_the_app_was_removed(world: World) -> None:
    world.valid_refresh = "revoked"  # the store removed the app: every refresh token is refused
    started = time.monotonic()
    with pytest.raises(ShopDisconnected):
        tokens.AppToken("tienda", world.stored, now=lambda: NOW).current()
    assert world.disconnected == ["tienda"]
    assert time.monotonic() - started >= 2.0  # it waited for a concurrent winner's write before deciding
