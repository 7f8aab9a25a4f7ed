"""DynamoDB in memory (moto) shaped like the template's table, and the two sandboxes on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bridge import aws
from bridge.settings import settings

TABLE = "orders-unit-table"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # The e2e stack may have pointed this process at its moto server: these tests use their own, in memory.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SHARED_RATE_LIMITS", "false")
    monkeypatch.setenv("ALLOW_LOCAL_API_URLS", "true")  # the sandboxes are on loopback, over http
    settings.cache_clear()
    aws.reset()
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "gsi1",
                "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                              {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }, {
                "IndexName": "gsi2",
                "KeySchema": [{"AttributeName": "gsi2pk", "KeyType": "HASH"},
                              {"AttributeName": "gsi2sk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
        )
        yield TABLE
    aws.reset()
    settings.cache_clear()


@pytest.fixture
def atomic_writes() -> None:
    """DynamoDB applies a conditional write atomically; moto checks then writes, and threads can interleave: the
    local stack's lock around moto's DynamoDB gives it that guarantee, so concurrency tests test our conditions."""
    from devstack.moto_server import atomic_dynamodb_writes

    atomic_dynamodb_writes()
