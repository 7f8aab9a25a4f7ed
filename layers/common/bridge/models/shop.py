"""A connected shop (tenant): its choices, never its secrets."""

from __future__ import annotations

from dataclasses import dataclass, fields

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The services' production endpoints: a new shop's defaults (the local stack points its shops at the sandboxes).
BSALE_API_URL = "https://api.bsale.io"
BSALE_CREDENTIAL_URL = "https://credential.bsale.io"
JUMPSELLER_API_URL = "https://api.jumpseller.com/v1"
FACTO_URL = "https://conexion.facto.cl/documento.php"

# Jumpseller store codes are subdomains; the same characters make safe keys and URL parts.
SHOP_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


@dataclass(frozen=True)
class CheckoutFields:
    """The checkout custom-field labels and values a shop uses. Matching ignores case and accents."""

    document_labels: tuple[str, ...] = ("Tipo de Documento", "Documento", "Tipo de documento tributario")
    boleta_values: tuple[str, ...] = ("boleta", "boleta electronica", "39")
    factura_values: tuple[str, ...] = ("factura", "factura electronica", "33")
    razon_social_labels: tuple[str, ...] = ("Razón Social", "Razon Social", "Nombre o Razón Social")
    giro_labels: tuple[str, ...] = ("Giro", "Giro comercial", "Actividad económica")
    rut_labels: tuple[str, ...] = ("RUT", "RUT empresa", "RUT de la empresa")


class ShopOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    sync_price: bool = False
    presale: bool = False
    documents: bool = True
    document_mode: str = Field(default="auto", pattern="^(auto|manual)$")
    stale_after_minutes: int | None = Field(default=None, ge=5)
    reconcile_every_minutes: int = Field(default=60, ge=5)
    # F19: a document the SII has not decided on after this long is flagged (0: flag any still "sent").
    sii_overdue_after_minutes: int = Field(default=48 * 60, ge=0)
    # The shop's own checkout field labels and values, when they differ from Jumpseller's Bsale app convention
    # (keys of CheckoutFields: document_labels, boleta_values, factura_values...).
    checkout_fields: dict[str, list[str]] = Field(default_factory=dict)
    # Who emits the tax documents: Bsale (as always) or Facto (F15). With Facto, `facto_issuer` is the shop's own
    # company (razon, giro, direccion, comuna, ciudad, telefono): the receptor of a credit note voiding an
    # anonymous boleta (SII allows it when the buyer is unknown; Facto requires a receptor on credit notes).
    document_provider: str = Field(default="bsale", pattern="^(bsale|facto)$")
    facto_issuer: dict[str, str] = Field(default_factory=dict)

    @field_validator("checkout_fields")
    @classmethod
    def _known_checkout_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(value) - {f.name for f in fields(CheckoutFields)}
        if unknown:
            raise ValueError(f"unknown checkout field setting(s): {', '.join(sorted(unknown))}")
        return value


class Shop(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    shop_id: str = Field(pattern=SHOP_ID_PATTERN)
    cpn_id: int
    office_id: int
    price_list_id: int
    document_types: dict[str, int] = Field(default_factory=dict)  # "39" boleta, "33" factura, "61" nota de crédito
    bsale_api_url: str = BSALE_API_URL
    bsale_credential_url: str = BSALE_CREDENTIAL_URL
    jumpseller_api_url: str = JUMPSELLER_API_URL
    facto_url: str = FACTO_URL
    bsale_account: bool = True  # False: Jumpseller + Facto only (no Bsale: no catalog, stock or consumptions)
    options: ShopOptions = Field(default_factory=ShopOptions)
    webhook_url: str | None = None  # where this shop's Jumpseller hooks point (checked by every reconcile)
    connected_at: int = 0
    last_notification_at: int | None = None
    stale_since: int | None = None
    # Set when Jumpseller stopped accepting the app's tokens (the app was removed): nothing calls the shop until
    # it installs the app again.
    disconnected_at: int | None = None
    disconnected_reason: str | None = None


class ShopSecrets(BaseModel):
    """Kept in SSM Parameter Store as one SecureString per shop (the hooks token also alone: bridge/secrets.py).

    Fields this code does not know (added by a newer version) are kept, so reading and writing back loses none.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)

    bsale_token: str = ""  # empty while a shop that installed the app has not connected Bsale yet
    jumpseller_login: str = ""  # login + auth token, or the OAuth tokens below (a shop that installed the app)
    jumpseller_auth_token: str = ""
    jumpseller_hooks_token: str
    notify_token: str  # the secret part of the Bsale notification URL
    facto_user: str | None = None  # "<RUT with dots and dash>/<API user>" (document_provider facto)
    facto_key: str | None = None
    # F17: the app's OAuth tokens; when present, Jumpseller is called with them (refreshed before they expire).
    jumpseller_access_token: str = ""
    jumpseller_refresh_token: str = ""
    jumpseller_token_expires_at: int = 0

    @property
    def oauth(self) -> bool:
        return bool(self.jumpseller_access_token)

    def __repr__(self) -> str:  # never print a secret by accident
        return "ShopSecrets(***)"

    __str__ = __repr__
