"""F18: the shop panel's routes (under /panel), loaded in the Jumpseller admin's iframe. Pages are HTML.

Sign-in is the app's OAuth install (`/panel/instalar` → Jumpseller → `/panel/oauth/callback`), which proves which
store the owner administers; the session cookie names that shop and nothing else. The shop acted on is always the
session's: no route takes a shop from the URL or a form. Every POST needs the session's CSRF token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from bridge.errors import ConfigurationError
from bridge.observability import logger
from bridge.ops.status import shop_health
from bridge.panel import actions, session
from bridge.panel.html import button_form, csrf_field, esc, page, pager, reason, state, when
from bridge.settings import settings
from bridge.shops import install
from bridge.store import held, shops

ASSETS = Path(__file__).with_name("assets")
NOTICES = {
    "instalada": ("La app quedó instalada en tu tienda. Ahora conecta tu cuenta de Bsale.", "ok"),
    "reinstalada": ("Actualizamos el acceso de la app a tu tienda.", "ok"),
    "conectada": ("Bsale quedó conectado. Los productos con el mismo SKU se vinculan solos; también puedes "
                  "sincronizar ahora.", "ok"),
    "conectada-facto": ("Tu tienda quedó conectada con Facto: cada pedido pagado recibe su boleta o factura.", "ok"),
    "sync": ("Sincronización en curso. El informe aparece aquí cuando termine.", "ok"),
    "reconcile": ("Sincronización automática en curso.", "ok"),
    "checkout-on": ("El ayudante de RUT quedó instalado en tu checkout.", "ok"),
    "checkout-off": ("El ayudante de RUT se quitó de tu checkout.", "ok"),
    "expirada": ("Tu sesión expiró. Entra de nuevo con Jumpseller.", "warn"),
    "salida": ("Cerraste la sesión.", "ok"),
}
PANEL_JS = """
// Progress of a running sync: asks every 2 s and reloads the page (with its report) when it ends.
(function () {
  var box = document.querySelector('[data-progress-url]');
  if (!box) return;
  function tick() {
    fetch(box.getAttribute('data-progress-url'), {credentials: 'same-origin'}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (!data) return;
      var running = ['manual', 'reconcile'].some(function (k) { return data[k] && data[k].status === 'running'; });
      // Done: show the page again without the "in progress" notice, with the report.
      if (running) { setTimeout(tick, 2000); } else { window.location.replace(window.location.pathname); }
    });
  }
  setTimeout(tick, 2000);
})();
"""


_Page = Callable[..., Response[str]]  # a page drawn for the session's shop: (who, *, notice, kind, status)


class _Stop(Exception):
    def __init__(self, response: Response[str]) -> None:
        super().__init__("stop")
        self.response = response


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.exception_handler(_Stop)  # type: ignore[untyped-decorator]
    def _stop(exc: _Stop) -> Response[str]:
        return exc.response

    @app.exception_handler(ConfigurationError)  # type: ignore[untyped-decorator]
    def _not_configured(exc: ConfigurationError) -> Response[str]:
        logger.error("panel not configured", extra={"reason": exc.reason})
        return html(503, "Servicio no disponible", "<p>La app todavía no está configurada. Intenta más tarde.</p>")

    def base() -> str:
        """Public base URL of this API, as the browser sees it (stage prefix on execute-api hosts)."""
        event = app.current_event
        host = event.headers.get("host") or event.request_context.domain_name or "localhost"
        proto = event.headers.get("x-forwarded-proto") or "https"
        prefix = f"/{event.request_context.stage}" if ".execute-api." in host else ""
        return f"{proto}://{host}{prefix}"

    def current() -> session.Session:
        found, stale = session.read(app.current_event.headers.get("cookie"))
        if found is None:
            if app.current_event.http_method == "POST":
                raise _Stop(html(401, "Sesión expirada", '<p>Tu sesión expiró o no es válida. '
                                 f'<a href="{esc(base())}/panel/instalar">Entra de nuevo con '
                                 "Jumpseller</a>.</p>"))
            raise _Stop(redirect(f"{base()}/panel" + ("?aviso=expirada" if stale else "")))
        return found

    def form() -> dict[str, str]:
        parsed = parse_qs(app.current_event.decoded_body or "", keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items() if v}

    def posted() -> tuple[session.Session, dict[str, str]]:
        """The session of a POST and its form, only when the form carries the session's CSRF token."""
        who = current()
        fields = form()
        if not who.csrf_ok(fields.get("csrf")):
            raise _Stop(html(403, "Solicitud rechazada", "<p>Esta solicitud no vino del panel (falta el código de "
                             "seguridad del formulario). Vuelve a la página y repite la acción.</p>"))
        return who, fields

    def html(status: int, title: str, body: str, *, who: session.Session | None = None, current_nav: str = "",
             notice: str = "", notice_kind: str = "ok", cookies: list[str] | None = None) -> Response[str]:
        headers: dict[str, str | list[str]] = {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
                f"form-action 'self'; base-uri 'none'; frame-ancestors {settings().panel_frame_ancestors}"),
        }
        if cookies:
            headers["Set-Cookie"] = cookies
        text = page(title, body, base=base(), current=current_nav, shop=who.shop_id if who else "", notice=notice,
                    notice_kind=notice_kind)
        return Response(status_code=status, content_type="text/html; charset=utf-8", body=text, headers=headers)

    def redirect(location: str, cookies: list[str] | None = None) -> Response[str]:
        headers: dict[str, str | list[str]] = {"Location": location, "Cache-Control": "no-store"}
        if cookies:
            headers["Set-Cookie"] = cookies
        return Response(status_code=303, body="", headers=headers)

    def notice_of() -> tuple[str, str]:
        return NOTICES.get(app.current_event.get_query_string_value("aviso") or "", ("", "ok"))

    def shown(render: _Page) -> Response[str]:
        """GET of a page: drawn with the notice its URL names (`?aviso=`)."""
        who = current()
        notice, kind = notice_of()
        return render(who, notice=notice, kind=kind)

    def acted(render: _Page, act: Callable[[session.Session, dict[str, str]], Response[str]]) -> Response[str]:
        """POST of a page: the action's answer, or the page again with the owner's words when it is refused."""
        who, fields = posted()
        try:
            return act(who, fields)
        except actions.Refused as exc:
            return render(who, notice=exc.message, kind="error", status=exc.status)

    # -------------------------------------------------------------------------------------------- sign-in

    @app.get("/panel")
    def home() -> Response[str]:
        found, stale = session.read(app.current_event.headers.get("cookie"))
        if found is not None:
            target = "estado" if shops.get(found.shop_id) is not None else "conectar"
            return redirect(f"{base()}/panel/{target}")
        notice, kind = notice_of()
        if stale and not notice:
            notice, kind = NOTICES["expirada"]
        body = (
            "<section><p>Esta app mantiene el stock y los precios de tu tienda Jumpseller iguales a los de Bsale, "
            "y emite en Bsale la boleta o factura de cada pedido pagado.</p>"
            f'<p><a class="button" href="{esc(base())}/panel/instalar">Entrar con Jumpseller</a></p>'
            '<p class="muted">Te llevaremos a Jumpseller para confirmar que administras la tienda.</p></section>')
        return html(200, "Bienvenido", body, notice=notice, notice_kind=kind)

    @app.get("/panel/instalar")
    def start_install() -> Response[str]:
        return redirect(install.start(f"{base()}/panel/oauth/callback"))

    @app.get("/panel/oauth/callback")
    def callback() -> Response[str]:
        event = app.current_event
        error = event.get_query_string_value("error")
        retry = f'<p><a class="button" href="{esc(base())}/panel/instalar">Intentar de nuevo</a></p>'
        if error:
            words = ("No autorizaste la app, así que no quedó instalada. Puedes instalarla cuando quieras."
                     if error == "access_denied" else "Jumpseller no completó la instalación.")
            return html(400, "La app no se instaló", f"<p>{esc(words)}</p>{retry}", notice=words, notice_kind="warn")
        code, state_value = event.get_query_string_value("code"), event.get_query_string_value("state")
        if not code or not state_value:
            return html(400, "La app no se instaló", f"<p>Faltan datos en la respuesta de Jumpseller.</p>{retry}")
        try:
            done = install.finish(code, state_value, f"{base()}/panel/oauth/callback")
        except install.InstallRefused as exc:
            return html(exc.status, "La app no se instaló", f"<p>{esc(exc.message)}</p>{retry}",
                        notice=exc.message, notice_kind="error")
        _, cookie = session.issue(done.shop_id)
        target = "estado?aviso=reinstalada" if done.bsale_connected else "conectar?aviso=instalada"
        return redirect(f"{base()}/panel/{target}", [cookie])

    @app.post("/panel/salir")
    def sign_out() -> Response[str]:
        posted()
        return redirect(f"{base()}/panel?aviso=salida", [session.clear()])

    # -------------------------------------------------------------------------------------------- Connect

    def connect_page(who: session.Session, *, notice: str = "", kind: str = "ok", status: int = 200,
                     choices: actions.BsaleChoices | None = None, token: str = "",
                     typed: dict[str, str] | None = None) -> Response[str]:
        shop = shops.get(who.shop_id)
        current = ""
        facto_user = _facto_user(who.shop_id)
        # What the owner typed (a refused form) or what is stored; never the Facto key.
        typed = typed or {}
        if shop is not None and "proveedor" not in typed:
            typed = {"proveedor": shop.options.document_provider, "facto_usuario": facto_user}
        if shop is not None:
            o = shop.options
            bsale = (f"<dt>Sucursal de Bsale</dt><dd>{esc(shop.office_id)}</dd>"
                     f"<dt>Lista de precios</dt><dd>{esc(shop.price_list_id)}</dd>"
                     f"<dt>Precios</dt><dd>{'se sincronizan' if o.sync_price else 'no se sincronizan'}</dd>"
                     f"<dt>Pre-venta</dt><dd>{'activa' if o.presale else 'inactiva'}</dd>"
                     if shop.bsale_account else "<dt>Bsale</dt><dd>sin Bsale (solo Jumpseller y Facto)</dd>")
            facto = (f"<dt>Documentos emitidos por</dt><dd>{'Facto' if o.document_provider == 'facto' else 'Bsale'}"
                     "</dd>" + (f"<dt>Usuario de Facto</dt><dd>{esc(facto_user)}</dd>"
                                "<dt>Clave de Facto</dt><dd>guardada (no se muestra)</dd>"
                                if o.document_provider == "facto" else ""))
            current = (
                "<section><h2>Conexión actual</h2><dl>" + bsale + facto +
                f"<dt>Documentos</dt><dd>{_documents(o.documents, o.document_mode)}</dd>"
                + (f"<dt>Aviso sin noticias de Bsale</dt><dd>{(o.stale_after_minutes or 1440) // 60} horas</dd>"
                   if shop.bsale_account else "")
                + "</dl>" + (_notification_url(base(), who.shop_id) if shop.bsale_account else "") + "</section>")
        if choices is None:
            body = current + (
                "<section><h2>1. Tu cuenta de Bsale</h2>"
                f'<form method="post" action="{esc(base())}/panel/conectar/bsale">'
                f'{csrf_field(who.csrf)}<label for="bsale_token">Token de acceso de Bsale</label>'
                '<input type="password" id="bsale_token" name="bsale_token" autocomplete="off" required '
                'aria-describedby="token-ayuda">'
                '<p id="token-ayuda" class="muted">Lo encuentras en Bsale, en Configuración → API. Lo usamos solo '
                "para tu tienda y nunca lo mostramos.</p><button>Continuar</button></form></section>"
                + _facto_only_form(base(), who, shop, typed))
        else:
            body = current + _choices_form(base(), who, choices, token, shop, typed)
        return html(status, "Conexión", body, who=who, current_nav="conectar", notice=notice,
                    notice_kind=kind)

    @app.get("/panel/conectar")
    def connect_get() -> Response[str]:
        return shown(connect_page)

    @app.post("/panel/conectar/bsale")
    def connect_token() -> Response[str]:
        def act(who: session.Session, fields: dict[str, str]) -> Response[str]:
            token = fields.get("bsale_token", "")
            return connect_page(who, choices=actions.bsale_choices(token), token=token)

        return acted(connect_page, act)

    @app.post("/panel/conectar")
    def connect_save() -> Response[str]:
        who, fields = posted()
        try:
            warnings = actions.save_connection(who.shop_id, fields, base())
        except actions.Refused as exc:
            try:
                choices = (actions.bsale_choices(fields.get("bsale_token", ""))
                           if fields.get("sin_bsale") != "1" else None)
            except actions.Refused:
                choices = None
            typed = {k: fields.get(k, "") for k in ("proveedor", "facto_usuario")}  # never the key
            return connect_page(who, notice=exc.message, kind="error", status=exc.status, choices=choices,
                                token=fields.get("bsale_token", ""), typed=typed)
        suffix = "&faltan=1" if warnings else ""
        done = "conectada-facto" if fields.get("sin_bsale") == "1" else "conectada"
        return redirect(f"{base()}/panel/estado?aviso={done}{suffix}")

    # -------------------------------------------------------------------------------------------- Status

    def status_page(who: session.Session, *, notice: str = "", kind: str = "ok", status: int = 200) -> Response[str]:
        shop = shops.get(who.shop_id)
        if shop is None:
            raise _Stop(redirect(f"{base()}/panel/conectar"))
        event = app.current_event
        query = (event.get_query_string_value("q") or "")[:100]
        health = shop_health(who.shop_id)
        body = ""
        if not health.connected:
            body += ('<div class="banner error" role="alert">Jumpseller ya no acepta el acceso de la app: '
                     f'no estamos sincronizando tu tienda. <a href="{esc(base())}/panel/instalar">'
                     "Instala la app de nuevo</a>.</div>")
        if health.stale:
            body += ('<div class="banner warn" role="alert">No estamos recibiendo actualizaciones de Bsale '
                     f"desde {esc(when(health.stale_since))}. Revisa con Bsale que las notificaciones sigan "
                     "activas para tu cuenta.</div>")
        body += (
            "<section><h2>Resumen</h2><dl>"
            f"<dt>Última noticia de Bsale</dt><dd>{esc(when(health.last_notification_at))}</dd>"
            f"<dt>Productos vinculados</dt><dd>{health.linked}</dd>"
            f"<dt>Sin vincular</dt><dd>{sum(health.not_linked.values())}"
            + "".join(f"<br><span class=muted>{esc(reason(r))}: {n}</span>" for r, n in health.not_linked.items())
            + "</dd>"
            f"<dt>Pedidos</dt><dd>{', '.join(f'{esc(state(s))}: {n}' for s, n in health.orders.items()) or 'ninguno'}"
            "</dd>" + _reconcile_summary(health.last_reconcile) + "</dl></section>")
        body += _orders_section(base(), who, actions.waiting_orders(shop), shop.options.document_mode == "manual")
        holding = held.held_by_sku(who.shop_id)
        rows = "".join(f"<tr><td>{esc(sku)}</td><td>{qty}</td></tr>" for sku, qty in holding.items())
        body += ("<section><h2>Stock reservado por pedidos pendientes de pago</h2>"
                 + (f'<div class="table"><table><thead><tr><th scope="col">SKU</th><th scope="col">Unidades</th>'
                    f"</tr></thead><tbody>{rows}</tbody></table></div>" if rows else "<p>Nada reservado.</p>")
                 + "</section>")
        search = (f'<form method="get" action="{esc(base())}/panel/estado" role="search" class="row">'
                  '<label for="q" style="margin:0">Buscar SKU, nombre o motivo</label>'
                  f'<input type="search" id="q" name="q" value="{esc(query)}" style="max-width:16rem">'
                  "<button>Buscar</button></form>")
        lpage = actions.linked(who.shop_id, query, _int(event.get_query_string_value("pv")))
        upage = actions.unlinked(who.shop_id, query, _int(event.get_query_string_value("p")))
        linked_rows = "".join(
            f"<tr><td>{esc(r['sku'])}</td><td>{esc(r['name'])}</td>"
            f"<td>{'ilimitado' if r['unlimited'] else esc(r['stock'] if r['stock'] is not None else '—')}</td>"
            f"<td>{esc(r['held'] or '')}</td></tr>" for r in lpage.items)
        unlinked_rows = "".join(f"<tr><td>{esc(r['sku'] or '(sin SKU)')}</td><td>{esc(reason(r['reason']))}</td></tr>"
                                for r in upage.items)
        url = f"{base()}/panel/estado"
        body += (f"<section><h2>Productos</h2>{search}"
                 f"<h3>Vinculados ({lpage.total})</h3>"
                 + (f'<div class="table"><table id="vinculados"><thead><tr><th scope="col">SKU</th><th scope="col">'
                    'Producto</th><th scope="col">Stock en Jumpseller</th><th scope="col">Reservado</th></tr></thead>'
                    f"<tbody>{linked_rows}</tbody></table></div>" if linked_rows else "<p>Ninguno.</p>")
                 + pager(url, query, "pv", lpage.page, lpage.pages, {"p": upage.page})
                 + f"<h3>Sin vincular ({upage.total})</h3>"
                 + (f'<div class="table"><table id="sin-vincular"><thead><tr><th scope="col">SKU</th>'
                    f'<th scope="col">Motivo</th></tr></thead><tbody>{unlinked_rows}</tbody></table></div>'
                    if unlinked_rows else "<p>Ninguno.</p>")
                 + pager(url, query, "p", upage.page, upage.pages, {"pv": lpage.page}) + "</section>")
        body += ('<section><form method="post" action="' + esc(base()) + '/panel/salir">' + csrf_field(who.csrf)
                 + '<button class="secondary">Cerrar sesión</button></form></section>')
        return html(status, "Estado de tu tienda", body, who=who, current_nav="estado", notice=notice,
                    notice_kind=kind)

    @app.get("/panel/estado")
    def status_get() -> Response[str]:
        return shown(status_page)

    def order_action(order_id: str, run: Any) -> Response[str]:
        def act(who: session.Session, _: dict[str, str]) -> Response[str]:
            if not order_id.isdigit():
                raise actions.Refused("No encontramos ese pedido en tu tienda.", status=404)
            outcome = run(who.shop_id, int(order_id))
            text = f"Pedido {order_id}: {outcome.message}" + "".join(f" {d}" for d in outcome.details)
            return status_page(who, notice=text, kind="ok" if outcome.ok else "error")

        return acted(status_page, act)

    @app.post("/panel/pedidos/<order_id>/reintentar")
    def order_retry(order_id: str) -> Response[str]:
        return order_action(order_id, actions.retry_order)

    @app.post("/panel/pedidos/<order_id>/documento")
    def order_document(order_id: str) -> Response[str]:
        return order_action(order_id, actions.create_document)

    # -------------------------------------------------------------------------------------------- Actions

    def actions_page(who: session.Session, *, notice: str = "", kind: str = "ok", status: int = 200) -> Response[str]:
        if shops.get(who.shop_id) is None:
            raise _Stop(redirect(f"{base()}/panel/conectar"))
        jobs = actions.progress(who.shop_id)
        radios = "".join(
            f'<label class="check"><input type="radio" name="modo" value="{k}"{" checked" if k == "link" else ""}>'
            f"{esc(label)}</label>" for k, label in actions.SYNC_MODES.items())
        running = any(j and j["status"] == "running" for j in jobs.values())
        progress_attr = f' data-progress-url="{esc(base())}/panel/acciones/progreso"' if running else ""
        body = (
            f'<section><h2>Sincroniza manualmente tus productos</h2><form method="post" '
            f'action="{esc(base())}/panel/acciones/sincronizar">{csrf_field(who.csrf)}'
            f"<fieldset><legend>Elige una opción</legend>{radios}</fieldset><button>Sincronizar</button></form>"
            '<p class="muted">Vincular: une por SKU lo que ya existe en ambos lados. Importar: además crea en '
            "Jumpseller los productos de Bsale que faltan. Sobrescribir: vincula y luego copia el stock y el precio "
            "de Bsale a Jumpseller.</p></section>"
            f'<section><h2>Sincronizar ahora</h2><p>Compara todo tu catálogo con Bsale y corrige las diferencias '
            f"(también ocurre sola cada hora).</p>"
            f'{button_form(base() + "/panel/acciones/reconciliar", "Sincronizar ahora", who.csrf)}</section>'
            f'<section aria-live="polite"{progress_attr}><h2>Progreso e informes</h2>'
            + _job_report("Sincronización manual", jobs.get("manual"))
            + _job_report("Sincronización automática", jobs.get("reconcile")) + "</section>")
        return html(status, "Sincronización", body, who=who, current_nav="acciones", notice=notice, notice_kind=kind)

    @app.get("/panel/acciones")
    def actions_get() -> Response[str]:
        return shown(actions_page)

    @app.post("/panel/acciones/sincronizar")
    def sync_post() -> Response[str]:
        def act(who: session.Session, fields: dict[str, str]) -> Response[str]:
            actions.start_sync(who.shop_id, fields.get("modo", ""))
            return redirect(f"{base()}/panel/acciones?aviso=sync")

        return acted(actions_page, act)

    @app.post("/panel/acciones/reconciliar")
    def reconcile_post() -> Response[str]:
        def act(who: session.Session, _: dict[str, str]) -> Response[str]:
            actions.start_reconcile(who.shop_id)
            return redirect(f"{base()}/panel/acciones?aviso=reconcile")

        return acted(actions_page, act)

    @app.get("/panel/acciones/progreso")
    def progress_get() -> Response[str]:
        found, _ = session.read(app.current_event.headers.get("cookie"))
        if found is None:
            return Response(status_code=401, content_type="application/json", body='{"error":"session"}')
        return Response(status_code=200, content_type="application/json",
                        body=json.dumps(actions.progress(found.shop_id), default=str),
                        headers={"Cache-Control": "no-store"})

    # -------------------------------------------------------------------------------------------- Checkout

    def checkout_page(who: session.Session, *, notice: str = "", kind: str = "ok", status: int = 200) -> Response[str]:
        if shops.get(who.shop_id) is None:
            raise _Stop(redirect(f"{base()}/panel/conectar"))
        try:
            on = actions.checkout_helper(who.shop_id)
        except actions.Refused as exc:
            return html(exc.status, "Checkout", f"<p>{esc(exc.message)}</p>", who=who, current_nav="checkout")
        label = "Quitar el ayudante" if on else "Instalar el ayudante"
        body = (
            "<section><h2>Ayudante de RUT en el checkout</h2><p>Oculta Giro y Razón Social cuando el cliente pide "
            "boleta y revisa el RUT mientras lo escribe.</p>"
            f'<p id="estado-checkout"><strong>Estado:</strong> {"instalado" if on else "no instalado"}</p>'
            + button_form(base() + "/panel/checkout", label, who.csrf, fields={"activar": "0" if on else "1"},
                          secondary=on)
            + "</section>")
        return html(status, "Checkout", body, who=who, current_nav="checkout", notice=notice, notice_kind=kind)

    @app.get("/panel/checkout")
    def checkout_get() -> Response[str]:
        return shown(checkout_page)

    @app.post("/panel/checkout")
    def checkout_post() -> Response[str]:
        def act(who: session.Session, fields: dict[str, str]) -> Response[str]:
            on = actions.set_checkout_helper(who.shop_id, fields.get("activar") == "1", base())
            return redirect(f"{base()}/panel/checkout?aviso=checkout-{'on' if on else 'off'}")

        return acted(checkout_page, act)

    # -------------------------------------------------------------------------------------------- assets

    @app.get("/panel/assets/rut-checkout.js")
    def checkout_script() -> Response[str]:
        return Response(status_code=200, content_type="application/javascript; charset=utf-8",
                        body=(ASSETS / "rut-checkout.js").read_text(), headers={"Cache-Control": "max-age=300"})

    @app.get("/panel/assets/panel.js")
    def panel_script() -> Response[str]:
        return Response(status_code=200, content_type="application/javascript; charset=utf-8", body=PANEL_JS,
                        headers={"Cache-Control": "max-age=300"})

    return app


# ------------------------------------------------------------------------------------------------ fragments


def _documents(on: bool, mode: str) -> str:
    if not on:
        return "no se emiten (los pedidos pagados descuentan stock en Bsale)"
    return "automáticos al pagarse el pedido" if mode == "auto" else "manuales (tú decides cuándo)"


def _choices_form(base: str, who: session.Session, choices: actions.BsaleChoices, token: str, shop: Any,
                  typed: dict[str, str]) -> str:
    o = shop.options if shop is not None else None

    def options(items: list[tuple[int, str]], chosen: int | None) -> str:
        return "".join(f'<option value="{i}"{" selected" if i == chosen else ""}>{esc(name)}</option>'
                       for i, name in items)

    def check(name: str, label: str, on: bool) -> str:
        return (f'<label class="check"><input type="checkbox" name="{name}" value="1"{" checked" if on else ""}>'
                f"{esc(label)}</label>")

    kinds = "".join(f"<li>{esc(name)} (SII {esc(code)})</li>" for code, name in choices.document_types.items())
    missing = [label for code, label in (("39", "boleta"), ("33", "factura"), ("61", "nota de crédito"))
               if code not in choices.document_types]
    warn = (f'<p class="banner warn">Tu cuenta de Bsale no tiene tipo de documento activo para: '
            f'{esc(", ".join(missing))}.</p>' if missing else "")
    hours = (o.stale_after_minutes or 1440) // 60 if o else 24
    return (
        f'<section><h2>2. Elige cómo sincronizar</h2><form method="post" action="{esc(base)}/panel/conectar">'
        f'{csrf_field(who.csrf)}<input type="hidden" name="bsale_token" value="{esc(token)}">'
        f'<label for="sucursal">Sucursal de Bsale</label><select id="sucursal" name="sucursal" required>'
        f"{options(choices.offices, shop.office_id if shop else None)}</select>"
        f'<label for="lista">Lista de precios</label><select id="lista" name="lista" required>'
        f"{options(choices.price_lists, shop.price_list_id if shop else None)}</select>"
        f"<p>Documentos disponibles en tu Bsale:</p><ul>{kinds}</ul>{warn}"
        + _provider_fields(typed, shop)
        + "<fieldset><legend>Opciones</legend>"
        + check("precios", "Sincronizar precios (lista elegida, con impuestos)", bool(o and o.sync_price))
        + check("preventa", "Pre-venta: vender sin stock lo que Bsale permite", bool(o and o.presale))
        + check("documentos", "Emitir boleta o factura por cada pedido pagado", o.documents if o else True)
        + '<label for="modo">Emisión de documentos</label><select id="modo" name="modo">'
        f'<option value="auto"{" selected" if not o or o.document_mode == "auto" else ""}>Automática al pagarse'
        f'</option><option value="manual"{" selected" if o and o.document_mode == "manual" else ""}>Manual'
        "</option></select>"
        f'<label for="aviso_horas">Avisarme si Bsale no envía novedades en (horas)</label>'
        f'<input type="number" id="aviso_horas" name="aviso_horas" min="1" max="720" value="{hours}">'
        "</fieldset><button>Guardar conexión</button></form></section>")


def _facto_user(shop_id: str) -> str:
    from bridge import secrets

    creds = secrets.find(shop_id)
    return (creds.facto_user or "") if creds else ""


def _facto_fields(typed: dict[str, str], shop: Any, *, prefix: str = "") -> str:
    """The Facto user and key inputs. The key is a password field, always empty: a stored key is never shown."""
    stored = shop is not None and shop.options.document_provider == "facto"
    help_key = ("Déjala en blanco para mantener la que guardaste." if stored else
                "La usamos solo para emitir tus documentos y nunca la mostramos.")
    return (
        f'<label for="{prefix}facto_usuario">Usuario de Facto (RUT de la empresa/usuario)</label>'
        f'<input type="text" id="{prefix}facto_usuario" name="facto_usuario" autocomplete="off" '
        f'spellcheck="false" placeholder="76.123.456-0/tienda" value="{esc(typed.get("facto_usuario", ""))}" '
        f'aria-describedby="{prefix}facto-usuario-ayuda">'
        f'<p id="{prefix}facto-usuario-ayuda" class="muted">El RUT con puntos y guion, «/», y el usuario de la API '
        "de Facto.</p>"
        f'<label for="{prefix}facto_clave">Clave de Facto</label>'
        f'<input type="password" id="{prefix}facto_clave" name="facto_clave" autocomplete="off" value="" '
        f'aria-describedby="{prefix}facto-clave-ayuda">'
        f'<p id="{prefix}facto-clave-ayuda" class="muted">{help_key}</p>')


def _provider_fields(typed: dict[str, str], shop: Any) -> str:
    facto = typed.get("proveedor") == "facto"

    def radio(value: str, label: str, on: bool) -> str:
        return (f'<label class="check"><input type="radio" name="proveedor" value="{value}"'
                f'{" checked" if on else ""}>{esc(label)}</label>')

    return ('<fieldset><legend>Quién emite las boletas y facturas</legend>'
            + radio("bsale", "Bsale", not facto) + radio("facto", "Facto", facto)
            + '<p class="muted">Con Facto, el stock sigue viniendo de Bsale y los documentos se emiten en Facto. '
            "Completa estos campos solo si eliges Facto.</p>" + _facto_fields(typed, shop) + "</fieldset>")


def _facto_only_form(base: str, who: session.Session, shop: Any, typed: dict[str, str]) -> str:
    """Jumpseller + Facto, without a Bsale account: the documents come from Facto, there is no stock sync."""
    manual = shop is not None and shop.options.document_mode == "manual"
    leaving = ('<p class="banner warn">Si la conectas así, tu tienda dejará de sincronizar stock y precios con '
               "Bsale.</p>"
               if shop is not None and shop.bsale_account else "")
    return (
        "<section><h2>¿No usas Bsale? Conecta solo Facto</h2>"
        "<p>Cada pedido pagado recibe su boleta o factura en Facto. Sin Bsale no sincronizamos stock ni precios.</p>"
        + leaving
        + f'<form method="post" action="{esc(base)}/panel/conectar">{csrf_field(who.csrf)}'
        '<input type="hidden" name="sin_bsale" value="1"><input type="hidden" name="proveedor" value="facto">'
        + _facto_fields(typed, shop, prefix="solo-")
        + '<label for="solo-modo">Emisión de documentos</label><select id="solo-modo" name="modo">'
        f'<option value="auto"{"" if manual else " selected"}>Automática al pagarse</option>'
        f'<option value="manual"{" selected" if manual else ""}>Manual</option></select>'
        "<p><button>Conectar solo con Facto</button></p></form></section>")


def _notification_url(base: str, shop_id: str) -> str:
    """Where Bsale must send this shop's notifications (the owner asks Bsale for it: ayuda@bsale.app)."""
    from bridge import secrets

    creds = secrets.find(shop_id)
    if creds is None:
        return ""
    url = f"{base}/bsale/notifications/{creds.notify_token}"
    return ('<h3>Notificaciones de Bsale</h3><p>Pide a Bsale (ayuda@bsale.app) que envíe las notificaciones de tu '
            'cuenta a esta dirección. Es privada: no la compartas.</p>'
            f'<p><code id="url-notificaciones" style="word-break:break-all">{esc(url)}</code></p>')


def _reconcile_summary(job: Any) -> str:
    if job is None:
        return "<dt>Última sincronización automática</dt><dd>nunca</dd>"
    fixed = job.detail.get("fixed")
    what = f"; corrigió {fixed} diferencia(s)" if fixed is not None else ""
    return (f"<dt>Última sincronización automática</dt><dd>{esc(when(job.finished_at or job.started_at))} "
            f"({'en curso' if job.status == 'running' else 'terminada'}{esc(what)})</dd>")


def _orders_section(base: str, who: session.Session, waiting: list[Any], manual: bool) -> str:
    if not waiting:
        return "<section><h2>Pedidos que necesitan atención</h2><p>Ninguno.</p></section>"
    rows = []
    for record in waiting:
        error = record.error
        problem = esc(error.reason) if error else ""
        if error and error.upstream:
            problem += f"<br><span class=muted>Bsale dijo: «{esc(error.upstream)}»</span>"
        buttons = button_form(f"{base}/panel/pedidos/{record.order_id}/reintentar", "Reintentar", who.csrf,
                              name=f"Reintentar pedido {record.order_id}")
        if manual and record.state.value in ("received", "failed"):
            buttons += " " + button_form(f"{base}/panel/pedidos/{record.order_id}/documento", "Crear documento",
                                         who.csrf, secondary=True, name=f"Crear documento del pedido {record.order_id}")
        rows.append(f'<tr id="pedido-{record.order_id}"><td>{record.order_id}</td>'
                    f"<td>{esc(state(record.state.value))}</td><td>{problem}</td><td>{buttons}</td></tr>")
    return ('<section><h2>Pedidos que necesitan atención</h2><div class="table"><table id="pedidos"><thead><tr>'
            '<th scope="col">Pedido</th><th scope="col">Estado</th><th scope="col">Problema</th>'
            f'<th scope="col">Acción</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div></section>')


def _job_report(title: str, job: dict[str, Any] | None) -> str:
    if job is None:
        return f"<h3>{esc(title)}</h3><p>Aún no se ha ejecutado.</p>"
    result = job.get("result") or {}
    if job["status"] == "running":
        return f'<h3>{esc(title)}</h3><p class="banner warn">En curso desde {esc(when(job.get("started_at")))}…</p>'
    lines = [f"<p>Terminó el {esc(when(job.get('finished_at')))}.</p>"]
    if "linked" in result:
        lines.append(f"<p>{esc(result.get('linked'))} vinculados, {len(result.get('created_in_jumpseller', []))} "
                     f"creados en Jumpseller, {len(result.get('written', []))} actualizados.</p>")
        problems = list(result.get("not_linked", [])) + list(result.get("not_imported", []))
        if problems:
            rows = "".join(f"<tr><td>{esc(p.get('sku') or '(sin SKU)')}</td><td>{esc(p.get('name', ''))}</td>"
                           f"<td>{esc(reason(str(p.get('reason', ''))))}</td></tr>" for p in problems[:200])
            lines.append('<div class="table"><table><thead><tr><th scope="col">SKU</th><th scope="col">Producto'
                         f'</th><th scope="col">Motivo</th></tr></thead><tbody>{rows}</tbody></table></div>')
    if "fixed" in result:
        lines.append(f"<p>{esc(result.get('fixed'))} diferencia(s) corregida(s) en {esc(result.get('links'))} "
                     "productos vinculados.</p>")
    return f"<h3>{esc(title)}</h3>" + "".join(lines)


def _int(value: str | None) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 1
