"""SQS event sources: batch events, partial failures, retries, dead-lettering, drain."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import pytest

from devstack import LocalStack

from .logs import logged


def _events(stack: LocalStack) -> list[dict[str, Any]]:
    return logged(stack, "WorkerFunction", "event")  # type: ignore[no-any-return]


def _processed(stack: LocalStack) -> list[str]:
    return logged(stack, "WorkerFunction", "processed")  # type: ignore[no-any-return]


def _records_for(stack: LocalStack, body: str) -> list[dict[str, Any]]:
    return [r for e in _events(stack) for r in e["Records"] if r["body"] == body]


def _dlq_bodies(stack: LocalStack, logical_id: str) -> list[str]:
    sqs = stack.client("sqs")
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=stack.queue_url(logical_id), MaxNumberOfMessages=10).get("Messages")
        if not messages:
            return bodies
        bodies += [m["Body"] for m in messages]


def test_sqs_event_shape(stack: LocalStack) -> None:
    body = f"shape-{uuid.uuid4()}"
    stack.client("sqs").send_message(
        QueueUrl=stack.queue_url("WorkQueue"),
        MessageBody=body,
        MessageAttributes={
            "shop": {"DataType": "String", "StringValue": "s1"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        },
    )
    assert stack.drain(timeout=60)
    [record] = _records_for(stack, body)
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                           "eventSource", "eventSourceARN", "awsRegion"}  # fmt: skip
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.queue_arn("WorkQueue")
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["shop"] == {
        "stringValue": "s1", "stringListValues": [], "binaryListValues": [], "dataType": "String",
    }  # fmt: skip
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x01\x02"
    assert body in _processed(stack)


def test_partial_batch_failure_deletes_only_successes(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    tag = uuid.uuid4().hex[:8]
    bodies = [f"ok-{tag}-1", f"fail-{tag}", f"ok-{tag}-2"]
    sqs.send_message_batch(
        QueueUrl=stack.queue_url("WorkQueue"),
        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)],
    )
    assert stack.drain(timeout=60)
    processed = _processed(stack)
    assert processed.count(f"ok-{tag}-1") == 1 and processed.count(f"ok-{tag}-2") == 1  # never re-run
    # the failing message was retried (receive count grows) and then dead-lettered after maxReceiveCount=2
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in _records_for(stack, f"fail-{tag}")]
    assert counts == ["1", "2"]
    assert f"fail-{tag}" in _dlq_bodies(stack, "WorkDLQ")
    failed = [i for i in stack.invocations if i.kind == "sqs" and i.failed]
    assert failed and all(not i.ok for i in failed)


def test_exception_fails_the_whole_batch_into_the_dlq(stack: LocalStack) -> None:
    body = f"crash-{uuid.uuid4()}"
    stack.client("sqs").send_message(QueueUrl=stack.queue_url("WorkQueue"), MessageBody=body)
    assert stack.drain(timeout=60)
    assert len(_records_for(stack, body)) == 2
    assert body in _dlq_bodies(stack, "WorkDLQ")
    crashed = [i for i in stack.invocations if i.error == "RuntimeError: crash requested"]
    assert crashed and crashed[-1].succeeded == [] and crashed[-1].failed


def test_fifo_queue_without_partial_failures(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    tag = uuid.uuid4().hex[:8]
    for i in range(3):
        sqs.send_message(QueueUrl=stack.queue_url("OrderQueue"), MessageBody=f"order-{tag}-{i}", MessageGroupId="g1")
    assert stack.drain(timeout=60)
    records = [r for e in _events(stack) for r in e["Records"] if r["body"].startswith(f"order-{tag}")]
    assert [r["body"] for r in records] == [f"order-{tag}-{i}" for i in range(3)]
    assert records[0]["attributes"]["MessageGroupId"] == "g1"
    assert "MessageDeduplicationId" in records[0]["attributes"]
    assert records[0]["eventSourceARN"].endswith(":devstack-OrderQueue.fifo")
    assert stack.queue_depth("OrderQueue") == 0


def test_disabled_source_is_not_polled(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url("IdleQueue"), MessageBody="stay")
    assert stack.drain(timeout=60)  # the idle queue is not a source queue
    time.sleep(0.3)
    assert stack.queue_depth("IdleQueue") == 1
    assert stack.queue_name("IdleQueue") == "devstack-idle"
    assert sorted(q.logical_id for q in stack.source_queues()) == ["OrderQueue", "PtQueue", "WorkQueue"]


def test_http_to_queue_to_worker_and_drain(stack: LocalStack) -> None:
    import requests

    tag = uuid.uuid4().hex[:8]
    for i in range(12):
        response = requests.post(f"{stack.api_url}/hooks/t?enqueue=1", data=f"e2e-{tag}-{i}", timeout=30)
        assert response.status_code == 202
    assert stack.drain(timeout=60)
    assert stack.in_flight == 0
    assert sorted(b for b in _processed(stack) if b.startswith(f"e2e-{tag}")) == sorted(
        f"e2e-{tag}-{i}" for i in range(12)
    )


def test_a_receive_keeps_the_retention_period_without_counting_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto built every attribute of the queue (counting all its messages) for each message it returned."""
    import boto3
    from moto import mock_aws
    from moto.sqs.models import Queue

    from devstack.moto_server import constant_time_sqs_receive

    constant_time_sqs_receive()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="retained", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        from moto.sqs.models import sqs_backends

        queue = sqs_backends["123456789012"]["us-east-1"].queues["retained"]

        def counted(self: Queue) -> dict[str, str]:
            raise AssertionError("a receive built the queue's attributes")

        sqs.send_message(QueueUrl=url, MessageBody="fresh")
        with monkeypatch.context() as patched:
            patched.setattr(Queue, "attributes", property(counted))
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        assert [m["Body"] for m in got] == ["fresh"]
        sqs.send_message(QueueUrl=url, MessageBody="old")
        for message in queue._messages:
            message.sent_timestamp -= 120_000  # sent two minutes ago: past its retention
        with monkeypatch.context() as patched:
            patched.setattr(Queue, "attributes", property(counted))
            assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
