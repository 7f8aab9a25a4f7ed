"""A thousand shops: `status` reads the fleet a page at a time and counts each shop's dead letters without
receiving one (a receive hides the message for the hold and raises its receive count).

moto in memory; every AWS call the process makes is counted at botocore's `_make_api_call`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from typer.testing import CliRunner

from admin import app
from bridge import aws
from bridge.models.shop import Shop
from bridge.ops import dead_letters as dl
from bridge.ops.status import dead_letter_totals, fleet, fleet_page, shop_health
from bridge.queue import WorkMessage
from bridge.store import shops
from tests.unit.orders.conftest import table  # noqa: F401  (the moto table fixture)

runner = CliRunner()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every AWS operation this test's thread calls from here on, as "service.Operation" (a stack left running
    by an earlier test polls its queues from threads of its own)."""
    seen: Counter[str] = Counter()
    real = BaseClient._make_api_call
    mine = threading.get_ident()

    def counting(client: BaseClient, operation: str, params: Any) -> Any:
        if threading.get_ident() == mine:
            seen[f"{client.meta.service_model.service_name}.{operation}"] += 1
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return seen


@pytest.fixture
def queues(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dl.Route]]:  # noqa: F811
    """The three dead-letter queues and their sources, in the moto the table fixture started."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    routes = {}
    for queue in dl.REGISTRY:
        url = sqs.create_queue(QueueName=f"{queue.name}-dlq")["QueueUrl"]
        source = sqs.create_queue(QueueName=f"{queue.name}-source")["QueueUrl"]
        monkeypatch.setenv(queue.env, url)
        monkeypatch.setenv(queue.source_env, source)
        routes[queue.name] = dl.Route(queue, url, source)
    yield routes


def connect(*ids: str) -> None:
    for shop_id in ids:
        shops.save(Shop(shop_id=shop_id, cpn_id=1, office_id=1, price_list_id=1), f"hash-{shop_id}")


def fail_for_good(route: dl.Route, shop_id: str, subject: str) -> str:
    """What SQS and the worker do to a message failing every attempt: the last failure marks it, SQS moves it."""
    message = WorkMessage(kind="bsale.notification", shop_id=shop_id, payload={"topic": "stock"},  # type: ignore[arg-type]
                          subject=subject)
    sqs = aws.client("sqs")
    sent = sqs.send_message(QueueUrl=route.url, MessageBody=message.model_dump_json(), MessageAttributes={
        "shop_id": {"DataType": "String", "StringValue": shop_id}})
    for attempt in range(1, route.queue.max_receives + 1):
        dl.record_failure(sent["MessageId"], message, "Jumpseller answered 500", receive_count=attempt,
                          queue=route.name)
    return str(sent["MessageId"])


def test_status_counts_each_shops_dead_letters_without_receiving_any(queues: dict[str, dl.Route],
                                                                    calls: Counter[str]) -> None:
    connect("alfa", "beta", "gamma")
    fail_for_good(queues["bsale"], "alfa", "stock 1")
    fail_for_good(queues["bsale"], "alfa", "stock 2")
    fail_for_good(queues["order"], "beta", "order 9")
    # Failing short of the last attempt is retried by SQS, not dead-lettered: not counted.
    retried = WorkMessage(kind="bsale.notification", shop_id="gamma", payload={}, subject="x")  # type: ignore[arg-type]
    dl.record_failure("m-retried", retried, "boom", receive_count=dl.REGISTRY[0].max_receives - 1, queue="bsale")
    calls.clear()

    every = [h for page in fleet(limit=2) for h in page.shops]
    one = shop_health("alfa")
    totals = dead_letter_totals()

    assert {h.shop_id: h.dead_letters for h in every} == {
        "alfa": {"bsale": 2, "order": 0, "sync": 0},
        "beta": {"bsale": 0, "order": 1, "sync": 0},
        "gamma": {"bsale": 0, "order": 0, "sync": 0},
    }
    assert one.dead_letters == {"bsale": 2, "order": 0, "sync": 0} and not one.healthy
    assert totals == {"bsale": 2, "order": 1, "sync": 0}
    assert calls["sqs.ReceiveMessage"] == 0, calls
    assert {c for c in calls if c.startswith("sqs.")} == {"sqs.GetQueueAttributes"}
    # And the messages were left alone: still visible, received by nobody yet.
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=queues["bsale"].url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "2"
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"
    dl.inspect(aws.client("sqs"), queues["bsale"], wait_seconds=0)  # what status did before: the count sees it
    assert calls["sqs.ReceiveMessage"] > 0


def test_replay_and_purge_take_the_letters_out_of_the_counts(queues: dict[str, dl.Route]) -> None:
    connect("alfa", "beta")
    fail_for_good(queues["bsale"], "alfa", "stock 1")
    kept = fail_for_good(queues["bsale"], "alfa", "stock 2")
    fail_for_good(queues["bsale"], "beta", "stock 3")
    fail_for_good(queues["sync"], "beta", "slice 1")
    sqs = aws.client("sqs")

    report = dl.replay(sqs, queues["bsale"], dl.Selection(text="stock 1"), wait_seconds=0)
    assert len(report.replayed) == 1 and report.error is None
    assert shop_health("alfa").dead_letters == {"bsale": 1, "order": 0, "sync": 0}

    purged = dl.purge(sqs, queues["bsale"], dl.Selection(shops=frozenset({"beta"})), confirm=lambda _: True,
                      wait_seconds=0)
    assert purged.purged == 1
    assert shop_health("beta").dead_letters == {"bsale": 0, "order": 0, "sync": 1}
    assert shop_health("alfa").dead_letters == {"bsale": 1, "order": 0, "sync": 0}

    whole = dl.purge(sqs, queues["sync"], dl.Selection(), confirm=lambda _: True, wait_seconds=0)
    assert whole.whole_queue and whole.purged == 1
    assert shop_health("beta").dead_letters == {"bsale": 0, "order": 0, "sync": 0}
    assert [lt.message_id for lt in dl.inspect(sqs, queues["bsale"], wait_seconds=0).letters] == [kept]


def test_an_expired_mark_is_not_counted(queues: dict[str, dl.Route]) -> None:
    connect("alfa")
    dl.note_dead_lettered("bsale", "alfa", "m-old", now=1_000)
    dl.note_dead_lettered("bsale", "alfa", "m-new", now=2_000_000)
    assert dl.counts("alfa", now=1_000 + 86400 * dl.FAILURE_TTL_DAYS + 1)["bsale"] == 1


def test_pages_return_every_shop_exactly_once_in_order(table: str, calls: Counter[str]) -> None:  # noqa: F811
    ids = [f"tienda-{n:03}" for n in range(23)]
    connect(*reversed(ids))
    for size in (1, 5, 7, 23, 100):
        seen, cursor, pages = [], None, 0
        calls.clear()
        while True:
            got, cursor = shops.page(size, cursor)
            seen += [s.shop_id for s in got]
            pages += 1
            assert len(got) <= size
            if cursor is None:
                break
        assert seen == ids, size
        assert calls["dynamodb.Query"] == pages <= len(ids) // size + 2
    with pytest.raises(shops.BadCursor):
        shops.page(5, "not-a-cursor")
    with pytest.raises(shops.BadCursor):
        shops.page(5, "eyJwayI6ICJTSE9QI3gifQ==")  # JSON, but not a key of the shops index


def test_one_fleet_page_reads_only_its_shops(queues: dict[str, dl.Route], calls: Counter[str]) -> None:
    connect(*(f"s{n:02}" for n in range(12)))
    calls.clear()
    page = fleet_page(limit=5)
    assert [h.shop_id for h in page.shops] == [f"s{n:02}" for n in range(5)] and page.next_cursor
    shops_queries = calls["dynamodb.Query"]
    second = fleet_page(limit=5, cursor=page.next_cursor)
    assert [h.shop_id for h in second.shops] == [f"s{n:02}" for n in range(5, 10)]
    assert calls["dynamodb.Query"] == 2 * shops_queries  # the same work per page, whatever the fleet's size


def test_the_cli_pages_with_limit_and_cursor(queues: dict[str, dl.Route], calls: Counter[str]) -> None:
    connect("alfa", "beta", "gamma")
    fail_for_good(queues["order"], "beta", "order 9")
    calls.clear()

    first = runner.invoke(app, ["status", "--json", "--limit", "2"])
    assert first.exit_code == 1, first.output  # beta has a dead letter
    answer = json.loads(first.output)
    assert [h["shop_id"] for h in answer["shops"]] == ["alfa", "beta"] and answer["next_cursor"]
    assert answer["shops"][1]["dead_letters"]["order"] == 1
    assert answer["dead_letter_queues"] == {"bsale": 0, "order": 1, "sync": 0}

    rest = json.loads(runner.invoke(app, ["status", "--json", "--limit", "2", "--cursor",
                                          answer["next_cursor"]]).output)
    assert [h["shop_id"] for h in rest["shops"]] == ["gamma"] and rest["next_cursor"] is None

    every = runner.invoke(app, ["status"])
    assert every.exit_code == 1 and all(s in every.output for s in ("alfa", "beta", "gamma"))
    assert "1 dead letter(s)" in every.output and "more shops" not in every.output
    assert "more shops: --cursor" in runner.invoke(app, ["status", "--limit", "1"]).output
    assert calls["sqs.ReceiveMessage"] == 0, calls

    bad = runner.invoke(app, ["status", "--cursor", "garbage"])
    assert bad.exit_code != 0 and "cursor" in bad.output
