"""The Facto sandbox is built to Facto's manual, and the project's client speaks to it and to the manual's examples.

The manual's published requests and answers are copied in tests/fixtures/facto/ (its abridged parts
completed as each file says).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from bridge.clients import facto
from bridge.clients.facto import Credentials, FactoDocument, FactoError
from sandboxes import FakeClock
from sandboxes.facto import DEMO_KEY, DEMO_USER, PATH, FactoSandbox, check, parse_request, rut_valid
from tests.conftest import FIXTURES

EXAMPLES = FIXTURES / "facto"


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(start=1_780_000_000.0)


@pytest.fixture
def sandbox(wall: FakeClock) -> Iterator[FactoSandbox]:
    with FactoSandbox(clock=wall) as box:
        yield box


@pytest.fixture
def creds(sandbox: FactoSandbox) -> Credentials:
    return Credentials(user=DEMO_USER, key=DEMO_KEY, url=f"{sandbox.url}{PATH}")


def post(sandbox: FactoSandbox, body: bytes, auth: tuple[str, str] = (DEMO_USER, DEMO_KEY)) -> requests.Response:
    return requests.post(f"{sandbox.url}{PATH}", data=body, auth=auth, timeout=5,
                         headers={"Content-Type": "text/xml; charset=utf-8"})


def boleta(total: int = 500, price: str = "500", **head: str | int) -> FactoDocument:
    return FactoDocument(
        opciones={"valores_brutos": "1"},
        encabezado={"tipo_dte": 39, "fecha_emision": "2026-12-02", "condiciones_pago": "0", **head},
        detalles=[{"cantidad": 1, "glosa": "Agua Mineral", "sku": "1221", "monto_unitario": price,
                   "exento_afecto": 1}],
        totales={"total_final": total},
    )


@pytest.mark.parametrize("name, tipo", [("factura_33_request.xml", 33), ("boleta_39_valores_brutos_request.xml", 39),
                                        ("nota_credito_61_request.xml", 61)])
def test_the_manuals_requests_are_accepted_with_a_folio_and_links(sandbox: FactoSandbox, name: str,
                                                                  tipo: int) -> None:
    response = post(sandbox, example(name))
    assert response.status_code == 200
    answer = facto.parse_answer(response.content)
    assert (answer.status, answer.message, answer.tipo_dte) == (0, "", tipo)
    assert answer.folio == sandbox.emitted(tipo=tipo)[0].folio
    assert set(answer.links) >= {"dte_xml", "dte_pdf", "dte_timbre"}
    assert ("dte_pdfcedible" in answer.links) is (tipo == 33)  # only documents with a cedible copy


def test_the_manuals_answers_are_read_by_the_client() -> None:
    created = facto.parse_answer(example("factura_33_response_status0.xml"))
    assert (created.status, created.folio, created.tipo_dte, created.total) == (0, 4033, 33, 1190)
    assert created.links["dte_pdf"].startswith("https://descarga.facto.cl/2016/11/")
    refused = facto.parse_answer(example("response_status1.xml"))
    assert refused.status == 1
    assert refused.message == "Total Neto (2000) no coincide con suma de detalles netos (1000)"
    draft = facto.parse_answer(example("response_status2.xml"))
    assert draft.status == 2 and draft.message.startswith("Documento generado pero no fue posible enviar al S.I.I.")


def test_a_net_total_that_does_not_match_the_lines_is_refused_in_factos_words(sandbox: FactoSandbox) -> None:
    body = example("factura_33_request.xml").replace(b">1000</total_afecto>", b">2000</total_afecto>")
    answer = facto.parse_answer(post(sandbox, body).content)
    assert answer.status == 1
    assert "Total Neto (2000) no coincide con suma de detalles netos (1000)" in answer.message
    assert sandbox.emitted() == []


def test_the_wsdl_is_served_at_the_same_path(sandbox: FactoSandbox, creds: Credentials) -> None:
    response = requests.get(f"{sandbox.url}{PATH}?wsdl", timeout=5)
    assert response.status_code == 200
    assert b'namespace="urn:server"' in response.content and b"emitirDocumento" in response.content
    assert b'style="rpc"' in response.content and b'use="encoded"' in response.content
    assert facto.check_access(creds) is None
    assert facto.check_access(Credentials(DEMO_USER, DEMO_KEY, f"{sandbox.url}/nada.php")) is not None


def test_basic_auth_is_required(sandbox: FactoSandbox, creds: Credentials) -> None:
    assert post(sandbox, example("factura_33_request.xml"), auth=(DEMO_USER, "f" * 32)).status_code == 401
    with pytest.raises(FactoError) as refused:
        facto.emit(Credentials(DEMO_USER, "0" * 32, creds.url), boleta())
    assert refused.value.sent is False and refused.value.status_code == 401
    assert sandbox.emitted() == []


def test_the_same_request_twice_makes_two_documents(sandbox: FactoSandbox, creds: Credentials) -> None:
    first = facto.emit(creds, boleta(identificador_externo_doc="shop-1/1001"))
    second = facto.emit(creds, boleta(identificador_externo_doc="shop-1/1001"))
    assert first.status == second.status == 0
    assert first.folio != second.folio
    assert len(sandbox.emitted("shop-1/1001")) == 2  # Facto does not deduplicate: the client must


def test_escaped_text_arrives_as_written(sandbox: FactoSandbox, creds: Credentials) -> None:
    document = boleta()
    document.detalles[0]["glosa"] = 'Té & café <"premium"> 100% </glosa>'
    assert facto.emit(creds, document).status == 0
    assert sandbox.emitted()[0].request.detalles[0]["glosa"] == 'Té & café <"premium"> 100% </glosa>'
    assert b"&amp;" in facto.envelope(document) and b"&lt;" in facto.envelope(document)


@pytest.mark.parametrize("rut, valid", [("12345678-5", True), ("96874030-K", True), ("77879240-0", True),
                                        ("12345678-9", False), ("12.345.678-5", False), ("96874030-k", False),
                                        ("123456785", False)])
def test_rut_format_and_check_digit(rut: str, valid: bool) -> None:
    assert rut_valid(rut) is valid


def test_a_factura_needs_the_receptor_facto_requires(sandbox: FactoSandbox) -> None:
    giro = b'<receptor_giro xsi:type="xsd:string">Servicios</receptor_giro>'
    body = example("factura_33_request.xml").replace(giro, b"").replace(b">12345678-5<", b">12.345.678-5<")
    answer = facto.parse_answer(post(sandbox, body).content)
    assert answer.status == 1
    assert "receptor_giro" in answer.message and "RUT receptor no válido (12.345.678-5)" in answer.message


def test_a_boleta_with_gross_prices_must_not_send_net_totals() -> None:
    doc = parse_request(example("boleta_39_valores_brutos_request.xml"))
    assert check(doc) == []
    doc.totales["total_afecto"] = "420"
    assert check(doc) and "valores_brutos" in check(doc)[0]


def test_status_2_leaves_a_draft_and_says_so(sandbox: FactoSandbox, creds: Credentials) -> None:
    sandbox.next_outcome("status2")
    answer = facto.emit(creds, boleta())
    assert answer.status == 2 and "no fue posible enviar al S.I.I." in answer.message
    assert [d.status for d in sandbox.emitted()] == [2]


def test_a_connection_dropped_after_the_document_was_made_is_an_unknown_outcome(sandbox: FactoSandbox,
                                                                                creds: Credentials) -> None:
    sandbox.next_outcome("drop_after_create")
    with pytest.raises(FactoError) as lost:
        facto.emit(creds, boleta())
    assert lost.value.sent is None and not lost.value.retryable
    assert len(sandbox.emitted()) == 1  # it exists in Facto


def test_a_timeout_after_sending_is_an_unknown_outcome(sandbox: FactoSandbox, creds: Credentials) -> None:
    sandbox.next_outcome("slow_after_create", seconds=1.5)
    with pytest.raises(FactoError) as late:
        facto.emit(creds, boleta(), timeout=(2.0, 0.3))
    assert late.value.sent is None
    assert len(sandbox.emitted()) == 1


def test_5xx_is_unknown_but_503_and_refused_connections_were_never_processed(sandbox: FactoSandbox,
                                                                             creds: Credentials) -> None:
    sandbox.faults.add(status=500)
    with pytest.raises(FactoError) as failed:
        facto.emit(creds, boleta())
    assert failed.value.sent is None
    sandbox.faults.add(status=503)
    with pytest.raises(FactoError) as busy:
        facto.emit(creds, boleta())
    assert busy.value.sent is False and busy.value.retryable
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(FactoError) as refused:
        facto.emit(Credentials(DEMO_USER, DEMO_KEY, f"http://127.0.0.1:{port}{PATH}"), boleta())
    assert refused.value.sent is False
    assert sandbox.emitted() == []


def test_unreadable_answers_are_unknown_outcomes() -> None:
    for body in (b"<html>Bad gateway", b"<a><return><resultado><status>7</status></resultado></return></a>",
                 b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'):
        with pytest.raises(FactoError) as unreadable:
            facto.parse_answer(body)
        assert unreadable.value.sent is None


def test_links_expire_after_30_days(sandbox: FactoSandbox, creds: Credentials, wall: FakeClock) -> None:
    answer = facto.emit(creds, boleta())
    pdf = facto.download(answer.links["dte_pdf"])
    assert pdf.startswith(b"%PDF")
    assert b"<Folio>" in facto.download(answer.links["dte_xml"])
    wall.advance(31 * 86400)
    assert requests.get(answer.links["dte_pdf"], timeout=5).status_code == 404
