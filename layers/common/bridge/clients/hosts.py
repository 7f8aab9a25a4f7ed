"""Where a shop's API clients may point: the services' own hosts, over https.

A shop's API URLs are stored with the shop and every worker sends that shop's tokens to them, so a URL typed at
connect (or altered in the table) must not be able to send a token to any other host, or in clear. The local
stack's sandboxes live on loopback over http: an explicit setting (`ALLOW_LOCAL_API_URLS`, set by devstack, never
in a deployed stage) allows those too.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from bridge.errors import ConfigurationError
from bridge.settings import settings

Service = Literal["bsale_api", "bsale_credential", "jumpseller_api", "facto", "jumpseller_accounts"]
OFFICIAL_HOSTS: dict[Service, frozenset[str]] = {
    # bsale.md §1.2: api.bsale.io (Chile, current docs), api.bsale.cl (legacy), Peru and Mexico.
    "bsale_api": frozenset({"api.bsale.io", "api.bsale.cl", "api.bsale.com.pe", "api.bsale.com.mx"}),
    "bsale_credential": frozenset({"credential.bsale.io"}),
    "jumpseller_api": frozenset({"api.jumpseller.com"}),
    "facto": frozenset({"conexion.facto.cl"}),  # facto_dte.md A.2: the WSDL and the emission endpoint
    # jumpseller.md §1.3: the OAuth server, which receives the app's client secret.
    "jumpseller_accounts": frozenset({"accounts.jumpseller.com"}),
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_api_url(url: str, service: Service) -> str:
    """`url` when a token may go there; ConfigurationError with the reason otherwise."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or ""), parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{service} URL is not a URL") from exc
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ConfigurationError(f"{service} URL must not carry credentials, a query or a fragment")
    if host in OFFICIAL_HOSTS[service] and parts.scheme == "https" and port in (None, 443):
        return url
    if settings().allow_local_api_urls and host in LOCAL_HOSTS and parts.scheme in ("http", "https"):
        return url
    allowed = ", ".join(sorted(OFFICIAL_HOSTS[service]))
    raise ConfigurationError(f"{service} URL must be https on {allowed}")
