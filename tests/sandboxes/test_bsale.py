"""Bsale sandbox: auth, lists and filters, documents, returns, stock movements, notifications, rate limit."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandboxes import BsaleAccount, BsaleSandbox, FakeClock
from tests.conftest import official
from tests.sandboxes.conftest import Receiver

IVA_LINE = {"taxes": [{"code": 14, "percentage": 19}]}


def boleta(account: BsaleAccount, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "codeSii": 39, "officeId": 2, "emissionDate": 1462527931, "dispatch": 1, "declareSii": 1,
        "details": [{"code": "POL-S", "netUnitValue": 8395, "quantity": 2, **IVA_LINE}],
    }
    return body | overrides


# --------------------------------------------------------------------------- auth and basics


def test_wrong_or_missing_token_is_401(bsale: BsaleSandbox, account: BsaleAccount) -> None:
    for headers in ({}, {"access_token": "nope"}):
        answer = requests.get(bsale.url + "/v1/offices.json", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {"error": "Sorry, this request can not be authenticated"}


def test_instance_lookup_by_token(bsale: BsaleSandbox, account: BsaleAccount) -> None:
    answer = requests.get(f"{bsale.url}/v1/instances/basic/{account.token}.json")
    assert answer.status_code == 200
    assert answer.json()["id"] == 2 and answer.json()["code"] == account.code
    assert {"id", "code", "name", "state", "country"} <= answer.json().keys()
    missing = requests.get(f"{bsale.url}/v1/instances/basic/unknown.json")
    assert missing.status_code == 404 and "error" in missing.json()


def test_unknown_path_and_bad_json(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    unknown = bapi.get(bsale.url + "/v1/nothing.json")
    assert unknown.status_code == 404 and "error" in unknown.json()
    bad = bapi.post(bsale.url + "/v1/documents.json", data=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json() == {"error": "Invalid JSON object"}


def test_blocked_instance_is_402(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    account.blocked = True
    assert bapi.get(bsale.url + "/v1/offices.json").status_code == 402


def test_rate_limit_8_per_second_per_token(clock: FakeClock) -> None:
    with BsaleSandbox(clock=clock) as sandbox:
        sandbox.add_account("t1", 1)
        sandbox.add_account("t2", 2)
        url = sandbox.url + "/v1/offices.json"
        codes = [requests.get(url, headers={"access_token": "t1"}).status_code for _ in range(9)]
        assert codes == [200] * 8 + [429]
        limited = requests.get(url, headers={"access_token": "t1"})
        assert limited.json() == {"error": "Too Many Requests"} and "Retry-After" not in limited.headers
        assert requests.get(url, headers={"access_token": "t2"}).status_code == 200  # other credential
        clock.advance(1.0)
        assert requests.get(url, headers={"access_token": "t1"}).status_code == 200


# --------------------------------------------------------------------------- lists, pagination, filters


def test_pagination_next_and_cap(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    office = account.add_office("Bodega")
    product = account.add_product("Tornillo")
    for n in range(60):
        account.add_variant(product.id, f"T-{n}", stock={office.id: n})
    url = f"{bsale.url}/v1/stocks.json"
    first = bapi.get(url, params={"officeid": office.id}).json()
    assert (first["count"], first["limit"], first["offset"], len(first["items"])) == (60, 25, 0, 25)
    assert first["href"] == url
    assert first["next"] == f"{url}?officeid={office.id}&limit=25&offset=25"
    capped = bapi.get(url, params={"officeid": office.id, "limit": 100}).json()
    assert capped["limit"] == 50 and len(capped["items"]) == 50
    last = bapi.get(capped["next"]).json()
    assert last["offset"] == 50 and len(last["items"]) == 10 and "next" not in last


def test_stock_filters_plain_and_bracket(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    variant = account.variant_by_code("POL-S")
    assert variant is not None
    plain = bapi.get(f"{bsale.url}/v1/stocks.json?variantid={variant.id}&officeid=2").json()
    bracket = bapi.get(f"{bsale.url}/v1/stocks.json?variantid=[{variant.id}]&officeid=[2]").json()
    assert plain["items"] == bracket["items"] and plain["count"] == 1
    row = plain["items"][0]
    assert row["quantity"] == 5.0 and row["quantityAvailable"] == 5.0 and row["quantityReserved"] == 0.0
    assert row["variant"]["id"] == str(variant.id) and row["office"]["id"] == "2"  # relation ids are strings
    expected = official("bsale/stock_single_response_official")
    assert row.keys() == expected.keys()
    by_code = bapi.get(f"{bsale.url}/v1/stocks.json?code=POL-S").json()
    assert by_code["count"] == 2
    single = bapi.get(row["href"]).json()
    assert single == row


def test_variants_products_and_expand(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    found = bapi.get(f"{bsale.url}/v1/variants.json?code=POL-M").json()
    assert found["count"] == 1
    variant = found["items"][0]
    assert variant["code"] == "POL-M" and variant["product"] == {"href": variant["product"]["href"],
                                                                 "id": variant["product"]["id"]}
    expanded = bapi.get(f"{bsale.url}/v1/variants/{variant['id']}.json?expand=[product]").json()
    assert expanded["product"]["name"] == "Polera" and expanded["product"]["stockControl"] == 1
    product_id = int(variant["product"]["id"])
    assert bapi.get(f"{bsale.url}/v1/variants.json?productid={product_id}").json()["count"] == 2
    account.update_variant(variant["id"], state=1)
    assert bapi.get(f"{bsale.url}/v1/variants.json?productid={product_id}").json()["count"] == 2  # incl. inactive
    assert bapi.get(f"{bsale.url}/v1/variants.json?productid={product_id}&state=0").json()["count"] == 1
    assert bapi.get(f"{bsale.url}/v1/products/{product_id}.json").json()["classification"] == 0
    assert bapi.get(f"{bsale.url}/v1/products/999999.json").status_code == 404


def test_offices_price_lists_document_types(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    offices = bapi.get(f"{bsale.url}/v1/offices.json?state=0").json()["items"]
    assert [o["isVirtual"] for o in offices] == [0, 1]
    assert bapi.get(f"{bsale.url}/v1/offices/2.json").json()["name"] == "Tienda Online"
    lists = bapi.get(f"{bsale.url}/v1/price_lists.json").json()
    assert lists["count"] == 2
    types = bapi.get(f"{bsale.url}/v1/document_types.json?codesii=39&state=0").json()["items"]
    assert len(types) == 1 and types[0]["codeSii"] == "39"
    assert {t["codeSii"] for t in bapi.get(f"{bsale.url}/v1/document_types.json").json()["items"]} == {"39", "33", "61"}
    assert bapi.get(f"{bsale.url}/v1/document_types/{types[0]['id']}.json").json()["use"] == 0


def test_price_list_details(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    variant = account.variant_by_code("TAZA-1")
    assert variant is not None
    page = bapi.get(f"{bsale.url}/v1/price_lists/1/details.json?variantid={variant.id}").json()
    assert page["count"] == 1
    detail = page["items"][0]
    assert detail["variantValueWithTaxes"] == 4990 and detail["variantValue"] == pytest.approx(4193.28)
    assert detail.keys() == official("bsale/price_list_details_response_official")["items"][0].keys()
    assert bapi.get(f"{bsale.url}/v1/price_lists/1/details.json?code=TAZA-1").json()["items"] == [detail]
    assert bapi.get(detail["href"]).json() == detail
    assert bapi.get(f"{bsale.url}/v1/price_lists/1/details.json?limit=2").json()["next"].endswith("limit=2&offset=2")


# --------------------------------------------------------------------------- documents


def test_boleta_with_dispatch_takes_stock(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    variant = account.variant_by_code("POL-S")
    assert variant is not None
    answer = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, salesId="order-1"))
    assert answer.status_code == 201
    document = answer.json()
    assert document.keys() >= official("bsale/document_post_boleta_response_official").keys()
    assert (document["netAmount"], document["taxAmount"], document["totalAmount"]) == (16790.0, 3190.0, 19980.0)
    assert document["number"] == 1 and document["salesId"] == "order-1" and document["informedSii"] == 0
    assert document["emissionDate"] == 1462492800  # truncated to the UTC date, as in the official example
    assert account.stock_of(variant.id, 2) == 3.0
    assert requests.get(document["urlPdf"]).content.startswith(b"%PDF")
    details = bapi.get(document["details"]["href"]).json()
    line = details["items"][0]
    assert (line["lineNumber"], line["quantity"], line["netUnitValue"]) == (1, 2.0, 8395.0)
    assert line["variant"]["id"] == variant.id and line["variant"]["code"] == "POL-S"
    assert bapi.get(document["href"]).json() == document


def test_official_boleta_example_totals(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    body = official("bsale/document_post_boleta_request_official")
    body["documentTypeId"] = str(account.document_type_by_code(39).id)  # type: ignore[union-attr]
    body["officeId"] = "1"
    document = bapi.post(f"{bsale.url}/v1/documents.json", json=body).json()
    expected = official("bsale/document_post_boleta_response_official")
    for key in ("emissionDate", "totalAmount", "netAmount", "taxAmount", "exemptAmount"):
        assert document[key] == expected[key], key


def test_sales_id_replay_answers_200_with_same_document(
    bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount
) -> None:
    first = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, salesId="JS-1026"))
    again = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, salesId="JS-1026"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(account.documents) == 1
    assert account.stock_of(account.variant_by_code("POL-S").id, 2) == 3.0  # type: ignore[union-attr]
    # The same salesId on another document type is another document (documented scope).
    factura = boleta(account, salesId="JS-1026", codeSii=33, client={
        "code": "76.000.000-0", "company": "ACME", "activity": "Comercio", "address": "Calle 1", "city": "Santiago",
        "municipality": "Providencia",
    })
    assert bapi.post(f"{bsale.url}/v1/documents.json", json=factura).status_code == 201
    # salesId is not a documented list filter: it is ignored.
    assert bapi.get(f"{bsale.url}/v1/documents.json?salesid=nope").json()["count"] == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"codeSii": 33}, "client attribute required : code,activity,address,city,municipality"),
        ({"codeSii": 33, "client": {"code": "1-9", "activity": "x", "address": "y", "city": "z"}},
         "client attribute required : code,activity,address,city,municipality"),
        ({"details": [{"code": "POL-S", "netUnitValue": 0, "quantity": 1}]},
         "Invalid net unit value, zero or negative values are not allowed for this type of document"),
        ({"details": [{"code": "POL-S", "netUnitValue": -5, "quantity": 1}]},
         "Invalid net unit value, zero or negative values are not allowed for this type of document"),
        ({"details": [{"code": "NOPE", "netUnitValue": 10, "quantity": 1}]}, "invalid variant"),
        ({"details": [{"variantId": 999999, "netUnitValue": 10, "quantity": 1}]}, "invalid variant"),
        ({"details": [{"code": "POL-S", "netUnitValue": 10, "quantity": 6}]},
         'There is no stock for this products: "POL-S"'),
        ({"details": [{"code": "NB-1", "netUnitValue": 10, "quantity": 1}]},
         "Use 'comment' to especify the serie of detailid to dispatch."),
        ({"codeSii": 61}, "invalid documentType"),
    ],
)
def test_document_errors(
    bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount, change: dict[str, Any], message: str
) -> None:
    answer = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, **change))
    assert answer.status_code == 400
    assert answer.json() == {"error": message}
    assert account.documents == {}


def test_negative_unlimited_serial_and_gloss_lines(
    bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount
) -> None:
    lines = [
        {"code": "PRE-1", "netUnitValue": 100, "quantity": 3, **IVA_LINE},  # allowNegativeStock, no stock
        {"code": "GIFT", "netUnitValue": 100, "quantity": 3, **IVA_LINE},  # unlimitedStock
        {"code": "NB-1", "netUnitValue": 100, "quantity": 1, "comment": "SN-0001", **IVA_LINE},  # serial
        {"comment": "Despacho", "netUnitValue": 2513, "quantity": 1, "taxId": "[1]"},  # gloss line
        {"code": "SERV-1", "netUnitValue": 100, "quantity": 1},  # service, exempt (no taxes)
    ]
    answer = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, details=lines))
    assert answer.status_code == 201, answer.text
    assert answer.json()["exemptAmount"] == 100.0
    assert account.stock_of(account.variant_by_code("PRE-1").id, 2) == -3.0  # type: ignore[union-attr]
    assert account.stock_of(account.variant_by_code("NB-1").id, 2) == 1.0  # type: ignore[union-attr]


def test_without_dispatch_stock_does_not_move(
    bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount
) -> None:
    answer = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, dispatch=0))
    assert answer.status_code == 201
    assert account.stock_of(account.variant_by_code("POL-S").id, 2) == 5.0  # type: ignore[union-attr]


def test_folios_exhausted(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    account.exhaust_folios(39)
    answer = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account))
    assert answer.json() == {"error": "does not have numbers available, check sii caf"}
    requests.put(f"{bsale.url}/_sandbox/accounts/2/folios", json={"code_sii": 39, "exhausted": False})
    assert bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account)).status_code == 201


def test_folio_numbers_increment_per_type(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    numbers = [bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, dispatch=0)).json()["number"]
               for _ in range(3)]
    assert numbers == [1, 2, 3]


def test_document_details_are_paginated(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    lines = [{"comment": f"linea {n}", "netUnitValue": 10, "quantity": 1} for n in range(30)]
    document = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, details=lines)).json()
    page = bapi.get(document["details"]["href"]).json()
    assert page["count"] == 30 and len(page["items"]) == 25 and "next" in page
    assert [i["lineNumber"] for i in bapi.get(page["next"]).json()["items"]] == list(range(26, 31))


# --------------------------------------------------------------------------- returns and stock movements


def test_return_creates_credit_note_and_restores_stock(
    bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount
) -> None:
    variant = account.variant_by_code("POL-S")
    assert variant is not None
    document = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account)).json()
    detail_id = bapi.get(document["details"]["href"]).json()["items"][0]["id"]
    body = {
        "documentTypeId": account.document_type_by_code(61).id,  # type: ignore[union-attr]
        "officeId": 2, "referenceDocumentId": document["id"], "emissionDate": 1407384000, "motive": "anulación",
        "declareSii": 1, "priceAdjustment": 0, "editTexts": 0, "type": 0,
        "client": {"code": "1-9", "city": "x", "municipality": "y", "activity": "z", "address": "w"},
        "details": [{"documentDetailId": detail_id, "quantity": 2, "unitValue": 0}],
    }
    answer = bapi.post(f"{bsale.url}/v1/returns.json", json=body)
    assert answer.status_code == 201
    created = answer.json()
    assert created.keys() == official("bsale/return_post_response_official").keys()
    assert created["amount"] == document["totalAmount"]
    assert account.stock_of(variant.id, 2) == 5.0
    credit_note = bapi.get(created["credit_note"]["href"]).json()
    assert credit_note["totalAmount"] == document["totalAmount"]
    listed = bapi.get(f"{bsale.url}/v1/returns.json?referencedocumentid={document['id']}").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == created["id"]
    again = bapi.post(f"{bsale.url}/v1/returns.json", json=body | {"details": [
        {"documentDetailId": detail_id, "quantity": 1, "unitValue": 0}]})
    assert again.status_code == 400
    assert again.json() == {
        "error": f'The quantity returned (1.0) is higher than the available (0.0) for detail: "{detail_id}"'
    }


def test_return_errors(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    document = bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account)).json()
    no_reference = bapi.post(f"{bsale.url}/v1/returns.json", json={"details": []})
    assert no_reference.json() == {"error": "the json does not have reference document"}
    bad_detail = bapi.post(f"{bsale.url}/v1/returns.json", json={
        "referenceDocumentId": document["id"], "details": [{"documentDetailId": 1, "quantity": 1, "unitValue": 0}]})
    assert bad_detail.json() == {"error": "invalid reference detail"}


def test_consumptions_take_stock_without_dedup(
    bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount
) -> None:
    variant = account.variant_by_code("TAZA-1")
    assert variant is not None
    body: dict[str, Any] = {"note": "venta JS-1", "officeId": 2, "details": [{"quantity": 2, "variantId": variant.id}]}
    for _ in range(2):
        assert bapi.post(f"{bsale.url}/v1/stocks/consumptions.json", json=body).status_code == 201
    assert account.stock_of(variant.id, 2) == 16.0  # the same body twice consumed twice
    too_much = bapi.post(f"{bsale.url}/v1/stocks/consumptions.json", json=body | {
        "details": [{"quantity": 100, "code": "TAZA-1"}]})
    assert too_much.status_code == 400
    received = bapi.post(f"{bsale.url}/v1/stocks/receptions.json", json={
        "document": "Guía", "officeId": 2, "documentNumber": "123", "details": [{"quantity": 4, "code": "TAZA-1",
                                                                                 "cost": 1000}]})
    assert received.status_code == 201 and received.json()["documentNumber"] == "123"
    assert account.stock_of(variant.id, 2) == 20.0
    assert bapi.get(f"{bsale.url}/v1/stocks/consumptions.json").json()["count"] == 2


# --------------------------------------------------------------------------- notifications


def _keys(name: str) -> set[str]:
    return set(official(f"bsale/{name}"))


def test_notification_shapes_match_official(bsale: BsaleSandbox, account: BsaleAccount, receiver: Receiver,
                                            bapi: requests.Session) -> None:
    bsale.subscribe(account.cpn_id, receiver.url)
    variant = account.variant_by_code("TAZA-1")
    assert variant is not None
    account.set_stock(variant.id, 2, 7)
    account.set_price(1, variant.id, 5990)
    product = account.add_product("Nuevo", [{"code": "NEW-1"}])
    account.update_variant(variant.id, description="Taza grande")
    bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account, dispatch=0))
    deliveries = bsale.wait_deliveries(6)
    payloads = {(d.payload["topic"], d.payload["action"]): d.payload for d in deliveries}
    stock = payloads[("stock", "put")]
    assert set(stock) == _keys("webhook_stock_official")
    assert stock == {"cpnId": 2, "resource": f"/v2/stocks.json?variant={variant.id}&office=2",
                     "resourceId": str(variant.id), "topic": "stock", "action": "put", "officeId": "2",
                     "send": stock["send"]}
    assert isinstance(stock["send"], int)
    price = payloads[("price", "put")]
    assert set(price) == _keys("webhook_price_official")
    assert price["resource"] == f"/v2/price_lists/1/details.json?variant={variant.id}" and price["priceListId"] == "1"
    assert set(payloads[("product", "post")]) == _keys("webhook_product_post_official")
    assert payloads[("product", "post")]["resource"] == f"/v2/products/{product.id}.json"
    assert set(payloads[("variant", "put")]) == _keys("webhook_variant_put_official")
    document = payloads[("document", "post")]
    assert set(document) == _keys("webhook_document_official") | {"send"}  # real captures carry `send` too
    assert document["resource"].startswith("/documents/") and document["officeId"] == "2"
    assert all(d.status == 200 for d in deliveries)
    assert all(r.headers["Content-Type"] == "application/json" for r in receiver.wait(6))


def test_dispatch_notifies_stock_and_document(
    bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount, receiver: Receiver
) -> None:
    bsale.subscribe(account.cpn_id, receiver.url)
    bapi.post(f"{bsale.url}/v1/documents.json", json=boleta(account))
    topics = sorted(d.payload["topic"] for d in bsale.wait_deliveries(2))
    assert topics == ["document", "stock"]


def test_paused_notifications_are_not_sent(bsale: BsaleSandbox, account: BsaleAccount, receiver: Receiver) -> None:
    bsale.subscribe(account.cpn_id, receiver.url)
    bsale.notifications_enabled = False
    account.set_stock(account.variant_by_code("TAZA-1").id, 2, 1)  # type: ignore[union-attr]
    assert bsale.suppressed and bsale.deliveries == []
    bsale.notifications_enabled = True
    account.set_stock(account.variant_by_code("TAZA-1").id, 2, 2)  # type: ignore[union-attr]
    assert len(bsale.wait_deliveries(1)) == 1


def test_failed_deliveries_are_logged(bsale: BsaleSandbox, account: BsaleAccount, receiver: Receiver) -> None:
    receiver.status = 500
    bsale.subscribe(account.cpn_id, receiver.url)
    bsale.subscribe(account.cpn_id, "http://127.0.0.1:9/unreachable")
    account.set_stock(account.variant_by_code("TAZA-1").id, 2, 1)  # type: ignore[union-attr]
    failed, unreachable = bsale.wait_deliveries(2)
    assert failed.status == 500 and not failed.ok
    assert unreachable.status is None and unreachable.error


# --------------------------------------------------------------------------- admin HTTP API


def test_admin_http_api(bsale: BsaleSandbox) -> None:
    created = requests.post(f"{bsale.url}/_sandbox/demo", json={"token": "t-admin", "cpn_id": 77})
    assert created.status_code == 201
    variant_id = next(v["id"] for v in created.json()["variants"] if v["code"] == "TAZA-1")
    assert requests.put(f"{bsale.url}/_sandbox/accounts/77/stock",
                        json={"variant_id": variant_id, "office_id": 2, "quantity": 3}).json()["quantity"] == 3.0
    price = requests.put(f"{bsale.url}/_sandbox/accounts/77/price",
                         json={"price_list_id": 1, "variant_id": variant_id, "gross": 1190})
    assert price.json()["variantValue"] == 1000
    product = requests.post(f"{bsale.url}/_sandbox/accounts/77/products",
                            json={"name": "X", "variants": [{"code": "X-1", "stock": {"2": 4}}]}).json()
    assert bsale.account(77).stock_of(product["variants"][0]["id"], 2) == 4.0
    assert requests.post(f"{bsale.url}/_sandbox/subscriptions", json={"cpn_id": 77, "url": "http://x"}).ok
    assert requests.put(f"{bsale.url}/_sandbox/notifications", json={"enabled": False}).json() == {"enabled": False}
    state = requests.get(f"{bsale.url}/_sandbox/state").json()
    assert state["accounts"][0]["cpnId"] == 77 and state["notificationsEnabled"] is False
    assert requests.get(f"{bsale.url}/_sandbox/accounts/1/stock").status_code == 405
    assert requests.put(f"{bsale.url}/_sandbox/accounts/999/stock", json={}).status_code == 404
