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
def atomic_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies a conditional write atomically; moto checks then writes, and threads can interleave.

    One lock around each whole moto request gives it DynamoDB's guarantee, so concurrency tests test our
    conditions. Reads take it too, and it wraps moto's request handler, not only its backend: the handler copies
    an item outside the backend ("dictionary changed size during iteration" while another thread writes it).
    """
    import functools
    import threading

    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    for method in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item",
                   "get_item", "query", "scan", "batch_get_item", "transact_get_items"):
        original = getattr(DynamoHandler, method)

        @functools.wraps(original)
        def locked(self: object, *args: object, __original: object = original, **kwargs: object) -> object:
            with lock:
                return __original(self, *args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(DynamoHandler, method, locked)
