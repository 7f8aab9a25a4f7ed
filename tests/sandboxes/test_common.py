"""Shared machinery: lifecycle, fault injection, request log, sliding-window limiter, admin fault API."""

from __future__ import annotations

import time

import pytest
import requests

from sandboxes import BsaleAccount, BsaleSandbox, FakeClock
from sandboxes._http import SlidingWindowLimiter


def test_start_stop_and_context_manager() -> None:
    sandbox = BsaleSandbox(port=0)
    with pytest.raises(RuntimeError):
        _ = sandbox.url
    sandbox.start()
    session = requests.Session()
    try:
        assert sandbox.url.startswith("http://127.0.0.1:")
        assert session.get(sandbox.url + "/v1/offices.json", timeout=2).status_code == 401
        url = sandbox.url
    finally:
        sandbox.stop()
    with pytest.raises(requests.ConnectionError):  # keep-alive connections are cut too
        session.get(url + "/v1/offices.json", timeout=2)
    with BsaleSandbox() as other:
        assert other.running
    assert not other.running


def test_status_fault_consumes_itself(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    bsale.faults.add(status=503, count=2)
    assert [bapi.get(bsale.url + "/v1/offices.json").status_code for _ in range(3)] == [503, 503, 200]
    assert bsale.faults.pending == []


def test_fault_kinds_bodies(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    bsale.faults.add(status=500)
    bsale.faults.add(status=502)
    bsale.faults.add(status=429)
    first = bapi.get(bsale.url + "/v1/offices.json")
    assert first.status_code == 500 and "error" in first.json()
    second = bapi.get(bsale.url + "/v1/offices.json")
    assert second.status_code == 502 and second.headers["Content-Type"].startswith("text/html")
    third = bapi.get(bsale.url + "/v1/offices.json")
    assert third.status_code == 429 and third.json() == {"error": "Too Many Requests"}


def test_fault_filters_by_path_and_method(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    bsale.faults.add(status=500, path_contains="/stocks", method="GET")
    assert bapi.get(bsale.url + "/v1/offices.json").status_code == 200
    assert bapi.post(bsale.url + "/v1/stocks/receptions.json", json={}).status_code == 400  # POST: not matched
    assert bapi.get(bsale.url + "/v1/stocks.json").status_code == 500
    assert bapi.get(bsale.url + "/v1/stocks.json").status_code == 200


def test_fault_filters_by_credential_so_one_shop_fails_alone(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    bsale.add_account("other-token", 77)
    bsale.faults.add(status=500, count=5, credential="other-token", path_contains="/offices")
    assert bapi.get(bsale.url + "/v1/offices.json").status_code == 200  # this shop's token: not matched
    other = requests.get(bsale.url + "/v1/offices.json", headers={"access_token": "other-token"}, timeout=5)
    assert other.status_code == 500
    assert bsale.faults.pending[0].remaining == 4
    answer = requests.post(bsale.url + "/_sandbox/faults", timeout=5,
                           json={"kind": "status", "status": 503, "credential": "nobody"})
    assert answer.status_code == 201 and answer.json()["credential"] == "(set)"  # never echoes a token
    assert bapi.get(bsale.url + "/v1/offices.json").status_code == 200


def test_slow_fault_delays_then_answers(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    bsale.faults.slow(0.3, count=1)
    started = time.monotonic()
    assert bapi.get(bsale.url + "/v1/offices.json").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        bsale.faults.slow(0.5)
        bapi.get(bsale.url + "/v1/offices.json", timeout=0.1)


def test_drop_fault_closes_connection(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    bsale.faults.drop(count=1, path_contains="documents")
    with pytest.raises(requests.ConnectionError):
        bapi.post(bsale.url + "/v1/documents.json", json={})
    record = bsale.requests[-1]
    assert record.status is None and record.fault == "drop"
    assert bapi.get(bsale.url + "/v1/offices.json").status_code == 200


def test_request_log_and_count(bsale: BsaleSandbox, bapi: requests.Session, account: BsaleAccount) -> None:
    bapi.get(bsale.url + "/v1/offices.json?state=0")
    bapi.post(bsale.url + "/v1/stocks/consumptions.json", json={"officeId": 1, "details": []})
    first = bsale.requests[0]
    assert (first.method, first.path, first.query, first.status) == ("GET", "/v1/offices.json", {"state": "0"}, 200)
    assert first.credential == account.token
    assert bsale.requests[1].body == {"officeId": 1, "details": []}
    assert bsale.count() == 2
    assert bsale.count(method="POST") == 1
    assert bsale.count(path_contains="offices") == 1
    assert bsale.count(status=400) == 1
    bsale.reset_log()
    assert bsale.count() == 0


def test_admin_fault_api(bsale: BsaleSandbox, bapi: requests.Session) -> None:
    answer = requests.post(bsale.url + "/_sandbox/faults", json={"kind": "status", "status": 503, "count": 1})
    assert answer.status_code == 201
    assert requests.get(bsale.url + "/_sandbox/faults").json()[0]["status"] == 503
    assert bapi.get(bsale.url + "/v1/offices.json").status_code == 503
    requests.post(bsale.url + "/_sandbox/faults", json={"kind": "drop", "count": 5})
    assert requests.delete(bsale.url + "/_sandbox/faults").status_code == 204
    assert bapi.get(bsale.url + "/v1/offices.json").status_code == 200
    assert len(requests.get(bsale.url + "/_sandbox/requests").json()) == 2  # admin calls are not logged
    assert requests.post(bsale.url + "/_sandbox/faults", json={"kind": "nope"}).status_code == 400


def test_sliding_window_limiter() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter([(3, 1.0), (5, 60.0)], clock)
    assert [limiter.hit("a").allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("b").allowed  # keyed per credential
    clock.advance(0.5)
    assert not limiter.hit("a").allowed  # still inside the 1 s window
    clock.advance(0.51)
    decision = limiter.hit("a")
    assert decision.allowed and decision.remaining == (2, 1)
    assert limiter.hit("a").allowed
    assert not limiter.hit("a").allowed  # per-minute window (5) is now full
    clock.advance(60)
    assert limiter.hit("a").allowed
