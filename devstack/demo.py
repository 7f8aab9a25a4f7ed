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


# --------------------------------------------------------------------------- `./dev local`: the story

LOCAL_ENV_FILE = ".devstack/env.json"


def write_local_env(stack: Any, path: str = LOCAL_ENV_FILE) -> None:
    """What `./dev admin --local` needs to reach this stack from another shell."""
    import json
    import os
    from pathlib import Path

    from bridge.ops.dead_letters import REGISTRY

    names = {key: os.environ[key] for key in ("TABLE_NAME", "SECRETS_PREFIX", "BSALE_QUEUE_URL", "ORDER_QUEUE_URL")
             if key in os.environ}
    # Each dead-letter queue and its source, for `./dev admin --local dlq ...` (the functions never need them).
    queues = {env: stack.queue_url(resource) for dlq in REGISTRY
              for env, resource in ((dlq.env, dlq.resource), (dlq.source_env, dlq.source_resource))
              if resource in stack.resources.queues}
    env = {"AWS_ENDPOINT_URL": stack.moto_endpoint, "AWS_DEFAULT_REGION": stack.region,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "ALLOW_LOCAL_API_URLS": "true",
           **names, **queues}
    Path(path).parent.mkdir(exist_ok=True)
    Path(path).write_text(json.dumps(env, indent=2))


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


def main(argv: list[str] | None = None) -> int:
    """`python -m devstack`: the local stack, plus (unless --no-demo) the sandboxes and the demo shop."""
    from devstack import cli

    parser = cli.build_parser()
    parser.add_argument("--no-demo", action="store_true", help="only the stack: no sandboxes, no demo shop")
    parser.add_argument("--bsale-port", type=int, default=8801, help="Bsale sandbox port (default: %(default)s)")
    parser.add_argument("--jumpseller-port", type=int, default=8802,
                        help="Jumpseller sandbox port (default: %(default)s)")
    args, _ = parser.parse_known_args(argv)
    if args.no_demo:
        return cli.main(argv, parser=parser)
    with BsaleSandbox(port=args.bsale_port) as bsale, JumpsellerSandbox(port=args.jumpseller_port) as jumpseller:
        watchers: list[StockWatcher] = []
        try:
            return cli.main(argv, parser=parser,
                            on_started=lambda stack: watchers.append(tell_the_story(stack, bsale, jumpseller)))
        finally:
            for watcher in watchers:
                watcher.stop()
