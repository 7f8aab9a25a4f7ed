"""F17 through the local stack: installing the Jumpseller app (OAuth), its failures, refresh and removal."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from bridge import secrets
from bridge.errors import ShopDisconnected
from bridge.ops.status import shop_health
from bridge.shops.context import open_shop
from bridge.store import shops
from tests.e2e.conftest import eventually
from tests.e2e.panel_support import PanelApp, connect_bsale, consent, get, install, new_store, panel_app

__all__ = ["panel_app"]


def test_install_stores_the_app_tokens_and_signs_the_owner_in(panel_app: PanelApp) -> None:
    store, _ = new_store(panel_app)
    callback = requests.get(consent(panel_app, store.code), allow_redirects=False, timeout=20)
    assert callback.status_code == 303
    assert callback.headers["Location"].endswith("/panel/conectar?aviso=instalada")
    cookie = callback.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=None", "Max-Age=3600"):
        assert attribute in cookie
    creds = secrets.get(store.code, fresh=True)
    grant = panel_app.jumpseller.oauth.grant_for(store.code, panel_app.app.client_id)
    assert grant is not None and creds.jumpseller_access_token == grant.access_token
    assert creds.jumpseller_refresh_token == grant.refresh_token
    assert creds.jumpseller_hooks_token == store.hooks_token
    assert creds.jumpseller_token_expires_at > time.time() + 3000
    assert shops.get(store.code) is None  # Bsale is not connected yet: no shop record, nothing runs for it


def test_refused_consent_installs_nothing(panel_app: PanelApp) -> None:
    store, _ = new_store(panel_app)
    page = requests.get(consent(panel_app, store.code, decision="deny"), allow_redirects=False, timeout=20)
    assert page.status_code == 400
    assert "No autorizaste la app" in page.text
    assert "Set-Cookie" not in page.headers
    assert secrets.find(store.code) is None


def test_a_state_is_used_once_and_cannot_be_forged(panel_app: PanelApp) -> None:
    store, _ = new_store(panel_app)
    url = consent(panel_app, store.code)
    assert requests.get(url, allow_redirects=False, timeout=20).status_code == 303
    replay = requests.get(url, allow_redirects=False, timeout=20)
    assert replay.status_code == 400 and "ya se usó" in replay.text and "Set-Cookie" not in replay.headers

    other, _ = new_store(panel_app)
    url = consent(panel_app, other.code)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    body, _, mac = query["state"].partition(".")
    forged = {**query, "state": f"{body}.{mac[:-2]}AA"}
    page = requests.get(urlunsplit(parts._replace(query=urlencode(forged))), allow_redirects=False, timeout=20)
    assert page.status_code == 400 and "no es válido" in page.text
    assert secrets.find(other.code) is None


def test_an_expired_code_is_a_clear_page_and_nothing_is_saved(panel_app: PanelApp) -> None:
    store, _ = new_store(panel_app)
    url = consent(panel_app, store.code)
    code = parse_qs(urlsplit(url).query)["code"][0]
    panel_app.jumpseller.oauth.codes[code].expires_at = 0
    page = requests.get(url, allow_redirects=False, timeout=20)
    assert page.status_code == 400 and "venció o ya se usó" in page.text
    assert secrets.find(store.code) is None


def test_installing_twice_keeps_the_shop_and_its_notification_url(panel_app: PanelApp) -> None:
    store, account = new_store(panel_app)
    cookie = install(panel_app, store.code)
    assert connect_bsale(panel_app, cookie, account).status_code == 303
    before = secrets.get(store.code, fresh=True)
    hooks_before = sorted((h.event, h.url) for h in store.hooks.values())
    assert {h.application_id for h in store.hooks.values()} == {panel_app.app.id}  # made with the app's token

    again = requests.get(consent(panel_app, store.code), allow_redirects=False, timeout=20)
    assert again.status_code == 303 and again.headers["Location"].endswith("/panel/estado?aviso=reinstalada")
    after = secrets.get(store.code, fresh=True)
    assert after.notify_token == before.notify_token and after.bsale_token == before.bsale_token
    assert after.jumpseller_access_token != before.jumpseller_access_token
    assert sorted((h.event, h.url) for h in store.hooks.values()) == hooks_before  # not registered twice


def test_tokens_are_refreshed_before_they_expire(panel_app: PanelApp) -> None:
    store, account = new_store(panel_app)
    cookie = install(panel_app, store.code)
    assert connect_bsale(panel_app, cookie, account).status_code == 303
    creds = secrets.get(store.code, fresh=True)
    # Four minutes left: inside the refresh margin, still valid for Jumpseller.
    secrets.put(store.code, creds.model_copy(update={"jumpseller_token_expires_at": int(time.time()) + 240}))
    panel_app.jumpseller.reset_log()
    assert open_shop(store.code).jumpseller.store_info()["code"] == store.code
    refreshed = secrets.get(store.code, fresh=True)
    assert refreshed.jumpseller_access_token != creds.jumpseller_access_token
    assert refreshed.jumpseller_token_expires_at > time.time() + 3000
    assert panel_app.jumpseller.count("POST", "/oauth/token", status=200) == 1  # refreshed once, before any 401
    assert panel_app.jumpseller.count(status=401) == 0


def test_a_removed_app_shows_disconnected_and_its_store_is_no_longer_called(panel_app: PanelApp) -> None:
    store, account = new_store(panel_app)
    cookie = install(panel_app, store.code)
    assert connect_bsale(panel_app, cookie, account).status_code == 303
    assert shop_health(store.code).connected
    panel_app.jumpseller.oauth.uninstall(store.code)

    with pytest.raises(ShopDisconnected):
        open_shop(store.code).jumpseller.store_info()
    health = shop_health(store.code)
    assert not health.connected
    assert "NOT CONNECTED" in health.one_line() and "se desinstaló" in health.one_line()
    with pytest.raises(ShopDisconnected):
        open_shop(store.code)

    # A Bsale stock change for it reaches the worker, which calls neither API.
    panel_app.jumpseller.reset_log()
    panel_app.bsale.reset_log()
    office = next(o for o in account.offices.values() if o.is_virtual)
    panel_app.bsale.subscribe(account.cpn_id, f"{panel_app.stack.api_url}/bsale/notifications/"
                              f"{secrets.get(store.code, fresh=True).notify_token}")
    variant = account.variant_by_code("TAZA-1")
    assert variant is not None
    before = len(panel_app.stack.invocations)
    account.set_stock(variant.id, office.id, 7)
    eventually(lambda: any(i.function == "BsaleWorkerFunction" for i in panel_app.stack.invocations[before:]))
    assert panel_app.stack.drain(timeout=15)
    assert panel_app.jumpseller.count(path_contains="/v1/") == 0
    assert store.find_sku("TAZA-1") is not None and panel_app.bsale.count(path_contains="/v1/stocks") == 0

    page = get(panel_app, "/estado", cookie)
    assert page.status_code == 200 and "ya no acepta el acceso de la app" in page.text

    # Installing again reconnects it.
    install(panel_app, store.code)
    assert shop_health(store.code).connected
    assert open_shop(store.code).jumpseller.store_info()["code"] == store.code
