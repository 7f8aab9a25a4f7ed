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
    **request_fields: Any,
) -> DemoShop:
    """Seed both sandboxes and connect the shop, as an operator would with `./dev admin connect-shop`
    (`request_fields`: more of ConnectRequest, e.g. the Facto user and key)."""
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
        **request_fields,
    ))
    assert result.notification_url is not None
    bsale.subscribe(cpn_id, result.notification_url)
    return DemoShop(code, account, store, office.id, price_list.id, result.notification_url)


FACTO_ISSUER = {"razon": "Tienda Demo SpA", "giro": "Venta al por menor por internet", "direccion": "Av. Italia 1000",
                "comuna": "Providencia", "ciudad": "Santiago", "telefono": "+56 2 2345 6789"}


@dataclass
class FactoShop:
    """A shop whose documents Facto emits: Jumpseller + Facto only, or with Bsale keeping the stock."""

    code: str
    store: JumpsellerStore
    facto_user: str
    bsale: DemoShop | None = None  # Bsale keeps the stock (its units leave Bsale by consumptions)


def connect_facto_shop(
    api_url: str,
    jumpseller: JumpsellerSandbox,
    facto: Any,
    *,
    code: str = "demo-facto",
    bsale: BsaleSandbox | None = None,
    cpn_id: int = 1002,
    options: dict[str, Any] | None = None,
) -> FactoShop:
    """A Facto shop, connected as `./dev admin connect-shop --document-provider facto [--no-bsale]` would."""
    from bridge.shops.connect import ConnectRequest, connect

    user, key = f"76.123.456-0/{code}", f"{abs(hash(code)) % 16**32:032x}"
    facto.accounts[user] = key
    chosen = {"document_provider": "facto", "facto_issuer": FACTO_ISSUER, **(options or {})}
    facto_fields = {"facto_user": user, "facto_key": key, "facto_url": f"{facto.url}/documento.php"}
    if bsale is not None:  # Jumpseller + Bsale (stock) + Facto (documents)
        demo = connect_demo_shop(api_url, bsale, jumpseller, code=code, cpn_id=cpn_id, options=chosen,
                                 **facto_fields)
        return FactoShop(code, demo.store, user, demo)
    store = jumpseller.demo_store(code)
    connect(ConnectRequest(
        store_code=code, jumpseller_login=store.login, jumpseller_auth_token=store.auth_token,
        jumpseller_hooks_token=store.hooks_token, bsale_account=False, jumpseller_api_url=f"{jumpseller.url}/v1",
        api_url=api_url, options=chosen, **facto_fields,
    ))
    return FactoShop(code, store, user)


# --------------------------------------------------------------------------- `./dev local`: the story

def write_local_env(stack: Any, path: str | None = None) -> None:
    """What `./dev admin --local` needs (devstack writes it on start), plus leave to connect the sandboxes' local
    http URLs, which a deployed stack refuses."""
    import json
    from pathlib import Path

    from devstack.runner import CLIENT_ENV_FILE

    target = Path(path) if path else CLIENT_ENV_FILE
    env = {**stack.client_environment(), "ALLOW_LOCAL_API_URLS": "true"}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(env, indent=2))


class StockWatcher:
    """Prints every stock change Jumpseller shows, so a newcomer sees the far end of the flow."""

    def __init__(self, shop: DemoShop, skus: list[str]) -> None:
        import threading

        self.shop, self.skus = shop, skus
        self.seen = {sku: shop.jumpseller_stock(sku) for sku in skus}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jumpseller-watcher", daemon=True)

    def start(self) -> StockWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for sku in self.skus:
                now = self.shop.jumpseller_stock(sku)
                if now != self.seen[sku]:
                    shown = "unlimited" if now is None else now
                    print(f"  Jumpseller  {sku} now shows {shown} (was {self.seen[sku]})", flush=True)
                    self.seen[sku] = now


def prepare_panel(stack: Any, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox, code: str = "tienda-panel") -> str:
    """The Jumpseller app registered in the sandbox, its credentials in SSM, and a store ready to install it."""
    import os
    import secrets as random_secrets

    from bridge.settings import settings
    from bridge.shops import app

    registered = jumpseller.oauth.register_app(f"{stack.api_url}/panel/oauth/callback")
    os.environ.update({"JUMPSELLER_ACCOUNTS_URL": jumpseller.url, "JUMPSELLER_API_URL": f"{jumpseller.url}/v1",
                       "BSALE_API_URL": bsale.url, "BSALE_CREDENTIAL_URL": bsale.url})
    settings.cache_clear()
    app.put(app.AppCredentials(client_id=registered.client_id, client_secret=registered.client_secret,
                               session_key=random_secrets.token_hex(32)))
    jumpseller.demo_store(code)
    account = bsale.demo_account(token=f"{code}-bsale-token", cpn_id=2001, name=f"{code} SpA")
    return (f"Shop panel: open {stack.api_url}/panel, press \"Entrar con Jumpseller\", choose store '{code}' and "
            f"\"Autorizar\";\n  then connect Bsale with the token {account.token}.")


def tell_the_story(stack: Any, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox) -> StockWatcher:
    import time

    shop = connect_demo_shop(stack.api_url, bsale, jumpseller)
    panel = prepare_panel(stack, bsale, jumpseller)
    write_local_env(stack)
    watcher = StockWatcher(shop, ["POL-S", "POL-M", "TAZA-1"]).start()
    variant = shop.variant_id("POL-S")
    print(f"""
Demo shop '{shop.code}' connected (through the same code as `./dev admin connect-shop`):
  Bsale sandbox       {bsale.url}   company {shop.bsale.cpn_id}, office {shop.office_id} (Tienda Online)
  Jumpseller sandbox  {jumpseller.url}/v1   store '{shop.code}', login {shop.store.login}
  Bsale notifies      {shop.notification_url}

Now a stock change in Bsale: POL-S in office {shop.office_id} goes from 5 to 12.
  Bsale       sends a stock notification (no data, just a pointer) to the shop's URL
  bridge      acknowledges it (validate, authenticate, stamp, enqueue), then a worker reads the truth
              from Bsale and writes it to Jumpseller""", flush=True)
    started = time.monotonic()
    shop.bsale.set_stock(variant, shop.office_id, 12)
    while shop.jumpseller_stock("POL-S") != 12 and time.monotonic() - started < 20:
        time.sleep(0.01)
    print(f"  → Jumpseller holds 12 for POL-S, {int((time.monotonic() - started) * 1000)} ms after the change.")
    print(f"""
Try it yourself (another shell):
  curl -X PUT {bsale.url}/_sandbox/accounts/{shop.bsale.cpn_id}/stock \\
       -d '{{"variant_id": {variant}, "office_id": {shop.office_id}, "quantity": 3}}'
  curl -u {shop.store.login}:{shop.store.auth_token} {jumpseller.url}/v1/products.json
  ./dev admin --local shops

{panel}
""", flush=True)
    return watcher


def show_facto_shop(stack: Any, jumpseller: JumpsellerSandbox, facto: Any) -> None:
    """A second shop, Jumpseller + Facto without Bsale: a paid order becomes its Facto boleta."""
    import time

    shop = connect_facto_shop(stack.api_url, jumpseller, facto)
    found = shop.store.find_sku("POL-M")
    assert found is not None
    product, variant = found
    order = shop.store.create_order([(product.id, variant.id if variant else None, 1)])
    shop.store.pay_order(order.id)
    started = time.monotonic()
    while not facto.emitted(f"js-{shop.code}-{order.id}") and time.monotonic() - started < 20:
        time.sleep(0.05)
    made = facto.emitted(f"js-{shop.code}-{order.id}")
    said = f"boleta N° {made[0].folio}, total ${made[0].total}" if made else "not yet: see ./dev admin --local orders"
    print(f"""Facto shop '{shop.code}' (Jumpseller + Facto, no Bsale), Facto sandbox {facto.url}/documento.php?wsdl
  order {order.id} paid → Facto {said}
  ./dev admin --local orders {shop.code}
  curl {facto.url}/_sandbox/facto/documents
""", flush=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m devstack`: the local stack, plus (unless --no-demo) the sandboxes and the demo shop."""
    from devstack import cli

    parser = cli.build_parser()
    parser.add_argument("--no-demo", action="store_true", help="only the stack: no sandboxes, no demo shop")
    parser.add_argument("--bsale-port", type=int, default=8801, help="Bsale sandbox port (default: %(default)s)")
    parser.add_argument("--jumpseller-port", type=int, default=8802,
                        help="Jumpseller sandbox port (default: %(default)s)")
    parser.add_argument("--facto-port", type=int, default=8803, help="Facto sandbox port (default: %(default)s)")
    args, _ = parser.parse_known_args(argv)
    if args.no_demo:
        return cli.main(argv, parser=parser)
    from sandboxes.facto import FactoSandbox

    with BsaleSandbox(port=args.bsale_port) as bsale, JumpsellerSandbox(port=args.jumpseller_port) as jumpseller, \
            FactoSandbox(port=args.facto_port) as facto:
        watchers: list[StockWatcher] = []

        def started(stack: Any) -> None:
            watchers.append(tell_the_story(stack, bsale, jumpseller))
            show_facto_shop(stack, jumpseller, facto)

        try:
            return cli.main(argv, parser=parser, on_started=started)
        finally:
            for watcher in watchers:
                watcher.stop()
