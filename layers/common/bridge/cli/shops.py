"""Shop commands: connect-shop, shops, shop, migrate-secrets."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

# Secrets may come from the environment instead of flags, so they stay out of shell history.
SECRET_ENV = {
    "jumpseller_auth_token": "JUMPSELLER_AUTH_TOKEN",
    "jumpseller_hooks_token": "JUMPSELLER_HOOKS_TOKEN",
    "bsale_token": "BSALE_TOKEN",
}


def register(sub: Any) -> None:
    c = sub.add_parser("connect-shop", help="register or update a shop (checked against Bsale and Jumpseller)")
    c.add_argument("--file", type=Path, help="JSON file with any of the fields below (flags win)")
    c.add_argument("--store-code")
    c.add_argument("--jumpseller-login")
    c.add_argument("--jumpseller-auth-token", help=f"or ${SECRET_ENV['jumpseller_auth_token']}")
    c.add_argument("--jumpseller-hooks-token", help=f"or ${SECRET_ENV['jumpseller_hooks_token']}")
    c.add_argument("--bsale-token", help=f"or ${SECRET_ENV['bsale_token']}")
    c.add_argument("--office-id", type=int)
    c.add_argument("--price-list-id", type=int)
    c.add_argument("--bsale-api-url")
    c.add_argument("--bsale-credential-url")
    c.add_argument("--jumpseller-api-url")
    c.add_argument("--api-url", help="public base URL of this deployment (stack output ApiUrl)")
    c.add_argument("--sync-price", action=argparse.BooleanOptionalAction, default=None)
    c.add_argument("--presale", action=argparse.BooleanOptionalAction, default=None)
    c.add_argument("--documents", action=argparse.BooleanOptionalAction, default=None)
    c.add_argument("--stale-after-minutes", type=int)
    c.set_defaults(run=connect_shop)

    s = sub.add_parser("shops", help="list connected shops, one line each")
    s.set_defaults(run=list_shops)

    one = sub.add_parser("shop", help="show one shop's settings (never its secrets)")
    one.add_argument("store_code")
    one.set_defaults(run=show_shop)

    m = sub.add_parser("migrate-secrets", help="give shops connected before the secrets split their hooks parameter "
                                               "(run once after deploying it; idempotent)")
    m.set_defaults(run=migrate_secrets)


def connect_request(args: argparse.Namespace) -> Any:
    from bridge.shops.connect import ConnectRequest

    data: dict[str, Any] = json.loads(args.file.read_text()) if args.file else {}
    for field, env in SECRET_ENV.items():
        if os.environ.get(env):
            data.setdefault(field, os.environ[env])
    for field in ("store_code", "jumpseller_login", "jumpseller_auth_token", "jumpseller_hooks_token", "bsale_token",
                  "office_id", "price_list_id", "bsale_api_url", "bsale_credential_url", "jumpseller_api_url",
                  "api_url"):
        if getattr(args, field) is not None:
            data[field] = getattr(args, field)
    options = dict(data.get("options", {}))
    for field in ("sync_price", "presale", "documents", "stale_after_minutes"):
        if getattr(args, field) is not None:
            options[field] = getattr(args, field)
    data["options"] = options
    return ConnectRequest.model_validate(data)


def connect_shop(args: argparse.Namespace) -> int:
    from bridge.shops.connect import connect

    result = connect(connect_request(args))
    shop = result.shop
    print(f"connected shop '{shop.shop_id}': Bsale company {shop.cpn_id}, office {shop.office_id}, "
          f"price list {shop.price_list_id}, document types {shop.document_types}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    if result.hooks_created:
        print(f"Jumpseller hooks registered: {', '.join(result.hooks_created)}")
    if result.notification_url:
        print("Give Bsale this notification URL (keep it secret, it authenticates Bsale):")
        print(f"  {result.notification_url}")
    return 0


def list_shops(args: argparse.Namespace) -> int:
    from bridge.store import shops

    for shop in sorted(shops.all_shops(), key=lambda s: s.shop_id):
        stale = "STALE" if shop.stale_since else "ok"
        print(f"{shop.shop_id:30} {stale:6} office={shop.office_id} last_notification={shop.last_notification_at}")
    return 0


def show_shop(args: argparse.Namespace) -> int:
    from bridge.store import shops

    print(shops.require(args.store_code).model_dump_json(indent=2))
    return 0


def migrate_secrets(args: argparse.Namespace) -> int:
    from bridge import secrets
    from bridge.store import shops

    for shop in sorted(shops.all_shops(), key=lambda s: s.shop_id):
        done = secrets.split_hooks(shop.shop_id)
        print(f"{shop.shop_id:30} {'hooks parameter written' if done else 'already split'}")
    return 0
