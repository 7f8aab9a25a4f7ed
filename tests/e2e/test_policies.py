"""Least privilege that still works: every AWS call a function makes is allowed by its own policy."""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client
import pytest
import requests

from devstack import LocalStack
from devstack.demo import DemoShop
from tests.conftest import FIXTURES, ROOT

REGION, ACCOUNT = "us-east-1", "123456789012"


@contextmanager
def recorded_calls() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every botocore call made on this thread: (service, operation, params)."""
    calls: list[tuple[str, str, dict[str, Any]]] = []
    me = threading.get_ident()
    original = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if threading.get_ident() == me:
            calls.append((client.meta.service_model.endpoint_prefix, operation, params))
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def resource_arn(service: str, params: dict[str, Any]) -> str:
    if service == "dynamodb":
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}"
        return f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn
    if service == "sqs":
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{params['QueueUrl'].rsplit('/', 1)[1]}"
    if service == "ssm":
        return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{params['Name']}"
    raise AssertionError(f"unexpected service {service}")


def allowed(stack: LocalStack, function: str, action: str, arn: str) -> bool:
    policies = stack.resolver.resolve(stack.template.resources[function].properties.get("Policies", []))
    for policy in policies:
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if statement["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action, a) for a in actions) and any(
                fnmatch.fnmatchcase(arn, r) for r in resources
            ):
                return True
    return False


TRANSACTION_PARTS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}


def actions(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """What IAM authorises for one call, as (action, resource): a batch names its tables in RequestItems, and a
    transaction is authorised item by item (PutItem, UpdateItem...; there is no TransactWriteItems action)."""
    if service == "dynamodb" and operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", resource_arn(service, {"TableName": t})) for t in params["RequestItems"]]
    if service == "dynamodb" and operation == "TransactWriteItems":
        return [(f"dynamodb:{TRANSACTION_PARTS[part]}", resource_arn(service, body))
                for item in params["TransactItems"] for part, body in item.items()]
    return [(f"{service}:{operation}", resource_arn(service, params))]


def assert_covered(stack: LocalStack, function: str, calls: list[tuple[str, str, dict[str, Any]]]) -> None:
    assert calls, f"{function} made no AWS call: the test exercised nothing"
    missing = [f"{action} on {arn}" for svc, op, p in calls for action, arn in actions(svc, op, p)
               if not allowed(stack, function, action, arn)]
    assert missing == [], f"{function} is not allowed to do what it does"


def api_event(path: str, body: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = json.loads((ROOT / "events/bsale_notification_stock.json").read_text())
    token = path.rsplit("/", 1)[1]
    return {**event, "path": path, "pathParameters": {"token": token}, "body": body, "headers": headers or {}}


def test_each_function_touches_only_what_its_policy_allows(shop: DemoShop, stack: LocalStack) -> None:
    from bridge import secrets

    secrets.parameters.clear_caches()  # force a real SSM read inside the functions
    variant = shop.variant_id("POL-S")
    body = {"cpnId": shop.bsale.cpn_id, "resource": "/v2/stocks.json", "resourceId": str(variant), "topic": "stock",
            "action": "put", "officeId": str(shop.office_id), "send": 1}
    path = "/bsale/notifications/" + shop.notification_url.rsplit("/", 1)[1]
    with recorded_calls() as calls:
        answer = stack.function("BsaleWebhookFunction").invoke(api_event(path, json.dumps(body)))
    assert answer["statusCode"] == 200
    assert_covered(stack, "BsaleWebhookFunction", calls)

    message = {"kind": "bsale.notification", "shop_id": shop.code, "payload": body, "subject": "stock"}
    record = json.loads((ROOT / "events/bsale_worker_batch.json").read_text())["Records"][0]
    with recorded_calls() as calls:
        result = stack.function("BsaleWorkerFunction").invoke({"Records": [{**record, "body": json.dumps(message)}]})
    assert result == {"batchItemFailures": []}
    assert_covered(stack, "BsaleWorkerFunction", calls)

    order = (FIXTURES / "jumpseller/order_webhook_official.json").read_bytes()
    from sandboxes.jumpseller import sign

    headers = {"Jumpseller-Event": "order_paid", "Jumpseller-Store-Code": shop.code,
               "Jumpseller-Hmac-Sha256": sign(shop.store.hooks_token, order)}
    secrets.parameters.clear_caches()
    event = {**api_event("/jumpseller/webhooks/x", order.decode(), headers), "path": "/jumpseller/webhooks",
             "resource": "/jumpseller/webhooks", "pathParameters": None}
    with recorded_calls() as calls:
        answer = stack.function("JumpsellerOrderFunction").invoke(event)
    assert answer["statusCode"] == 200, answer
    assert_covered(stack, "JumpsellerOrderFunction", calls)

    message = {"kind": "jumpseller.webhook", "shop_id": shop.code, "payload": {"event": "order_paid", "body": {}},
               "subject": "order 1"}
    with recorded_calls() as calls:
        stack.function("JumpsellerOrderWorkerFunction").invoke({"Records": [{**record, "body": json.dumps(message)}]})
    assert_covered(stack, "JumpsellerOrderWorkerFunction", calls)

    with recorded_calls() as calls:
        stack.fire_schedule("ScheduledSyncFunction")
    assert_covered(stack, "ScheduledSyncFunction", calls)


@pytest.mark.parametrize("path", ["/", "/bsale/notifications", "/admin"])
def test_unknown_routes_are_not_served(stack: LocalStack, path: str) -> None:
    assert requests.post(f"{stack.api_url}{path}", json={}, timeout=30).status_code in (403, 404)
