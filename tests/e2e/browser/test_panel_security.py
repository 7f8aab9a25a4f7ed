"""In the browser: shop A cannot read or change shop B by URL or form, an expired session signs the owner out, a
forged cross-site POST is refused, and the panel works (cookies included) inside another site's iframe."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bridge.models.order_record import OrderState
from bridge.panel import session
from bridge.shops import app as app_config
from bridge.shops import signing
from bridge.store import jobs
from bridge.store import orders as records
from tests.e2e.browser.conftest import screenshot
from tests.e2e.browser.test_panel_story import sign_in
from tests.e2e.panel_support import PanelApp, PanelShop, connected_shop


@pytest.fixture
def other_site() -> Iterator[dict[str, bytes]]:
    """Pages served from http://localhost:<port>: another site than the panel's http://127.0.0.1."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = pages.get(self.path, b"not found")
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pages["__port__"] = str(server.server_address[1]).encode()
    yield pages
    server.shutdown()
    server.server_close()


def site_url(pages: dict[str, bytes], path: str) -> str:
    return f"http://localhost:{pages['__port__'].decode()}{path}"


def owner_page(context: Any, shop: PanelShop) -> Any:
    """A browser tab signed in as the shop's owner (through Jumpseller's consent page)."""
    page = context.new_page()
    sign_in(page, shop.panel, shop.code)
    return page


def test_shop_a_cannot_read_or_change_shop_b_by_url_or_form(browser: Any, panel_app: PanelApp) -> None:
    a, b = connected_shop(panel_app), connected_shop(panel_app)
    b.link("POL-M")
    order_b = b.failed_order("POL-M")
    context = browser.new_context(locale="es-CL")
    page = owner_page(context, a)

    page.goto(f"{panel_app.url}/estado?tienda={b.code}&shop={b.code}")
    assert a.code in page.inner_text("header") and b.code not in page.content()
    assert page.locator(f"#pedido-{order_b}").count() == 0

    # A edits a real form of the panel to aim at B's order, B's sync, B's checkout: each acts on A or nothing.
    forged = {
        f"/panel/pedidos/{order_b}/reintentar": "/estado",
        f"/panel/pedidos/{order_b}/documento": "/estado",
    }
    for action, origin in forged.items():
        page.goto(f"{panel_app.url}{origin}")
        page.evaluate("""([action, shop]) => {
            const form = document.querySelector('form[method=post]');
            form.action = action;
            for (const name of ['tienda', 'shop', 'store_code']) {
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = shop; form.appendChild(input);
            }
            form.submit();
        }""", [f"{panel_app.stack.api_url}{action}", b.code])
        page.wait_for_load_state()
        assert "No encontramos ese pedido en tu tienda" in page.inner_text("main")
    screenshot(page, "12-aislamiento")
    record = records.get(b.code, order_b)
    assert record is not None and record.state is OrderState.FAILED

    for path, button in (("/acciones", "Sincronizar ahora"), ("/checkout", "Instalar el ayudante")):
        page.goto(f"{panel_app.url}{path}")
        page.evaluate("""(shop) => document.querySelectorAll('form[method=post]').forEach(form => {
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = 'tienda'; input.value = shop; form.appendChild(input);
        })""", b.code)
        page.get_by_role("button", name=button).click()
        page.wait_for_load_state()
    assert jobs.get(a.code, "reconcile") is not None and jobs.get(b.code, "reconcile") is None
    assert panel_app.jumpseller.oauth.jsapps.get(b.code, {}) == {}
    assert len(panel_app.jumpseller.oauth.jsapps.get(a.code, {})) == 1
    context.close()


def test_an_expired_session_signs_the_owner_out(browser: Any, panel_app: PanelApp) -> None:
    a = connected_shop(panel_app)
    context = browser.new_context(locale="es-CL")
    page = owner_page(context, a)
    page.goto(f"{panel_app.url}/acciones")
    # The same session, as the browser holds it an hour later: its signed expiry has passed.
    expired = signing.sign(app_config.credentials().session_key, session.PURPOSE,
                           {"s": a.code, "i": "old", "exp": int(time.time()) - 1})
    host = panel_app.stack.api_url.split("//", 1)[1].split(":")[0]
    context.add_cookies([{"name": session.COOKIE, "value": expired, "domain": host, "path": "/", "secure": True,
                          "httpOnly": True, "sameSite": "None"}])
    page.get_by_role("button", name="Sincronizar ahora").click()
    assert "Tu sesión expiró" in page.inner_text("main")
    assert jobs.get(a.code, "reconcile") is None
    page.goto(f"{panel_app.url}/estado")
    assert page.url.endswith("/panel?aviso=expirada") and "Tu sesión expiró" in page.inner_text("main")
    screenshot(page, "13-sesion-expirada")
    context.close()


def test_a_cross_site_post_is_refused(browser: Any, panel_app: PanelApp, other_site: dict[str, bytes]) -> None:
    a = connected_shop(panel_app)
    a.link("POL-M")
    order = a.failed_order("POL-M")
    a.account.set_stock(a.variant_id("POL-M"), a.office_id, 10)  # a retry would now succeed
    context = browser.new_context(locale="es-CL")
    owner_page(context, a)
    other_site["/premio"] = (
        f'<form method="post" action="{panel_app.url}/pedidos/{order}/reintentar">'
        '<input type="hidden" name="csrf" value="adivinado"></form>'
        f'<form method="post" action="{panel_app.url}/acciones/reconciliar"></form>'
        "<script>document.forms[0].submit()</script>").encode()
    page = context.new_page()
    page.goto(site_url(other_site, "/premio"))
    page.wait_for_url(f"{panel_app.url}/pedidos/{order}/reintentar")
    assert page.locator("main").inner_text() != ""
    text = page.inner_text("main")
    # The browser sent the session cookie (SameSite=None): the missing CSRF token is what refused it.
    assert "Solicitud rechazada" in text
    screenshot(page, "14-post-de-otro-sitio")
    record = records.get(a.code, order)
    assert record is not None and record.state is OrderState.FAILED
    context.close()


def test_the_panel_works_inside_another_sites_iframe(
    browser: Any, panel_app: PanelApp, other_site: dict[str, bytes], function_env: Callable[..., None]
) -> None:
    """As in the Jumpseller admin: sign-in, session cookie and a form post, all inside the iframe."""
    function_env({"PANEL_FRAME_ANCESTORS": site_url(other_site, "")}, ["PanelFunction"])
    a = connected_shop(panel_app)
    other_site["/admin"] = (f'<h1>Admin</h1><iframe title="App" src="{panel_app.url}" width="1000" height="900">'
                            "</iframe>").encode()
    context = browser.new_context(locale="es-CL")
    page = context.new_page()
    page.goto(site_url(other_site, "/admin"))
    frame = page.frame_locator("iframe")
    frame.get_by_role("link", name="Entrar con Jumpseller").click()
    frame.get_by_label("Tienda").select_option(a.code)
    frame.get_by_role("button", name="Autorizar").click()
    frame.get_by_role("heading", name="Estado de tu tienda").wait_for()
    frame.get_by_role("link", name="Sincronización").click()
    frame.get_by_role("button", name="Sincronizar ahora").click()
    frame.get_by_text("Sincronización automática en curso").or_(frame.get_by_text("Terminó el")).first.wait_for()
    assert jobs.get(a.code, "reconcile") is not None
    screenshot(page, "15-dentro-del-admin")
    context.close()
