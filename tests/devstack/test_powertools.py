"""The events devstack builds are the ones Powertools (and so the project's handlers) expect."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel, EventBridgeModel, SqsModel

from devstack import LocalStack
from devstack.events import api_gateway_event, scheduled_event, sqs_event

from .logs import logged


def test_events_validate_against_powertools_models() -> None:
    api = api_gateway_event(
        method="POST",
        path="/a/b",
        resource="/a/{x}",
        headers=[("Content-Type", "application/json"), ("X", "1"), ("X", "2")],
        query={"q": ["1", "2"]},
        path_parameters={"x": "b"},
        body=b'{"k": 1}',
        source_ip="127.0.0.1",
    )
    parsed_api = parse(event=api, model=APIGatewayProxyEventModel)
    assert parsed_api.pathParameters == {"x": "b"} and parsed_api.headers["X"] == "2"
    message: dict[str, Any] = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": "rh",
        "Body": "{}",
        "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1700000000000",
            "SenderId": "AID",
            "ApproximateFirstReceiveTimestamp": "1700000000001",
        },  # fmt: skip
        "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}},
    }
    parse(event=sqs_event([message], "arn:aws:sqs:us-east-1:123456789012:q"), model=SqsModel)
    parse(event=scheduled_event("arn:aws:events:us-east-1:123456789012:rule/r"), model=EventBridgeModel)


def test_powertools_resolver_behind_the_gateway(stack: LocalStack) -> None:
    response = requests.post(f"{stack.api_url}/pt/orders/o-1", json={"items": [1, 2]}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["order_id"] == "o-1" and body["items"] == [1, 2]
    assert json.loads(body["raw"]) == {"items": [1, 2]}
    assert requests.get(f"{stack.api_url}/pt/orders/o-1", timeout=30).status_code == 403  # no GET route


def test_powertools_batch_processor_partial_failures(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    sqs.send_message_batch(
        QueueUrl=stack.queue_url("PtQueue"),
        Entries=[
            {"Id": "1", "MessageBody": json.dumps({"id": good})},
            {"Id": "2", "MessageBody": json.dumps({"id": bad, "fail": True})},
        ],
    )
    # PtQueue has no DLQ: the failing message keeps coming back (retry compression is 0 s), the good one never
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = [i for i in stack.invocations if i.function == "PowertoolsWorkerFunction" and i.failed]
        if len(runs) >= 2:
            break
        time.sleep(0.05)
    handled = [line.get("handled") for line in logged(stack, "PowertoolsWorkerFunction")]
    assert handled.count(good) == 1
    assert len(runs) >= 2 and all(r.ok is False and r.failed for r in runs)
    stack.client("sqs").purge_queue(QueueUrl=stack.queue_url("PtQueue"))


def test_concurrent_requests_each_see_their_own_event(stack: LocalStack) -> None:
    # Powertools keeps the current event on a class attribute (BaseRouter.current_event), and the logger's keys on
    # the logger: in one process, a request arriving while another was handled replaced them (the panel once read a
    # webhook's body as its form). Each environment handles one request at a time, as on Lambda.
    import threading

    answers: dict[str, Any] = {}

    def slow() -> None:
        answers["slow"] = requests.post(f"{stack.api_url}/pt/orders/slow", json={"items": ["mine"], "sleep": 0.5},
                                        timeout=30).json()

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.1)
    for n in range(3):
        quick = requests.post(f"{stack.api_url}/pt/orders/q-{n}", json={"items": [n]}, timeout=30)
        assert quick.json()["items"] == [n]
    thread.join(30)
    slow_answer = answers["slow"]
    assert slow_answer["order_id"] == "slow" and "mine" in slow_answer["raw"], slow_answer
    # every log line of a request carries that request's own keys, not those of a request handled meanwhile
    lines = [line for line in logged(stack, "PowertoolsApiFunction") if line.get("message") in ("order", "order done")]
    by_request: dict[str, set[str]] = {}
    for line in lines:
        by_request.setdefault(line["function_request_id"], set()).add(line["order"])
    assert len(by_request) >= 4 and all(len(orders) == 1 for orders in by_request.values()), by_request
    assert any(orders == {"slow"} for orders in by_request.values())
