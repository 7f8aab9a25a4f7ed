"""Headless Chromium (Debian's package) driven by Playwright, for the shop panel's browser suite."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.panel_support import panel_app  # noqa: F401  (the registered Jumpseller app, as in tests/e2e)

SCREENSHOTS = ROOT / "screenshots"


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (.ci/run does it on CI)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's own sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (its own cookies) per test."""
    made = browser.new_context(locale="es-CL", viewport={"width": 1024, "height": 800})
    made.set_default_timeout(20_000)
    yield made
    made.close()


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page under screenshots/ (ignored by git) for a reviewer to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
