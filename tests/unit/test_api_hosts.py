"""A shop's API URLs: https on the services' own hosts; the sandboxes' loopback URLs only when explicitly allowed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.clients.hosts import check_api_url
from bridge.errors import ConfigurationError
from bridge.models.shop import Shop, ShopSecrets
from bridge.settings import settings
from bridge.shops.context import clients_for


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ALLOW_LOCAL_API_URLS", raising=False)
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ALLOW_LOCAL_API_URLS", "true")
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.mark.parametrize(("url", "service"), [
    ("https://api.bsale.io", "bsale_api"), ("https://api.bsale.cl/", "bsale_api"),
    ("https://credential.bsale.io", "bsale_credential"), ("https://api.jumpseller.com/v1", "jumpseller_api"),
])
def test_the_services_own_hosts_over_https_are_accepted(deployed: None, url: str, service: str) -> None:
    assert check_api_url(url, service) == url  # type: ignore[arg-type]


@pytest.mark.parametrize(("url", "service"), [
    ("http://api.bsale.io", "bsale_api"),  # in clear
    ("https://api.bsale.io.evil.test", "bsale_api"),
    ("https://evil.test/api.bsale.io", "bsale_api"),
    ("https://api.bsale.io@evil.test", "bsale_api"),
    ("https://user:pw@api.bsale.io", "bsale_api"),
    ("https://api.bsale.io:8443", "bsale_api"),
    ("https://api.jumpseller.com/v1", "bsale_api"),  # another service's host
    ("https://api.jumpseller.com/v1?login=x&authtoken=y", "jumpseller_api"),
    ("http://127.0.0.1:8000", "bsale_api"),  # the sandboxes: not in a deployed stage
    ("http://localhost:8000/v1", "jumpseller_api"),
    ("not a url", "jumpseller_api"), ("https://[::1", "jumpseller_api"),
])
def test_anything_else_is_refused_in_a_deployed_stage(deployed: None, url: str, service: str) -> None:
    with pytest.raises(ConfigurationError):
        check_api_url(url, service)  # type: ignore[arg-type]


def test_the_local_setting_allows_loopback_sandboxes_only(local: None) -> None:
    assert check_api_url("http://127.0.0.1:8123", "bsale_api")
    assert check_api_url("http://localhost:8124/v1", "jumpseller_api")
    with pytest.raises(ConfigurationError):
        check_api_url("http://evil.test", "bsale_api")
    with pytest.raises(ConfigurationError):
        check_api_url("http://api.bsale.io", "bsale_api")


def _shop(**urls: str) -> Shop:
    return Shop.model_validate({"shop_id": "shop", "cpn_id": 1, "office_id": 1, "price_list_id": 1,
                                "document_types": {}, **urls})


SECRETS = ShopSecrets(bsale_token="t", jumpseller_login="l", jumpseller_auth_token="a", jumpseller_hooks_token="h",
                      notify_token="shop.n")


def test_clients_are_never_built_for_a_stored_url_elsewhere(deployed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARED_RATE_LIMITS", "false")
    settings.cache_clear()
    assert clients_for(_shop(), SECRETS).bsale.base_url == "https://api.bsale.io"
    with pytest.raises(ConfigurationError):
        clients_for(_shop(bsale_api_url="https://evil.test"), SECRETS)
    with pytest.raises(ConfigurationError):
        clients_for(_shop(jumpseller_api_url="http://api.jumpseller.com/v1"), SECRETS)
