"""Less common constructs: SimpleTable, Secrets Manager, Events::Rule schedules, what is skipped and said so."""

from __future__ import annotations

import json
import logging

import pytest

from devstack import LocalStack

from .conftest import FIXTURES
from .logs import logged


def test_extras_template(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="devstack")
    with LocalStack(template=FIXTURES / "extras" / "template.yaml", api=False, pollers=False) as stack:
        table = stack.client("dynamodb").describe_table(TableName="devstack-Simple")["Table"]
        assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "N"}]
        secret = stack.client("secretsmanager").get_secret_value(SecretId="extras/credentials")
        value = json.loads(secret["SecretString"])
        assert value["user"] == "demo" and len(value["password"]) == 16
        env = stack.function("RuleTarget").environment
        assert env["SIMPLE_TABLE"] == "devstack-Simple"
        assert env["SECRET_ARN"] == secret["ARN"]
        assert env["RULE_ARN"] == "arn:aws:events:us-east-1:123456789012:rule/devstack-Nightly"
        assert "NodeFunction" not in stack.functions
        assert [(s.event_name, s.expression, s.enabled) for s in stack.schedules] == [
            ("Once", "at(2030-01-01T00:00:00)", False),
            ("Nightly", "cron(0 4 * * ? *)", True),
        ]
        assert stack.fire_schedule("RuleTarget", event_name="Nightly") == {"fired": 1, "source": None,
                                                                           "only_twin": None}  # fmt: skip
        assert logged(stack, "RuleTarget", "fired") == [{"from": "rule"}]
        assert "Nightly" in stack.resources.rules
    messages = caplog.text
    assert "HttpApi events (Http) are not emulated" in messages
    assert "runtime nodejs20.x is not emulated" in messages
