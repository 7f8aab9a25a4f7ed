"""Bad input gets a clear 4xx, and nothing is enqueued or written."""

from __future__ import annotations

import json

import pytest
import requests

from bridge.store import shops
from demo import DemoShop
from devstack import LocalStack
from sandboxes.jumpseller import JumpsellerSandbox, sign
from tests.conftest import official


def worker_runs(stack: LocalStack, function: str) -> int:
    return sum(1 for i in stack.invocations if i.function == function)


def good_body(shop: DemoShop) -> dict:
    body = official("bsale/webhook_stock_official")
    return {**body, "cpnId": shop.bsale.cpn_id, "resourceId": str(shop.variant_id("POL-S")),
            "officeId": str(shop.office_id)}


@pytest.mark.parametrize(
    ("mutate", "status", "error"),
    [
        (lambda url, body: (url, b"{not json"), 400, "bad_request"),
        (lambda url, body: (url, json.dumps({"cpnId": body["cpnId"]}).encode()), 400, "bad_request"),
        (lambda url, body: (url, json.dumps({**body, "topic": "<script>"}).encode()), 400, "bad_request"),
        (lambda url, body: (url[:-4] + "AAAA", json.dumps(body).encode()), 404, "unknown_shop"),
        (lambda url, body: (url.rsplit("/", 1)[0] + "/nope", json.dumps(body).encode()), 404, "unknown_shop"),
        (lambda url, body: (url, json.dumps({**body, "cpnId": 999999}).encode()), 403, "wrong_company"),
        (lambda url, body: (url, json.dumps({**body, "pad": "x" * 100_000}).encode()), 413, "payload_too_large"),
    ],
    ids=["malformed-json", "missing-fields", "hostile-topic", "wrong-token", "garbage-token", "wrong-cpnId",
         "oversized"],
)
def test_bad_bsale_notifications_are_refused_and_leave_no_trace(
    shop: DemoShop, stack: LocalStack, mutate, status: int, error: str
) -> None:
    assert stack.drain(60)
    runs = worker_runs(stack, "BsaleWorkerFunction")
    stamp = shops.require(shop.code).last_notification_at
    url, raw = mutate(shop.notification_url, good_body(shop))
    answer = requests.post(url, data=raw, headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert stack.drain(60)
    assert worker_runs(stack, "BsaleWorkerFunction") == runs
    assert shops.require(shop.code).last_notification_at == stamp


def _post_jumpseller(stack: LocalStack, body: bytes, headers: dict) -> requests.Response:
    return requests.post(f"{stack.api_url}/jumpseller/webhooks", data=body,
                         headers={"Content-Type": "application/json", **headers}, timeout=30)


def test_signed_jumpseller_webhook_is_queued_and_recorded(shop: DemoShop, stack: LocalStack) -> None:
    body = json.dumps(official("jumpseller/order_webhook_official")).encode()
    headers = {"Jumpseller-Event": "order_paid", "Jumpseller-Store-Code": shop.code,
               "Jumpseller-Hmac-Sha256": sign(shop.store.hooks_token, body)}
    runs = worker_runs(stack, "JumpsellerOrderWorkerFunction")
    answer = _post_jumpseller(stack, body, headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["subject"] == "order 1026"
    assert stack.drain(60)
    assert worker_runs(stack, "JumpsellerOrderWorkerFunction") == runs + 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"Jumpseller-Hmac-Sha256": "forged"}, 401),
        ({"Jumpseller-Store-Code": "not-a-shop"}, 401),  # answered as a bad signature: no store enumeration
        ({"Jumpseller-Store-Code": "../../etc"}, 401),
        ({"Jumpseller-Event": "order_exploded"}, 400),
    ],
)
def test_bad_jumpseller_webhooks_are_refused(
    shop: DemoShop, stack: LocalStack, jumpseller: JumpsellerSandbox, change: dict, status: int
) -> None:
    body = json.dumps(official("jumpseller/order_webhook_official")).encode()
    headers = {"Jumpseller-Event": "order_paid", "Jumpseller-Store-Code": shop.code,
               "Jumpseller-Hmac-Sha256": sign(shop.store.hooks_token, body), **change}
    assert stack.drain(60)
    runs = worker_runs(stack, "JumpsellerOrderWorkerFunction")
    assert _post_jumpseller(stack, body, headers).status_code == status
    assert stack.drain(60)
    assert worker_runs(stack, "JumpsellerOrderWorkerFunction") == runs


@pytest.mark.parametrize("body", [b"{broken", b"[]", b'{"order": {"id": "1; drop"}}', b"x" * 70_000])
def test_signed_but_malformed_jumpseller_bodies_are_refused(shop: DemoShop, stack: LocalStack, body: bytes) -> None:
    headers = {"Jumpseller-Event": "order_paid", "Jumpseller-Store-Code": shop.code,
               "Jumpseller-Hmac-Sha256": sign(shop.store.hooks_token, body)}
    answer = _post_jumpseller(stack, body, headers)
    assert answer.status_code in (400, 413)


def _answer(response: requests.Response) -> tuple[int, dict]:
    return response.status_code, response.json()


def test_an_unknown_store_and_a_bad_signature_get_the_same_jumpseller_answer(
    new_shop, stack: LocalStack
) -> None:
    # A stranger probing store codes learns nothing: every way of not being a connected store's signed webhook
    # gets the very same status and body.
    shop, other = new_shop(), new_shop()
    body = json.dumps(official("jumpseller/order_webhook_official")).encode()
    signed = sign(shop.store.hooks_token, body)
    answers = {
        "bad signature": {"Jumpseller-Store-Code": shop.code, "Jumpseller-Hmac-Sha256": "forged"},
        "another store's signature": {"Jumpseller-Store-Code": shop.code,
                                      "Jumpseller-Hmac-Sha256": sign(other.store.hooks_token, body)},
        "no signature": {"Jumpseller-Store-Code": shop.code},
        "unknown store, valid-looking signature": {"Jumpseller-Store-Code": "no-such-store",
                                                   "Jumpseller-Hmac-Sha256": signed},
        "malformed store code": {"Jumpseller-Store-Code": "Ünïcode/../x", "Jumpseller-Hmac-Sha256": signed},
        "no store code": {"Jumpseller-Hmac-Sha256": signed},
    }
    seen = {name: _answer(_post_jumpseller(stack, body, {"Jumpseller-Event": "order_paid", **headers}))
            for name, headers in answers.items()}
    assert len(set(map(json.dumps, seen.values()))) == 1, seen
    status, reason = seen["bad signature"]
    assert status == 401 and reason["error"] == "bad_signature"


def test_an_unknown_shop_and_a_wrong_secret_get_the_same_bsale_answer(new_shop, stack: LocalStack) -> None:
    shop, other = new_shop(), new_shop()
    raw = json.dumps(good_body(shop)).encode()
    base, token = shop.notification_url.rsplit("/", 1)
    code, secret = token.split(".", 1)
    other_secret = other.notification_url.rsplit("/", 1)[1].split(".", 1)[1]
    urls = {
        "wrong secret": f"{base}/{code}.{'A' * len(secret)}",
        "another shop's secret": f"{base}/{code}.{other_secret}",
        "unknown shop": f"{base}/no-such-shop.{secret}",
        "malformed token": f"{base}/{code}",
    }
    seen = {name: _answer(requests.post(url, data=raw, headers={"Content-Type": "application/json"}, timeout=30))
            for name, url in urls.items()}
    assert len(set(map(json.dumps, seen.values()))) == 1, seen
    assert seen["wrong secret"][0] == 404
