"""Jumpseller's OAuth 2 server (accounts.jumpseller.com): the app's install link, code exchange and refresh.

Reference §1.3: authorization-code grant only; the token endpoint takes form fields; tokens live an hour
(`created_at + expires_in`). Whether refresh tokens rotate is unconfirmed, so the one each refresh returns is
always the one kept.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import requests
from pydantic import BaseModel, ConfigDict

from bridge.clients.http import TIMEOUT
from bridge.errors import UpstreamError

# What the bridge does in the store: read it, its products (stock, price), its orders (documents, notes), its
# hooks, and the checkout helper (JsApps). checkout custom fields: both scope names, as the reference advises.
SCOPES = (
    "read_store", "read_products", "write_products", "read_orders", "write_orders", "read_hooks", "write_hooks",
    "read_jsapps", "write_jsapps", "read_settings", "read_checkout_custom_fields",
)


class Tokens(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    access_token: str
    refresh_token: str
    expires_in: int = 3600
    created_at: int | None = None

    @property
    def expires_at(self) -> int:
        return int(self.created_at or time.time()) + self.expires_in


class GrantRefused(Exception):
    """The accounts server refused the code or refresh token (used, expired, revoked): asking again cannot help."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class AccountsClient:
    service = "Jumpseller"

    def __init__(self, accounts_url: str, client_id: str, client_secret: str,
                 session: requests.Session | None = None) -> None:
        self.accounts_url = accounts_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.session = session or requests.Session()

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode({"client_id": self.client_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": " ".join(SCOPES), "state": state})
        return f"{self.accounts_url}/oauth/authorize?{query}"

    def exchange(self, code: str, redirect_uri: str) -> Tokens:
        return self._token({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})

    def refresh(self, refresh_token: str) -> Tokens:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _token(self, form: dict[str, str]) -> Tokens:
        data = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            response = self.session.post(f"{self.accounts_url}/oauth/token", data=data, timeout=TIMEOUT,
                                         headers={"Accept": "application/json"})
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise UpstreamError(self.service, f"{type(exc).__name__}: no answer", retryable=True) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 400 and isinstance(body, dict) and body.get("error") == "invalid_grant":
            raise GrantRefused("invalid_grant", str(body.get("error_description") or ""))
        if response.status_code >= 400 or not isinstance(body, dict):
            raise UpstreamError(self.service, f"token endpoint answered {response.status_code}: {str(body)[:300]}",
                                status_code=response.status_code, retryable=response.status_code >= 500)
        return Tokens.model_validate(body)
