"""Facto's emission webservice (`emitirDocumento`, SOAP 1.1 RPC/encoded, namespace `urn:server`).

No SOAP library: the envelope is built here (every value escaped) and the answer is read by element names.
Facto is a NuSOAP server: its answer's `return` is typed `xsd:complexType` with untyped children, which a strict
WSDL reader (zeep) does not map to a declared type, and zeep would bring lxml into the Lambda layer for one
operation. A builder and a name-based parser are small, have no dependency, and are tested against the manual's
published requests and answers (tests/fixtures/facto/).

Facto does not deduplicate: a request that reached it may have made a legal document. So this client never
retries, and says of every failure whether the request surely did NOT reach Facto (`sent=False`: connection
refused, connect timeout, 429/503 before processing) or might have (`sent=None`: timeout after sending, the
connection dropped after the request was written, a 5xx, an answer that cannot be read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - DOCTYPE/ENTITY refused before parsing (no expansion)
from xml.sax.saxutils import escape

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from bridge.errors import UpstreamError
from bridge.models.shop import FACTO_URL

SERVICE = "Facto"
TIMEOUT = (5.0, 25.0)  # connect, read: Facto signs and sends to the SII before answering
ENVELOPE_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:urn="urn:server"><soapenv:Header/><soapenv:Body>'
    '<urn:emitirDocumento soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
    '<documento xsi:type="urn:emitir_dte">'
)
ENVELOPE_TAIL = "</documento></urn:emitirDocumento></soapenv:Body></soapenv:Envelope>"
_NAME = re.compile(r"^[a-z_]+$")


Scalar = str | int


@dataclass(frozen=True)
class FactoDocument:
    """An `emitir_dte`: each part a mapping of Facto's field names to values (lines and references: lists)."""

    encabezado: dict[str, Scalar]
    detalles: list[dict[str, Scalar]]
    totales: dict[str, Scalar]
    opciones: dict[str, Scalar] = field(default_factory=dict)
    referencias: list[dict[str, Scalar]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"opciones": self.opciones, "encabezado": self.encabezado, "detalles": self.detalles,
                "referencias": self.referencias, "totales": self.totales}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FactoDocument:
        return cls(encabezado=dict(data["encabezado"]), detalles=[dict(d) for d in data["detalles"]],
                   totales=dict(data["totales"]), opciones=dict(data.get("opciones") or {}),
                   referencias=[dict(r) for r in data.get("referencias") or []])


@dataclass(frozen=True)
class Answer:
    """Facto's `return`: status 0 created (and sent to the SII), 1 refused (nothing made), 2 draft not sent."""

    status: int
    message: str
    tipo_dte: int | None
    folio: int | None
    links: dict[str, str]
    total: int | None


class FactoError(UpstreamError):
    """Facto failed. `sent` False: the request surely did not reach Facto; None: it may have (outcome unknown)."""

    def __init__(self, reason: str, *, sent: bool | None, status_code: int | None = None) -> None:
        super().__init__(SERVICE, reason, status_code=status_code, retryable=sent is False)
        self.sent = sent


@dataclass(frozen=True)
class Credentials:
    user: str  # "<RUT with dots and dash>/<API user>"
    key: str
    url: str = FACTO_URL


# ------------------------------------------------------------------------------------------------ envelope


def _element(name: str, value: Scalar) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a Facto field name: {name!r}")
    return f"<{name}>{escape(str(value))}</{name}>"  # & < > as entities (manual, "Caracteres especiales")


def envelope(document: FactoDocument) -> bytes:
    out = [ENVELOPE_HEAD]
    if document.opciones:
        out.append("<opciones>" + "".join(_element(k, v) for k, v in document.opciones.items()) + "</opciones>")
    out.append("<encabezado>" + "".join(_element(k, v) for k, v in document.encabezado.items()) + "</encabezado>")
    out.append("<detalles>" + "".join("<detalle>" + "".join(_element(k, v) for k, v in line.items()) + "</detalle>"
                                      for line in document.detalles) + "</detalles>")
    if document.referencias:
        out.append("<referencias>" + "".join("<referencia>" + "".join(_element(k, v) for k, v in ref.items())
                                             + "</referencia>" for ref in document.referencias) + "</referencias>")
    out.append("<totales>" + "".join(_element(k, v) for k, v in document.totales.items()) + "</totales>")
    out.append(ENVELOPE_TAIL)
    return "".join(out).encode("utf-8")


# ------------------------------------------------------------------------------------------------ answer


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element | None, name: str) -> ET.Element | None:
    if element is None:
        return None
    return next((c for c in element if _local(c.tag) == name), None)


def _text(element: ET.Element | None, name: str) -> str:
    found = _child(element, name)
    return (found.text or "").strip() if found is not None else ""


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_answer(body: bytes) -> Answer:
    """Read `emitirDocumentoResponse/return` by element names (namespaces and xsi:types ignored).

    Raises FactoError(sent=None) when the answer cannot be read: Facto may still have made the document.
    """
    head = body[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in body.upper():
        raise FactoError("respuesta ilegible (DOCTYPE)", sent=None)
    try:
        root = ET.fromstring(body)  # noqa: S314 - see the import
    except ET.ParseError as exc:
        raise FactoError(f"respuesta ilegible: {exc}", sent=None) from exc
    fault = next((e for e in root.iter() if _local(e.tag) == "Fault"), None)
    if fault is not None:
        raise FactoError(f"SOAP Fault: {_text(fault, 'faultstring')}", sent=None)
    result = next((e for e in root.iter() if _local(e.tag) == "return"), None)
    status = _int(_text(_child(result, "resultado"), "status"))
    if result is None or status not in (0, 1, 2):
        raise FactoError("respuesta sin resultado.status legible", sent=None)
    header = _child(result, "encabezado")
    links = {_local(c.tag): (c.text or "").strip() for c in (_child(result, "enlaces") or [])}
    return Answer(status=status, message=_text(_child(result, "resultado"), "mensaje_error"),
                  tipo_dte=_int(_text(header, "tipo_dte")), folio=_int(_text(header, "folio")),
                  links={k: v for k, v in links.items() if v},
                  total=_int(_text(_child(result, "totales"), "total_final")))


# ------------------------------------------------------------------------------------------------ calls


def _session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)  # never resend: Facto would make a second document
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _never_sent(exc: requests.ConnectionError) -> bool:
    """Refused or unreachable before a byte of the request left (nothing can have been made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    inner = exc.args[0] if exc.args else None
    return isinstance(getattr(inner, "reason", inner), NewConnectionError)


def emit(credentials: Credentials, document: FactoDocument, *, timeout: tuple[float, float] = TIMEOUT) -> Answer:
    """POST one emitirDocumento. Exactly one HTTP request, never retried here."""
    try:
        with _session() as session:
            response = session.post(
                credentials.url, data=envelope(document), auth=(credentials.user, credentials.key),
                headers={"Content-Type": "text/xml; charset=utf-8",
                         "SOAPAction": f'"{credentials.url}/emitirDocumento"'},
                timeout=timeout,
            )
    except requests.ConnectionError as exc:
        if _never_sent(exc):
            raise FactoError(f"no se pudo conectar: {type(exc).__name__}", sent=False) from exc
        raise FactoError(f"la conexión se cortó sin respuesta: {type(exc).__name__}", sent=None) from exc
    except requests.Timeout as exc:  # read timeout: the request was sent
        raise FactoError("no respondió a tiempo", sent=None) from exc
    status = response.status_code
    if status in (401, 403):
        raise FactoError("Facto rechazó el usuario o la clave de la API", sent=False, status_code=status)
    if status in (429, 503):  # refused before processing
        raise FactoError(f"no disponible ({status})", sent=False, status_code=status)
    if status >= 400 and b"Fault" not in response.content[:2000]:
        raise FactoError(f"respondió HTTP {status}", sent=None, status_code=status)
    return parse_answer(response.content)


def check_access(credentials: Credentials, *, timeout: tuple[float, float] = (5.0, 10.0)) -> str | None:
    """What can be checked without emitting: the WSDL answers and names emitirDocumento. None when fine.

    The credentials cannot be checked without emitting (Facto has no login or lookup operation).
    """
    try:
        response = requests.get(f"{credentials.url}?wsdl", timeout=timeout,
                                auth=(credentials.user, credentials.key))
    except requests.RequestException as exc:
        return f"no se pudo leer el WSDL de Facto ({type(exc).__name__})"
    if response.status_code != 200 or b"emitirDocumento" not in response.content:
        return f"el WSDL de Facto no respondió como se esperaba (HTTP {response.status_code})"
    return None


def download(url: str, *, timeout: tuple[float, float] = (5.0, 20.0)) -> bytes:
    """A file behind one of Facto's links (public for 30 days)."""
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise UpstreamError(SERVICE, f"descarga fallida: {type(exc).__name__}", retryable=True) from exc
    if response.status_code != 200:
        raise UpstreamError(SERVICE, f"descarga HTTP {response.status_code}", status_code=response.status_code,
                            retryable=response.status_code >= 500)
    return response.content
