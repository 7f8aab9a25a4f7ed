"""Jumpseller's OAuth 2 side (``accounts.jumpseller.com``) and the app-only APIs (JsApps), for the sandbox.

Built to reference/jumpseller.md §1.3 and §6.1: authorization-code grant only; ``GET /oauth/authorize`` shows
the consent page (the signed-in merchant picks their store here, since the sandbox has no admin login) and
redirects to the app's Redirect URL with ``code`` and ``state``, or ``error=access_denied``; ``POST
/oauth/token`` takes form fields for ``authorization_code`` and ``refresh_token``; tokens live
``token_lifetime`` seconds (Jumpseller: 1 hour). ASSUMPTIONS where the reference is silent: codes are
single-use and expire after 10 minutes (RFC 6749 §4.1.2); refresh tokens rotate (the old one stops working,
the safe reading of "UNCONFIRMED"); errors follow RFC 6749 §5.2 (``{"error": "invalid_grant", ...}``);
removing the app (``uninstall``) revokes its tokens, so API calls answer 401 and refreshes ``invalid_grant``.
"""

from __future__ import annotations

import html
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from sandboxes._http import Request, Response

if TYPE_CHECKING:
    from sandboxes.jumpseller import JumpsellerSandbox, JumpsellerStore

CODE_LIFETIME = 600.0
_SCOPE_TEXT = (
    "read_products write_products read_orders write_orders read_customers write_customers read_categories "
    "write_categories read_store write_store read_settings write_settings read_shipping_methods "
    "write_shipping_methods read_payment_methods write_payment_methods read_hooks write_hooks read_promotions "
    "write_promotions read_taxes write_taxes read_pages write_pages read_countries write_countries "
    "read_custom_fields write_custom_fields read_checkout_custom_fields write_checkout_custom_fields "
    "read_customer_categories write_customer_categories read_jsapps write_jsapps read_apps read_fulfillments "
    "write_fulfillments read_locations write_locations write_reviews read_transaction_ledgers write_store_setup"
)
SCOPES = frozenset(_SCOPE_TEXT.split(" "))
# Per-endpoint scopes (§1.3): the first path segment after /v1 → (read scope, write scope).
PATH_SCOPES = {
    "store": ("read_store", "write_store"), "hooks": ("read_hooks", "write_hooks"),
    "products": ("read_products", "write_products"), "orders": ("read_orders", "write_orders"),
    "jsapps": ("read_jsapps", "write_jsapps"), "locations": ("read_store", "write_store"),
}
JSAPP_TEMPLATES = ("layout", "home", "product", "page", "category", "cart", "checkout")
JSAPP_ELEMENTS = ("body", "head")


@dataclass
class OAuthApp:
    id: int
    code: str
    name: str
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class Grant:
    """What a store allowed an app: the tokens in force and the scopes."""

    app: OAuthApp
    store_code: str
    scopes: frozenset[str]
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    revoked: bool = False


@dataclass
class _Code:
    app: OAuthApp
    store_code: str
    redirect_uri: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class JsApp:
    id: int
    url: str
    template: str
    element: str
    application_id: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "template": self.template, "element": self.element,
                "application_id": self.application_id}


@dataclass
class OAuthServer:
    """State of the accounts server, held by the sandbox (its lock guards it)."""

    sandbox: JumpsellerSandbox
    token_lifetime: float = 3600.0
    now: Any = time.time  # wall clock: created_at is an epoch, as Jumpseller's
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    codes: dict[str, _Code] = field(default_factory=dict)
    jsapps: dict[str, dict[int, JsApp]] = field(default_factory=dict)  # store code → id → JsApp
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------------ test and admin helpers

    def register_app(self, redirect_uri: str, *, name: str = "Bsale Bridge", code: str = "bsale-bridge",
                     client_id: str | None = None, client_secret: str | None = None) -> OAuthApp:
        app = OAuthApp(next(self._ids), code, name, client_id or secrets.token_hex(16),
                       client_secret or secrets.token_hex(32), [redirect_uri])
        self.apps[app.client_id] = app
        return app

    def grant_for(self, store_code: str, client_id: str | None = None) -> Grant | None:
        found = [g for g in self.grants if g.store_code == store_code and not g.revoked
                 and (client_id is None or g.app.client_id == client_id)]
        return found[-1] if found else None

    def uninstall(self, store_code: str, client_id: str | None = None) -> None:
        """The merchant removed the app: its tokens stop working (its JsApps go too)."""
        for grant in self.grants:
            if grant.store_code == store_code and (client_id is None or grant.app.client_id == client_id):
                grant.revoked = True
                self.jsapps.get(store_code, {}).clear()

    def expire_tokens(self, store_code: str) -> None:
        """Make the store's access tokens expired now (as an hour passing would)."""
        for grant in self.grants:
            if grant.store_code == store_code:
                grant.expires_at = self.now() - 1

    def bearer(self, token: str) -> Grant | None | str:
        """The grant of an access token; "expired" when it was valid but its hour is over."""
        for grant in self.grants:
            if grant.access_token and secrets.compare_digest(grant.access_token, token):
                if grant.revoked:
                    return None
                return "expired" if grant.expires_at <= self.now() else grant
        return None

    # ------------------------------------------------------------------ HTTP

    def handle(self, request: Request) -> Response:
        if request.path == "/oauth/authorize" and request.method == "GET":
            return self._authorize_page(request)
        if request.path == "/oauth/authorize" and request.method == "POST":
            return self._decide(request)
        if request.path == "/oauth/token" and request.method == "POST":
            return self._token(request)
        return Response(404, {"error": "not_found"})

    def _authorize_params(self, values: dict[str, str]) -> tuple[OAuthApp, str, frozenset[str]] | Response:
        app = self.apps.get(values.get("client_id", ""))
        if app is None:
            return _page(400, "Error", "La aplicación no existe (client_id desconocido).")
        redirect_uri = values.get("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:
            return _page(400, "Error", "La URL de retorno no coincide con la registrada por la aplicación.")
        if values.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", "state": values.get("state")})
        scopes = frozenset(values.get("scope", "").split())
        if not scopes or scopes - SCOPES:
            return _redirect(redirect_uri, {"error": "invalid_scope", "state": values.get("state")})
        return app, redirect_uri, scopes

    def _authorize_page(self, request: Request) -> Response:
        checked = self._authorize_params(request.query)
        if isinstance(checked, Response):
            return checked
        app, _, scopes = checked
        stores = "".join(f'<option value="{html.escape(code)}">{html.escape(code)}</option>'
                         for code in sorted(self.sandbox.stores))
        hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
                         for k, v in request.query.items())
        body = (
            f"<h1>{html.escape(app.name)} quiere acceder a tu tienda</h1>"
            f"<p>Permisos: {html.escape(', '.join(sorted(scopes)))}</p>"
            f'<form method="post" action="/oauth/authorize">{hidden}'
            f'<label for="store">Tienda</label> <select id="store" name="store">{stores}</select> '
            '<button name="decision" value="allow">Autorizar</button> '
            '<button name="decision" value="deny">Rechazar</button></form>'
        )
        return _page(200, "Autorizar aplicación", body)

    def _decide(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        checked = self._authorize_params(form)
        if isinstance(checked, Response):
            return checked
        app, redirect_uri, scopes = checked
        state = form.get("state")
        if form.get("decision") != "allow":
            return _redirect(redirect_uri, {"error": "access_denied", "state": state})
        store_code = form.get("store", "")
        if store_code not in self.sandbox.stores:
            return _page(400, "Error", "Tienda desconocida.")
        code = secrets.token_urlsafe(24)
        self.codes[code] = _Code(app, store_code, redirect_uri, scopes, self.now() + CODE_LIFETIME)
        return _redirect(redirect_uri, {"code": code, "state": state})

    def _token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        app = self.apps.get(form.get("client_id", ""))
        if app is None or not secrets.compare_digest(app.client_secret, form.get("client_secret", "")):
            return Response(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)  # single use, even when refused below
            if code is None or code.app is not app or code.expires_at <= self.now():
                return _invalid_grant("The authorization code is invalid, expired or already used")
            if code.redirect_uri != form.get("redirect_uri"):
                return _invalid_grant("The redirect_uri does not match the one of the authorization request")
            grant = Grant(app, code.store_code, code.scopes)
            self.grants.append(grant)
            return self._issue(grant)
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            grant = next((g for g in self.grants if g.app is app and g.refresh_token and not g.revoked
                          and secrets.compare_digest(g.refresh_token, token)), None)
            if grant is None:
                return _invalid_grant("The refresh token is invalid, revoked or already used")
            return self._issue(grant)
        return Response(400, {"error": "unsupported_grant_type"})

    def _issue(self, grant: Grant) -> Response:
        created = int(self.now())
        grant.access_token = secrets.token_hex(20)
        grant.refresh_token = secrets.token_hex(20)  # rotates: the previous one stops working
        grant.expires_at = created + self.token_lifetime
        return Response(200, {"access_token": grant.access_token, "token_type": "bearer",
                              "expires_in": int(self.token_lifetime), "refresh_token": grant.refresh_token,
                              "scope": " ".join(sorted(grant.scopes)), "created_at": created})

    # ------------------------------------------------------------------ app-only API: JsApps (§6.1)

    def jsapps_api(self, request: Request, store: JumpsellerStore, grant: Grant | None) -> Response:
        if grant is None:
            return Response(403, {"message": "Not authorized to access JsApps for this app"})
        apps = self.jsapps.setdefault(store.code, {})
        if request.method == "GET":
            mine = [{"js_app": a.to_json()} for a in apps.values() if a.application_id == grant.app.id]
            return Response(200, mine) if mine else Response(404, {"message": "This store doesn't have any JsApps"})
        if request.method == "POST":
            body = request.json_or_none()
            spec = body.get("app") if isinstance(body, dict) else None
            spec = spec if isinstance(spec, dict) else {}
            errors = []
            if spec.get("element") not in JSAPP_ELEMENTS:
                errors.append("Element is not included in the list")
            if spec.get("template") not in JSAPP_TEMPLATES:
                errors.append("Template is not included in the list")
            if not spec.get("url"):
                errors.append("Url can't be blank")
            if errors:
                return Response(400, {"errors": errors})
            app = JsApp(self.sandbox._id("jsapp"), str(spec["url"]), str(spec["template"]), str(spec["element"]),
                        grant.app.id)
            apps[app.id] = app
            return Response(200, {"js_app": app.to_json()})
        if request.method == "DELETE":
            target = apps.get(_int(request.params.get("id")))
            if target is None:
                return Response(404, {"message": "JsApp not found"})
            if target.application_id != grant.app.id:
                return Response(403, {"message": "Not authorized to delete this JsApp"})
            del apps[target.id]
            return Response(200, {"message": "JsApp deleted"})
        return Response(405, {"message": "Method not allowed"})


def required_scope(method: str, api_path: str) -> str | None:
    """The scope an OAuth token needs for this call (None: not mapped, allowed)."""
    first = api_path.strip("/").split("/")[0].removesuffix(".json")
    scopes = PATH_SCOPES.get(first)
    if scopes is None:
        return None
    return scopes[0] if method in ("GET", "HEAD") else scopes[1]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _invalid_grant(description: str) -> Response:
    return Response(400, {"error": "invalid_grant", "error_description": description})


def _redirect(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return Response(302, headers={"Location": f"{uri}{'&' if '?' in uri else '?'}{query}"})


def _page(status: int, title: str, body: str) -> Response:
    text = (f'<!doctype html><html lang="es"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body>{body}</body></html>")
    return Response(status, raw=text.encode(), content_type="text/html; charset=utf-8")
