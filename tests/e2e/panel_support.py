"""The Jumpseller app's side of the local stack, for the install and panel tests (HTTP and browser).

`PanelApp` registers the app in the Jumpseller sandbox with the stack's callback, puts the app's credentials in
SSM (moto) and points the functions at the sandboxes (settings come from the environment).
"""

from __future__ import annotations

import re
import secrets as random_secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bridge.settings import settings
from devstack import LocalStack
from sandboxes.bsale import BsaleAccount, BsaleSandbox
from sandboxes.facto import FactoSandbox
from sandboxes.jumpseller import JumpsellerSandbox, JumpsellerStore
from sandboxes.jumpseller_oauth import OAuthApp


@dataclass
class PanelApp:
    stack: LocalStack
    jumpseller: JumpsellerSandbox
    bsale: BsaleSandbox
    app: OAuthApp

    @property
    def url(self) -> str:
        return f"{self.stack.api_url}/panel"


_registrations: dict[str, OAuthApp] = {}


@pytest.fixture
def panel_app(
    stack: LocalStack, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PanelApp]:
    from bridge.shops import app as app_config

    urls = {"JUMPSELLER_ACCOUNTS_URL": jumpseller.url, "JUMPSELLER_API_URL": f"{jumpseller.url}/v1",
            "BSALE_API_URL": bsale.url, "BSALE_CREDENTIAL_URL": bsale.url}
    for key, value in urls.items():
        monkeypatch.setenv(key, value)
    settings.cache_clear()
    # The functions too, for the rest of the session: the sandboxes are the session's, so after the first test
    # this changes nothing and the warm environments stay (a change would retire them: cold starts).
    stack.update_environment(urls)
    # One app registration and one session key per stack, as in a deployment. A new key per test made the warm
    # panel functions (which cache the credentials for minutes) refuse the next test's sessions and forms.
    registered = _registrations.get(stack.api_url)
    if registered is None:
        registered = jumpseller.oauth.register_app(f"{stack.api_url}/panel/oauth/callback")
        app_config.put(app_config.AppCredentials(client_id=registered.client_id,
                                                 client_secret=registered.client_secret,
                                                 session_key=random_secrets.token_hex(32)))
        _registrations[stack.api_url] = registered
    yield PanelApp(stack, jumpseller, bsale, registered)
    settings.cache_clear()


@pytest.fixture
def facto_panel(panel_app: PanelApp, function_env: Callable[..., None]) -> Iterator[FactoSandbox]:
    """The Facto sandbox, as the Facto endpoint of the shops the panel connects."""
    with FactoSandbox() as sandbox:
        function_env({"FACTO_URL": f"{sandbox.url}/documento.php"})
        yield sandbox


_numbers = iter(range(1, 10_000))


def new_store(panel: PanelApp) -> tuple[JumpsellerStore, BsaleAccount]:
    """A Jumpseller store and a Bsale company with matching SKUs, not connected to anything yet."""
    n = next(_numbers)
    code = f"app-{n}"
    store = panel.jumpseller.demo_store(code)
    account = panel.bsale.demo_account(token=f"{code}-bsale", cpn_id=8000 + n, name=f"{code} SpA")
    return store, account


def cookie_of(response: requests.Response) -> str:
    """The session cookie a response set (sent back by hand: requests keeps Secure cookies off plain http)."""
    header = response.headers.get("Set-Cookie", "")
    found = re.search(r"panel_session=([^;]*)", header)
    assert found, f"no session cookie in {header!r}"
    return f"panel_session={found.group(1)}"


def consent(panel: PanelApp, store_code: str, decision: str = "allow") -> str:
    """Go from the app's install link through Jumpseller's consent page; return the callback URL it sends to."""
    start = requests.get(f"{panel.url}/instalar", allow_redirects=False, timeout=10)
    assert start.status_code == 303, start.text
    authorize = start.headers["Location"]
    assert authorize.startswith(panel.jumpseller.url + "/oauth/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    answer = requests.post(f"{panel.jumpseller.url}/oauth/authorize", data={**query, "store": store_code,
                                                                           "decision": decision},
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return str(answer.headers["Location"])


def install(panel: PanelApp, store_code: str) -> str:
    """Install the app in the store; the session cookie of the owner who did it."""
    callback = requests.get(consent(panel, store_code), allow_redirects=False, timeout=20)
    assert callback.status_code == 303, callback.text
    return cookie_of(callback)


def csrf(page_html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page_html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def get(panel: PanelApp, path: str, cookie: str, **params: str) -> requests.Response:
    return requests.get(f"{panel.url}{path}", params=params, headers={"Cookie": cookie}, allow_redirects=False,
                        timeout=20)


def post(panel: PanelApp, path: str, cookie: str, data: dict[str, str]) -> requests.Response:
    return requests.post(f"{panel.url}{path}", data=data, headers={"Cookie": cookie}, allow_redirects=False,
                         timeout=30)


def connect_bsale(panel: PanelApp, cookie: str, account: BsaleAccount, **options: str) -> requests.Response:
    """Connect Bsale from the panel as an owner would: token, then the virtual office and first price list."""
    token = csrf(get(panel, "/conectar", cookie).text)
    office = next(o for o in account.offices.values() if o.is_virtual)
    price_list = next(iter(account.price_lists.values()))
    form = {"csrf": token, "bsale_token": account.token, "sucursal": str(office.id), "lista": str(price_list.id),
            "documentos": "1", "modo": "auto", "aviso_horas": "24", **options}
    return post(panel, "/conectar", cookie, form)


@dataclass
class PanelShop:
    """A shop that installed the app and connected Bsale from the panel, with its owner's session cookie."""

    panel: PanelApp
    store: JumpsellerStore
    account: BsaleAccount
    cookie: str

    @property
    def code(self) -> str:
        return self.store.code

    @property
    def office_id(self) -> int:
        return next(o.id for o in self.account.offices.values() if o.is_virtual)

    def variant_id(self, sku: str) -> int:
        variant = self.account.variant_by_code(sku)
        assert variant is not None, sku
        return variant.id

    def link(self, *skus: str) -> None:
        """Link the way production does: a Bsale stock notification of each variant."""
        from bridge.store import links
        from tests.e2e.conftest import eventually

        for sku in skus:
            variant = self.variant_id(sku)
            self.account.set_stock(variant, self.office_id, self.account.stock_of(variant, self.office_id))
        def linked(sku: str) -> bool:
            try:
                return bool(links.by_sku(self.code, sku))
            except ValueError:  # moto applies an update field by field: a query may see it half-applied
                return False

        for sku in skus:
            eventually(lambda s=sku: linked(s))
        assert self.panel.stack.drain(15)

    def failed_order(self, sku: str = "POL-M") -> int:
        """A paid order Bsale refuses (not enough stock in the office): it waits for "Reintentar"."""
        from bridge.models.order_record import OrderState
        from bridge.store import held
        from bridge.store import orders as records
        from tests.e2e.conftest import eventually

        found = self.store.find_sku(sku)
        assert found is not None
        product, variant = found
        order_id = int(self.store.create_order([(product.id, variant.id if variant else None, 2)]).id)
        eventually(lambda: held.get(self.code, order_id))
        self.account.set_stock(self.variant_id(sku), self.office_id, 1)
        self.store.pay_order(order_id)
        eventually(lambda: (r := records.get(self.code, order_id)) is not None and r.state is OrderState.FAILED,
                   timeout=20)
        assert self.panel.stack.drain(20)
        return order_id

    def page(self, path: str, **params: str) -> requests.Response:
        return get(self.panel, path, self.cookie, **params)

    def post(self, path: str, data: dict[str, str], *, token_from: str = "/estado") -> requests.Response:
        return post(self.panel, path, self.cookie, {"csrf": csrf(self.page(token_from).text), **data})


def connected_shop(panel: PanelApp) -> PanelShop:
    """Install the app in a new store, connect its Bsale company from the panel, point Bsale at the stack."""
    from bridge import secrets

    store, account = new_store(panel)
    cookie = install(panel, store.code)
    answer = connect_bsale(panel, cookie, account)
    assert answer.status_code == 303, answer.text
    notify = secrets.get(store.code, fresh=True).notify_token
    panel.bsale.subscribe(account.cpn_id, f"{panel.stack.api_url}/bsale/notifications/{notify}")
    return PanelShop(panel, store, account, cookie)
