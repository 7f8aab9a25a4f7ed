"""Jumpseller sandbox, OAuth side: consent, code exchange, refresh, expiry, scopes, removal, JsApps."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandboxes import JumpsellerSandbox, JumpsellerStore
from sandboxes.jumpseller_oauth import OAuthApp

REDIRECT = "https://bridge.example/panel/oauth/callback"
SCOPES = ("read_store read_products write_products read_orders write_orders read_hooks write_hooks write_jsapps "
          "read_jsapps")


@pytest.fixture
def app(jumpseller: JumpsellerSandbox) -> OAuthApp:
    return jumpseller.oauth.register_app(REDIRECT)


def authorize(jumpseller: JumpsellerSandbox, app: OAuthApp, store: str, decision: str = "allow",
              scope: str = SCOPES, state: str = "s1") -> dict[str, list[str]]:
    query = {"client_id": app.client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": scope,
             "state": state}
    page = requests.get(jumpseller.url + "/oauth/authorize", params=query)
    assert page.status_code == 200 and "Autorizar" in page.text
    answer = requests.post(jumpseller.url + "/oauth/authorize", data={**query, "store": store, "decision": decision},
                           allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def exchange(
    jumpseller: JumpsellerSandbox, app: OAuthApp, code: str, redirect_uri: str = REDIRECT
) -> requests.Response:
    return requests.post(jumpseller.url + "/oauth/token", data={
        "grant_type": "authorization_code", "client_id": app.client_id, "client_secret": app.client_secret,
        "code": code, "redirect_uri": redirect_uri})


def test_consent_gives_a_single_use_code_for_tokens_that_call_the_api(
    jumpseller: JumpsellerSandbox, store: JumpsellerStore, app: OAuthApp
) -> None:
    params = authorize(jumpseller, app, store.code)
    assert params["state"] == ["s1"]
    answer = exchange(jumpseller, app, params["code"][0])
    assert answer.status_code == 200
    tokens = answer.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    assert {"access_token", "refresh_token", "created_at"} <= set(tokens)
    info = requests.get(jumpseller.url + "/v1/store/info.json",
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["store"]["code"] == store.code
    again = exchange(jumpseller, app, params["code"][0])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_refused_consent_redirects_with_access_denied(
    jumpseller: JumpsellerSandbox, store: JumpsellerStore, app: OAuthApp
) -> None:
    params = authorize(jumpseller, app, store.code, decision="deny")
    assert params == {"error": ["access_denied"], "state": ["s1"]}


def test_unknown_client_or_redirect_is_an_error_page_not_a_redirect(
    jumpseller: JumpsellerSandbox, app: OAuthApp
) -> None:
    base = {"client_id": app.client_id, "redirect_uri": REDIRECT, "response_type": "code", "scope": SCOPES}
    for changed in ({"client_id": "nope"}, {"redirect_uri": "https://evil.example/cb"}):
        page = requests.get(jumpseller.url + "/oauth/authorize", params={**base, **changed}, allow_redirects=False)
        assert page.status_code == 400 and "Location" not in page.headers


def test_expired_code_wrong_secret_and_wrong_redirect_are_refused(
    jumpseller: JumpsellerSandbox, store: JumpsellerStore, app: OAuthApp
) -> None:
    code = authorize(jumpseller, app, store.code)["code"][0]
    assert exchange(jumpseller, app, code, redirect_uri=REDIRECT + "x").json()["error"] == "invalid_grant"
    code = authorize(jumpseller, app, store.code)["code"][0]
    jumpseller.oauth.codes[code].expires_at = 0
    assert exchange(jumpseller, app, code).json()["error"] == "invalid_grant"
    bad = requests.post(jumpseller.url + "/oauth/token", data={
        "grant_type": "authorization_code", "client_id": app.client_id, "client_secret": "wrong", "code": "x",
        "redirect_uri": REDIRECT})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def test_expired_access_token_is_401_and_refresh_rotates(
    jumpseller: JumpsellerSandbox, store: JumpsellerStore, app: OAuthApp
) -> None:
    tokens = exchange(jumpseller, app, authorize(jumpseller, app, store.code)["code"][0]).json()
    jumpseller.oauth.expire_tokens(store.code)
    old = requests.get(jumpseller.url + "/v1/products.json",
                       headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert old.status_code == 401 and "expired" in old.json()["message"]
    form = {"grant_type": "refresh_token", "client_id": app.client_id, "client_secret": app.client_secret,
            "refresh_token": tokens["refresh_token"]}
    fresh = requests.post(jumpseller.url + "/oauth/token", data=form).json()
    assert fresh["access_token"] != tokens["access_token"]
    ok = requests.get(jumpseller.url + "/v1/products.json",
                      headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert ok.status_code == 200
    reused = requests.post(jumpseller.url + "/oauth/token", data=form)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_scopes_are_enforced_and_removing_the_app_revokes_its_tokens(
    jumpseller: JumpsellerSandbox, store: JumpsellerStore, app: OAuthApp
) -> None:
    code = authorize(jumpseller, app, store.code, scope="read_store")["code"][0]
    tokens = exchange(jumpseller, app, code).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(jumpseller.url + "/v1/store/info.json", headers=auth).status_code == 200
    assert requests.get(jumpseller.url + "/v1/products.json", headers=auth).status_code == 403
    jumpseller.oauth.uninstall(store.code)
    assert requests.get(jumpseller.url + "/v1/store/info.json", headers=auth).status_code == 401
    form = {"grant_type": "refresh_token", "client_id": app.client_id, "client_secret": app.client_secret,
            "refresh_token": tokens["refresh_token"]}
    assert requests.post(jumpseller.url + "/oauth/token", data=form).json()["error"] == "invalid_grant"


def test_jsapps_belong_to_the_app_that_made_them(
    jumpseller: JumpsellerSandbox, store: JumpsellerStore, app: OAuthApp
) -> None:
    tokens = exchange(jumpseller, app, authorize(jumpseller, app, store.code)["code"][0]).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    api = jumpseller.url + "/v1/jsapps.json"
    assert requests.get(api, headers=auth).status_code == 404
    assert requests.post(api, auth=(store.login, store.auth_token),
                         json={"app": {"url": "https://x/a.js", "template": "checkout", "element": "body"}}
                         ).status_code == 403
    bad = requests.post(api, headers=auth,
                        json={"app": {"url": "https://x/a.js", "template": "nope", "element": "body"}})
    assert bad.status_code == 400  # the official spec's enum refuses it before the store does
    assert len(jumpseller.violations) == 1
    jumpseller.violations.clear()
    made = requests.post(api, headers=auth,
                         json={"app": {"url": "https://x/a.js", "template": "checkout", "element": "body"}}).json()
    assert made["js_app"]["application_id"] == app.id
    listed = requests.get(api, headers=auth).json()
    assert [a["js_app"]["id"] for a in listed] == [made["js_app"]["id"]]
    gone = requests.delete(f"{jumpseller.url}/v1/jsapps/{made['js_app']['id']}.json", headers=auth)
    assert gone.status_code == 200
    assert requests.get(api, headers=auth).status_code == 404
    assert jumpseller.violations == []


def test_hooks_made_with_an_app_token_carry_the_app(
    jumpseller: JumpsellerSandbox, store: JumpsellerStore, app: OAuthApp
) -> None:
    tokens = exchange(jumpseller, app, authorize(jumpseller, app, store.code)["code"][0]).json()
    made = requests.post(jumpseller.url + "/v1/hooks.json",
                         headers={"Authorization": f"Bearer {tokens['access_token']}"},
                         json={"hook": {"event": "order_paid", "url": "https://bridge.example/jumpseller/webhooks"}})
    assert made.status_code == 200 and made.json()["hook"]["application_id"] == app.id
