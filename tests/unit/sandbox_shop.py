"""A shop on the Bsale and Jumpseller sandboxes (loopback), for the component tests that call the bridge's code
directly, with no queue: tests/unit/orders/test_flow.py and tests/unit/sync/test_push.py.

Their modules import the fixtures (`from tests.unit.sandbox_shop import quick, sandboxes`), as they import the
moto `table`; `quick` is autouse there.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from bridge.clients.bsale import BsaleClient
from bridge.clients.http import ApiSession
from bridge.clients.jumpseller import JumpsellerClient
from bridge.models.shop import Shop, ShopOptions
from bridge.shops.context import ShopContext
from sandboxes.bsale import BsaleAccount, BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox, JumpsellerStore

_numbers = itertools.count(1)


@dataclass
class SandboxShop:
    """One shop: its Bsale account and Jumpseller store in the sandboxes, and the bridge's context for it."""

    bsale: BsaleSandbox
    js: JumpsellerSandbox
    account: BsaleAccount
    store: JumpsellerStore
    ctx: ShopContext

    @property
    def shop_id(self) -> str:
        return self.ctx.shop_id


World = TypeVar("World", bound=SandboxShop)


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[tuple[BsaleSandbox, JumpsellerSandbox]]:
    with BsaleSandbox(rate_limit_per_second=None) as bsale, JumpsellerSandbox(rate_limit_per_second=None,
                                                                               rate_limit_per_minute=None) as js:
        bsale.notifications_enabled = False  # the tests call the workers' code themselves
        yield bsale, js


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ApiSession, "max_backoff", 0.01)


def new_shop(world: type[World], bsale: BsaleSandbox, js: JumpsellerSandbox, name: str, cpn_base: int,
             **options: Any) -> World:
    """A new Bsale demo account and Jumpseller demo store (`<name>-<n>`), and the shop connecting them: its
    virtual office, first price list and document types, and clients without pacing."""
    n = next(_numbers)
    account = bsale.demo_account(token=f"{name}-{n}", cpn_id=cpn_base + n)
    store = js.demo_store(f"{name}-{n}")
    office = next(o for o in account.offices.values() if o.is_virtual)
    types = {code: t.id for code in ("39", "33", "61") if (t := account.document_type_by_code(code))}
    shop = Shop(shop_id=store.code, cpn_id=account.cpn_id, office_id=office.id,
                price_list_id=next(iter(account.price_lists)), document_types=types, bsale_api_url=bsale.url,
                bsale_credential_url=bsale.url, jumpseller_api_url=f"{js.url}/v1", options=ShopOptions(**options))
    ctx = ShopContext(shop=shop, bsale=BsaleClient(account.token, bsale.url, bsale.url),
                      jumpseller=JumpsellerClient(store.login, store.auth_token, f"{js.url}/v1"))
    return world(bsale, js, account, store, ctx)
