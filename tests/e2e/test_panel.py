"""F18 over HTTP: sign-in, CSRF, sessions, and that every panel action acts on the signed-in shop only."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bridge.orders.record import OrderState
from bridge.panel import session
from bridge.shops import app as app_config
from bridge.shops import signing
from bridge.store import jobs, shops
from bridge.store import orders as records
from tests.conftest import ROOT
from tests.e2e.panel_support import PanelApp, PanelShop, connected_shop, csrf, get, panel_app, post

__all__ = ["panel_app"]


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
    assert script.status_code == 200 and script.text == (ROOT / "checkout/rut-checkout.js").read_text()


def test_every_post_needs_the_sessions_own_csrf_token(two_shops: tuple[PanelShop, PanelShop, int]) -> None:
    a, b, order_b = two_shops
    b_token = csrf(b.page("/estado").text)
    forms = {"/acciones/sincronizar": {"modo": "link"}, "/acciones/reconciliar": {}, "/checkout": {"activar": "1"},
             f"/pedidos/{order_b}/reintentar": {}, "/conectar": {"sucursal": "1", "lista": "1"},
             "/conectar/bsale": {"bsale_token": "x"}, "/salir": {}}
    for path, data in forms.items():
        assert post(a.panel, path, a.cookie, data).status_code == 403, path  # no token
        assert post(a.panel, path, a.cookie, {**data, "csrf": b_token}).status_code == 403, path  # another's
        assert post(a.panel, path, b.cookie, {**data, "csrf": "x" + b_token[1:]}).status_code == 403, path
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
    secrets.parameters.clear_caches()  # force real SSM reads inside the function
    b.account.set_stock(b.variant_id("POL-M"), b.office_id, 10)
    token = csrf(b.page("/estado").text)
    creds = secrets.get(b.code, fresh=True)
    secrets.put(b.code, creds.model_copy(update={"jumpseller_token_expires_at": int(time.time()) + 60}))  # refresh
    with recorded_calls() as calls:
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


def test_an_unconfigured_app_answers_a_clear_page(stack: object) -> None:
    import requests

    from bridge import aws

    try:
        aws.client("ssm").delete_parameter(Name=app_config.path())
    except aws.client("ssm").exceptions.ParameterNotFound:
        pass
    app_config.parameters.clear_caches()
    page = requests.get(f"{stack.api_url}/panel/instalar", allow_redirects=False, timeout=20)  # type: ignore[attr-defined]
    assert page.status_code == 503 and "todavía no está configurada" in page.text
