"""Jumpseller sandbox: auth, rate limits, products/variants, hooks, webhooks + HMAC, orders, OpenAPI checking."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
import requests

from sandboxes import FakeClock, JumpsellerSandbox, JumpsellerStore
from sandboxes.jumpseller import JsProduct, JsVariant
from tests.conftest import official
from tests.sandboxes.conftest import Receiver


def api(sandbox: JumpsellerSandbox) -> str:
    return sandbox.url + "/v1"


def with_variant(store: JumpsellerStore, sku: str) -> tuple[JsProduct, JsVariant]:
    found = store.find_sku(sku)
    assert found is not None and found[1] is not None
    return found[0], found[1]


def plain(store: JumpsellerStore, sku: str) -> JsProduct:
    found = store.find_sku(sku)
    assert found is not None and found[1] is None
    return found[0]


# --------------------------------------------------------------------------- auth and limits


def test_basic_auth_query_auth_and_401(jumpseller: JumpsellerSandbox, store: JumpsellerStore) -> None:
    assert requests.get(api(jumpseller) + "/products.json", auth=(store.login, store.auth_token)).status_code == 200
    query = {"login": store.login, "authtoken": store.auth_token}  # deprecated form, still accepted
    assert requests.get(api(jumpseller) + "/products.json", params=query).status_code == 200
    for auth in [(store.login, "wrong"), ("nobody", store.auth_token)]:
        answer = requests.get(api(jumpseller) + "/products.json", auth=auth)
        assert answer.status_code == 401 and "message" in answer.json()
    assert requests.get(api(jumpseller) + "/products.json").status_code == 401
    assert jumpseller.violations == []


def test_rate_limit_headers_and_429(clock: FakeClock) -> None:
    with JumpsellerSandbox(rate_limit_per_second=20, rate_limit_per_minute=800, clock=clock) as sandbox:
        store = sandbox.add_store("s1", login="l1", auth_token="t1")
        sandbox.add_store("s2", login="l2", auth_token="t2")
        session = requests.Session()
        session.auth = ("l1", "t1")
        first = session.get(api(sandbox) + "/products.json")
        assert first.headers["Jumpseller-PerMinuteRateLimit-Limit"] == "800"
        assert first.headers["Jumpseller-PerMinuteRateLimit-Remaining"] == "799"
        assert first.headers["Jumpseller-PerSecondRateLimit-Limit"] == "20"
        assert first.headers["Jumpseller-PerSecondRateLimit-Remaining"] == "19"
        codes = [session.get(api(sandbox) + "/products/count.json").status_code for _ in range(20)]
        assert codes == [200] * 19 + [429]
        limited = session.get(api(sandbox) + "/products.json")
        assert limited.status_code == 429 and limited.headers["Jumpseller-PerSecondRateLimit-Remaining"] == "0"
        assert requests.get(api(sandbox) + "/products.json", auth=("l2", "t2")).status_code == 200  # per store
        clock.advance(1.0)
        assert session.get(api(sandbox) + "/products.json").status_code == 200
        assert store.code == "s1"


def test_per_minute_limit(clock: FakeClock) -> None:
    with JumpsellerSandbox(rate_limit_per_second=None, rate_limit_per_minute=5, clock=clock) as sandbox:
        sandbox.add_store("s1", login="l1", auth_token="t1")
        codes = [requests.get(api(sandbox) + "/products.json", auth=("l1", "t1")).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        clock.advance(59)
        assert requests.get(api(sandbox) + "/products.json", auth=("l1", "t1")).status_code == 429
        clock.advance(1.1)
        assert requests.get(api(sandbox) + "/products.json", auth=("l1", "t1")).status_code == 200


def test_faults_answer_in_jumpseller_format(jumpseller: JumpsellerSandbox, japi: requests.Session) -> None:
    jumpseller.faults.add(status=500, path_contains="/products")
    answer = japi.get(api(jumpseller) + "/products.json")
    assert answer.status_code == 500 and "message" in answer.json()


# --------------------------------------------------------------------------- products and variants


def test_product_list_pagination_and_count(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                           store: JumpsellerStore) -> None:
    for n in range(120):
        store.add_product(f"Producto {n}", sku=f"P-{n}", stock=n, price=1000 + n, notify=False)
    assert japi.get(api(jumpseller) + "/products/count.json").json() == {"count": 123}
    first = japi.get(api(jumpseller) + "/products.json").json()
    assert len(first) == 50 and first[0]["product"]["id"] < first[1]["product"]["id"]
    pages = [japi.get(api(jumpseller) + "/products.json", params={"limit": 100, "page": p}).json() for p in (1, 2)]
    assert [len(p) for p in pages] == [100, 23]
    assert set(first[0]["product"]) >= set(official("jumpseller/products_list_official")[0]["product"])
    assert jumpseller.violations == []


def test_product_with_and_without_variants(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                           store: JumpsellerStore) -> None:
    listed = {p["product"]["name"]: p["product"] for p in japi.get(api(jumpseller) + "/products.json").json()}
    polera, taza = listed["Polera"], listed["Taza"]
    assert taza["variants"] == [] and (taza["sku"], taza["stock"], taza["price"]) == ("TAZA-1", 20, 4990.0)
    assert [v["sku"] for v in polera["variants"]] == ["POL-S", "POL-M"] and polera["stock"] == 8
    variant = polera["variants"][0]
    assert {"id", "price", "sku", "barcode", "stock", "stock_unlimited", "options"} <= set(variant)
    assert variant["options"][0]["name"] == "Talla" and variant["options"][0]["value"] == "S"
    single = japi.get(f"{api(jumpseller)}/products/{polera['id']}/variants/{variant['id']}.json").json()
    assert single == {"variant": variant}
    assert japi.get(f"{api(jumpseller)}/products/{polera['id']}/variants.json").json()[0] == {"variant": variant}
    assert japi.get(f"{api(jumpseller)}/products/{taza['id']}.json").json() == {"product": taza}
    missing = japi.get(f"{api(jumpseller)}/products/999999.json")
    assert missing.status_code == 404 and "message" in missing.json()
    assert jumpseller.violations == []


def test_put_updates_stock_and_price(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                     store: JumpsellerStore) -> None:
    taza = store.find_sku("TAZA-1")
    polera_s = store.find_sku("POL-S")
    assert taza is not None and polera_s is not None
    answer = japi.put(f"{api(jumpseller)}/products/{taza[0].id}.json",
                      json={"product": {"name": "Taza", "stock": 7, "price": 5990}})
    assert answer.status_code == 200 and answer.json()["product"]["stock"] == 7
    product, variant = polera_s
    assert variant is not None
    answer = japi.put(f"{api(jumpseller)}/products/{product.id}/variants/{variant.id}.json",
                      json={"variant": {"stock": 1, "stock_unlimited": False, "price": 12990}})
    assert answer.json()["variant"]["stock"] == 1 and answer.json()["variant"]["price"] == 12990
    assert store.stock_of(product.id, variant.id) == 1 and store.stock_of(taza[0].id) == 7
    # Product-level stock of a product with variants is not where stock lives: no effect.
    japi.put(f"{api(jumpseller)}/products/{product.id}.json",
             json={"product": {"name": "Polera", "price": 9990, "stock": 50}})
    assert store.stock_of(product.id, variant.id) == 1
    assert jumpseller.violations == []


def test_partial_product_put_is_what_the_official_spec_rejects(jumpseller: JumpsellerSandbox,
                                                               japi: requests.Session, store: JumpsellerStore) -> None:
    # The spec requires name and price on a product PUT; partial bodies work in practice, but not here.
    taza = store.find_sku("TAZA-1")
    assert taza is not None
    answer = japi.put(f"{api(jumpseller)}/products/{taza[0].id}.json", json={"product": {"stock": 7}})
    assert answer.status_code == 400
    assert [v.path for v in jumpseller.violations] == [f"/v1/products/{taza[0].id}.json"]
    jumpseller.violations.clear()


def test_spec_rejected_requests_land_in_violations(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                                   store: JumpsellerStore) -> None:
    product_id = plain(store, "TAZA-1").id
    bad = japi.put(f"{api(jumpseller)}/products/{product_id}.json", json={"product": {"stock": "7"}})
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("sandbox: request rejected by the official OpenAPI spec: ")
    assert "$.product.stock" in bad.json()["message"]
    assert store.stock_of(product_id) == 20  # nothing changed
    assert japi.get(api(jumpseller) + "/products.json", params={"limit": 101}).status_code == 400
    assert japi.post(api(jumpseller) + "/hooks.json", json={"hook": {"event": "order_created", "url": "x"}}
                     ).status_code == 400
    assert japi.get(api(jumpseller) + "/products/sku/TAZA-1.json").status_code == 400  # not in the current spec
    assert japi.get(api(jumpseller) + "/products/search.json").status_code == 400  # query is required
    assert [v.direction for v in jumpseller.violations] == ["request"] * 5
    assert jumpseller.violations[0].path == f"/v1/products/{product_id}.json"


def test_response_violations_are_recorded(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                          store: JumpsellerStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a sandbox bug: a variant serialised with a string stock.
    monkeypatch.setattr(JsVariant, "to_json", lambda self: {"id": self.id, "stock": "many"})
    product, variant = with_variant(store, "POL-S")
    assert japi.get(f"{api(jumpseller)}/products/{product.id}/variants/{variant.id}.json").status_code == 200
    [violation] = jumpseller.violations
    assert violation.direction == "response" and "$.variant.stock" in violation.reason


def test_search_by_sku_substring(jumpseller: JumpsellerSandbox, japi: requests.Session) -> None:
    def search(**params: str) -> list[str]:
        answer = japi.get(api(jumpseller) + "/products/search.json", params=params)
        return [p["product"]["name"] for p in answer.json()]

    assert search(query="POL-S", fields="sku") == []  # variant SKUs need fields=variants
    assert search(query="POL-S", fields="sku,variants") == ["Polera"]
    assert search(query="pol", fields="sku,variants") == ["Polera"]  # substring, case-insensitive
    assert search(query="TAZA", fields="sku") == ["Taza"]
    assert search(query="taza") == ["Taza"]
    assert jumpseller.violations == []


def test_create_and_delete_product(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                   store: JumpsellerStore) -> None:
    created = japi.post(api(jumpseller) + "/products.json",
                        json={"product": {"name": "Nuevo", "price": 1990, "sku": "NEW-1", "stock": 3}})
    assert created.status_code == 200
    product_id = created.json()["product"]["id"]
    variant = japi.post(f"{api(jumpseller)}/products/{product_id}/variants.json",
                        json={"variant": {"sku": "NEW-1-A", "price": 2990, "stock": 2}})
    assert variant.json()["variant"]["sku"] == "NEW-1-A"
    assert japi.delete(f"{api(jumpseller)}/products/{product_id}.json").status_code == 200
    assert japi.get(f"{api(jumpseller)}/products/{product_id}.json").status_code == 404
    assert japi.post(api(jumpseller) + "/products.json", json={"product": {"sku": "X"}}).status_code == 400
    assert len(jumpseller.violations) == 1


# --------------------------------------------------------------------------- store info and hooks


def test_store_info(jumpseller: JumpsellerSandbox, japi: requests.Session, store: JumpsellerStore) -> None:
    info = japi.get(api(jumpseller) + "/store/info.json").json()["store"]
    assert (info["code"], info["hooks_token"], info["currency"], info["country"]) == (
        store.code, "hooks-secret", "CLP", "CL")
    assert info["timezone"] == "America/Santiago"
    assert jumpseller.violations == []


def test_hooks_crud(jumpseller: JumpsellerSandbox, japi: requests.Session) -> None:
    created = japi.post(api(jumpseller) + "/hooks.json", json={"hook": {"event": "order_paid", "url": "https://a"}})
    hook = created.json()["hook"]
    assert set(hook) == {"id", "name", "event", "url", "created_at", "application_id"} and hook["name"] is None
    url = f"{api(jumpseller)}/hooks/{hook['id']}.json"
    assert japi.get(url).json()["hook"] == hook
    updated = japi.put(url, json={"hook": {"event": "order_paid", "url": "https://b"}}).json()["hook"]
    assert updated["url"] == "https://b"
    assert [h["hook"]["id"] for h in japi.get(api(jumpseller) + "/hooks.json").json()] == [hook["id"]]
    assert japi.delete(url).status_code == 200
    assert japi.get(url).status_code == 404
    assert jumpseller.violations == []


# --------------------------------------------------------------------------- webhooks


def _subscribe(japi: requests.Session, jumpseller: JumpsellerSandbox, receiver: Receiver, *events: str) -> None:
    for event in events:
        japi.post(api(jumpseller) + "/hooks.json", json={"hook": {"event": event, "url": receiver.url}})


def test_deliver_signs_with_hooks_token(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                        store: JumpsellerStore, receiver: Receiver) -> None:
    _subscribe(japi, jumpseller, receiver, "order_paid")
    payload = official("jumpseller/order_webhook_official")
    [delivery] = jumpseller.deliver(store.code, "order_paid", payload, sync=True)
    assert delivery.status == 200
    [got] = receiver.received
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Jumpseller-Event"] == "order_paid"
    assert got.headers["Jumpseller-Store-Code"] == store.code
    expected = base64.b64encode(hmac.new(b"hooks-secret", got.body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(got.headers["Jumpseller-Hmac-Sha256"], expected)
    assert json.loads(got.body) == payload
    assert jumpseller.deliver(store.code, "order_canceled", payload) == []  # nobody subscribed


def test_admin_product_changes_fire_hooks(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                          store: JumpsellerStore, receiver: Receiver) -> None:
    _subscribe(japi, jumpseller, receiver, "product_created", "product_updated", "product_deleted")
    product = store.add_product("Nuevo", sku="N-1", stock=1, price=100)
    store.update_product(product.id, price=200)
    store.delete_product(product.id)
    deliveries = jumpseller.wait_deliveries(3)
    assert [d.topic for d in deliveries] == ["product_created", "product_updated", "product_deleted"]
    assert all(set(d.payload) == {"product"} for d in deliveries)
    assert deliveries[1].payload["product"]["price"] == 200


def test_webhook_timeout_is_logged(receiver: Receiver) -> None:
    with JumpsellerSandbox(webhook_timeout=0.2) as sandbox:
        other = sandbox.add_store("x", login="lx", auth_token="tx")
        requests.post(api(sandbox) + "/hooks.json", auth=("lx", "tx"),
                      json={"hook": {"event": "order_paid", "url": receiver.url}})
        receiver.delay = 0.5
        [delivery] = sandbox.deliver(other.code, "order_paid", {"order": {}}, sync=True)
        assert delivery.status is None and "timed out" in (delivery.error or "")


# --------------------------------------------------------------------------- orders


def test_order_lifecycle_moves_stock_and_fires_hooks(jumpseller: JumpsellerSandbox, japi: requests.Session,
                                                     store: JumpsellerStore, receiver: Receiver) -> None:
    _subscribe(japi, jumpseller, receiver, "order_pending_payment", "order_paid", "order_canceled")
    polera, variant = with_variant(store, "POL-S")
    taza = plain(store, "TAZA-1")
    order = store.create_order(
        [(polera.id, variant.id, 2), (taza.id, None, 1)],
        billing={"taxid": "11.111.111-1"},
        additional_fields=[{"label": "Tipo de Documento", "value": "factura"}],
        shipping=3000,
    )
    assert store.stock_of(polera.id, variant.id) == 3 and store.stock_of(taza.id) == 19
    store.pay_order(order.id)
    assert store.stock_of(taza.id) == 19
    store.cancel_order(order.id)
    assert store.stock_of(polera.id, variant.id) == 5 and store.stock_of(taza.id) == 20
    deliveries = jumpseller.wait_deliveries(3)
    assert [d.topic for d in deliveries] == ["order_pending_payment", "order_paid", "order_canceled"]
    pending = deliveries[0].payload["order"]
    reference = official("jumpseller/order_webhook_official")["order"]
    assert set(reference) <= set(pending)
    assert set(reference["products"][0]) <= set(pending["products"][0])
    assert (pending["status"], pending["status_enum"]) == ("Pending Payment", "pending_payment")
    assert pending["subtotal"] == 2 * 9990 + 4990 and pending["total"] == pending["subtotal"] + 3000
    assert pending["billing_address"]["taxid"] == "11.111.111-1"
    assert pending["additional_fields"][0]["value"] == "factura"
    assert pending["products"][0]["variant_id"] == variant.id and pending["products"][1]["variant_id"] is None
    assert deliveries[1].payload["order"]["status_enum"] == "paid"


def test_abandon_returns_stock_and_rules(store: JumpsellerStore) -> None:
    taza = plain(store, "TAZA-1")
    order = store.create_order([(taza.id, None, 5)])
    store.abandon_order(order.id)
    assert store.stock_of(taza.id) == 20
    with pytest.raises(ValueError):
        store.pay_order(order.id)
    with pytest.raises(ValueError):
        store.create_order([(taza.id, None, 21)])  # more than the stock
    gift = plain(store, "GIFT")
    store.create_order([(gift.id, None, 1000)])  # unlimited stock


def test_orders_api(jumpseller: JumpsellerSandbox, japi: requests.Session, store: JumpsellerStore) -> None:
    taza = plain(store, "TAZA-1")
    first = store.create_order([(taza.id, None, 1)])
    second = store.create_order([(taza.id, None, 1)])
    store.pay_order(second.id)
    listed = japi.get(api(jumpseller) + "/orders.json").json()
    assert [o["order"]["id"] for o in listed] == [second.id, first.id]
    paid = japi.get(api(jumpseller) + "/orders.json", params={"status_filters[]": "paid"}).json()
    assert [o["order"]["id"] for o in paid] == [second.id]
    url = f"{api(jumpseller)}/orders/{first.id}.json"
    assert japi.get(url).json()["order"]["status_enum"] == "pending_payment"
    assert japi.put(url, json={"order": {"status": "Paid"}}).json()["order"]["status_enum"] == "paid"
    document: dict[str, Any] = {"document": {"document_type": 1, "external_id": "4000", "url": "https://x/b.pdf"}}
    created = japi.post(f"{url[:-5]}/documents.json", json=document).json()["document"]
    assert created["order_id"] == first.id and created["external_id"] == "4000"
    assert japi.get(f"{url[:-5]}/documents.json").json() == [{"document": created}]
    history = japi.post(f"{url[:-5]}/history.json", json={"order_history": {"message": "Boleta 1 emitida"}})
    assert history.json()["order_history"]["message"] == "Boleta 1 emitida"
    assert japi.get(api(jumpseller) + "/orders/count.json").json() == {"count": 2}
    assert jumpseller.violations == []


def test_admin_http_api(jumpseller: JumpsellerSandbox) -> None:
    created = requests.post(jumpseller.url + "/_sandbox/demo", json={"code": "s9", "login": "l9", "auth_token": "t9"})
    assert created.status_code == 201
    taza = next(p for p in created.json()["products"] if p["sku"] == "TAZA-1")
    order = requests.post(jumpseller.url + "/_sandbox/stores/s9/orders",
                          json={"products": [[taza["id"], None, 2]], "shipping": 1000}).json()["order"]
    assert order["status_enum"] == "pending_payment"
    paid = requests.post(f"{jumpseller.url}/_sandbox/stores/s9/orders/{order['id']}/pay").json()["order"]
    assert paid["status_enum"] == "paid"
    requests.put(f"{jumpseller.url}/_sandbox/stores/s9/products/{taza['id']}", json={"stock": 3})
    assert jumpseller.store("s9").stock_of(taza["id"]) == 3
    assert requests.get(jumpseller.url + "/_sandbox/violations").json() == []
    state: dict[str, Any] = requests.get(jumpseller.url + "/_sandbox/state").json()
    assert state["stores"][0]["code"] == "s9"
