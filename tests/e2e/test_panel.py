"""F18 over HTTP: sign-in, CSRF, sessions, and that every panel action acts on the signed-in shop only."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bridge.models.order_record import OrderState
from bridge.panel import session
from bridge.shops import app as app_config
from bridge.shops import signing
from bridge.store import jobs, shops
from bridge.store import orders as records
from devstack import LocalStack
from sandboxes.facto import FactoSandbox
from tests.conftest import ROOT
from tests.e2e.panel_support import (
    PanelApp,
    PanelShop,
    connected_shop,
    csrf,
    facto_panel,
    get,
    panel_app,
    post,
)

__all__ = ["facto_panel", "panel_app"]


@pytest.fixture
def two_shops(panel_app: PanelApp) -> Iterator[tuple[PanelShop, PanelShop, int]]:
    """Shops A and B; B has a failed order (its id is the third value)."""
    a, b = connected_shop(panel_app), connected_shop(panel_app)
    b.link("POL-M")
    yield a, b, b.failed_order("POL-M")


def test_pages_show_only_the_signed_in_shop_whatever_the_url_says(
    two_shops: tuple[PanelShop, PanelShop, int]
) -> None:
    a, b, order_b = two_shops
    for path in ("/estado", "/conectar", "/acciones", "/checkout"):
        page = a.page(path, tienda=b.code, shop=b.code, store_code=b.code)
        assert page.status_code == 200, (path, page.text[:300])
        assert b.code not in page.text and a.code in page.text
    assert str(order_b) in b.page("/estado").text
    assert f"pedido-{order_b}" not in a.page("/estado").text
    progress = a.page("/acciones/progreso", tienda=b.code).json()
    assert progress == {"manual": None, "reconcile": None}


def test_retry_and_create_document_of_another_shops_order_are_refused(
    two_shops: tuple[PanelShop, PanelShop, int]
) -> None:
    a, b, order_b = two_shops
    for action in ("reintentar", "documento"):
        answer = a.post(f"/pedidos/{order_b}/{action}", {"tienda": b.code, "shop_id": b.code})
        assert answer.status_code == 404 and "No encontramos ese pedido en tu tienda" in answer.text
    record = records.get(b.code, order_b)
    assert record is not None and record.state is OrderState.FAILED and record.document is None


def test_sync_and_reconcile_queue_only_the_signed_in_shops_jobs(two_shops: tuple[PanelShop, PanelShop, int]) -> None:
    a, b, _ = two_shops
    answer = a.post("/acciones/sincronizar", {"modo": "link", "tienda": b.code}, token_from="/acciones")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/panel/acciones?aviso=sync")
    answer = a.post("/acciones/reconciliar", {"tienda": b.code}, token_from="/acciones")
    assert answer.status_code == 303
    assert jobs.get(a.code, "manual") is not None and jobs.get(a.code, "reconcile") is not None
    assert jobs.get(b.code, "manual") is None and jobs.get(b.code, "reconcile") is None


def test_connect_changes_only_the_signed_in_shop(two_shops: tuple[PanelShop, PanelShop, int]) -> None:
    a, b, _ = two_shops
    before = shops.get(b.code)
    office = next(o for o in b.account.offices.values() if not o.is_virtual)
    answer = a.post("/conectar", {"store_code": b.code, "tienda": b.code, "bsale_token": a.account.token,
                                  "sucursal": str(next(o for o in a.account.offices.values()
                                                       if not o.is_virtual).id),
                                  "lista": str(next(iter(a.account.price_lists)))}, token_from="/conectar")
    assert answer.status_code == 303
    assert shops.get(b.code) == before
    changed = shops.get(a.code)
    assert changed is not None and changed.office_id != office.id and not changed.options.documents


def test_checkout_helper_switch_acts_on_the_signed_in_store_only(
    two_shops: tuple[PanelShop, PanelShop, int]
) -> None:
    a, b, _ = two_shops
    oauth = a.panel.jumpseller.oauth
    answer = a.post("/checkout", {"activar": "1", "tienda": b.code}, token_from="/checkout")
    assert answer.status_code == 303
    assert [app.url for app in oauth.jsapps.get(a.code, {}).values()] == [
        f"{a.panel.stack.api_url}/panel/assets/rut-checkout.js"]
    assert oauth.jsapps.get(b.code, {}) == {}
    assert "instalado" in a.page("/checkout").text
    assert a.post("/checkout", {"activar": "1"}, token_from="/checkout").status_code == 303  # idempotent
    assert len(oauth.jsapps[a.code]) == 1
    assert a.post("/checkout", {"activar": "0"}, token_from="/checkout").status_code == 303
    assert oauth.jsapps[a.code] == {}
    script = get(a.panel, "/assets/rut-checkout.js", "")
    helper = ROOT / "layers/common/bridge/panel/assets/rut-checkout.js"
    assert script.status_code == 200 and script.text == helper.read_text()


def test_every_post_needs_the_sessions_own_csrf_token(two_shops: tuple[PanelShop, PanelShop, int]) -> None:
    a, b, order_b = two_shops
    b_token = csrf(b.page("/estado").text)
    altered = ("y" if b_token[0] == "x" else "x") + b_token[1:]  # (a token may start with "x": 1 in 64)
    forms = {"/acciones/sincronizar": {"modo": "link"}, "/acciones/reconciliar": {}, "/checkout": {"activar": "1"},
             f"/pedidos/{order_b}/reintentar": {}, "/conectar": {"sucursal": "1", "lista": "1"},
             "/conectar/bsale": {"bsale_token": "x"}, "/salir": {}}
    for path, data in forms.items():
        assert post(a.panel, path, a.cookie, data).status_code == 403, path  # no token
        assert post(a.panel, path, a.cookie, {**data, "csrf": b_token}).status_code == 403, path  # another's
        assert post(a.panel, path, b.cookie, {**data, "csrf": altered}).status_code == 403, path
    assert jobs.get(a.code, "manual") is None and jobs.get(b.code, "manual") is None
    record = records.get(b.code, order_b)
    assert record is not None and record.state is OrderState.FAILED


def test_expired_or_forged_sessions_are_signed_out(two_shops: tuple[PanelShop, PanelShop, int]) -> None:
    a, b, order_b = two_shops
    key = app_config.credentials().session_key
    expired = signing.sign(key, session.PURPOSE, {"s": a.code, "i": "x", "exp": int(time.time()) - 1})
    page = get(a.panel, "/estado", f"{session.COOKIE}={expired}")
    assert page.status_code == 303 and page.headers["Location"].endswith("/panel?aviso=expirada")
    assert "Tu sesión expiró" in get(a.panel, "", f"{session.COOKIE}={expired}").text
    answer = post(a.panel, f"/pedidos/{order_b}/reintentar", f"{session.COOKIE}={expired}", {"csrf": "x"})
    assert answer.status_code == 401

    # A's cookie edited to name B: the signature no longer matches.
    value = a.cookie.split("=", 1)[1]
    body, _, mac = value.partition(".")
    import base64
    import json

    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["s"] = b.code
    edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    page = get(a.panel, "/estado", f"{session.COOKIE}={edited}.{mac}")
    assert page.status_code == 303 and "/panel/estado" not in page.headers["Location"]
    signed_out = post(a.panel, "/salir", a.cookie, {"csrf": csrf(a.page("/estado").text)})
    assert signed_out.status_code == 303 and "Max-Age=0" in signed_out.headers["Set-Cookie"]


def test_reintentar_makes_the_document_once_bsale_has_the_stock(two_shops: tuple[PanelShop, PanelShop, int]) -> None:
    _, b, order_b = two_shops
    page = b.page("/estado")
    assert "There is no stock for this products" in page.text and "Reintentar" in page.text
    b.account.set_stock(b.variant_id("POL-M"), b.office_id, 10)
    answer = b.post(f"/pedidos/{order_b}/reintentar", {})
    assert answer.status_code == 200 and f"Pedido {order_b}: Documento creado." in answer.text
    record = records.get(b.code, order_b)
    assert record is not None and record.state is OrderState.CREATED and record.document is not None
    again = b.post(f"/pedidos/{order_b}/reintentar", {})
    assert "No había nada que reintentar" in again.text
    assert len([d for d in b.account.documents.values() if d.sales_id == f"js-{b.code}-{order_b}"]) == 1


def panel_event(panel: PanelApp, method: str, path: str, cookie: str, body: str = "") -> dict[str, object]:
    from devstack.events import api_gateway_event

    host = panel.stack.api_url.split("//", 1)[1]
    return api_gateway_event(method=method, path=f"/panel{path}", resource="/panel/{proxy+}",
                             headers=[("Host", host), ("Cookie", cookie), ("X-Forwarded-Proto", "http"),
                                      ("Content-Type", "application/x-www-form-urlencoded")],
                             query={}, path_parameters={"proxy": path.lstrip("/")}, body=body.encode(),
                             source_ip="127.0.0.1")


def test_the_panel_touches_only_what_its_policy_allows(two_shops: tuple[PanelShop, PanelShop, int]) -> None:
    from urllib.parse import urlencode

    from bridge import secrets
    from tests.e2e.test_policies import assert_covered, recorded_calls

    _, b, order_b = two_shops
    stack = b.panel.stack
    function = stack.function("PanelFunction")
    b.account.set_stock(b.variant_id("POL-M"), b.office_id, 10)
    token = csrf(b.page("/estado").text)
    creds = secrets.get(b.code, fresh=True)
    secrets.put(b.code, creds.model_copy(update={"jumpseller_token_expires_at": int(time.time()) + 60}))  # refresh
    with recorded_calls(stack, "PanelFunction") as calls:  # a cold start: real SSM reads inside the function
        for method, path, body in (("GET", "/estado", ""), ("GET", "/acciones", ""),
                                   ("POST", "/acciones/reconciliar", urlencode({"csrf": token})),
                                   ("POST", f"/pedidos/{order_b}/reintentar", urlencode({"csrf": token})),
                                   ("POST", "/checkout", urlencode({"csrf": token, "activar": "1"}))):
            answer = function.invoke(panel_event(b.panel, method, path, b.cookie, body))
            assert answer["statusCode"] in (200, 303), (path, answer["statusCode"])
    # A transaction is authorised item by item (IAM checks each Put / Update / ConditionCheck on its table).
    items = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
    flat = [(svc, items[kind], body) for svc, op, params in calls if op == "TransactWriteItems"
            for entry in params["TransactItems"] for kind, body in entry.items()]
    assert_covered(stack, "PanelFunction", [c for c in calls if c[1] != "TransactWriteItems"] + flat)
    record = records.get(b.code, order_b)
    assert record is not None and record.state is OrderState.CREATED


def test_unlinked_skus_are_searchable_and_paginated(panel_app: PanelApp) -> None:
    from bridge.store import links

    a = connected_shop(panel_app)
    for n in range(120):
        links.record_unlinked(a.code, str(900_000 + n), f"BULK-{n:03d}", "missing in Jumpseller")
    first = a.page("/estado")
    assert "Sin vincular (120)" in first.text and "Página 1 de 3" in first.text
    assert "BULK-000" in first.text and "BULK-050" not in first.text
    third = a.page("/estado", p="3")
    assert "BULK-119" in third.text and "BULK-000" not in third.text and "Página 3 de 3" in third.text
    found = a.page("/estado", q="bulk-07")
    assert "Sin vincular (10)" in found.text and "BULK-075" in found.text and "BULK-080" not in found.text
    assert "no existe en Jumpseller" in found.text


def test_an_unconfigured_app_answers_a_clear_page(stack: LocalStack) -> None:
    import requests

    from bridge import aws

    ssm = aws.client("ssm")
    try:
        saved = ssm.get_parameter(Name=app_config.path(), WithDecryption=True)["Parameter"]["Value"]
        ssm.delete_parameter(Name=app_config.path())
    except ssm.exceptions.ParameterNotFound:
        saved = None
    app_config.parameters.clear_caches()
    stack.function("PanelFunction").retire()  # new environments: nothing cached from before the deletion
    try:
        page = requests.get(f"{stack.api_url}/panel/instalar", allow_redirects=False, timeout=20)  # type: ignore[attr-defined]
        assert page.status_code == 503 and "todavía no está configurada" in page.text
    finally:
        if saved is not None:  # the app registered for the other panel tests stays, as in a deployment
            ssm.put_parameter(Name=app_config.path(), Value=saved, Type="SecureString", Overwrite=True)
            app_config.parameters.clear_caches()
        stack.function("PanelFunction").retire()


# ------------------------------------------------------------------------------------------------ Facto (F15)


def bsale_form(shop: PanelShop, **fields: str) -> dict[str, str]:
    office = next(o for o in shop.account.offices.values() if o.is_virtual)
    return {"bsale_token": shop.account.token, "sucursal": str(office.id),
            "lista": str(next(iter(shop.account.price_lists))), "documentos": "1", "modo": "auto",
            "aviso_horas": "24", **fields}


def test_connecting_facto_from_the_panel_stores_the_provider_and_never_shows_the_key(
    two_shops: tuple[PanelShop, PanelShop, int], facto_panel: FactoSandbox
) -> None:
    from bridge import secrets

    a, b, _ = two_shops
    user, key = f"76.123.456-0/{a.code}", f"clave-secreta-{a.code}-0123456789"
    facto_panel.accounts[user] = key
    b_before = shops.get(b.code)
    answer = a.post("/conectar", bsale_form(a, proveedor="facto", facto_usuario=user, facto_clave=key,
                                            tienda=b.code, store_code=b.code, shop_id=b.code), token_from="/conectar")
    assert answer.status_code == 303, answer.text
    assert "/panel/estado?aviso=conectada" in answer.headers["Location"]
    shop = shops.get(a.code)
    assert shop is not None and shop.options.document_provider == "facto" and shop.bsale_account
    assert shop.facto_url == f"{facto_panel.url}/documento.php"
    stored = secrets.get(a.code, fresh=True)
    assert (stored.facto_user, stored.facto_key) == (user, key)
    # The form cannot target another shop: B is exactly as it was, without Facto.
    assert shops.get(b.code) == b_before and secrets.get(b.code, fresh=True).facto_key is None

    page = a.page("/conectar")
    assert page.status_code == 200 and user in page.text and "Facto" in page.text
    assert key not in page.text
    options = a.post("/conectar/bsale", {"bsale_token": a.account.token}, token_from="/conectar")
    assert options.status_code == 200 and 'value="facto" checked' in options.text
    assert user in options.text and key not in options.text

    # A blank key keeps the stored one (the page never has it to send back).
    again = a.post("/conectar", bsale_form(a, proveedor="facto", facto_usuario=user, facto_clave=""),
                   token_from="/conectar")
    assert again.status_code == 303, again.text
    assert secrets.get(a.code, fresh=True).facto_key == key

    # Refusals in the owner's words, the typed key not echoed, nothing changed.
    other = "otra-clave-9876543210"
    for bad_user, words in (("76123456/tienda", "RUT de la empresa y tu usuario separados por «/»"),
                            ("76.123.456-1/tienda", "no es válido (revisa el dígito verificador)")):
        refused = a.post("/conectar", bsale_form(a, proveedor="facto", facto_usuario=bad_user, facto_clave=other),
                         token_from="/conectar")
        assert refused.status_code == 400 and words in refused.text, refused.text[-600:]
        assert other not in refused.text and key not in refused.text
        assert secrets.get(a.code, fresh=True).facto_user == user
    refused = a.post("/conectar", bsale_form(a, proveedor="facto", facto_usuario="", facto_clave=other),
                     token_from="/conectar")
    assert refused.status_code == 400 and "Escribe tu usuario de Facto" in refused.text

    # Back to Bsale documents from the same form.
    back = a.post("/conectar", bsale_form(a, proveedor="bsale"), token_from="/conectar")
    assert back.status_code == 303
    shop = shops.get(a.code)
    assert shop is not None and shop.options.document_provider == "bsale"


def test_a_shop_without_bsale_connects_jumpseller_and_facto_only(
    panel_app: PanelApp, facto_panel: FactoSandbox
) -> None:
    from bridge import secrets
    from tests.e2e.panel_support import install, new_store

    store, _ = new_store(panel_app)
    other, _ = new_store(panel_app)
    cookie = install(panel_app, store.code)
    first = get(panel_app, "/conectar", cookie)
    assert "Conecta solo Facto" in first.text and 'for="solo-facto_clave"' in first.text
    user, key = f"76.123.456-0/{store.code}", f"clave-{store.code}-abcdef0123456789"
    facto_panel.accounts[user] = key
    answer = post(panel_app, "/conectar", cookie, {"csrf": csrf(first.text), "sin_bsale": "1", "proveedor": "facto",
                                                   "facto_usuario": user, "facto_clave": key, "modo": "manual",
                                                   "tienda": other.code, "store_code": other.code})
    assert answer.status_code == 303, answer.text
    assert answer.headers["Location"].split("?", 1)[1].startswith("aviso=conectada-facto")
    shop = shops.get(store.code)
    assert shop is not None and not shop.bsale_account and shop.options.document_provider == "facto"
    assert shop.options.documents and shop.options.document_mode == "manual"
    assert secrets.get(store.code, fresh=True).facto_key == key
    assert shops.get(other.code) is None
    page = get(panel_app, "/conectar", cookie)
    assert "sin Bsale" in page.text and user in page.text and key not in page.text
    assert "/bsale/notifications/" not in page.text  # no Bsale: no address to give it
    assert get(panel_app, "/estado", cookie).status_code == 200
