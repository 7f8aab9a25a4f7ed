"""connect-shop with Facto: what a request must carry for each shape (checked before anything is called)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bridge.shops.connect import ConnectRequest

JUMPSELLER = {"store_code": "tienda", "jumpseller_login": "login", "jumpseller_auth_token": "a" * 32,
              "jumpseller_hooks_token": "h" * 16}
BSALE = {"bsale_token": "t" * 20, "office_id": 1, "price_list_id": 3}
FACTO = {"facto_user": "76.123.456-0/api", "facto_key": "k" * 32, "options": {"document_provider": "facto"}}


def request(**fields: Any) -> ConnectRequest:
    return ConnectRequest.model_validate({**JUMPSELLER, **fields})


def test_bsale_shops_are_as_before() -> None:
    assert request(**BSALE).options.document_provider == "bsale"
    with pytest.raises(ValidationError, match="bsale_token, office_id and price_list_id"):
        request(office_id=1, price_list_id=3)


def test_facto_only_needs_no_bsale_but_the_facto_user_and_key() -> None:
    shop = request(bsale_account=False, **FACTO)
    assert not shop.bsale_account and shop.facto_user == "76.123.456-0/api"
    with pytest.raises(ValidationError, match="facto_user"):
        request(bsale_account=False, options={"document_provider": "facto"})
    with pytest.raises(ValidationError, match="must come from Facto"):
        request(bsale_account=False)


def test_bsale_and_facto_together() -> None:
    shop = request(**BSALE, **FACTO)
    assert shop.bsale_account and shop.options.document_provider == "facto"


def test_the_facto_user_is_rut_slash_user() -> None:
    with pytest.raises(ValidationError):
        request(bsale_account=False, **{**FACTO, "facto_user": "pruebasapi"})
