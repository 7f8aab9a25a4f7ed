"""A thousand shops: what `status` costs at 100 and at 1,000 connected shops, one page and every page.

DynamoDB, SSM and SQS in memory (moto). Each shop is connected (its settings and its secrets); one shop in ten
has two dead letters in the bsale dead-letter queue, marked the way the worker marks them at the last attempt.
Every AWS call is counted at botocore's `_make_api_call`; "items read" is what DynamoDB reads to answer (a
Query's ScannedCount, a GetItem's item). The status path must make no SQS ReceiveMessage: each shop's count
comes from its marks, the queues' totals from GetQueueAttributes. For comparison, `receive_based_receives` is
what counting by shop from the messages themselves (status before this change) calls: ReceiveMessage, each
call hiding up to 10 dead letters for a minute and raising their receive counts.

The table goes to stderr; the figures are returned for `./dev bench`'s JSON. Times depend on the machine (moto
in process answers in well under a millisecond a call, DynamoDB in a few): the calls and items are the figures.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SIZES = (100, 1000)
PAGE = 100
TABLE = "bench-fleet"


class Meter:
    """AWS calls by "service.Operation", and DynamoDB items read, while counting."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items = 0

    @contextmanager
    def counting(self) -> Iterator[None]:
        from botocore.client import BaseClient

        real = getattr(BaseClient, "_make_api_call")  # noqa: B009  (botocore's private hook; stubs omit it)

        def counted(client: Any, operation: str, params: Any) -> Any:
            answer = real(client, operation, params)
            self.calls[f"{client.meta.service_model.service_name}.{operation}"] += 1
            if operation == "Query":
                self.items += int(answer.get("ScannedCount", len(answer.get("Items", []))))
            elif operation == "GetItem":
                self.items += 1 if "Item" in answer else 0
            elif operation == "BatchGetItem":
                self.items += sum(len(v) for v in answer.get("Responses", {}).values())
            return answer

        setattr(BaseClient, "_make_api_call", counted)  # noqa: B010
        try:
            yield
        finally:
            setattr(BaseClient, "_make_api_call", real)  # noqa: B010


def _setup() -> dict[str, Any]:
    import boto3

    from bridge.ops import dead_letters as dl

    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}],
    )
    sqs = boto3.client("sqs", region_name="us-east-1")
    routes = {}
    import os

    for queue in dl.REGISTRY:
        url = sqs.create_queue(QueueName=f"fleet-{queue.name}-dlq")["QueueUrl"]
        source = sqs.create_queue(QueueName=f"fleet-{queue.name}")["QueueUrl"]
        os.environ[queue.env], os.environ[queue.source_env] = url, source
        routes[queue.name] = dl.Route(queue, url, source)
    return routes


def _connect(first: int, last: int, routes: dict[str, Any]) -> int:
    """Shops first..last-1, connected; one in ten with two dead letters. Returns the dead letters made."""
    from bridge import aws, secrets
    from bridge.models.shop import Shop, ShopSecrets
    from bridge.ops import dead_letters as dl
    from bridge.queue import WorkMessage
    from bridge.store import shops

    made = 0
    for n in range(first, last):
        shop_id = f"tienda-{n:04}"
        shops.save(Shop(shop_id=shop_id, cpn_id=n + 1, office_id=1, price_list_id=1), f"hash-{n}")
        secrets.put(shop_id, ShopSecrets(jumpseller_hooks_token=f"hooks-{n}", notify_token=f"notify-{n}"))
        if n % 10:
            continue
        route = routes["bsale"]
        for k in range(2):
            message = WorkMessage(kind="bsale.notification", shop_id=shop_id, payload={"topic": "stock"},
                                  subject=f"stock {k}")
            sent = aws.client("sqs").send_message(QueueUrl=route.url, MessageBody=message.model_dump_json())
            dl.record_failure(sent["MessageId"], message, "Jumpseller answered 500",
                              receive_count=route.queue.max_receives, queue="bsale")
            made += 1
    return made


def _measure(work: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]  # a fresh operator process: no secret cached
    meter = Meter()
    started = time.perf_counter()
    with meter.counting():
        got = work()
    seconds = time.perf_counter() - started
    dynamo = {k.split(".", 1)[1]: v for k, v in sorted(meter.calls.items()) if k.startswith("dynamodb.")}
    sqs = {k.split(".", 1)[1]: v for k, v in sorted(meter.calls.items()) if k.startswith("sqs.")}
    return got, {"seconds": round(seconds, 2), "dynamodb_calls": sum(dynamo.values()), "dynamodb_by_call": dynamo,
                 "dynamodb_items_read": meter.items, "ssm_calls": sum(v for k, v in meter.calls.items()
                                                                      if k.startswith("ssm.")),
                 "sqs_calls": sqs, "sqs_receive_message": sqs.get("ReceiveMessage", 0)}


def _size(n: int, routes: dict[str, Any], dead_letters: int) -> dict[str, Any]:
    from bridge import aws
    from bridge.ops import dead_letters as dl
    from bridge.ops.status import dead_letter_totals, fleet, fleet_page

    page, one = _measure(lambda: (fleet_page(PAGE), dead_letter_totals())[0])
    pages, every = _measure(lambda: (list(fleet(PAGE)), dead_letter_totals())[0])
    shown = [h for p in pages for h in p.shops]
    assert len(shown) == len({h.shop_id for h in shown}) == n, len(shown)
    assert sum((h.dead_letters or {}).get("bsale", 0) for h in shown) == dead_letters
    assert len(page.shops) == min(PAGE, n) and one["sqs_receive_message"] == every["sqs_receive_message"] == 0
    _, before = _measure(lambda: [dl.inspect(aws.client("sqs"), route, wait_seconds=0) for route in routes.values()])
    return {"shops": n, "dead_letters": dead_letters, "pages": len(pages), "one_page": one, "all_pages": every,
            "receive_based_receives": before["sqs_receive_message"]}


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("shops", "read", "pages", "seconds", "DynamoDB calls", "items read", "SSM calls", "SQS calls",
            "ReceiveMessage", "receive-based")
    lines = [head]
    for r in rows:
        for label, m in (("1 page", r["one_page"]), ("all pages", r["all_pages"])):
            lines.append((str(r["shops"]), label, str(1 if label == "1 page" else r["pages"]), f"{m['seconds']:.2f}",
                          str(m["dynamodb_calls"]), str(m["dynamodb_items_read"]), str(m["ssm_calls"]),
                          str(sum(m["sqs_calls"].values())), str(m["sqs_receive_message"]),
                          str(r["receive_based_receives"]) if label == "all pages" else ""))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)


def run() -> dict[str, Any]:
    import os

    from moto import mock_aws

    from bridge import aws
    from bridge.observability import logger
    from bridge.settings import settings

    logger.setLevel("ERROR")  # each dead letter made on purpose would log a warning between the figures
    os.environ.update(TABLE_NAME=TABLE, SHARED_RATE_LIMITS="false", AWS_DEFAULT_REGION="us-east-1",
                      SECRETS_PREFIX="/bench-fleet")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    settings.cache_clear()
    aws.reset()
    rows: list[dict[str, Any]] = []
    with mock_aws():
        routes = _setup()
        connected, dead = 0, 0
        for n in SIZES:
            dead += _connect(connected, n, routes)
            connected = n
            rows.append(_size(n, routes, dead))
    aws.reset()
    print(f"status of a fleet, page size {PAGE} (moto in process):\n{_table(rows)}", file=sys.stderr)
    return {"page_size": PAGE, "by_fleet_size": rows}
