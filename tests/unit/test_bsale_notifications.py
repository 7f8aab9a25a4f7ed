"""Bsale notifications: the official examples parse; anything else is refused with a clear reason."""

import json

import pytest

from bridge.errors import BadRequest, PayloadTooLarge, UnknownShop
from bridge.intake.bsale import parse, shop_of_token
from bridge.models.bsale import BsaleNotification
from bridge.store.shops import token_hash
from tests.conftest import official

OFFICIAL = ["webhook_stock_official", "webhook_price_official", "webhook_document_official",
            "webhook_product_post_official", "webhook_variant_put_official"]


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_examples_parse(name: str) -> None:
    body = official(f"bsale/{name}")
    notification = parse(json.dumps(body))
    assert notification.cpn_id == body["cpnId"]
    assert notification.topic == body["topic"]
    assert notification.resource_id == body["resourceId"]


def test_stock_example_carries_its_office() -> None:
    notification = parse(json.dumps(official("bsale/webhook_stock_official")))
    assert (notification.office_id, notification.resource_id) == ("1", "7079")


def test_escaped_ampersand_in_resource_is_read_as_json() -> None:
    raw = '{"cpnId": 2, "resource": "/v2/stocks.json?variant=8712\\u0026office=2", "resourceId": "8712", ' \
          '"topic": "stock", "action": "PUT", "officeId": 2, "send": 1}'
    notification = parse(raw)
    assert notification.resource.endswith("variant=8712&office=2")
    assert notification.office_id == "2" and notification.action == "put"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"cpnId": 2}', "resourceId"),
        ('{"cpnId": "x", "resource": "/a", "resourceId": "1", "topic": "stock", "action": "put"}', "cpnId"),
        ('{"cpnId": 2, "resource": "/a", "resourceId": "1", "topic": "nuke", "action": "put"}', "topic"),
        ('{"cpnId": 2, "resource": "/a", "resourceId": "1; DROP", "topic": "stock", "action": "put"}', "resourceId"),
    ],
)
def test_bad_bodies_are_refused_naming_the_problem(raw: str, fragment: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(raw)
    assert fragment in caught.value.reason
    assert caught.value.status == 400


def test_oversized_body_is_refused() -> None:
    body = {**official("bsale/webhook_stock_official"), "padding": "x" * 70_000}
    with pytest.raises(PayloadTooLarge):
        parse(json.dumps(body))


def test_token_names_its_shop_and_only_its_hash_is_compared() -> None:
    token = "demo-store." + "A" * 43
    assert shop_of_token(token) == "demo-store"
    assert token_hash(token) != token and len(token_hash(token)) == 64
    for bad in ["", "demo-store", "demo-store.short", "../etc." + "A" * 43, "Demo.store." + "A" * 43]:
        with pytest.raises(UnknownShop):
            shop_of_token(bad)


def test_model_accepts_integer_ids_where_bsale_sends_strings() -> None:
    n = BsaleNotification.model_validate({"cpnId": 3, "resource": "/r", "resourceId": 15, "topic": "price",
                                          "action": "put", "priceListId": 4})
    assert (n.resource_id, n.price_list_id) == ("15", "4")


def test_a_text_body_with_a_lone_surrogate_is_a_bad_request_not_a_crash() -> None:
    # API Gateway hands the body over as text: a lone surrogate must reach the JSON check, not break the encoding
    with pytest.raises(BadRequest, match="not UTF-8"):
        parse('{"cpnId": 2, "resource": "\ud800"}')


def test_the_reason_names_at_most_five_fields_each_cut_short() -> None:
    long_name = "f" * 40
    with pytest.raises(BadRequest) as caught:
        parse(json.dumps({long_name: 1}))  # every required field missing: cpnId, resource, resourceId, topic, action
    assert caught.value.reason == "not a Bsale notification (check: action, cpnId, resource, resourceId, topic)"
    with pytest.raises(BadRequest) as caught:  # six fields wrong: the first five are named
        parse(json.dumps({"officeId": {"x": 1}}))
    assert caught.value.reason == "not a Bsale notification (check: action, cpnId, officeId, resource, resourceId)"
    with pytest.raises(BadRequest) as caught:
        parse(json.dumps({"cpnId": 2, "resource": "/a", "resourceId": "1", "topic": "stock", "action": "put",
                          "officeId": {"x": 1}}))
    assert caught.value.reason == "not a Bsale notification (check: officeId)"


def test_an_unknown_token_is_refused_with_one_short_reason() -> None:
    with pytest.raises(UnknownShop, match="^unknown notification token$"):
        shop_of_token("not a token")
