"""F17: a shop installs the Jumpseller app (OAuth 2 authorization code), which also signs its owner in to the panel.

`start` gives the authorize URL with a `state` that is signed, expires in 10 minutes and is stored until used;
`finish` accepts it once, exchanges the code, asks Jumpseller which store authorised us, and only then writes the
shop's SecureString (one write: nothing half-made when any step before it fails). A shop already connected to
Bsale gets its hooks registered again with the app's token and is called again if it had been disconnected.
"""

from __future__ import annotations

import secrets as random_secrets
import time
from dataclasses import dataclass

from botocore.exceptions import ClientError
from pydantic import ValidationError

from bridge import secrets
from bridge.clients.hosts import check_api_url
from bridge.clients.jumpseller import JumpsellerClient
from bridge.clients.jumpseller_accounts import GrantRefused, Tokens
from bridge.errors import ShopDisconnected, UpstreamError
from bridge.models.shop import Shop, ShopSecrets
from bridge.settings import settings
from bridge.shops import app, signing
from bridge.shops.tokens import with_tokens
from bridge.store import keys, shops
from bridge.store.table import client, name, serialize

STATE_SECONDS = 600
STATE_PURPOSE = "oauth-state"


class InstallRefused(Exception):
    """Why an install did not happen, in the owner's words (shown as the page). Nothing was saved."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Installed:
    shop_id: str
    store_name: str
    again: bool  # the app was already installed in this store
    bsale_connected: bool
    hooks_created: list[str]


def start(redirect_uri: str, now: float | None = None) -> str:
    """The URL that sends the owner to Jumpseller's consent page."""
    now = time.time() if now is None else now
    nonce = random_secrets.token_urlsafe(24)
    expires = int(now) + STATE_SECONDS
    client().put_item(TableName=name(), Item=serialize({**keys.oauth_state(nonce), "expires_at": expires}))
    state = signing.sign(app.credentials().session_key, STATE_PURPOSE, {"n": nonce, "exp": expires})
    return app.accounts().authorize_url(redirect_uri, state)


def finish(code: str, state: str, redirect_uri: str, now: float | None = None) -> Installed:
    now = time.time() if now is None else now
    payload = signing.verify(app.credentials().session_key, STATE_PURPOSE, state, now)
    if payload is None:
        raise InstallRefused("El enlace de instalación no es válido o venció. Vuelve a instalar la app desde "
                             "el panel de Jumpseller.")
    _use_state(str(payload["n"]))
    try:
        tokens = app.accounts().exchange(code, redirect_uri)
    except GrantRefused as exc:
        raise InstallRefused("Jumpseller no aceptó la autorización: venció o ya se usó. Vuelve a instalar la app "
                             "desde el panel de Jumpseller.") from exc
    except UpstreamError as exc:
        raise InstallRefused("Jumpseller no respondió. Intenta instalar la app de nuevo en unos minutos.",
                             status=502) from exc
    store = _store_info(tokens)
    shop_id = str(store.get("code") or "")
    hooks_token = str(store.get("hooks_token") or "")
    try:
        Shop.model_validate({"shop_id": shop_id, "cpn_id": 0, "office_id": 0, "price_list_id": 0})
    except ValidationError as exc:
        raise InstallRefused("Jumpseller no indicó un código de tienda válido.", status=502) from exc
    if not hooks_token:
        raise InstallRefused("Jumpseller no entregó el token de webhooks de la tienda.", status=502)

    existing = secrets.find(shop_id)
    base = existing or ShopSecrets(jumpseller_hooks_token=hooks_token,
                                   notify_token=f"{shop_id}.{random_secrets.token_urlsafe(32)}")
    creds = with_tokens(base.model_copy(update={"jumpseller_hooks_token": hooks_token}), tokens)
    secrets.put(shop_id, creds)  # the one write of an install

    shop = shops.get(shop_id)
    hooks_created: list[str] = []
    if shop is not None:
        shops.mark_reconnected(shop_id)
        if shop.webhook_url:
            from bridge.shops.connect import ensure_hooks
            from bridge.shops.context import clients_for

            hooks_created = ensure_hooks(clients_for(shop, creds).jumpseller, shop.webhook_url)
    return Installed(shop_id=shop_id, store_name=str(store.get("name") or shop_id),
                     again=existing is not None and existing.oauth, bsale_connected=shop is not None,
                     hooks_created=hooks_created)


def _use_state(nonce: str) -> None:
    """Delete the stored state; only the first request with it succeeds (a replayed callback is refused)."""
    try:
        client().delete_item(TableName=name(), Key=serialize(keys.oauth_state(nonce)),
                             ConditionExpression="attribute_exists(pk)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise InstallRefused("Este enlace de instalación ya se usó. Vuelve a instalar la app desde el panel "
                                 "de Jumpseller.") from exc
        raise


class _Fixed:
    """The token just received: it cannot be renewed (a refusal means something is wrong with the install)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def current(self) -> str:
        return self.token

    def renew(self) -> str:
        raise ShopDisconnected("Jumpseller refused the token it just issued")


def _store_info(tokens: Tokens) -> dict[str, object]:
    url = check_api_url(settings().jumpseller_api_url, "jumpseller_api")
    jumpseller = JumpsellerClient("", "", url, bearer=_Fixed(tokens.access_token))
    try:
        return jumpseller.store_info()
    except (UpstreamError, ShopDisconnected) as exc:
        raise InstallRefused("Jumpseller no nos dejó leer los datos de la tienda. Intenta instalar la app de "
                             "nuevo.", status=502) from exc
