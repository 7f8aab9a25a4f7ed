"""Shop commands: connect-shop, shops, shop, migrate-secrets."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from admin.environment import need
from admin.render import JSON_HELP, emit_json, finish, health, pairs, row, say, show, table, when

# Secrets may come from the environment instead of flags, so they stay out of shell history.
SECRET_ENV = {
    "jumpseller_auth_token": "JUMPSELLER_AUTH_TOKEN",
    "jumpseller_hooks_token": "JUMPSELLER_HOOKS_TOKEN",
    "bsale_token": "BSALE_TOKEN",
    "facto_key": "FACTO_KEY",
}


class Provider(StrEnum):
    BSALE = "bsale"
    FACTO = "facto"


Json = Annotated[bool, typer.Option("--json", help=JSON_HELP)]


def _issuer(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc.msg}") from exc
    if not isinstance(found, dict):
        raise typer.BadParameter("a JSON object, e.g. {\"razon\": ..., \"giro\": ...}")
    return found

PANEL = "Shops"


def _opt(panel: str, help: str | None = None, **more: Any) -> Any:
    """A connect-shop option, grouped in --help by what it configures."""
    return typer.Option(rich_help_panel=panel, help=help, **more)


def register(app: typer.Typer) -> None:
    app.command("connect-shop", rich_help_panel=PANEL)(connect_shop)
    app.command("shops", rich_help_panel=PANEL)(list_shops)
    app.command("shop", rich_help_panel=PANEL)(show_shop)
    app.command("migrate-secrets", rich_help_panel=PANEL)(migrate_secrets)


def connect_request(fields: dict[str, Any], options: dict[str, Any], file: Path | None) -> Any:
    """The request from --file, then the secrets' environment variables, then the flags (flags win)."""
    from bridge.shops.connect import ConnectRequest

    data: dict[str, Any] = json.loads(file.read_text()) if file else {}
    for field, env in SECRET_ENV.items():
        if os.environ.get(env):
            data.setdefault(field, os.environ[env])
    data.update({k: v for k, v in fields.items() if v is not None})
    data["options"] = {**data.get("options", {}), **{k: v for k, v in options.items() if v is not None}}
    return ConnectRequest.model_validate(data)


def connect_shop(
    file: Annotated[Path | None, _opt("Shop", "JSON file with any of the fields below (flags win)",
                                      exists=True, dir_okay=False)] = None,
    store_code: Annotated[str | None, _opt("Shop", "the shop's id here (its Jumpseller store code)")] = None,
    api_url: Annotated[str | None, _opt("Shop", "public base URL of this deployment (stack output ApiUrl)")] = None,
    jumpseller_login: Annotated[str | None, _opt("Jumpseller")] = None,
    jumpseller_auth_token: Annotated[str | None, _opt("Jumpseller", f"or ${SECRET_ENV['jumpseller_auth_token']}")]
    = None,
    jumpseller_hooks_token: Annotated[str | None, _opt("Jumpseller",
                                                       f"or ${SECRET_ENV['jumpseller_hooks_token']}")] = None,
    jumpseller_api_url: Annotated[str | None, _opt("Jumpseller")] = None,
    bsale_token: Annotated[str | None, _opt("Bsale", f"or ${SECRET_ENV['bsale_token']}")] = None,
    office_id: Annotated[int | None, _opt("Bsale")] = None,
    price_list_id: Annotated[int | None, _opt("Bsale")] = None,
    bsale_api_url: Annotated[str | None, _opt("Bsale")] = None,
    bsale_credential_url: Annotated[str | None, _opt("Bsale")] = None,
    no_bsale: Annotated[bool, typer.Option(
        "--no-bsale", rich_help_panel="Bsale",
        help="Jumpseller + Facto only: no Bsale account (no catalog, stock or consumptions)")] = False,
    facto_user: Annotated[str | None, _opt(
        "Facto", "Facto API user, <RUT>/<user> (Facto » Administración » Servicios API)")] = None,
    facto_key: Annotated[str | None, _opt("Facto", f"Facto API key, or ${SECRET_ENV['facto_key']}")] = None,
    facto_url: Annotated[str | None, _opt(
        "Facto", "Facto's emission service (default https://conexion.facto.cl/documento.php)")] = None,
    facto_issuer: Annotated[str | None, _opt(
        "Facto", 'the shop\'s company, for credit notes of anonymous boletas: JSON '
                 '{"razon","giro","direccion","comuna","ciudad","telefono"}')] = None,
    document_provider: Annotated[Provider | None, _opt("Documents", "who emits the tax documents (default bsale)")]
    = None,
    sync_price: Annotated[bool | None, typer.Option("--sync-price/--no-sync-price", rich_help_panel="Catalog",
                                                    help="write Bsale's price list price to Jumpseller")] = None,
    presale: Annotated[bool | None, typer.Option("--presale/--no-presale", rich_help_panel="Catalog",
                                                 help="variants Bsale sells without stock are unlimited")] = None,
    documents: Annotated[bool | None, typer.Option("--documents/--no-documents", rich_help_panel="Documents",
                                                   help="make tax documents (off: stock consumptions)")] = None,
    stale_after_minutes: Annotated[int | None, _opt("Alerts", "flag the shop stale after this long without a "
                                                                 "Bsale notification (default 1440)")] = None,
    sii_overdue_after_minutes: Annotated[int | None, _opt(
        "Alerts", "flag a document the SII has not decided on after this long (default 2880, 48 h)")] = None,
    as_json: Json = False,
) -> None:
    """Register or update a shop, checked against Bsale and Jumpseller (or Facto)."""
    from bridge.shops.connect import connect

    fields = {"store_code": store_code, "jumpseller_login": jumpseller_login,
              "jumpseller_auth_token": jumpseller_auth_token, "jumpseller_hooks_token": jumpseller_hooks_token,
              "bsale_token": bsale_token, "office_id": office_id, "price_list_id": price_list_id,
              "bsale_api_url": bsale_api_url, "bsale_credential_url": bsale_credential_url,
              "jumpseller_api_url": jumpseller_api_url, "api_url": api_url, "facto_user": facto_user,
              "facto_key": facto_key, "facto_url": facto_url, "bsale_account": False if no_bsale else None}
    provider = document_provider.value if document_provider else None
    options = {"sync_price": sync_price, "presale": presale, "documents": documents,
               "stale_after_minutes": stale_after_minutes, "document_provider": provider,
               "facto_issuer": _issuer(facto_issuer), "sii_overdue_after_minutes": sii_overdue_after_minutes}
    request = connect_request(fields, options, file)
    need()
    result = connect(request)
    shop = result.shop
    if as_json:
        emit_json({"shop": shop.shop_id, "bsale_account": shop.bsale_account, "cpn_id": shop.cpn_id,
                   "office_id": shop.office_id, "price_list_id": shop.price_list_id,
                   "document_types": shop.document_types, "document_provider": shop.options.document_provider,
                   "checked": list(result.checked), "warnings": list(result.warnings),
                   "hooks_created": list(result.hooks_created), "notification_url": result.notification_url})
        finish(0)
    if shop.bsale_account:
        say(f"connected shop '{shop.shop_id}': Bsale company {shop.cpn_id}, office {shop.office_id}, "
            f"price list {shop.price_list_id}, document types {shop.document_types}")
    else:
        say(f"connected shop '{shop.shop_id}': Jumpseller + Facto, no Bsale")
    say(f"documents by {shop.options.document_provider}")
    for checked in result.checked:
        say(f"checked: {checked}")
    for warning in result.warnings:
        say(f"warning: {warning}")
    if result.hooks_created:
        say(f"Jumpseller hooks registered: {', '.join(result.hooks_created)}")
    if result.notification_url:
        say("Give Bsale this notification URL (keep it secret, it authenticates Bsale):")
        say(f"  {result.notification_url}")


def list_shops(as_json: Json = False) -> None:
    """Every connected shop, one row each, with its stale flag."""
    from bridge.store import shops

    need()
    every = sorted(shops.all_shops(), key=lambda s: s.shop_id)
    if as_json:
        emit_json([{"shop": s.shop_id, "stale": bool(s.stale_since), "stale_since": s.stale_since,
                    "office_id": s.office_id, "last_notification_at": s.last_notification_at} for s in every])
        finish(0)
    grid = table("shop", "updates", "office", "last Bsale notification")
    for s in every:
        row(grid, s.shop_id, health(not s.stale_since, f"STALE since {when(s.stale_since)}" if s.stale_since else None),
            s.office_id,
            when(s.last_notification_at))
    show(grid)
    if not every:
        say("no shops connected yet (connect-shop)")


def show_shop(store_code: Annotated[str, typer.Argument(help="the shop's store code")], as_json: Json = False) -> None:
    """One shop's settings (never its secrets)."""
    from bridge.store import shops

    need()
    shop = shops.require(store_code)
    if as_json:
        print(shop.model_dump_json(indent=2))
        finish(0)
    data = shop.model_dump()
    options = data.pop("options", {}) or {}
    pairs(((key, when(value) if key.endswith("_at") or key.endswith("_since") else value)
           for key, value in data.items()), title=f"shop {shop.shop_id}")
    pairs(options.items(), title="options")


def migrate_secrets(as_json: Json = False) -> None:
    """Give shops connected before the secrets split their hooks parameter (run once after deploying it)."""
    from bridge import secrets
    from bridge.store import shops

    need()
    done = {shop.shop_id: secrets.split_hooks(shop.shop_id)
            for shop in sorted(shops.all_shops(), key=lambda s: s.shop_id)}
    if as_json:
        emit_json([{"shop": shop_id, "written": written} for shop_id, written in done.items()])
        finish(0)
    grid = table("shop", "hooks parameter")
    for shop_id, written in done.items():
        row(grid, shop_id, "written" if written else "already split")
    show(grid)
