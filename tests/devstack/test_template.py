"""Template loading and intrinsic resolution, without moto."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.template import NO_VALUE, Resolver, Template, TemplateError, load_yaml, merge_globals

from .conftest import BASIC_TEMPLATE


def _template(resources: str, extra: str = "") -> Template:
    return Template(load_yaml(f"{extra}\nResources:\n{resources}"))


def test_short_tags_become_long_forms() -> None:
    body = load_yaml(
        """
a: !Ref X
b: !GetAtt Q.Arn
c: !GetAtt [Q, QueueName]
d: !Sub "${X}"
e: !Sub ["${A}", {A: !Ref X}]
g: !If [C, !Equals [1, 1], !Not [!Condition C]]
j: !GetAtt Cluster.Endpoint.Address
version: 2010-09-09
"""
    )
    assert body["a"] == {"Ref": "X"}
    assert body["b"] == {"Fn::GetAtt": ["Q", "Arn"]}
    assert body["c"] == {"Fn::GetAtt": ["Q", "QueueName"]}
    assert body["d"] == {"Fn::Sub": "${X}"}
    assert body["e"] == {"Fn::Sub": ["${A}", {"A": {"Ref": "X"}}]}
    assert body["g"] == {"Fn::If": ["C", {"Fn::Equals": [1, 1]}, {"Fn::Not": [{"Condition": "C"}]}]}
    assert body["j"] == {"Fn::GetAtt": ["Cluster", "Endpoint.Address"]}
    assert body["version"] == "2010-09-09"


def test_globals_merge_like_sam() -> None:
    merged = merge_globals(
        {"Timeout": 3, "Layers": ["L1"], "Environment": {"Variables": {"A": "1", "B": "2"}}},
        {"Timeout": 9, "Layers": ["L2"], "Environment": {"Variables": {"B": "x", "C": "3"}}},
    )
    variables = {"A": "1", "B": "x", "C": "3"}
    assert merged == {"Timeout": 9, "Layers": ["L1", "L2"], "Environment": {"Variables": variables}}
    assert merge_globals({"Ref": "A"}, {"Fn::Sub": "b"}) == {"Fn::Sub": "b"}


def test_fixture_functions_get_globals() -> None:
    template = Template.load(BASIC_TEMPLATE)
    worker = template.resources["WorkerFunction"].properties
    assert worker["Runtime"] == "python3.11"
    assert worker["MemorySize"] == 256
    assert worker["Layers"] == [{"Ref": "SharedLayer"}]
    assert worker["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": "Table"}
    assert worker["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "worker"


def test_resolution_of_the_fixture() -> None:
    resolver = Resolver(Template.load(BASIC_TEMPLATE), stack_name="fx")
    env = resolver.resolve(resolver.template.resources["WebhookFunction"].properties["Environment"]["Variables"])
    arn = "arn:aws:sqs:us-east-1:123456789012"
    assert env["TABLE_NAME"] == "fx-Table"
    assert env["QUEUE_URL"] == "https://sqs.us-east-1.amazonaws.com/123456789012/fx-WorkQueue"
    assert env["QUEUE_ARN"] == f"{arn}:fx-WorkQueue"
    assert env["QUEUE_NAME"] == "fx-WorkQueue"
    assert env["ORDER_QUEUE_URL"].endswith("/123456789012/fx-OrderQueue.fifo")
    assert env["TABLE_ARN"] == "arn:aws:dynamodb:us-east-1:123456789012:table/fx-Table"
    assert env["STREAM_ARN"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/fx-Table/stream/")
    assert env["NAMED_TABLE"] == "fx-named-dev"
    assert env["SUB_SIMPLE"] == "fx/dev/fx-Table@us-east-1:123456789012:aws"
    assert (
        env["SUB_VARS"] == f"https://sqs.us-east-1.amazonaws.com/123456789012/fx-WorkDLQ-{arn}:fx-WorkDLQ-${{Literal}}"
    )
    assert env["SUB_ATTR"] == f"{arn}:fx-WorkQueue"
    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["ALARM"] == "fx-QueueDepthAlarm"
    assert env["ALARM_ARN"].startswith("arn:aws:cloudwatch:us-east-1:123456789012:")
    assert env["ROLE_ARN"].startswith("arn:aws:")
    assert env["PARAM_NAME"] == "/fx/hooks-token"
    assert env["PARAM_VALUE"] == "s3cret"
    assert env["DEV_FLAG"] == "yes"
    assert env["NUMBER"] == 42 and env["FLAG"] is True  # converted to "42"/"true" for the environment
    assert resolver.physical_name("OrderDLQ") == "fixture-orders-dlq.fifo"
    assert resolver.physical_name("IdleQueue") == "fx-idle"


def test_parameter_overrides_and_conditions() -> None:
    resolver = Resolver(Template.load(BASIC_TEMPLATE), parameters={"Stage": "prod"})
    template = resolver.template
    assert resolver.condition("IsProd") is True
    assert resolver.condition("IsDev") is False
    assert not resolver.included(template.resources["NamedTable"])
    assert resolver.included(template.resources["ProdOnlyTable"])
    env = resolver.resolve(template.resources["WebhookFunction"].properties["Environment"]["Variables"])
    assert "NAMED_TABLE" not in env  # !Ref AWS::NoValue drops the key
    assert env["LOG_LEVEL"] == "INFO"


def test_placeholders_and_no_value() -> None:
    template = _template(
        """
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: v1}
  Topic:
    Type: AWS::SNS::Topic
"""
    )
    resolver = Resolver(template, stack_name="s")
    assert resolver.resolve({"Ref": "Api"}) == "s-Api"
    assert resolver.resolve({"Ref": "ServerlessRestApi"}) == "s-ServerlessRestApi"
    assert resolver.resolve({"Fn::GetAtt": ["Topic", "TopicName"]}) == "s-Topic-TopicName"
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert resolver.resolve({"a": {"Ref": "AWS::NoValue"}, "b": [1, {"Ref": "AWS::NoValue"}]}) == {"b": [1]}


def test_creation_order_puts_dlq_first() -> None:
    template = Template.load(BASIC_TEMPLATE)
    queues = template.of_type("AWS::SQS::Queue")
    order = [r.logical_id for r in template.creation_order(queues)]
    assert order.index("WorkDLQ") < order.index("WorkQueue")
    assert order.index("OrderDLQ") < order.index("OrderQueue")


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"Fn::Bogus": 1}, "unsupported intrinsic"),
        ({"Fn::If": ["Missing", 1, 2]}, "unknown condition"),
        ({"Fn::Join": [",", ["a"]]}, "unsupported intrinsic function Fn::Join"),  # template.yaml uses none
        ({"Fn::If": ["IsProd", 1]}, "needs \\[condition, then, else\\]"),
    ],
)
def test_errors_are_explicit(node: Any, message: str) -> None:
    resolver = Resolver(_template("  T:\n    Type: AWS::SNS::Topic\n"))
    with pytest.raises(TemplateError, match=message):
        resolver.resolve(node)


def test_fifo_queue_gets_suffix_and_template_without_resources_fails() -> None:
    template = _template("  Q:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n")
    assert Resolver(template, stack_name="s").physical_name("Q") == "s-Q.fifo"
    with pytest.raises(TemplateError):
        Template({"Parameters": {}})
