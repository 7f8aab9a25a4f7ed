"""Least privilege for the order worker on real work: every AWS call of a hold, a document and a credit note is
allowed by JumpsellerOrderWorkerFunction's own policy. A DynamoDB transaction is authorised item by item
(IAM has no TransactWriteItems action: each Put / Update needs PutItem / UpdateItem on its table)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from bridge.models.order_record import OrderState
from bridge.store import held
from devstack import LocalStack
from tests.conftest import ROOT
from tests.e2e import test_orders
from tests.e2e.test_orders import OrderShop
from tests.e2e.test_policies import allowed, recorded_calls, resource_arn

# The order fixtures live with the document tests.
order_shop = test_orders.order_shop

FUNCTION = "JumpsellerOrderWorkerFunction"
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem"}


def actions(calls: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) of each call; a transaction counts as its items."""
    out: list[tuple[str, str]] = []
    for service, operation, params in calls:
        if service == "dynamodb" and operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                (kind, spec), = item.items()
                out.append((f"dynamodb:{TRANSACT_ACTIONS[kind]}", resource_arn("dynamodb", spec)))
        else:
            out.append((f"{service}:{operation}", resource_arn(service, params)))
    return out


def invoke(stack: LocalStack, shop: OrderShop, event: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    message = {"kind": "jumpseller.webhook", "shop_id": shop.code, "payload": {"event": event, "body": body},
               "subject": f"order {body['order']['id']}"}
    record = json.loads((ROOT / "events/bsale_worker_batch.json").read_text())["Records"][0]
    record = {**record, "messageId": str(uuid.uuid4()), "body": json.dumps(message)}
    # Let the background work of the previous event (stock.resync) finish and its second of the shop's Bsale quota
    # pass: a worker that finds the quota spent defers the event (tested elsewhere), and this test is about IAM.
    assert stack.drain(60)
    time.sleep(1.1)
    with recorded_calls(stack, FUNCTION) as calls:  # a cold start: a real SSM read inside the function
        result = stack.function(FUNCTION).invoke({"Records": [record]})
    assert result == {"batchItemFailures": []}, result
    return actions(calls)


def test_the_order_worker_is_allowed_every_call_it_makes(order_shop: Callable[..., OrderShop],
                                                          stack: LocalStack) -> None:
    shop = order_shop()
    order_id = shop.order([("POL-S", 1)])  # order_pending_payment already went through the stack
    assert held.held_by_sku(shop.code) == {"POL-S": 1}
    pending = shop.body(order_id)
    paid = {"order": {**pending["order"], "status_enum": "paid", "status": "Paid"}}
    canceled = {"order": {**pending["order"], "status_enum": "canceled", "status": "Canceled"}}
    made: list[tuple[str, str]] = []
    for event, body in (("order_pending_payment", pending), ("order_paid", paid), ("order_canceled", canceled)):
        made += invoke(stack, shop, event, body)
    assert shop.record(order_id).state is OrderState.CREDITED  # type: ignore[union-attr]
    assert {a for a, _ in made} >= {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
                                    "ssm:GetParameter"}
    missing = [f"{action} on {arn}" for action, arn in made if not allowed(stack, FUNCTION, action, arn)]
    assert missing == [], f"{FUNCTION} is not allowed to do what it does"
