"""The shop owner's story in headless Chromium on the local stack: install → connect Bsale → link → a stock change
arrives → a failed order → "Reintentar" → its document. Each page is saved under screenshots/."""

from __future__ import annotations

import re
from typing import Any

from bridge.models.order_record import OrderState
from bridge.store import held, links
from bridge.store import orders as records
from tests.e2e.browser.conftest import screenshot
from tests.e2e.conftest import eventually
from tests.e2e.panel_support import PanelApp, new_store


def sign_in(page: Any, panel: PanelApp, store_code: str, shots: bool = False) -> None:
    """From the app's URL through Jumpseller's consent page, as the owner clicks it."""
    page.goto(f"{panel.url}")
    if shots:
        screenshot(page, "01-bienvenida")
    page.get_by_role("link", name="Entrar con Jumpseller").click()
    page.get_by_label("Tienda").select_option(store_code)
    if shots:
        screenshot(page, "02-consentimiento-jumpseller")
    page.get_by_role("button", name="Autorizar").click()
    page.wait_for_url(re.compile(r"/panel/(conectar|estado)"))


def test_the_owner_installs_connects_links_and_retries_a_failed_order(
    context: Any, panel_app: PanelApp
) -> None:
    store, account = new_store(panel_app)
    office = next(o for o in account.offices.values() if o.is_virtual)
    page = context.new_page()

    sign_in(page, panel_app, store.code, shots=True)
    assert "La app quedó instalada" in page.inner_text("main")
    screenshot(page, "03-conectar")

    page.get_by_label("Token de acceso de Bsale").fill(account.token)
    page.get_by_role("button", name="Continuar").click()
    page.get_by_label("Sucursal de Bsale").select_option(label=office.name)
    page.get_by_label("Sincronizar precios").check()
    screenshot(page, "04-conectar-opciones")
    page.get_by_role("button", name="Guardar conexión").click()
    page.wait_for_url(re.compile(r"/panel/estado"))
    assert "Bsale quedó conectado" in page.inner_text("main")

    # The owner gives Bsale the notification URL the Connect page shows.
    page.get_by_role("link", name="Conexión").click()
    notify_url = page.inner_text("#url-notificaciones")
    assert notify_url.startswith(f"{panel_app.stack.api_url}/bsale/notifications/{store.code}.")
    panel_app.bsale.subscribe(account.cpn_id, notify_url)
    screenshot(page, "05-conexion")

    # Manual sync, option "link", with its progress and report.
    page.get_by_role("link", name="Sincronización").click()
    page.get_by_label("Vincular por SKU").check()
    page.get_by_role("button", name="Sincronizar", exact=True).click()
    page.wait_for_url(re.compile(r"aviso=sync"))
    page.get_by_text("vinculados,").wait_for(timeout=60_000)  # the page reloads itself when the job ends
    screenshot(page, "06-sincronizacion")
    assert links.by_sku(store.code, "TAZA-1")

    # A stock change in Bsale arrives in Jumpseller and shows on the status page.
    variant = account.variant_by_code("TAZA-1")
    assert variant is not None
    account.set_stock(variant.id, office.id, 13)
    eventually(lambda: store.find_sku("TAZA-1") and store.find_sku("TAZA-1")[0].stock == 13, timeout=20)  # type: ignore[index]
    page.get_by_role("link", name="Estado").click()
    row = page.locator("#vinculados tr", has_text="TAZA-1")
    assert "13" in row.inner_text()
    assert "nunca" not in page.locator("dl").first.inner_text().split("Productos vinculados")[0]
    screenshot(page, "07-estado")

    # An order Bsale refuses (not enough stock in the office) waits for the owner.
    product, js_variant = store.find_sku("POL-M")  # type: ignore[misc]
    order = store.create_order([(product.id, js_variant.id, 2)])
    eventually(lambda: held.get(store.code, order.id))
    account.set_stock(account.variant_by_code("POL-M").id, office.id, 1)  # type: ignore[union-attr]
    store.pay_order(order.id)
    eventually(lambda: (r := records.get(store.code, order.id)) is not None and r.state is OrderState.FAILED,
               timeout=30)
    page.reload()
    problem = page.locator(f"#pedido-{order.id}")
    assert "There is no stock for this products" in problem.inner_text()
    screenshot(page, "08-pedido-con-error")

    account.set_stock(account.variant_by_code("POL-M").id, office.id, 10)  # type: ignore[union-attr]
    page.get_by_role("button", name=f"Reintentar pedido {order.id}").click()
    page.get_by_text(f"Pedido {order.id}: Documento creado.").wait_for()
    screenshot(page, "09-reintentado")
    record = records.get(store.code, order.id)
    assert record is not None and record.state is OrderState.CREATED and record.document is not None
    assert any(d.sales_id == f"js-{store.code}-{order.id}" for d in account.documents.values())
    assert page.locator(f"#pedido-{order.id}").count() == 0

    # The checkout helper, on and off, by keyboard.
    page.get_by_role("link", name="Checkout").click()
    page.get_by_role("button", name="Instalar el ayudante").focus()
    page.keyboard.press("Enter")
    page.get_by_text("quedó instalado en tu checkout").wait_for()
    assert len(panel_app.jumpseller.oauth.jsapps.get(store.code, {})) == 1
    screenshot(page, "10-checkout")

    # Readable on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Estado").click()
    screenshot(page, "11-estado-telefono")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the status page scrolls sideways on a phone ({width}px)"
