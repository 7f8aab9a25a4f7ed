"""The panel's HTML, server-rendered in Spanish (es-CL). Every value from data goes through `esc`."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

SANTIAGO = ZoneInfo("America/Santiago")

REASONS = {  # the catalog's reasons, in the owner's words
    "no SKU in Bsale": "sin SKU en Bsale",
    "inactive in Bsale": "inactivo en Bsale",
    "serial-numbered in Bsale": "con números de serie en Bsale (no se sincroniza)",
    "pack in Bsale": "es un pack en Bsale (no se sincroniza)",
    "missing in Jumpseller": "no existe en Jumpseller",
    "missing in Bsale": "no existe en Bsale",
    "duplicate SKU in Bsale": "SKU repetido en Bsale",
    "duplicate SKU in Jumpseller": "SKU repetido en Jumpseller",
}
STATES = {
    "received": "recibido", "creating": "creando documento", "created": "documento creado", "failed": "con error",
    "skipped": "sin documento", "needs_manual": "requiere documento manual", "consuming": "descontando stock",
    "consumed": "stock descontado", "canceled": "anulado", "crediting": "emitiendo nota de crédito",
    "credited": "nota de crédito emitida", "restocking": "devolviendo stock", "restocked": "stock devuelto",
    "resolved": "resuelto a mano",
}

CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1a1a1a;background:#f6f7f9}header{background:#12355b;color:#fff;padding:.75rem 1rem}
header h1{font-size:1.15rem;margin:0}nav ul{list-style:none;margin:.5rem 0 0;padding:0;display:flex;flex-wrap:wrap;
gap:.25rem}nav a{color:#fff;text-decoration:none;padding:.35rem .7rem;border-radius:.3rem;display:inline-block}
nav a[aria-current=page]{background:#fff;color:#12355b;font-weight:600}nav a:focus,a:focus,button:focus,
input:focus,select:focus{outline:3px solid #f2a900;outline-offset:2px}main{max-width:60rem;margin:0 auto;padding:1rem}
section{background:#fff;border:1px solid #d5d9e0;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
h2{font-size:1.1rem;margin:0 0 .75rem}label{display:block;font-weight:600;margin:.5rem 0 .2rem}
input[type=text],input[type=password],input[type=number],input[type=search],select{width:100%;max-width:28rem;
padding:.5rem;border:1px solid #6b7280;border-radius:.3rem;font:inherit}.check{display:flex;gap:.5rem;
align-items:center;font-weight:400}.check input{width:1.2rem;height:1.2rem}button,.button{background:#12355b;
color:#fff;border:0;border-radius:.3rem;padding:.55rem 1rem;font:inherit;cursor:pointer;text-decoration:none;
display:inline-block}button.secondary{background:#fff;color:#12355b;border:2px solid #12355b}
.banner{padding:.75rem 1rem;border-radius:.4rem;margin:0 0 1rem;font-weight:600}.warn{background:#fff4d6;
border:2px solid #a15c00;color:#5c3400}.error{background:#fde8e8;border:2px solid #b42318;color:#7a1610}
.ok{background:#e7f6ec;border:2px solid #1f7a3d;color:#0f4d24}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid #e1e4ea;vertical-align:top}.table{overflow-x:auto}
.muted{color:#4b5563}.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}.pager{margin-top:.5rem}
fieldset{border:1px solid #d5d9e0;border-radius:.4rem;margin:.75rem 0;padding:.5rem 1rem}legend{font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dt{font-weight:600}dd{margin:0}
td:first-child{white-space:nowrap}code{font-size:.9em}
@media (max-width:40rem){dl{grid-template-columns:1fr}header h1{font-size:1rem}main{padding:.5rem}
section{padding:.75rem}table{font-size:.875rem}th,td{padding:.3rem}}
"""

NAV = (("estado", "Estado"), ("conectar", "Conexión"), ("acciones", "Sincronización"), ("checkout", "Checkout"))


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def when(epoch: int | None) -> str:
    if not epoch:
        return "nunca"
    local = datetime.fromtimestamp(epoch, UTC).astimezone(SANTIAGO)
    return local.strftime("%d-%m-%Y %H:%M")


def page(title: str, body: str, *, base: str, current: str = "", shop: str = "", notice: str = "",
         notice_kind: str = "ok") -> str:
    nav = ""
    if shop:
        links = "".join(
            f'<li><a href="{esc(base)}/panel/{key}"{" aria-current=page" if key == current else ""}>{label}</a></li>'
            for key, label in NAV)
        nav = f'<nav aria-label="Secciones"><ul>{links}</ul></nav>'
    banner = f'<div class="banner {notice_kind}" role="status">{esc(notice)}</div>' if notice else ""
    who = f' · <span class="muted" style="color:#dbe4f0">{esc(shop)}</span>' if shop else ""
    return (
        '<!doctype html><html lang="es-CL"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · Bsale + Jumpseller</title><style>{CSS}</style></head><body>"
        f"<header><h1>Bsale + Jumpseller{who}</h1>{nav}</header>"
        f'<main id="contenido"><h2 style="font-size:1.35rem">{esc(title)}</h2>{banner}{body}</main>'
        f'<script src="{esc(base)}/panel/assets/panel.js" defer></script></body></html>'
    )


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(token)}">'


def button_form(action: str, label: str, csrf: str, *, fields: dict[str, str] | None = None,
                secondary: bool = False, name: str = "") -> str:
    hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in (fields or {}).items())
    klass = ' class="secondary"' if secondary else ""
    aria = f' aria-label="{esc(name)}"' if name else ""
    return (f'<form method="post" action="{esc(action)}" style="display:inline">{csrf_field(csrf)}{hidden}'
            f"<button{klass}{aria}>{esc(label)}</button></form>")


def reason(text: str) -> str:
    return REASONS.get(text, text)


def state(text: str) -> str:
    return STATES.get(text, text)


def pager(base_url: str, query: str, param: str, current: int, pages: int, other: dict[str, Any]) -> str:
    if pages <= 1:
        return ""
    from urllib.parse import urlencode

    def href(n: int) -> str:
        return f"{base_url}?{urlencode({**other, 'q': query, param: n})}"

    prev = f'<a href="{esc(href(current - 1))}">← Anterior</a>' if current > 1 else ""
    nxt = f'<a href="{esc(href(current + 1))}">Siguiente →</a>' if current < pages else ""
    return (f'<nav class="pager row" aria-label="Páginas">{prev}<span>Página {current} de {pages}</span>'
            f"{nxt}</nav>")
