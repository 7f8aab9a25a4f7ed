"""What the panel's buttons do, for the signed-in shop only. Each calls the same function the CLI calls.

Every function takes the shop id from the session (never from the request) and answers in the owner's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bridge import secrets
from bridge.clients.bsale import BsaleClient
from bridge.clients.hosts import check_api_url
from bridge.clients.http import RateLimited
from bridge.errors import BridgeError, ConfigurationError, UpstreamError
from bridge.models.shop import Shop, ShopOptions
from bridge.settings import settings
from bridge.store import jobs, links, shops
from bridge.store import orders as records

SYNC_MODES = {
    "link": "Vincular por SKU",
    "import": "Importar a Jumpseller lo que falta",
    "overwrite": "Vincular y sobrescribir stock y precio",
}
CHECKOUT_SCRIPT = "assets/rut-checkout.js"  # under the panel's base URL


class Refused(Exception):
    """The owner asked for something that cannot be done; the message says why, in Spanish."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ------------------------------------------------------------------------------------------------ Connect


@dataclass
class BsaleChoices:
    offices: list[tuple[int, str]]
    price_lists: list[tuple[int, str]]
    document_types: dict[str, str]  # SII code → Bsale document type name (active ones)


def bsale_choices(token: str) -> BsaleChoices:
    """Read the company's offices, price lists and document types live, with the owner's token."""
    token = token.strip()
    if not token:
        raise Refused("Escribe el token de acceso de Bsale.")
    bsale = BsaleClient(token, check_api_url(settings().bsale_api_url, "bsale_api"),
                        check_api_url(settings().bsale_credential_url, "bsale_credential"))
    try:
        bsale.instance()
        offices = [(int(o["id"]), str(o.get("name") or o["id"])) for o in bsale.pages("/v1/offices.json")
                   if int(o.get("state", 0)) == 0]
        price_lists = [(int(p["id"]), str(p.get("name") or p["id"])) for p in bsale.pages("/v1/price_lists.json")
                       if int(p.get("state", 0)) == 0]
        kinds = {}
        for code in ("39", "33", "61"):
            active = [t for t in bsale.document_types(code) if t.state == 0]
            if active:
                kinds[code] = active[0].name
    except UpstreamError as exc:
        if exc.status_code in (401, 403, 404):
            raise Refused("Bsale no reconoce ese token. Cópialo de nuevo desde Bsale (Configuración → API).") from exc
        raise Refused("Bsale no respondió. Intenta de nuevo en unos minutos.", status=502) from exc
    if not offices:
        raise Refused("Tu cuenta de Bsale no tiene sucursales activas.")
    if not price_lists:
        raise Refused("Tu cuenta de Bsale no tiene listas de precios activas.")
    return BsaleChoices(offices, price_lists, kinds)


def save_connection(shop_id: str, form: dict[str, str], api_url: str) -> list[str]:
    """Connect (or update) the shop with the owner's choices: the same `connect` the operator's command runs.

    Documents from Bsale (default) or Facto (`proveedor=facto`, with `facto_usuario` and `facto_clave`);
    `sin_bsale=1` connects Jumpseller + Facto only. A blank Facto key keeps the one already stored: the page
    never shows it back.
    """
    from bridge.shops.connect import ConnectRequest, connect

    creds = secrets.find(shop_id)
    if creds is None or not creds.oauth:
        raise Refused("Primero instala la app desde Jumpseller.")
    with_bsale = form.get("sin_bsale") != "1"
    provider = "facto" if form.get("proveedor") == "facto" or not with_bsale else "bsale"
    facto_user = facto_key = None
    if provider == "facto":
        facto_user = (form.get("facto_usuario") or "").strip()
        facto_key = (form.get("facto_clave") or "").strip() or (creds.facto_key if creds.facto_user else None)
        if not facto_user:
            raise Refused("Escribe tu usuario de Facto (RUT de la empresa/usuario).")
        if not facto_key:
            raise Refused("Escribe la clave de Facto.")
    current = shops.get(shop_id)
    try:
        options = ShopOptions(
            sync_price=with_bsale and form.get("precios") == "1", presale=with_bsale and form.get("preventa") == "1",
            documents=form.get("documentos") == "1" or not with_bsale,  # without Bsale, documents are the point
            document_mode="manual" if form.get("modo") == "manual" else "auto",
            stale_after_minutes=_int(form.get("aviso_horas"), 24) * 60,
            document_provider=provider,
            facto_issuer=current.options.facto_issuer if current else {},  # set by the operator; kept
        )
        request = ConnectRequest(
            store_code=shop_id, oauth=True, jumpseller_hooks_token=creds.jumpseller_hooks_token,
            bsale_token=((form.get("bsale_token") or "").strip() or creds.bsale_token) if with_bsale else "",
            office_id=_int(form.get("sucursal"), 0) if with_bsale else 0,
            price_list_id=_int(form.get("lista"), 0) if with_bsale else 0, bsale_account=with_bsale,
            facto_user=facto_user, facto_key=facto_key, facto_url=settings().facto_url,
            bsale_api_url=settings().bsale_api_url, bsale_credential_url=settings().bsale_credential_url,
            jumpseller_api_url=settings().jumpseller_api_url, api_url=api_url, options=options,
        )
    except ValidationError as exc:
        if any("facto_user" in error["loc"] for error in exc.errors()):
            raise Refused("El usuario de Facto debe ser el RUT de la empresa y tu usuario separados por «/», "
                          "por ejemplo 76.123.456-0/tienda.") from exc
        raise Refused("Revisa el formulario: elige una sucursal, una lista de precios y un aviso de al menos "
                      "1 hora.") from exc
    try:
        result = connect(request)
    except ConfigurationError as exc:
        raise Refused(_owner_words(exc.reason)) from exc
    except UpstreamError as exc:
        raise Refused("Bsale o Jumpseller no respondieron. Intenta de nuevo en unos minutos.", status=502) from exc
    return result.warnings


def _owner_words(reason: str) -> str:
    low = reason.lower()
    if low.startswith("facto user"):
        return ("El RUT de la empresa en tu usuario de Facto no es válido (revisa el dígito verificador). "
                "Escríbelo como en Facto, por ejemplo 76.123.456-0/tienda.")
    if low.startswith("facto"):
        return "Facto no respondió como esperábamos. Intenta de nuevo en unos minutos."
    if "access token" in low:
        return "Bsale no reconoce ese token. Cópialo de nuevo desde Bsale (Configuración → API)."
    if "office" in low:
        return "Esa sucursal de Bsale no existe o está inactiva. Elige otra."
    if "price list" in low:
        return "Esa lista de precios de Bsale no existe o está inactiva. Elige otra."
    if "jumpseller" in low or "hooks token" in low:
        return "Jumpseller no aceptó el acceso de la app. Instálala de nuevo."
    return reason


# ------------------------------------------------------------------------------------------------ Status


@dataclass
class Paged:
    items: list[dict[str, Any]]
    page: int
    pages: int
    total: int


def linked(shop_id: str, query: str, page: int, size: int = 50) -> Paged:
    rows = [{"sku": link.sku, "name": link.js_name, "stock": link.pushed_stock, "unlimited": link.pushed_unlimited,
             "held": link.held} for link in sorted(links.all_links(shop_id), key=lambda link: link.sku)]
    return _page(rows, query, page, size)


def unlinked(shop_id: str, query: str, page: int, size: int = 50) -> Paged:
    rows = [{"sku": r.get("sku") or "", "reason": str(r.get("reason") or ""), "variant": r.get("variant_id")}
            for r in links.unlinked_reasons(shop_id)]
    rows.sort(key=lambda r: (r["sku"] == "", r["sku"]))
    return _page(rows, query, page, size)


def _page(rows: list[dict[str, Any]], query: str, page: int, size: int) -> Paged:
    needle = query.strip().lower()
    if needle:
        rows = [r for r in rows if needle in str(r.get("sku", "")).lower() or needle in str(r.get("name", "")).lower()
                or needle in str(r.get("reason", "")).lower()]
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    return Paged(rows[(page - 1) * size: page * size], page, pages, len(rows))


def waiting_orders(shop: Shop) -> list[Any]:
    """Orders that wait for the owner: failed, for a manual document, or paid in manual mode (Crear documento)."""
    wanted = {"failed", "needs_manual", "creating", "consuming", "crediting", "restocking"}
    if shop.options.documents and shop.options.document_mode == "manual":
        wanted.add("received")
    return [r for r in records.for_shop(shop.shop_id) if r.state.value in wanted]


# ------------------------------------------------------------------------------------------------ Actions


def start_sync(shop_id: str, mode: str) -> str:
    """Manual sync, queued exactly as `./dev admin sync` queues it."""
    from bridge.sync.jobs import MANUAL, request

    if mode not in SYNC_MODES:
        raise Refused("Elige una de las tres opciones de sincronización.")
    shops.require(shop_id)
    run = request(shop_id, MANUAL, {"mode": mode}, reason="panel")
    if run is None:
        raise Refused("Ya hay una sincronización en curso. Espera a que termine.", status=409)
    return run


def start_reconcile(shop_id: str) -> str:
    """"Sincronizar ahora": a reconcile, queued exactly as `./dev admin resync` queues it."""
    from bridge.sync.jobs import RECONCILE, request

    shops.require(shop_id)
    run = request(shop_id, RECONCILE, {}, reason="panel")
    if run is None:
        raise Refused("Ya hay una sincronización automática en curso. Espera a que termine.", status=409)
    return run


def progress(shop_id: str) -> dict[str, Any]:
    """Each bulk job's status and report, for the progress view."""
    found: dict[str, Any] = {}
    for kind in ("manual", "reconcile"):
        record = jobs.get(shop_id, kind)
        found[kind] = None if record is None else {
            "status": str(record.get("status")), "run": record.get("run_id"), "started_at": record.get("started_at"),
            "finished_at": record.get("finished_at"), "result": jobs.result_of(record) or {},
        }
    return found


@dataclass
class OrderOutcome:
    ok: bool
    message: str
    details: list[str] = field(default_factory=list)


def retry_order(shop_id: str, order_id: int) -> OrderOutcome:
    """"Reintentar": `flow.retry`, as `./dev admin retry-order` runs it."""
    from bridge.orders import flow

    return _order_action(shop_id, order_id, lambda ctx: flow.retry(ctx, order_id, flow.new_attempt("panel")))


def create_document(shop_id: str, order_id: int) -> OrderOutcome:
    """"Crear documento": `flow.create_document`, as `./dev admin create-document` runs it."""
    from bridge.orders import flow

    return _order_action(shop_id, order_id,
                         lambda ctx: flow.create_document(ctx, order_id, flow.new_attempt("panel")))


def _order_action(shop_id: str, order_id: int, action: Any) -> OrderOutcome:
    from bridge.observability import work_keys
    from bridge.shops.context import open_shop

    if records.get(shop_id, order_id) is None:  # only this shop's orders: another shop's id is simply unknown
        raise Refused("No encontramos ese pedido en tu tienda.", status=404)
    with work_keys(shop=shop_id, order=order_id):
        try:
            result = action(open_shop(shop_id))
        except UpstreamError:
            return OrderOutcome(False, "Bsale o Jumpseller no respondieron. Intenta de nuevo en unos minutos.")
        except RateLimited as exc:
            return OrderOutcome(False, f"Tu tienda usó su cupo de llamadas. Intenta en {exc.seconds:.0f} segundos.")
        except BridgeError as exc:
            return OrderOutcome(False, exc.reason)
    record = result.record
    details = []
    if record is not None and record.error is not None and result.action in ("failed", "needs_manual", "refused"):
        details.append(record.error.reason)
        if record.error.upstream:
            details.append(f"Bsale dijo: «{record.error.upstream}»")
    ok = result.action not in ("refused", "busy", "failed", "needs_manual")
    words = {"created": "Documento creado.", "consumed": "Stock descontado en Bsale.", "busy": "El pedido se está "
             "procesando en este momento; intenta en dos minutos.", "unchanged": "No había nada que reintentar."}
    message = words.get(result.action, result.detail or result.action)
    if record is not None and record.document is not None and ok:
        message = f"{message} {record.document.kind.capitalize()} N° {record.document.number}."
    return OrderOutcome(ok, message.strip(), details)


# ------------------------------------------------------------------------------------------------ Checkout helper


def checkout_helper(shop_id: str) -> bool:
    """Whether the RUT checkout helper is installed in the store (a JsApp of this app with its URL)."""
    return _helper_apps(shop_id)[1] != []


def set_checkout_helper(shop_id: str, on: bool, base_url: str) -> bool:
    """Install or remove the checkout helper (assets/rut-checkout.js) through Jumpseller's JsApps API; idempotent
    both ways."""
    client, mine = _helper_apps(shop_id)
    try:
        if on and not mine:
            client.request("POST", "/jsapps.json", json={"app": {
                "url": f"{base_url}/panel/{CHECKOUT_SCRIPT}", "template": "checkout", "element": "body"}})
        if not on:
            for app_id in mine:
                client.request("DELETE", f"/jsapps/{app_id}.json")
    except UpstreamError as exc:
        raise Refused("Jumpseller no aceptó el cambio del checkout. Intenta de nuevo en unos minutos.",
                      status=502) from exc
    return on


def _helper_apps(shop_id: str) -> tuple[Any, list[int]]:
    from bridge.shops.context import open_shop

    client = open_shop(shop_id).jumpseller
    try:
        items = client.get_json("/jsapps.json")
    except UpstreamError as exc:
        if exc.status_code == 404:  # Jumpseller answers 404 when the app has no JsApps
            return client, []
        raise Refused("Jumpseller no respondió. Intenta de nuevo en unos minutos.", status=502) from exc
    found = [item.get("js_app", item) for item in items if isinstance(item, dict)]
    return client, [int(a["id"]) for a in found if str(a.get("url", "")).endswith(CHECKOUT_SCRIPT)]


def _int(value: str | None, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default
