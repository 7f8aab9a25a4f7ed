"""A demo shop on the sandboxes, connected through the product's own code.

Used by `./dev local` (to show the flow), by the end-to-end tests and by the benchmarks, so all three
exercise the same setup: a Bsale company and a Jumpseller store with matching SKUs, the shop connected with
`bridge.shops.connect` (checked against the sandboxes), and Bsale's notifications pointed at the local API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandboxes.bsale import BsaleAccount, BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox, JumpsellerStore


@dataclass
class DemoShop:
    code: str
    bsale: BsaleAccount
    store: JumpsellerStore
    office_id: int
    price_list_id: int
    notification_url: str

    def variant_id(self, sku: str) -> int:
        variant = self.bsale.variant_by_code(sku)
        assert variant is not None, sku
        return variant.id

    def jumpseller_stock(self, sku: str) -> int | None:
        """What Jumpseller shows for a SKU (None: unlimited)."""
        found = self.store.find_sku(sku)
        assert found is not None, sku
        product, variant = found
        holder: Any = variant or product
        return None if holder.stock_unlimited else int(holder.stock)


def connect_demo_shop(
    api_url: str,
    bsale: BsaleSandbox,
    jumpseller: JumpsellerSandbox,
    *,
    code: str = "demo-store",
    cpn_id: int = 1001,
    options: dict[str, Any] | None = None,
) -> DemoShop:
    """Seed both sandboxes and connect the shop, as an operator would with `./dev admin connect-shop`."""
    from bridge.shops.connect import ConnectRequest, connect

    account = bsale.demo_account(token=f"{code}-bsale-token", cpn_id=cpn_id, name=f"{code} SpA")
    store = jumpseller.demo_store(code)
    office = next(o for o in account.offices.values() if o.is_virtual)
    price_list = next(iter(account.price_lists.values()))
    result = connect(ConnectRequest(
        store_code=code,
        jumpseller_login=store.login,
        jumpseller_auth_token=store.auth_token,
        jumpseller_hooks_token=store.hooks_token,
        bsale_token=account.token,
        office_id=office.id,
        price_list_id=price_list.id,
        bsale_api_url=bsale.url,
        bsale_credential_url=bsale.url,
        jumpseller_api_url=f"{jumpseller.url}/v1",
        api_url=api_url,
        options=options or {},
    ))
    assert result.notification_url is not None
    bsale.subscribe(cpn_id, result.notification_url)
    return DemoShop(code, account, store, office.id, price_list.id, result.notification_url)
