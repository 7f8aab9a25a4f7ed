"""The checkout helper the panel installs is the one in checkout/ (the Lambda cannot read the repository)."""

from bridge.panel.web import ASSETS
from tests.conftest import ROOT


def test_the_served_checkout_helper_is_checkout_rut_checkout_js() -> None:
    assert (ASSETS / "rut-checkout.js").read_bytes() == (ROOT / "checkout/rut-checkout.js").read_bytes()
