"""Outbound calls: 429 is waited out, 5xx retried only when repeating is safe, errors kept verbatim."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bridge.clients import http as http_module
from bridge.clients.bsale import BsaleClient
from bridge.clients.http import Pace
from bridge.clients.jumpseller import JumpsellerClient
from bridge.errors import UpstreamError
from bridge.models.jumpseller import Target


class FakeSession:
    """Answers from a script: each item is (status, json body, headers) or an exception to raise."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.sent.append({"method": method, "url": url, **kwargs})
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        status, body, headers = step
        response = requests.Response()
        response.status_code = status
        response._content = __import__("json").dumps(body).encode()
        response.headers.update(headers)
        return response


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(http_module.time, "sleep", slept.append)
    return slept


def bsale(script: list[Any]) -> tuple[BsaleClient, FakeSession]:
    session = FakeSession(script)
    client = BsaleClient("tok", "http://bsale.test", session=session)  # type: ignore[arg-type]
    client.pace = Pace(1000)
    return client, session


def test_429_is_waited_out_then_succeeds(no_sleep: list[float]) -> None:
    row = {"quantityAvailable": 3.0, "variant": {"id": "7"}, "office": {"id": "1"}}
    client, session = bsale([(429, {"error": "Too Many Requests"}, {}), (200, {"items": [row]}, {})])
    assert client.available_stock("7", "1") == 3
    assert len(session.sent) == 2 and no_sleep


def test_no_stock_row_is_none_in_stock_unless_the_variant_is_gone() -> None:
    from bridge.clients.bsale import BsaleNotFound

    client, session = bsale([(200, {"items": []}, {}), (200, {"id": 7, "code": "X", "state": 0}, {})])
    assert client.available_stock("7", "1") == 0
    assert session.sent[1]["url"].endswith("/v1/variants/7.json")
    client, session = bsale([(200, {"items": []}, {}), (404, {"error": "resource not found"}, {})])
    with pytest.raises(BsaleNotFound) as gone:
        client.available_stock("7", "1")
    assert (gone.value.what, gone.value.ident) == ("variant", "7")


def test_5xx_on_a_read_is_retried_and_auth_header_sent() -> None:
    client, session = bsale([(503, {}, {}), (200, {"items": [
        {"quantityAvailable": 4.0, "variant": {"id": "7"}, "office": {"id": "1"}},
        {"quantityAvailable": 9.0, "variant": {"id": "7"}, "office": {"id": "2"}},  # other office: ignored
    ]}, {})])
    assert client.available_stock("7", "1") == 4.0
    assert session.sent[1]["headers"]["access_token"] == "tok"
    assert session.sent[1]["params"] == {"variantid": "7", "officeid": "1"}


def test_4xx_keeps_bsales_words_and_is_not_retryable() -> None:
    client, session = bsale([(400, {"error": "invalid price list"}, {})])
    with pytest.raises(UpstreamError) as caught:
        client.get_json("/v1/x.json")
    assert caught.value.upstream_reason == "invalid price list"
    assert caught.value.retryable is False and len(session.sent) == 1


def test_post_is_not_repeated_after_a_lost_answer_unless_marked_safe() -> None:
    client, session = bsale([requests.ConnectionError("reset")])
    with pytest.raises(UpstreamError) as caught:
        client.request("POST", "/v1/stocks/consumptions.json", json={})
    assert caught.value.retryable and len(session.sent) == 1
    client, session = bsale([requests.ConnectionError("reset"), (201, {"id": 1}, {})])
    assert client.request("POST", "/v1/documents.json", json={}, retry_unsafe=True).status_code == 201


def test_persistent_failure_gives_up_as_retryable() -> None:
    client, session = bsale([(500, {}, {})] * 4)
    with pytest.raises(UpstreamError) as caught:
        client.get_json("/v1/x.json")
    assert caught.value.retryable and len(session.sent) == 4


def test_pages_continue_while_bsale_says_next() -> None:
    client, session = bsale([
        (200, {"items": [{"id": 1}], "next": "http://bsale.test/v1/x.json?limit=50&offset=50"}, {}),
        (200, {"items": [{"id": 2}]}, {}),
    ])
    assert [item["id"] for item in client.pages("/v1/x.json")] == [1, 2]
    assert session.sent[0]["params"] == {"limit": 50, "offset": 0}
    assert session.sent[1]["url"] == "http://bsale.test/v1/x.json" and session.sent[1]["params"] == {
        "limit": 50, "offset": 50}


def test_jumpseller_product_put_carries_name_and_price_variant_put_does_not() -> None:
    session = FakeSession([(200, {}, {}), (200, {}, {})])
    client = JumpsellerClient("login", "token", "http://js.test/v1", session=session)  # type: ignore[arg-type]
    client.set_stock(Target(5), 3, name="Mug", price=1990)
    client.set_stock(Target(5, 8), 0, name="Mug", price=1990)
    assert session.sent[0]["json"] == {"product": {"name": "Mug", "price": 1990, "stock_unlimited": False,
                                                   "stock": 3}}
    assert session.sent[1]["url"].endswith("/products/5/variants/8.json")
    assert session.sent[1]["json"] == {"variant": {"stock_unlimited": False, "stock": 0}}
    assert session.sent[0]["auth"] == ("login", "token")


def test_jumpseller_empty_minute_window_waits_longest(no_sleep: list[float]) -> None:
    session = FakeSession([(429, {}, {"Jumpseller-PerMinuteRateLimit-Remaining": "0"}), (200, [], {})])
    client = JumpsellerClient("l", "t", "http://js.test/v1", session=session)  # type: ignore[arg-type]
    client.pace = Pace(1000)
    assert client.hooks() == []
    assert no_sleep[0] == client.max_backoff


def test_find_sku_is_exact_on_products_and_variants() -> None:
    session = FakeSession([(200, [
        {"product": {"id": 1, "sku": "AB", "variants": []}},
        {"product": {"id": 2, "sku": "ABC", "variants": []}},
        {"product": {"id": 3, "sku": None, "variants": [{"id": 30, "sku": "AB"}, {"id": 31, "sku": "AB-2"}]}},
    ], {})])
    client = JumpsellerClient("l", "t", "http://js.test/v1", session=session)  # type: ignore[arg-type]
    found = [target for _, target in client.find_sku("AB")]
    assert found == [Target(1), Target(3, 30)]


def test_pace_spaces_calls_per_second() -> None:
    now = [0.0]
    pace = Pace(2, clock=lambda: now[0])
    assert pace.wait() == 0 and pace.wait() == 0
    # the third call in the same second must wait; advance the fake clock as sleep would
    original = http_module.time.sleep
    http_module.time.sleep = lambda s: now.__setitem__(0, now[0] + s)  # type: ignore[assignment]
    try:
        waited = pace.wait()
    finally:
        http_module.time.sleep = original  # type: ignore[assignment]
    assert waited == pytest.approx(Pace.MARGIN)


def test_a_429_that_does_not_end_defers_the_work_instead_of_failing_it() -> None:
    from bridge.clients.http import RateLimited

    client, session = bsale([(429, {"error": "Too Many Requests"}, {"Retry-After": "30"})] * 4)
    with pytest.raises(RateLimited) as caught:
        client.get_json("/v1/x.json")
    assert caught.value.seconds == 30 and len(session.sent) == 4


def test_a_pace_that_may_not_wait_says_how_long_instead() -> None:
    from bridge.clients.http import RateLimited

    now = [0.0]
    pace = Pace(1, clock=lambda: now[0])
    assert pace.wait(max_wait=0) == 0
    with pytest.raises(RateLimited) as caught:
        pace.wait(max_wait=0)
    assert caught.value.seconds == pytest.approx(Pace.MARGIN)


# -- where the credential goes -----------------------------------------------------------------------------------

def _page(n: int, next_link: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
    return 200, {"items": [{"id": i} for i in range(n)], "next": next_link}, {}


def test_the_page_walker_never_follows_a_next_link_to_another_host() -> None:
    # A `next` pointing anywhere else is not followed: the next page is asked by offset, on the shop's own host.
    client, session = bsale([_page(50, "https://evil.test/v1/variants.json?limit=50&offset=50"), _page(3, None)])
    items = list(client.pages("/v1/variants.json", {"code": "X"}))
    assert len(items) == 53
    assert [s["url"] for s in session.sent] == ["http://bsale.test/v1/variants.json"] * 2
    assert [s["params"]["offset"] for s in session.sent] == [0, 50]
    assert all(s["params"]["code"] == "X" for s in session.sent)


def test_a_listing_that_never_ends_stops_at_the_page_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.clients import bsale as bsale_module

    monkeypatch.setattr(bsale_module, "MAX_PAGES", 5)
    looping = "http://bsale.test/v1/variants.json?limit=50&offset=0"  # a `next` that points back at itself
    client, session = bsale([_page(50, looping)] * 6)
    with pytest.raises(UpstreamError, match="more than 5 pages"):
        list(client.pages("/v1/variants.json"))
    assert len(session.sent) == 5


def test_an_empty_page_with_next_ends_the_listing() -> None:
    client, session = bsale([_page(0, "http://bsale.test/v1/variants.json?offset=50")])
    assert list(client.pages("/v1/variants.json")) == []
    assert len(session.sent) == 1


@pytest.mark.parametrize("url", ["https://evil.test/v1/x.json", "http://bsale.test@evil.test/v1/x.json",
                                 "https://bsale.test/v1/x.json"])  # same host, other scheme: another origin
def test_no_request_carries_the_credential_to_another_origin(url: str) -> None:
    client, session = bsale([(200, {}, {})])
    with pytest.raises(UpstreamError, match="refused"):
        client.get_json(url)
    assert session.sent == []


def test_the_credential_host_is_allowed_for_the_company_lookup() -> None:
    session = FakeSession([(200, {"id": 7, "code": "76.000.000-0"}, {})])
    client = BsaleClient("tok", "http://bsale.test", "http://credential.test", session=session)  # type: ignore[arg-type]
    client.pace = Pace(1000)
    assert client.instance().id == 7
    assert session.sent[0]["url"].startswith("http://credential.test/")


def test_jumpseller_products_stop_at_the_page_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.clients import jumpseller as jumpseller_module

    monkeypatch.setattr(jumpseller_module, "MAX_PAGES", 3)
    full = [{"product": {"id": i, "name": "p", "price": 1}} for i in range(100)]
    session = FakeSession([(200, full, {})] * 4)
    client = JumpsellerClient("login", "secret-token", "http://js.test/v1", session=session)  # type: ignore[arg-type]
    client.pace = Pace(1000)
    with pytest.raises(UpstreamError, match="more than 3 pages"):
        list(client.products())
    assert len(session.sent) == 3


def test_jumpseller_credentials_travel_in_the_authorization_header_never_in_the_url() -> None:
    # Jumpseller accepts Basic auth (recommended) and deprecated ?login=&authtoken= query parameters: only the first.
    session = FakeSession([(200, [], {}), (200, {"store": {}}, {}), (200, [], {})])
    client = JumpsellerClient("login", "secret-token", "http://js.test/v1", session=session)  # type: ignore[arg-type]
    client.pace = Pace(1000)
    list(client.products())
    client.store_info()
    client.hooks()
    for sent in session.sent:
        assert sent["auth"] == ("login", "secret-token")
        assert "secret-token" not in sent["url"] and "secret-token" not in str(sent.get("params"))
        assert "authtoken" not in str(sent.get("params")) and "login" not in str(sent.get("params"))


# ------------------------------------------------------------------------------ the invocation's time (F16)

def test_calls_are_cut_to_the_time_left_and_none_starts_without_enough() -> None:
    import time

    from bridge.clients.http import OutOfTime, calls_end_by

    row = {"quantityAvailable": 1.0, "variant": {"id": "7"}, "office": {"id": "1"}}
    client, session = bsale([(200, {"items": [row]}, {})])
    with calls_end_by(time.monotonic() + 4.0):
        client.available_stock("7", "1")
    connect, read = session.sent[0]["timeout"]
    assert connect == http_module.TIMEOUT[0] and 3.0 < read <= 4.0  # the session's 10 s read cut to what is left
    client, session = bsale([(200, {"items": [row]}, {})])
    with calls_end_by(time.monotonic() + 0.5), pytest.raises(OutOfTime) as raised:
        client.available_stock("7", "1")
    assert session.sent == [] and raised.value.retryable
    client.available_stock("7", "1")  # outside the block: no deadline
    assert session.sent[0]["timeout"] == http_module.TIMEOUT


def test_an_impatient_session_gives_up_on_the_first_timeout() -> None:
    client, session = bsale([requests.ReadTimeout("slow"), (200, {"items": []}, {})])
    client.retry_timeouts = False
    with pytest.raises(UpstreamError) as raised:
        client.available_stock("7", "1")
    assert len(session.sent) == 1 and raised.value.retryable and "no answer" in str(raised.value)
    assert isinstance(raised.value, http_module.NoAnswer)
    # A patient one tries again
    row = {"quantityAvailable": 2.0, "variant": {"id": "7"}, "office": {"id": "1"}}
    client, session = bsale([requests.ReadTimeout("slow"), (200, {"items": [row]}, {})])
    assert client.available_stock("7", "1") == 2 and len(session.sent) == 2


def test_the_catalog_worker_opens_impatient_clients_the_order_worker_patient_ones() -> None:
    from bridge.models.shop import Shop, ShopSecrets
    from bridge.shops import context

    shop = Shop(shop_id="s1", cpn_id=1, office_id=1, price_list_id=1)
    creds = ShopSecrets.model_construct(bsale_token="b", jumpseller_login="l", jumpseller_auth_token="a")
    quick = context.clients_for(shop, creds, webhook=True, impatient=True)
    patient = context.clients_for(shop, creds, webhook=True)
    assert (quick.bsale.timeout, quick.bsale.retry_timeouts) == (context.IMPATIENT_TIMEOUT, False)
    assert (quick.jumpseller.timeout, quick.jumpseller.retry_timeouts) == (context.IMPATIENT_TIMEOUT, False)
    assert (patient.bsale.timeout, patient.bsale.retry_timeouts) == (http_module.TIMEOUT, True)
