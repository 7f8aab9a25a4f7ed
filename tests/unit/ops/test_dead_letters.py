"""Dead-letter tooling without a network: decoding, selection, ordering of send and delete, holds, move tasks.

SQS semantics end to end (moto) are in tests/e2e/test_dead_letters.py; here an in-memory queue pair records every
call, and SQS's move task (which moto lacks) is driven through botocore's Stubber.
"""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bridge.ops import dead_letters as dl
from bridge.queue import WorkMessage

DLQ, SOURCE = "https://sqs.local/1/dlq", "https://sqs.local/1/source"
ROUTE = dl.Route(dl.REGISTRY[0], DLQ, SOURCE)
_ids = itertools.count(1)


def work(shop: str = "shop-a", kind: str = "bsale.notification", subject: str = "stock 1") -> WorkMessage:
    return WorkMessage(kind=kind, shop_id=shop, payload={"topic": "stock"}, subject=subject)  # type: ignore[arg-type]


class FakeSQS:
    """Two queues with visibility, receipt handles and a log of calls; faults are injected per call."""

    def __init__(self) -> None:
        self.queues: dict[str, list[dict[str, Any]]] = {DLQ: [], SOURCE: []}
        self.calls: list[tuple[str, str]] = []  # (operation, message id)
        self.fail: dict[str, set[str]] = {}  # operation -> message ids whose call raises
        self.interrupt: dict[str, set[str]] = {}  # operation -> message ids whose call raises KeyboardInterrupt
        self.now = 0.0

    def put(self, url: str, message: WorkMessage | str, message_id: str | None = None) -> str:
        mid = message_id or f"m{next(_ids)}"
        body = message if isinstance(message, str) else message.model_dump_json()
        attrs = {} if isinstance(message, str) else {
            "shop_id": {"DataType": "String", "StringValue": message.shop_id, "StringListValues": []},
            "kind": {"DataType": "String", "StringValue": message.kind, "BinaryListValues": []}}
        self.queues[url].append({"MessageId": mid, "Body": body, "MessageAttributes": attrs, "visible_at": 0.0,
                                 "receives": 5, "handle": None})
        return mid

    def _check(self, operation: str, mid: str) -> None:
        self.calls.append((operation, mid))
        if mid in self.interrupt.get(operation, set()):
            raise KeyboardInterrupt
        if mid in self.fail.get(operation, set()):
            raise RuntimeError(f"{operation} failed")

    def _by_handle(self, url: str, handle: str) -> dict[str, Any]:
        return next(m for m in self.queues[url] if m["handle"] == handle)

    # -- the SQS calls the tool makes
    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int, VisibilityTimeout: int,  # noqa: N803
                        **_: Any) -> dict[str, Any]:
        out = []
        for m in self.queues[QueueUrl]:
            if len(out) == MaxNumberOfMessages:
                break
            if m["visible_at"] <= self.now:
                m["visible_at"] = self.now + VisibilityTimeout
                m["receives"] += 1
                m["handle"] = f"{m['MessageId']}-{m['receives']}"
                out.append({"MessageId": m["MessageId"], "ReceiptHandle": m["handle"], "Body": m["Body"],
                            "MessageAttributes": m["MessageAttributes"],
                            "Attributes": {"ApproximateReceiveCount": str(m["receives"]),
                                           "SentTimestamp": "1714564800000",
                                           "ApproximateFirstReceiveTimestamp": "1714564801000"}})
        return {"Messages": out} if out else {}

    def send_message(self, QueueUrl: str, MessageBody: str, MessageAttributes: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        original = next(m["MessageId"] for m in self.queues[DLQ] if m["Body"] == MessageBody)  # bodies differ
        self._check("send", original)
        for value in MessageAttributes.values():
            assert set(value) <= {"DataType", "StringValue", "BinaryValue"}, value
        self.queues[QueueUrl].append({"MessageId": f"new-{original}", "Body": MessageBody,
                                      "MessageAttributes": MessageAttributes, "visible_at": 0.0, "receives": 0,
                                      "handle": None})
        return {"MessageId": f"new-{original}"}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803
        m = self._by_handle(QueueUrl, ReceiptHandle)
        self._check("delete", m["MessageId"])
        self.queues[QueueUrl].remove(m)

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> None:  # noqa: N803
        for entry in Entries:
            m = self._by_handle(QueueUrl, entry["ReceiptHandle"])
            self.calls.append(("visibility", m["MessageId"]))
            m["visible_at"] = self.now + entry["VisibilityTimeout"]

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        for entry in Entries:
            self.queues[QueueUrl].remove(self._by_handle(QueueUrl, entry["ReceiptHandle"]))
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        visible = sum(1 for m in self.queues[QueueUrl] if m["visible_at"] <= self.now)
        return {"Attributes": {"ApproximateNumberOfMessages": str(visible),
                               "ApproximateNumberOfMessagesNotVisible": str(len(self.queues[QueueUrl]) - visible)}}

    def purge_queue(self, QueueUrl: str) -> None:  # noqa: N803
        self.queues[QueueUrl].clear()

    # -- what tests look at
    def visible(self, url: str) -> list[str]:
        return [m["MessageId"] for m in self.queues[url] if m["visible_at"] <= self.now]


def no_failures(letters: list[dl.DeadLetter]) -> None:
    return None


@pytest.fixture(autouse=True)
def forgotten(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The per-shop marks dropped (no table here): (queue, [(shop, message id)]), or (queue, "all")."""
    dropped: list[tuple[str, Any]] = []
    monkeypatch.setattr(dl, "forget", lambda queue, letters: dropped.append((queue, list(letters))))
    monkeypatch.setattr(dl, "forget_queue", lambda queue: dropped.append((queue, "all")) or 0)
    return dropped


@pytest.fixture
def sqs() -> FakeSQS:
    return FakeSQS()


def replay(sqs: FakeSQS, selection: dl.Selection | None = None, **kwargs: Any) -> dl.ReplayReport:
    return dl.replay(sqs, ROUTE, selection or dl.Selection(), wait_seconds=0, failures=no_failures, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- which queues

def test_routes_come_from_the_environment_and_name_what_is_missing() -> None:
    env = {"CATALOG_DLQ_URL": DLQ, "CATALOG_QUEUE_URL": SOURCE, "ORDER_QUEUE_URL": SOURCE}
    found, missing = dl.routes(None, env)
    assert [(r.name, r.url, r.source_url) for r in found] == [("bsale", DLQ, SOURCE)]
    assert missing == ["order (ORDER_DLQ_URL not set)", "sync (SYNC_DLQ_URL and SYNC_QUEUE_URL not set)"]
    with pytest.raises(dl.DeadLetterError, match="ORDER_DLQ_URL not set"):
        dl.routes(["order"], env)
    with pytest.raises(dl.DeadLetterError, match="unknown dead-letter queue"):
        dl.routes(["nope"], env)


# ------------------------------------------------------------------------------------------- decoding and selection

def test_a_dead_letter_is_decoded_from_its_work_message_and_sqs_attributes(sqs: FakeSQS) -> None:
    sqs.put(DLQ, work("shop-a", "jumpseller.webhook", "order 10234"))
    sqs.put(DLQ, "not json at all")
    sqs.put(DLQ, '{"kind": "orders.future", "shop_id": "shop-c", "subject": "order 7", "payload": {}}')
    letters = dl.inspect(sqs, ROUTE, wait_seconds=0, failures=no_failures).letters  # type: ignore[arg-type]
    good, bad, newer = letters
    assert (newer.shop_id, newer.kind, newer.subject, newer.decoded) == ("shop-c", "orders.future", "order 7", False)
    assert (good.shop_id, good.kind, good.subject, good.decoded) == ("shop-a", "jumpseller.webhook", "order 10234",
                                                                      True)
    assert good.receive_count == 6 and good.sent_at == 1714564800.0 and good.first_received_at == 1714564801.0
    assert (bad.decoded, bad.subject, bad.shop_id) == (False, "(not a work message)", None)
    assert good.summary()["payload"] == {"topic": "stock"}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (dl.Selection(), {"a-stock", "a-order", "b-stock"}),
        (dl.Selection(shops=frozenset({"shop-a"})), {"a-stock", "a-order"}),
        (dl.Selection(kinds=frozenset({"jumpseller"})), {"a-order"}),
        (dl.Selection(kinds=frozenset({"bsale.notification"})), {"a-stock", "b-stock"}),
        (dl.Selection(text="STOCK 7"), {"b-stock"}),
        (dl.Selection(text="500 BOOM"), {"a-stock"}),  # in the recorded last error
        (dl.Selection(message_ids=frozenset({"a-order", "b-stock"})), {"a-order", "b-stock"}),
        (dl.Selection(shops=frozenset({"shop-b"}), kinds=frozenset({"jumpseller"})), set()),
    ],
    ids=["all", "shop", "kind-family", "kind", "subject", "error", "ids", "shop-and-kind"],
)
def test_filters_select_by_shop_kind_text_and_id(sqs: FakeSQS, selection: dl.Selection, expected: set[str]) -> None:
    sqs.put(DLQ, work("shop-a", subject="stock 1"), "a-stock")
    sqs.put(DLQ, work("shop-a", "jumpseller.webhook", "order 10234"), "a-order")
    sqs.put(DLQ, work("shop-b", subject="stock 7"), "b-stock")

    def failures(letters: list[dl.DeadLetter]) -> None:
        for letter in letters:
            if letter.message_id == "a-stock":
                letter.error = "UpstreamError: jumpseller: 500 boom"

    found = dl.inspect(sqs, ROUTE, selection, wait_seconds=0, failures=failures)  # type: ignore[arg-type]
    assert {letter.message_id for letter in found.letters} == expected
    assert sorted(sqs.visible(DLQ)) == ["a-order", "a-stock", "b-stock"]  # inspecting hid nothing


# ------------------------------------------------------------------------------------------- replay

def test_replay_sends_then_deletes_each_message_and_keeps_body_and_attributes(
        sqs: FakeSQS, forgotten: list[tuple[str, Any]]) -> None:
    first, second = sqs.put(DLQ, work(subject="stock 1")), sqs.put(DLQ, work(subject="stock 2"))
    report = replay(sqs)
    assert [letter.message_id for letter in report.replayed] == [first, second]
    assert [c for c in sqs.calls if c[0] in ("send", "delete")] == [
        ("send", first), ("delete", first), ("send", second), ("delete", second)]
    assert sqs.queues[DLQ] == []
    sent = sqs.queues[SOURCE]
    assert [WorkMessage.model_validate_json(m["Body"]).subject for m in sent] == ["stock 1", "stock 2"]
    assert sent[0]["MessageAttributes"] == {"shop_id": {"DataType": "String", "StringValue": "shop-a"},
                                            "kind": {"DataType": "String", "StringValue": "bsale.notification"}}
    assert forgotten == [("bsale", [("shop-a", first)]), ("bsale", [("shop-a", second)])]  # once deleted


def test_a_dry_run_changes_nothing(sqs: FakeSQS, forgotten: list[tuple[str, Any]]) -> None:
    ids = [sqs.put(DLQ, work(subject=f"stock {n}")) for n in range(3)]
    report = replay(sqs, dry_run=True)
    assert [letter.message_id for letter in report.replayed] == ids
    assert sqs.queues[SOURCE] == [] and sqs.visible(DLQ) == ids
    assert not [c for c in sqs.calls if c[0] in ("send", "delete")] and forgotten == []


def test_a_failed_delete_stops_the_replay_and_loses_nothing(sqs: FakeSQS) -> None:
    a, b, c = (sqs.put(DLQ, work(subject=f"stock {n}")) for n in range(3))
    sqs.fail["delete"] = {b}
    report = replay(sqs)
    assert [letter.message_id for letter in report.replayed] == [a]
    assert [letter.message_id for letter in report.sent_not_deleted] == [b]
    assert report.error and "sent but not deleted" in report.error
    # b is in both queues (sent twice if replayed again: harmless), c was never sent; both visible again now
    assert sqs.visible(DLQ) == [b, c]
    assert [m["MessageId"] for m in sqs.queues[SOURCE]] == [f"new-{a}", f"new-{b}"]


def test_a_failed_send_deletes_nothing(sqs: FakeSQS) -> None:
    a, b = sqs.put(DLQ, work()), sqs.put(DLQ, work(subject="stock 2"))
    sqs.fail["send"] = {a}
    report = replay(sqs)
    assert report.replayed == [] and report.error and "not sent" in report.error
    assert sqs.visible(DLQ) == [a, b] and sqs.queues[SOURCE] == []


def test_ctrl_c_half_way_releases_every_held_message(sqs: FakeSQS) -> None:
    a, b, c = (sqs.put(DLQ, work(subject=f"stock {n}")) for n in range(3))
    sqs.interrupt["send"] = {b}
    with pytest.raises(KeyboardInterrupt):
        replay(sqs)
    assert sqs.visible(DLQ) == [b, c]  # visible at once, not after the hold
    assert [m["MessageId"] for m in sqs.queues[SOURCE]] == [f"new-{a}"]


def test_limit_and_selection_replay_only_what_was_asked(sqs: FakeSQS) -> None:
    ids = [sqs.put(DLQ, work("shop-a" if n % 2 else "shop-b", subject=f"stock {n}")) for n in range(6)]
    report = replay(sqs, dl.Selection(shops=frozenset({"shop-a"})), limit=2)
    assert [letter.message_id for letter in report.replayed] == [ids[1], ids[3]]
    assert sqs.visible(DLQ) == [ids[0], ids[2], ids[4], ids[5]]


def test_the_rate_spaces_the_sends() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        clock[0] += seconds

    pace = dl.ReplayPace(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        pace.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    with pytest.raises(dl.DeadLetterError):
        dl.ReplayPace(0)


def test_a_long_command_renews_its_holds(sqs: FakeSQS) -> None:
    sqs.put(DLQ, work())
    clock = [0.0]
    with dl.Hold(sqs, ROUTE, seconds=60, wait_seconds=0, failures=no_failures,  # type: ignore[arg-type]
                 clock=lambda: clock[0]) as hold:
        assert len(list(hold.letters())) == 1
        clock[0] = 20
        hold.renew()
        assert not [c for c in sqs.calls if c[0] == "visibility"]
        clock[0] = 31
        hold.renew()
        assert [c[0] for c in sqs.calls if c[0] == "visibility"] == ["visibility"]
    assert [c[0] for c in sqs.calls if c[0] == "visibility"] == ["visibility", "visibility"]  # released on exit


# ------------------------------------------------------------------------------------------- purge

def test_purge_asks_first_and_with_a_filter_drops_only_the_selection(sqs: FakeSQS,
                                                                     forgotten: list[tuple[str, Any]]) -> None:
    keep, drop = sqs.put(DLQ, work("shop-a")), sqs.put(DLQ, work("shop-b"))
    selection = dl.Selection(shops=frozenset({"shop-b"}))
    questions: list[str] = []
    refused = dl.purge(sqs, ROUTE, selection, wait_seconds=0, failures=no_failures,  # type: ignore[arg-type]
                       confirm=lambda q: questions.append(q) is not None)
    assert refused.purged == 0 and sqs.visible(DLQ) == [keep, drop]
    assert questions == ["Purge 1 messages of the bsale dead-letter queue?"]
    done = dl.purge(sqs, ROUTE, selection, wait_seconds=0, failures=no_failures,  # type: ignore[arg-type]
                    confirm=lambda q: True)
    assert (done.purged, done.whole_queue, done.released) == (1, False, 1)
    assert sqs.visible(DLQ) == [keep]
    everything = dl.purge(sqs, ROUTE, dl.Selection(), confirm=lambda q: True)  # type: ignore[arg-type]
    assert (everything.purged, everything.whole_queue) == (1, True) and sqs.queues[DLQ] == []
    assert forgotten == [("bsale", [("shop-b", drop)]), ("bsale", "all")]  # the shops' counts follow


# ------------------------------------------------------------------------------------------- SQS's move task

DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:dlq"
SOURCE_ARN = "arn:aws:sqs:us-east-1:123456789012:source"


def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("sqs", region_name="us-east-1", endpoint_url="https://sqs.us-east-1.amazonaws.com",
                          aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def expect_arn(stub: Stubber, url: str, arn: str) -> None:
    stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": arn}},
                      {"QueueUrl": url, "AttributeNames": ["QueueArn"]})


def test_the_move_task_starts_with_the_source_as_destination_and_the_rate() -> None:
    client, stub = stubbed()
    expect_arn(stub, DLQ, DLQ_ARN)
    stub.add_response("list_message_move_tasks", {"Results": [{"Status": "COMPLETED", "SourceArn": DLQ_ARN}]},
                      {"SourceArn": DLQ_ARN, "MaxResults": 1})
    expect_arn(stub, SOURCE, SOURCE_ARN)
    stub.add_response("start_message_move_task", {"TaskHandle": "handle-1"},
                      {"SourceArn": DLQ_ARN, "DestinationArn": SOURCE_ARN, "MaxNumberOfMessagesPerSecond": 20})
    with stub:
        assert dl.start_move_task(client, ROUTE, rate=20) == "handle-1"
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("status", ["RUNNING", "CANCELLING"])
def test_the_move_task_is_refused_while_another_is_active(status: str) -> None:
    client, stub = stubbed()
    expect_arn(stub, DLQ, DLQ_ARN)
    stub.add_response("list_message_move_tasks",
                      {"Results": [{"Status": status, "TaskHandle": "busy", "SourceArn": DLQ_ARN}]},
                      {"SourceArn": DLQ_ARN, "MaxResults": 1})
    with stub, pytest.raises(dl.DeadLetterError, match=f"already {status}"):
        dl.start_move_task(client, ROUTE)


def test_the_move_task_rate_is_what_sqs_accepts() -> None:
    client, _ = stubbed()
    with pytest.raises(dl.DeadLetterError, match="1 to 500"):
        dl.start_move_task(client, ROUTE, rate=501)


def test_move_tasks_are_listed_with_their_progress() -> None:
    client, stub = stubbed()
    expect_arn(stub, DLQ, DLQ_ARN)
    stub.add_response("list_message_move_tasks", {"Results": [
        {"Status": "RUNNING", "TaskHandle": "h", "SourceArn": DLQ_ARN, "ApproximateNumberOfMessagesMoved": 3,
         "ApproximateNumberOfMessagesToMove": 10, "StartedTimestamp": 1714564800000},
        {"Status": "FAILED", "SourceArn": DLQ_ARN, "FailureReason": "AccessDenied"}]},
        {"SourceArn": DLQ_ARN, "MaxResults": 10})
    with stub:
        running, failed = dl.move_tasks(client, ROUTE)
    assert (running.status, running.moved, running.to_move, running.started_at) == ("RUNNING", 3, 10, 1714564800.0)
    assert (failed.status, failed.failure) == ("FAILED", "AccessDenied")


def test_the_cli_refuses_a_selective_move_task(capsys: pytest.CaptureFixture[str]) -> None:
    from admin import main

    assert main(["dlq", "replay", "bsale", "--mode", "move-task", "--shop", "shop-a"]) == 2
    assert "moves the whole queue" in capsys.readouterr().err
