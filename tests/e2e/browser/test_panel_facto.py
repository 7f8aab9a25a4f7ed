"""The Conexión page with Facto in headless Chromium: the provider fields are there, labelled, usable by keyboard
and on a phone; the key typed is stored and never shown back. Screenshots under screenshots/."""

from __future__ import annotations

import re
from typing import Any

from bridge import secrets
from bridge.store import shops
from sandboxes.facto import FactoSandbox
from tests.e2e.browser.conftest import screenshot
from tests.e2e.browser.test_panel_story import sign_in
from tests.e2e.panel_support import PanelApp, facto_panel, new_store

__all__ = ["facto_panel"]


def test_the_owner_chooses_facto_with_its_user_and_key(
    context: Any, panel_app: PanelApp, facto_panel: FactoSandbox
) -> None:
    store, account = new_store(panel_app)
    user, key = f"76.123.456-0/{store.code}", f"clave-navegador-{store.code}-0123456789"
    facto_panel.accounts[user] = key
    page = context.new_page()
    sign_in(page, panel_app, store.code)

    # First page: Bsale's token, and the Jumpseller + Facto only form, each field with its label.
    assert page.get_by_label("Usuario de Facto (RUT de la empresa/usuario)").count() == 1
    assert page.get_by_label("Clave de Facto").get_attribute("type") == "password"
    assert page.get_by_role("button", name="Conectar solo con Facto").is_visible()
    screenshot(page, "12-conectar-con-facto")

    page.get_by_label("Token de acceso de Bsale").fill(account.token)
    page.get_by_role("button", name="Continuar").click()
    page.get_by_role("group", name="Quién emite las boletas y facturas").wait_for()
    assert page.get_by_label("Bsale", exact=True).is_checked()
    # By keyboard: the Facto radio, then its user and key.
    page.get_by_label("Facto", exact=True).focus()
    page.keyboard.press("Space")
    assert page.get_by_label("Facto", exact=True).is_checked()
    page.get_by_label("Usuario de Facto (RUT de la empresa/usuario)").focus()
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(key)
    assert page.evaluate("document.activeElement.id") == "facto_clave"
    screenshot(page, "13-conectar-opciones-facto")
    page.get_by_role("button", name="Guardar conexión").click()
    page.wait_for_url(re.compile(r"/panel/estado"))

    shop = shops.get(store.code)
    assert shop is not None and shop.options.document_provider == "facto"
    assert secrets.get(store.code, fresh=True).facto_key == key
    page.get_by_role("link", name="Conexión").click()
    assert user in page.inner_text("main") and key not in page.content()
    screenshot(page, "14-conexion-facto")

    # On a phone: nothing scrolls sideways, the Facto fields included.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    screenshot(page, "15-conectar-facto-telefono")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the Conexión page scrolls sideways on a phone ({width}px)"
