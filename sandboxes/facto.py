"""Facto sandbox: a double of ``https://conexion.facto.cl/documento.php`` (SOAP 1.1, RPC/encoded, ``urn:server``).

Built to Facto's manual ("FACTO: Servicio API SOAP – Emisión de documentos", Rev. 34, as summarised in
reference/facto_dte.md part A): the WSDL at ``?wsdl``, ``emitirDocumento`` POSTed to the same path, HTTP Basic
auth (``<RUT>/<user>`` and a 32-hex key), answers shaped like a NuSOAP server's (``<return
xsi:type="xsd:complexType">`` with untyped children). It validates what the manual says Facto validates
(required fields per document type, RUT format, totals against lines) and answers status 0 (folio per document
type, links that expire after 30 days), 1 (``mensaje_error``, nothing created) or 2 (a draft exists, not sent).

Like Facto, it does NOT deduplicate: the same request twice makes two documents. Faults on purpose: the shared
ones (5xx, slow, drop before anything is done) plus Facto's own (``next_outcome``): status 2, the connection
dropped after the document was created, or a slow answer after it was created (a client timeout).

Only "Total Neto (X) no coincide con suma de detalles netos (Y)" is Facto's published error text; the other
messages follow its style and are marked SANDBOX WORDING.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - test double; DOCTYPEs are refused before parsing
from xml.sax.saxutils import escape

from sandboxes._http import Clock, DropConnection, Request, Response, SandboxServer, admin_body

PATH = "/documento.php"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
LINK_DAYS = 30
DEMO_USER = "1.111.111-4/pruebasapi"
DEMO_KEY = "0123456789abcdef0123456789abcdef"  # not Facto's: the real demo key is printed only in its manual
TYPES = frozenset({33, 34, 39, 41, 52, 56, 61, 110, 111, 112})
NOMINATIVE_FIELDS = ("receptor_rut", "receptor_razon", "receptor_direccion", "receptor_comuna", "receptor_ciudad",
                     "receptor_telefono")
RUT = re.compile(r"^(\d{1,8})-([\dK])$")
DRAFT_ERROR = ("Documento generado pero no fue posible enviar al S.I.I. - No fue posible autentificarse en servicio "
               "S.I.I. con el certificado digital seleccionado -")


# --------------------------------------------------------------------------- the document, as Facto reads it


@dataclass
class Documento:
    """An ``emitir_dte`` argument: every value as the text sent."""

    opciones: dict[str, str] = field(default_factory=dict)
    encabezado: dict[str, str] = field(default_factory=dict)
    detalles: list[dict[str, str]] = field(default_factory=list)
    referencias: list[dict[str, str]] = field(default_factory=list)
    totales: dict[str, str] = field(default_factory=dict)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _fields(element: ET.Element) -> dict[str, str]:
    return {_local(child.tag): (child.text or "").strip() for child in element}


def parse_request(body: bytes) -> Documento:
    """The ``documento`` of an emitirDocumento envelope (raises ValueError when it is not one)."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise ValueError("DOCTYPE not allowed")
    try:
        root = ET.fromstring(body)  # noqa: S314 - see the import
    except ET.ParseError as exc:
        raise ValueError(f"XML error parsing SOAP payload: {exc}") from exc
    operation = next((e for e in root.iter() if _local(e.tag) == "emitirDocumento"), None)
    if operation is None:
        raise ValueError("Operation not found: emitirDocumento")
    documento = next((e for e in operation if _local(e.tag) == "documento"), None)
    if documento is None:
        raise ValueError("documento missing")
    doc = Documento()
    for part in documento:
        name = _local(part.tag)
        if name in ("opciones", "encabezado", "totales"):
            setattr(doc, name, _fields(part))
        elif name == "detalles":
            doc.detalles = [_fields(d) for d in part if _local(d.tag) == "detalle"]
        elif name == "referencias":
            doc.referencias = [_fields(r) for r in part if _local(r.tag) == "referencia"]
    return doc


# --------------------------------------------------------------------------- validation (what Facto checks)


def rut_valid(rut: str) -> bool:
    """``NNNNNNNN-X``: no dots, a dash, upper-case K, check digit by módulo 11."""
    match = RUT.match(rut)
    if not match:
        return False
    total, weight = 0, 2
    for digit in reversed(match.group(1)):
        total += int(digit) * weight
        weight = 2 if weight == 7 else weight + 1
    rest = 11 - total % 11
    return match.group(2) == {11: "0", 10: "K"}.get(rest, str(rest))


def _number(value: str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _peso(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_amount(line: dict[str, str]) -> int:
    """round(cantidad × monto_unitario) plus its discount or surcharge (SII MontoItem)."""
    amount = (_number(line.get("cantidad")) or Decimal(0)) * (_number(line.get("monto_unitario")) or Decimal(0))
    percent = _number(line.get("descuentorecargo_porcentaje"))
    if percent is not None:
        amount += _peso(amount * percent / 100)
    return _peso(amount) + int(_number(line.get("descuentorecargo_monto")) or 0)


def check(doc: Documento) -> list[str]:
    """Why Facto would answer status 1 (empty: it would create the document)."""
    head = doc.encabezado
    errors: list[str] = []
    tipo = int(_number(head.get("tipo_dte")) or 0)
    if tipo not in TYPES:
        return [f"Tipo de documento no válido ({head.get('tipo_dte', '')})"]  # SANDBOX WORDING
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", head.get("fecha_emision", "")):
        errors.append("Fecha de emisión no válida (formato AAAA-MM-DD)")  # SANDBOX WORDING
    if not head.get("condiciones_pago"):
        errors.append("Falta campo obligatorio: condiciones_pago")  # SANDBOX WORDING
    nominative = tipo in (33, 34, 52, 56, 61) or (tipo in (39, 41) and bool(head.get("receptor_rut")))
    if nominative:
        errors += [f"Falta campo obligatorio: {name}" for name in NOMINATIVE_FIELDS if not head.get(name)]
    if tipo in (33, 34, 52, 56, 61) and not head.get("receptor_giro"):
        errors.append("Falta campo obligatorio: receptor_giro")
    if tipo in (39, 41) and head.get("receptor_giro"):
        errors.append("Boleta nominativa no debe incluir receptor_giro")  # SANDBOX WORDING
    if head.get("receptor_rut") and not rut_valid(head["receptor_rut"]):
        errors.append(f"RUT receptor no válido ({head['receptor_rut']})")  # SANDBOX WORDING
    if not doc.detalles:
        errors.append("Debe incluir al menos un detalle")  # SANDBOX WORDING
    for n, line in enumerate(doc.detalles, 1):
        for name in ("cantidad", "glosa", "monto_unitario", "exento_afecto"):
            if not line.get(name):
                errors.append(f"Detalle {n}: falta campo obligatorio {name}")  # SANDBOX WORDING
        if line.get("exento_afecto") not in (None, "", "0", "1"):
            errors.append(f"Detalle {n}: exento_afecto debe ser 0 o 1")  # SANDBOX WORDING
    if tipo in (56, 61, 111, 112):
        if not doc.referencias:
            errors.append("Debe incluir referencia al documento que modifica")  # SANDBOX WORDING
        for ref in doc.referencias:
            for name in ("docreferencia_tipo", "docreferencia_folio", "codigo_referencia", "descripcion"):
                if not ref.get(name):
                    errors.append(f"Referencia: falta campo obligatorio {name}")  # SANDBOX WORDING
    if errors:
        return errors
    return check_totals(tipo, doc)


def check_totals(tipo: int, doc: Documento) -> list[str]:
    """Totals against lines, to the peso (Facto's own rule; its published message for the net total)."""
    totals = doc.totales
    final = _number(totals.get("total_final"))
    if final is None:
        return ["Falta campo obligatorio: total_final"]  # SANDBOX WORDING
    gross = doc.opciones.get("valores_brutos") == "1"
    if gross:
        if tipo != 39:
            return ["valores_brutos sólo se permite en boletas (tipo 39)"]  # SANDBOX WORDING
        present = [k for k in ("total_exento", "total_afecto", "total_iva", "total_otrosimpuestos") if k in totals]
        if present:
            return [f"Con valores_brutos no se debe enviar {', '.join(present)}"]  # SANDBOX WORDING
        expected = sum(line_amount(line) for line in doc.detalles)
        if final != expected:
            return [f"Total Final ({final}) no coincide con suma de detalles brutos ({expected})"]  # SANDBOX WORDING
        return []
    missing = [k for k in ("total_exento", "total_afecto", "total_iva") if _number(totals.get(k)) is None]
    if missing:
        return [f"Falta campo obligatorio: {k}" for k in missing]  # SANDBOX WORDING
    afecto = sum(line_amount(line) for line in doc.detalles if line.get("exento_afecto") == "1")
    exento = sum(line_amount(line) for line in doc.detalles if line.get("exento_afecto") == "0")
    errors = []
    if _number(totals["total_afecto"]) != afecto:
        errors.append(f"Total Neto ({totals['total_afecto']}) no coincide con suma de detalles netos ({afecto})")
    if _number(totals["total_exento"]) != exento:
        errors.append(f"Total Exento ({totals['total_exento']}) no coincide con suma de detalles exentos "
                      f"({exento})")  # SANDBOX WORDING
    iva = _peso(Decimal(afecto) * Decimal("0.19"))
    if _number(totals["total_iva"]) != iva:
        errors.append(f"Total IVA ({totals['total_iva']}) no coincide con IVA calculado ({iva})")  # SANDBOX WORDING
    others = int(_number(totals.get("total_otrosimpuestos")) or 0)
    if final != afecto + exento + iva + others:
        errors.append(f"Total Final ({final}) no coincide con suma de totales "
                      f"({afecto + exento + iva + others})")  # SANDBOX WORDING
    return errors


def total_of(doc: Documento) -> int:
    return int(_number(doc.totales.get("total_final")) or 0)


# --------------------------------------------------------------------------- the double


@dataclass
class Emitted:
    """A document the sandbox created (status 0) or left as a draft (status 2)."""

    tipo: int
    folio: int
    status: int
    request: Documento
    external_id: str
    created_at: float
    token: str

    @property
    def total(self) -> int:
        return total_of(self.request)


class FactoSandbox(SandboxServer):
    service_name = "facto"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, clock: Clock | None = None,
                 accounts: dict[str, str] | None = None) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.wall: Clock = clock or time.time  # link expiry (seconds)
        self.accounts = dict(accounts or {DEMO_USER: DEMO_KEY})
        self.documents: list[Emitted] = []
        self.refused: list[tuple[Documento, list[str]]] = []
        self._folios: dict[int, itertools.count[int]] = {}
        self._outcomes: deque[tuple[str, float, str]] = deque()
        self._emit_lock = threading.Lock()
        self.admin.add("GET", "/_sandbox/facto/documents", lambda r: Response(200, [self._json(d)
                                                                                  for d in self.documents]))
        self.admin.add("POST", "/_sandbox/facto/outcomes", self._admin_outcome)
        self.admin.add("POST", "/_sandbox/facto/accounts", self._admin_account)
        self.admin.add("DELETE", "/_sandbox/facto/documents", self._admin_reset)

    # ------------------------------------------------------------------ test controls

    def next_outcome(self, outcome: str, count: int = 1, seconds: float = 0.0, message: str = "") -> None:
        """For the next ``count`` valid documents: ``status1`` (refused with ``message``, e.g. an account
        problem the sandbox cannot see), ``status2`` (a draft, not sent), ``drop_after_create`` (the document
        exists, the connection is cut before any answer) or ``slow_after_create`` (answer after ``seconds``, past
        the client's timeout)."""
        if outcome not in ("status1", "status2", "drop_after_create", "slow_after_create"):
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._lock:
            self._outcomes.extend([(outcome, seconds, message)] * count)

    def emitted(self, external_id: str | None = None, tipo: int | None = None) -> list[Emitted]:
        with self._lock:
            found = list(self.documents)
        return [d for d in found if (external_id is None or d.external_id == external_id)
                and (tipo is None or d.tipo == tipo)]

    def reset(self) -> None:
        with self._lock:
            self.documents.clear()
            self.refused.clear()
            self._outcomes.clear()
            self.faults.clear()
        self.reset_log()

    def _admin_outcome(self, request: Request) -> Response:
        spec = admin_body(request)
        self.next_outcome(str(spec["outcome"]), int(spec.get("count", 1)), float(spec.get("seconds", 0)),
                          str(spec.get("message", "")))
        return Response(201, {"ok": True})

    def _admin_account(self, request: Request) -> Response:
        spec = admin_body(request)
        with self._lock:
            self.accounts[str(spec["user"])] = str(spec["key"])
        return Response(201, {"user": spec["user"]})

    def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return Response(204)

    # ------------------------------------------------------------------ HTTP

    def credential_of(self, request: Request) -> str | None:
        user = _basic(request)
        return user[0] if user else None

    def handle_api(self, request: Request) -> Response:
        if request.path.startswith("/descarga/"):
            return self._download(request)
        if request.path != PATH:
            return Response(404, raw=b"Not Found", content_type="text/plain")
        if request.method == "GET" and "wsdl" in request.query_string.lower():
            return Response(200, raw=wsdl(f"{self.url}{PATH}").encode(), content_type="text/xml; charset=UTF-8")
        if request.method != "POST":
            return Response(405, raw=b"Method Not Allowed", content_type="text/plain")
        user = _basic(request)
        if user is None or self.accounts.get(user[0]) != user[1]:
            return Response(401, raw=b"Unauthorized", content_type="text/plain",
                            headers={"WWW-Authenticate": 'Basic realm="facto"'})
        try:
            doc = parse_request(request.body)
        except ValueError as exc:
            return _fault("SOAP-ENV:Client", str(exc))
        errors = check(doc)
        if errors:
            with self._lock:
                self.refused.append((doc, errors))
            return _answer(doc, 1, "; ".join(errors))
        with self._lock:
            outcome, seconds, message = self._outcomes.popleft() if self._outcomes else ("ok", 0.0, "")
        if outcome == "status1":
            return _answer(doc, 1, message or "Error en los datos del documento")
        made = self._create(doc, status=2 if outcome == "status2" else 0)
        if outcome == "drop_after_create":
            raise DropConnection
        if outcome == "slow_after_create":
            time.sleep(seconds)
        if made.status == 2:
            return _answer(doc, 2, DRAFT_ERROR, folio=made.folio)
        return _answer(doc, 0, "", folio=made.folio, links=self._links(made))

    def _create(self, doc: Documento, status: int) -> Emitted:
        tipo = int(doc.encabezado["tipo_dte"])
        with self._lock:
            counter = self._folios.setdefault(tipo, itertools.count(1000 + tipo * 10))
            folio = next(counter)
            token = hashlib.sha256(f"{tipo}-{folio}-{time.time_ns()}".encode()).hexdigest()[:24]
            made = Emitted(tipo=tipo, folio=folio, status=status, request=doc,
                           external_id=doc.encabezado.get("identificador_externo_doc", ""),
                           created_at=self.wall(), token=token)
            self.documents.append(made)
        return made

    def _links(self, made: Emitted) -> dict[str, str]:
        day = datetime.fromtimestamp(made.created_at, UTC)
        base = f"{self.url}/descarga/{day:%Y}/{day:%m}/{made.token}"
        links = {"dte_xml": f"{base}.xml", "dte_pdf": f"{base}.pdf", "dte_timbre": f"{base}.png"}
        if made.tipo in (33, 34):
            links["dte_pdfcedible"] = f"{base}-cedible.pdf"
        return links

    def _download(self, request: Request) -> Response:
        name = request.path.rsplit("/", 1)[-1]
        token, _, ext = name.partition(".")
        token = token.removesuffix("-cedible")
        with self._lock:
            made = next((d for d in self.documents if d.token == token), None)
        if made is None or self.wall() - made.created_at > LINK_DAYS * 86400:
            return Response(404, raw=b"Not Found", content_type="text/plain")  # expired links are gone
        if ext == "pdf":
            text = f"%PDF-1.4\n% Facto sandbox: DTE {made.tipo} folio {made.folio}\n%%EOF\n"
            return Response(200, raw=text.encode(), content_type="application/pdf")
        if ext == "xml":
            text = (f'<?xml version="1.0" encoding="ISO-8859-1"?><DTE version="1.0"><Documento><Encabezado><IdDoc>'
                    f"<TipoDTE>{made.tipo}</TipoDTE><Folio>{made.folio}</Folio></IdDoc><Totales><MntTotal>"
                    f"{made.total}</MntTotal></Totales></Encabezado></Documento></DTE>")
            return Response(200, raw=text.encode(), content_type="application/xml")
        return Response(200, raw=b"\x89PNG sandbox", content_type="image/png")

    @staticmethod
    def _json(made: Emitted) -> dict[str, Any]:
        return {"tipo_dte": made.tipo, "folio": made.folio, "status": made.status, "total": made.total,
                "identificador_externo_doc": made.external_id}


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.header("authorization") or ""
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, key = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, key


def _element(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"


def _answer(doc: Documento, status: int, error: str, *, folio: int | None = None,
            links: dict[str, str] | None = None) -> Response:
    """What NuSOAP writes: ``return`` typed xsd:complexType, its children untyped."""
    head = {**doc.encabezado, **({"folio": str(folio)} if folio is not None else {})}
    parts = [f"<resultado>{_element('status', str(status))}{_element('mensaje_error', error)}</resultado>",
             "<encabezado>" + "".join(_element(k, v) for k, v in head.items()) + "</encabezado>"]
    if status != 1:
        parts.append("<detalles>" + "".join("<detalle>" + "".join(_element(k, v) for k, v in line.items())
                                            + "</detalle>" for line in doc.detalles) + "</detalles>")
        parts.append("<totales>" + "".join(_element(k, v) for k, v in doc.totales.items()) + "</totales>")
    if links:
        parts.append("<enlaces>" + "".join(_element(k, v) for k, v in links.items()) + "</enlaces>")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope '
        'SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" '
        f'xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body>'
        '<ns1:emitirDocumentoResponse xmlns:ns1="urn:server"><return xsi:type="xsd:complexType">'
        + "".join(parts) + "</return></ns1:emitirDocumentoResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
    return Response(200, raw=body.encode("utf-8"), content_type="text/xml; charset=UTF-8")


def _fault(code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body>'
            f"<SOAP-ENV:Fault><faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring>"
            "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>")
    return Response(500, raw=body.encode(), content_type="text/xml; charset=UTF-8")


def _complex(name: str, fields: list[tuple[str, str]]) -> str:
    elements = "".join(f'<xsd:element name="{n}" type="xsd:{t}"/>' for n, t in fields)
    return (f'<xsd:complexType name="{name}"><xsd:all>{elements}</xsd:all></xsd:complexType>')


def wsdl(location: str) -> str:
    """The service description (types as ``ctala/facto_wsdl`` generated them from Facto's WSDL)."""
    s = "string"
    types = "".join([
        _complex("opciones", [("id_plantilla", "int"), ("valores_brutos", s), ("redondeo_tipo", s),
                              ("empresa_email", s), ("empresa_web", s)]),
        _complex("encabezado", [(n, s) for n in (
            "tipo_dte", "fecha_emision", "folio", "receptor_nombreinterno", "receptor_rut", "receptor_razon",
            "receptor_direccion", "receptor_comuna", "receptor_ciudad", "receptor_telefono", "receptor_giro",
            "receptor_pais", "condiciones_pago", "receptor_email", "identificador_externo_doc", "tipo_guia",
            "tipo_traslado", "sucursal", "observaciones", "observaciones_despliegue")]),
        _complex("detalle", [("cantidad", "decimal"), ("unidad", s), ("glosa", s), ("descripcionlarga", s),
                             ("sku", s), ("monto_unitario", "decimal"), ("exento_afecto", "boolean"),
                             ("descuentorecargo_monto", "int"), ("descuentorecargo_porcentaje", "decimal")]),
        _complex("referencia", [("docreferencia_tipo", "int"), ("docreferencia_folio", s),
                                ("docreferencia_fecha", "date"), ("codigo_referencia", "int"), ("descripcion", s)]),
        _complex("totales", [("total_exento", "int"), ("total_afecto", "int"), ("total_iva", "int"),
                             ("total_otrosimpuestos", "int"), ("iva_credito_constructora", "int"),
                             ("total_final", "int")]),
        '<xsd:complexType name="detalles"><xsd:sequence><xsd:element name="detalle" type="tns:detalle" '
        'maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>',
        '<xsd:complexType name="referencias"><xsd:sequence><xsd:element name="referencia" '
        'type="tns:referencia" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>',
        '<xsd:complexType name="emitir_dte"><xsd:all><xsd:element name="opciones" type="tns:opciones"/>'
        '<xsd:element name="encabezado" type="tns:encabezado"/><xsd:element name="detalles" type="tns:detalles"/>'
        '<xsd:element name="referencias" type="tns:referencias"/><xsd:element name="totales" type="tns:totales"/>'
        "</xsd:all></xsd:complexType>",
    ])
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:tns="urn:server"
 xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
 xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="urn:server">
<types><xsd:schema targetNamespace="urn:server">{types}</xsd:schema></types>
<message name="emitirDocumentoRequest"><part name="documento" type="tns:emitir_dte"/></message>
<message name="emitirDocumentoResponse"><part name="return" type="xsd:complexType"/></message>
<portType name="serverPortType"><operation name="emitirDocumento"><input message="tns:emitirDocumentoRequest"/>
<output message="tns:emitirDocumentoResponse"/></operation></portType>
<binding name="serverBinding" type="tns:serverPortType">
<soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
<operation name="emitirDocumento"><soap:operation soapAction="{location}/emitirDocumento" style="rpc"/>
<input><soap:body use="encoded" namespace="urn:server" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></input>
<output><soap:body use="encoded" namespace="urn:server" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></output>
</operation></binding>
<service name="server"><port name="serverPort" binding="tns:serverBinding"><soap:address location="{location}"/></port>
</service></definitions>
"""
