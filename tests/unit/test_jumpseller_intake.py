"""Acknowledging a Jumpseller webhook (bridge/intake/jumpseller.py): which store, signed or not, which queue.

The table, SSM and SQS are replaced by dictionaries here: what is pinned is the order of the checks and what a
stranger learns from the answer (nothing: an unknown store is answered exactly as a bad signature)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bridge import queue
from bridge.errors import BadRequest, PayloadTooLarge, UnknownShop, UnknownStore
from bridge.intake import jumpseller
from bridge.intake.jumpseller import MAX_ID, NOT_SIGNED, accept, signature
from bridge.settings import settings

TOKEN = "hooks-secret"
looked_up: list[str] = []  # store codes the table was asked about


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, queue.WorkMessage]]]:
    monkeypatch.setenv("ORDER_QUEUE_URL", "https://sqs/orders")
    monkeypatch.setenv("CATALOG_QUEUE_URL", "https://sqs/catalog")
    settings.cache_clear()
    looked_up.clear()
    stores = {"demo-store": object(), "no-token": object()}
    tokens = {"demo-store": TOKEN}

    def hooks_token(shop_id: str) -> str:
        if shop_id not in tokens:
            raise UnknownShop(f"no hooks token stored for shop '{shop_id}'")
        return tokens[shop_id]

    out: list[tuple[str, queue.WorkMessage]] = []

    def get(shop_id: str) -> object:
        looked_up.append(shop_id)
        return stores.get(shop_id)

    monkeypatch.setattr(jumpseller.shops, "get", get)
    monkeypatch.setattr(jumpseller.secrets, "hooks_token", hooks_token)
    monkeypatch.setattr(jumpseller.queue, "send", lambda url, message: out.append((url, message)))
    last: dict[tuple[str, int], str] = {}  # the table's product event items, without their window

    def is_new(shop_id: str, product_id: int, digest: str, now: int) -> bool:
        new = last.get((shop_id, product_id)) != digest
        last[(shop_id, product_id)] = digest
        return new

    def let_go(shop_id: str, product_id: int, digest: str) -> None:
        if last.get((shop_id, product_id)) == digest:
            del last[(shop_id, product_id)]

    monkeypatch.setattr(jumpseller.product_events, "is_new", is_new)
    monkeypatch.setattr(jumpseller.product_events, "let_go", let_go)
    yield out
    settings.cache_clear()


def post(event: str, body: Any, *, store: str = "demo-store", token: str = TOKEN) -> queue.WorkMessage:
    raw = json.dumps(body).encode()
    headers = {"jumpseller-store-code": store, "jumpseller-event": event,
               "jumpseller-hmac-sha256": signature(token, raw)}
    return accept(headers, raw)


def test_order_events_go_to_the_order_queue_and_product_events_to_the_catalog_queue(
    sent: list[tuple[str, queue.WorkMessage]],
) -> None:
    order = post("order_paid", {"order": {"id": 7}})
    product = post("product_updated", {"product": {"id": 8}})
    assert [(url, m.subject) for url, m in sent] == [("https://sqs/orders", "order 7"),
                                                      ("https://sqs/catalog", "product 8")]
    assert (order.kind, order.shop_id, order.payload) == ("jumpseller.webhook", "demo-store",
                                                          {"event": "order_paid", "body": {"order": {"id": 7}}})
    assert product.payload["event"] == "product_updated"


def test_the_store_header_is_read_trimmed_and_in_lower_case(sent: list[tuple[str, queue.WorkMessage]]) -> None:
    assert post("order_paid", {"order": {"id": 7}}, store="  Demo-Store ").shop_id == "demo-store"


@pytest.mark.parametrize("store", ["other-store", "no-token", "../demo-store", ""])
def test_a_store_that_is_not_connected_is_answered_as_a_bad_signature(
    sent: list[tuple[str, queue.WorkMessage]], store: str,
) -> None:
    with pytest.raises(UnknownStore) as caught:
        post("order_paid", {"order": {"id": 7}}, store=store)
    assert caught.value.reason == NOT_SIGNED and caught.value.status == 401
    assert sent == []
    # a code that cannot be a store's is not even looked up
    assert looked_up == ([store] if store in ("other-store", "no-token") else [])


def test_an_unsigned_body_is_never_read(sent: list[tuple[str, queue.WorkMessage]]) -> None:
    with pytest.raises(Exception, match="not signed") as caught:
        post("nonsense", "not even an object", token="other-secret")
    assert caught.value.status == 401  # type: ignore[attr-defined]
    assert sent == []


def test_an_unsupported_event_is_refused_by_name(sent: list[tuple[str, queue.WorkMessage]]) -> None:
    with pytest.raises(BadRequest, match="^unsupported Jumpseller-Event 'customer_created'$"):
        post("customer_created", {"customer": {"id": 1}})
    raw = b'{"order": {"id": 7}}'
    with pytest.raises(BadRequest, match="^unsupported Jumpseller-Event ''$"):  # no event header at all
        accept({"jumpseller-store-code": "demo-store", "jumpseller-hmac-sha256": signature(TOKEN, raw)}, raw)
    with pytest.raises(BadRequest) as caught:  # a long name is quoted cut to 40 characters
        post("e" * 50, {"order": {"id": 7}})
    assert caught.value.reason == f"unsupported Jumpseller-Event '{'e' * 40}'"
    assert sent == []


@pytest.mark.parametrize(("event", "body", "subject"), [
    ("order_paid", {"order": {"id": 1}}, "order 1"),
    ("order_paid", {"id": MAX_ID}, f"order {MAX_ID}"),  # an unwrapped body names its own id
    ("product_deleted", {"product": {"id": 3}}, "product 3"),
])
def test_the_subject_names_the_order_or_product(
    sent: list[tuple[str, queue.WorkMessage]], event: str, body: Any, subject: str,
) -> None:
    assert post(event, body).subject == subject


@pytest.mark.parametrize("body", [{"order": {"id": 0}}, {"order": {"id": MAX_ID + 1}}, {"order": {"id": True}},
                                  {"order": {"id": "7"}}, {"order": {}}, {"order": [7]}, {"product": {"id": 7}}])
def test_an_order_without_a_usable_id_is_refused(sent: list[tuple[str, queue.WorkMessage]], body: Any) -> None:
    with pytest.raises(BadRequest, match=r"^order\.id missing or not an integer$"):
        post("order_paid", body)
    assert sent == []


def test_an_oversized_body_is_refused_before_anything_is_looked_up(
    sent: list[tuple[str, queue.WorkMessage]],
) -> None:
    with pytest.raises(PayloadTooLarge):
        post("order_paid", {"order": {"id": 7}, "pad": "x" * settings().max_body_bytes}, store="nobody")


def test_a_product_event_that_changes_nothing_the_catalog_worker_follows_is_not_queued(
    sent: list[tuple[str, queue.WorkMessage]],
) -> None:
    """Our own stock writes come back as product events: ids, SKUs, names and prices unchanged."""
    product = {"id": 8, "name": "Taza", "price": 4990, "sku": None, "stock": 5, "status": "available",
               "variants": [{"id": 81, "sku": "TAZA-R", "price": 4990, "stock": 5},
                            {"id": 82, "sku": "TAZA-A", "price": 4990, "stock": 2}]}
    assert post("product_updated", {"product": product}) is not None
    echo = {**product, "stock": 4, "updated_at": "2026-12-03T10:00:01Z",
            "variants": [{**product["variants"][0], "stock": 4}, product["variants"][1]]}
    assert post("product_updated", {"product": echo}) is None
    assert post("product_stock_updated", {"product": echo}) is None
    repriced = {**echo, "variants": [{**product["variants"][0], "price": 5990}, product["variants"][1]]}
    renamed, new_sku = {**product, "name": "Taza grande"}, {**product, "sku": "TAZA"}
    assert all(post("product_updated", {"product": p}) is not None for p in (repriced, renamed, new_sku))
    assert post("product_deleted", {"product": new_sku}) is not None  # never silenced
    assert post("product_created", {"product": new_sku}) is not None
    assert post("product_updated", {"product": {**product, "id": 9}}) is not None  # another product
    assert [m.subject for _, m in sent] == ["product 8"] * 6 + ["product 9"]


def test_a_product_event_of_unusual_shape_is_always_queued(sent: list[tuple[str, queue.WorkMessage]]) -> None:
    body = {"product": {"id": 8, "variants": "not a list"}}
    assert post("product_updated", body) is not None and post("product_updated", body) is not None
    assert len(sent) == 2


def test_a_product_event_that_could_not_be_queued_is_queued_when_jumpseller_retries_it(
    sent: list[tuple[str, queue.WorkMessage]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = {"product": {"id": 8, "name": "Taza", "price": 4990, "sku": "TAZA", "status": "available", "variants": []}}
    failing = ConnectionError("SQS unreachable")

    def send(url: str, message: queue.WorkMessage) -> None:
        raise failing

    with monkeypatch.context() as down:
        down.setattr(jumpseller.queue, "send", send)
        with pytest.raises(ConnectionError):
            post("product_updated", body)  # answered 5xx: Jumpseller sends it again
    assert post("product_updated", body) is not None
    assert [m.subject for _, m in sent] == ["product 8"]
