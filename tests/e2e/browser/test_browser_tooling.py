"""The browser the suite drives starts and renders."""

from typing import Any


def test_headless_chromium_renders_a_page(browser: Any) -> None:
    page = browser.new_page()
    page.set_content("<main><h1>Hola</h1><label for=x>Nombre</label><input id=x></main>")
    page.get_by_label("Nombre").fill("Juana")
    assert page.get_by_label("Nombre").input_value() == "Juana"
    assert page.inner_text("h1") == "Hola"
    page.close()
