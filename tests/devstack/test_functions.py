"""Loading handlers, the Lambda context, the environment, schedules fired on demand."""

from __future__ import annotations

import json
import os

import pytest
import requests

from devstack import InvocationError, LocalStack

from .logs import logged


def test_same_module_name_in_different_folders_loads_independently(stack: LocalStack) -> None:
    echo = stack.function("EchoFunction").invoke({"queryStringParameters": None})
    assert json.loads(echo["body"])["who"] == "webhook" and json.loads(echo["body"])["helpers"] == "webhook-helpers"
    # the worker's folder has its own app.py and helpers.py: its process imports those, not the webhook's
    worker = stack.function("WorkerFunction").invoke({"whoami": True})
    assert worker["who"] == "worker" and worker["helpers"] == "worker-helpers"
    # the layer is on every function's path
    webhook = requests.post(f"{stack.api_url}/hooks/t", data="x", timeout=30).json()
    assert webhook["greeting"] == "hello webhook"


def test_intrinsics_resolved_into_environment(stack: LocalStack) -> None:
    env = stack.function("WebhookFunction").environment
    queue_url = stack.queue_url("WorkQueue")
    assert queue_url.startswith(stack.moto_endpoint)
    assert env["QUEUE_URL"] == queue_url == os.environ["QUEUE_URL"]
    assert env["QUEUE_ARN"] == stack.queue_arn("WorkQueue") == "arn:aws:sqs:us-east-1:123456789012:devstack-WorkQueue"
    assert env["ORDER_QUEUE_URL"] == stack.queue_url("OrderQueue")
    assert env["TABLE_NAME"] == stack.table_name("Table") == "devstack-Table"
    assert env["TABLE_ARN"] == stack.table_arn("Table")
    described = stack.client("dynamodb").describe_table(TableName="devstack-Table")["Table"]
    assert env["STREAM_ARN"] == described["LatestStreamArn"]  # the real one, known once the table exists
    assert env["SUB_SIMPLE"] == "devstack/dev/devstack-Table@us-east-1:123456789012:aws"
    assert env["SUB_VARS"].endswith("-arn:aws:sqs:us-east-1:123456789012:devstack-WorkDLQ-${Literal}")
    assert env["NAMED_TABLE"] == "devstack-named-dev"
    assert env["NUMBER"] == "42" and env["FLAG"] == "true"
    assert env["PARAM_VALUE"] == "s3cret"


def test_resources_created_as_declared(stack: LocalStack) -> None:
    ddb, sqs, ssm = stack.client("dynamodb"), stack.client("sqs"), stack.client("ssm")
    table = ddb.describe_table(TableName="devstack-Table")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "gsi1"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = ddb.describe_time_to_live(TableName="devstack-Table")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    backups = ddb.describe_continuous_backups(TableName="devstack-Table")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    named = ddb.describe_table(TableName="devstack-named-dev")["Table"]
    assert named["ProvisionedThroughput"]["ReadCapacityUnits"] == 1
    assert "ProdOnlyTable" not in stack.resources.tables
    attrs = sqs.get_queue_attributes(QueueUrl=stack.queue_url("WorkQueue"), AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "60"
    assert '"maxReceiveCount": 2' in attrs["RedrivePolicy"] or '"maxReceiveCount":2' in attrs["RedrivePolicy"]
    assert stack.queue_arn("WorkDLQ") in attrs["RedrivePolicy"]
    fifo = sqs.get_queue_attributes(QueueUrl=stack.queue_url("OrderQueue"), AttributeNames=["All"])["Attributes"]
    assert fifo["FifoQueue"] == "true" and fifo["ContentBasedDeduplication"] == "true"
    assert stack.queue_name("OrderDLQ") == "fixture-orders-dlq.fifo"
    assert ssm.get_parameter(Name="/devstack/hooks-token")["Parameter"]["Value"] == "s3cret"
    assert stack.outputs()["TableName"] == "devstack-Table"


def test_direct_invoke_and_context(stack: LocalStack) -> None:
    result = stack.function("ScheduledFunction").invoke({"source": "test"})
    assert result["source"] == "test"
    assert stack.invocations[-1].kind == "direct" and stack.invocations[-1].ok
    with pytest.raises(InvocationError, match="RuntimeError: crash requested") as raised:
        stack.function("WorkerFunction").invoke({"Records": [{"body": "crash", "messageId": "1"}]})
    assert raised.value.error_type == "RuntimeError" and "raise RuntimeError" in raised.value.traceback
    assert stack.invocations[-1].ok is False
    assert stack.invocations[-1].error == "RuntimeError: crash requested"
    with pytest.raises(KeyError, match="no function"):
        stack.function("Nope")


def test_schedule_fires_on_demand(stack: LocalStack) -> None:
    before = len(logged(stack, "ScheduledFunction", "fired"))
    result = stack.fire_schedule("ScheduledFunction")
    assert result["source"] == "aws.events"
    event = logged(stack, "ScheduledFunction", "fired")[before]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert event["detail"] == {} and event["version"] == "0" and event["id"]
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/devstack-ScheduledFunctionEvery5"]
    assert event["time"].endswith("Z")
    stack.fire_schedule("ScheduledFunction", event_name="Nightly")
    assert logged(stack, "ScheduledFunction", "fired")[-1] == {"job": "nightly"}  # the event's Input
    assert [s.expression for s in stack.schedules] == ["rate(5 minutes)", "cron(0 3 * * ? *)"]
    assert stack.invocations[-1].kind == "schedule"
    with pytest.raises(KeyError):
        stack.fire_schedule("WorkerFunction")


def test_this_process_gets_the_stacks_client_environment(stack: LocalStack) -> None:
    assert "POWERTOOLS_SERVICE_NAME" in stack.env_conflicts
    assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_endpoint
    assert os.environ["TABLE_NAME"] == "devstack-Table"
    assert os.getenv("AWS_SAM_LOCAL") == "true"


def test_the_lambda_context_counts_down_the_functions_timeout_as_time_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers decide what to start from get_remaining_time_in_millis: locally it must run out as on AWS."""
    from devstack import runtime
    from devstack.functions import context_fields

    now = [1000.0]
    monkeypatch.setattr(runtime.time, "monotonic", lambda: now[0])
    context = runtime.LambdaContext(context_fields("fn", 256, budget_s=30))
    assert context.function_name == "fn" and context.memory_limit_in_mb == 256
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert context.get_remaining_time_in_millis() == 30_000
    now[0] += 12.5
    assert context.get_remaining_time_in_millis() == 17_500
    now[0] += 40
    assert context.get_remaining_time_in_millis() == 0
