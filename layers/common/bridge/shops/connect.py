"""F1: connect (or update) a shop. Every choice is checked against Bsale and Jumpseller before it is saved."""

from __future__ import annotations

import secrets as random_secrets
import time

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bridge import secrets
from bridge.clients import facto
from bridge.clients.bsale import BsaleClient
from bridge.clients.hosts import check_api_url
from bridge.clients.jumpseller import JumpsellerClient
from bridge.errors import ConfigurationError, UpstreamError
from bridge.models.shop import (
    BSALE_API_URL,
    BSALE_CREDENTIAL_URL,
    FACTO_URL,
    JUMPSELLER_API_URL,
    SHOP_ID_PATTERN,
    Shop,
    ShopOptions,
    ShopSecrets,
)
from bridge.shops.tokens import AppToken
from bridge.store import shops

DOCUMENT_CODES = {"39": "boleta", "33": "factura", "61": "nota de crédito"}
HOOK_EVENTS = (
    "order_pending_payment", "order_paid", "order_canceled", "order_abandoned",
    "product_created", "product_updated", "product_deleted",
)


class ConnectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_code: str = Field(pattern=SHOP_ID_PATTERN)
    # Login + auth token, or (oauth=True) the app's tokens stored when the shop installed the app (F17).
    jumpseller_login: str = ""
    jumpseller_auth_token: str = ""
    jumpseller_hooks_token: str = Field(min_length=1)
    bsale_token: str = ""  # required unless bsale_account is false (checked below)
    office_id: int = Field(default=0, ge=0)
    price_list_id: int = Field(default=0, ge=0)
    bsale_account: bool = True  # false: Jumpseller + Facto only (no catalog, stock or consumptions)
    facto_user: str | None = Field(default=None, pattern=r"^[0-9.]{1,12}-[0-9kK]/\S+$")  # <RUT>/<API user>
    facto_key: str | None = Field(default=None, min_length=1)
    facto_url: str = FACTO_URL
    oauth: bool = False
    bsale_api_url: str = BSALE_API_URL
    bsale_credential_url: str = BSALE_CREDENTIAL_URL
    jumpseller_api_url: str = JUMPSELLER_API_URL
    api_url: str | None = None  # public base URL of this deployment, for the URLs given to Bsale and Jumpseller
    options: ShopOptions = Field(default_factory=ShopOptions)

    @model_validator(mode="after")
    def _complete(self) -> ConnectRequest:
        if self.bsale_account and not (self.bsale_token and self.office_id and self.price_list_id):
            raise ValueError("a shop with Bsale needs bsale_token, office_id and price_list_id (or --no-bsale "
                             "with --document-provider facto)")
        if not self.bsale_account and self.options.document_provider != "facto":
            raise ValueError("without Bsale the documents must come from Facto (--document-provider facto)")
        if self.options.document_provider == "facto" and not (self.facto_user and self.facto_key):
            raise ValueError("document_provider facto needs facto_user (<RUT>/<user>) and facto_key")
        if not self.oauth and not (self.jumpseller_login and self.jumpseller_auth_token):
            raise ValueError("give the Jumpseller login and auth token, or install the app (OAuth)")
        return self


class Connected(BaseModel):
    shop: Shop
    notification_url: str | None
    warnings: list[str]
    hooks_created: list[str]
    checked: list[str] = Field(default_factory=list)  # what was verified, said plainly


def connect(request: ConnectRequest) -> Connected:
    warnings: list[str] = []
    # Before any call: the tokens below go only to the services' own hosts, over https.
    check_api_url(request.jumpseller_api_url, "jumpseller_api")
    checked: list[str] = []
    cpn_id, document_types = 0, {}
    if request.bsale_account:
        check_api_url(request.bsale_api_url, "bsale_api")
        check_api_url(request.bsale_credential_url, "bsale_credential")
        bsale = BsaleClient(request.bsale_token, request.bsale_api_url, request.bsale_credential_url)
        cpn_id = _check_bsale(bsale, request)
        document_types = _document_types(bsale, warnings if request.options.document_provider == "bsale" else [])
        checked.append(f"Bsale: token, office {request.office_id} and price list {request.price_list_id}")
    if request.options.document_provider == "facto":
        check_api_url(request.facto_url, "facto")
        checked += _check_facto(request, warnings)
    existing = secrets.find(request.store_code)
    if request.oauth and (existing is None or not existing.oauth):
        raise ConfigurationError(f"the Jumpseller app is not installed in store '{request.store_code}'")
    bearer = AppToken(request.store_code, existing) if request.oauth and existing else None
    jumpseller = JumpsellerClient(request.jumpseller_login, request.jumpseller_auth_token, request.jumpseller_api_url,
                                  bearer=bearer)
    _check_jumpseller(jumpseller, request)
    # Keep the notification URL Bsale already has; a new one only for a new shop.
    notify_token = existing.notify_token if existing else f"{request.store_code}.{random_secrets.token_urlsafe(32)}"
    shop = Shop(
        shop_id=request.store_code,
        cpn_id=cpn_id,
        office_id=request.office_id,
        price_list_id=request.price_list_id,
        document_types=document_types,
        bsale_api_url=request.bsale_api_url,
        bsale_credential_url=request.bsale_credential_url,
        jumpseller_api_url=request.jumpseller_api_url,
        facto_url=request.facto_url,
        bsale_account=request.bsale_account,
        options=request.options,
        webhook_url=f"{request.api_url.rstrip('/')}/jumpseller/webhooks" if request.api_url else None,
        connected_at=(current.connected_at if (current := shops.get(request.store_code)) else int(time.time())),
    )
    latest = secrets.find(request.store_code) if existing else None  # the checks above may have refreshed them
    oauth_tokens = {k: v for k, v in latest.model_dump().items() if k.startswith("jumpseller_") and
                    k.endswith(("_access_token", "_refresh_token", "_expires_at"))} if latest else {}
    secrets.put(shop.shop_id, ShopSecrets(
        bsale_token=request.bsale_token,
        jumpseller_login=request.jumpseller_login,
        jumpseller_auth_token=request.jumpseller_auth_token,
        jumpseller_hooks_token=request.jumpseller_hooks_token,
        notify_token=notify_token,
        facto_user=request.facto_user,
        facto_key=request.facto_key,
        **oauth_tokens,  # an installed app keeps its tokens (and is called with them)
    ))
    shops.save(shop, shops.token_hash(notify_token))

    hooks_created: list[str] = []
    url = None
    if request.api_url:
        base = request.api_url.rstrip("/")
        url = f"{base}/bsale/notifications/{notify_token}" if request.bsale_account else None
        hooks_created = ensure_hooks(jumpseller, f"{base}/jumpseller/webhooks")  # == shop.webhook_url
    else:
        warnings.append("no --api-url given: Jumpseller hooks not registered and no notification URL printed")
    checked.append("Jumpseller: login, auth token and hooks token")
    return Connected(shop=shop, notification_url=url, warnings=warnings, hooks_created=hooks_created,
                     checked=checked)


def _check_facto(request: ConnectRequest, warnings: list[str]) -> list[str]:
    """What can be checked without emitting a document (Facto has no login or lookup operation)."""
    from bridge.documents.facto import issuer_from
    from bridge.documents.rut import RutError, parse_rut

    assert request.facto_user and request.facto_key
    rut = parse_rut(request.facto_user.split("/", 1)[0])
    if isinstance(rut, RutError):
        raise ConfigurationError(f"Facto user: the company RUT is not valid ({rut.reason})")
    problem = facto.check_access(facto.Credentials(request.facto_user, request.facto_key, request.facto_url))
    if problem:
        raise ConfigurationError(f"Facto: {problem}")
    warnings.append("Facto: the user and key could NOT be checked (Facto offers no way to check them without "
                    "emitting a document); the first order will tell. Also unchecked: folios (CAF), the digital "
                    "certificate and the resolution data in Facto")
    if issuer_from(request.facto_user, request.options.facto_issuer) is None:
        warnings.append("Facto: no complete --facto-issuer (razon, giro, direccion, comuna, ciudad, telefono): a "
                        "cancelled anonymous boleta cannot get its credit note until it is given")
    return [f"Facto: the service answers at {request.facto_url} (WSDL with emitirDocumento); the user's RUT "
            f"{request.facto_user.split('/')[0]} is well formed"]


def ensure_hooks(jumpseller: JumpsellerClient, url: str) -> list[str]:
    """Register the hooks this product needs, once: an existing hook for the same event and URL is kept."""
    present = {(hook.event, hook.url) for hook in jumpseller.hooks()}
    created = []
    for event in HOOK_EVENTS:
        if (event, url) not in present:
            jumpseller.create_hook(event, url)
            created.append(event)
    return created


def _check_bsale(bsale: BsaleClient, request: ConnectRequest) -> int:
    try:
        cpn_id = bsale.instance().id
    except UpstreamError as exc:
        raise ConfigurationError(f"Bsale refused the access token ({exc.upstream_reason})") from exc
    office = bsale.office(request.office_id)
    if office.state != 0:
        raise ConfigurationError(f"Bsale office {office.id} ({office.name}) is inactive")
    price_list = bsale.price_list(request.price_list_id)
    if price_list.state != 0:
        raise ConfigurationError(f"Bsale price list {price_list.id} ({price_list.name}) is inactive")
    return cpn_id


def _document_types(bsale: BsaleClient, warnings: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for code, label in DOCUMENT_CODES.items():
        active = [t for t in bsale.document_types(code) if t.state == 0]
        if active:
            found[code] = active[0].id
        else:
            warnings.append(f"Bsale has no active document type for {label} (SII code {code})")
    return found


def _check_jumpseller(jumpseller: JumpsellerClient, request: ConnectRequest) -> None:
    try:
        store = jumpseller.store_info()
    except UpstreamError as exc:
        raise ConfigurationError(f"Jumpseller refused the login and auth token ({exc.upstream_reason})") from exc
    code = store.get("code")
    if code and code != request.store_code:
        raise ConfigurationError(f"these Jumpseller credentials belong to store '{code}', not '{request.store_code}'")
    hooks_token = store.get("hooks_token")
    if hooks_token and hooks_token != request.jumpseller_hooks_token:
        raise ConfigurationError("the hooks token differs from the one Jumpseller reports")
