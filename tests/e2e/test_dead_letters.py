"""F12 through the local stack: what fails lands in the dead letters, and comes back once, losing nothing.

Manual mode on moto, as an operator drives it (`./dev admin --local dlq ...`) or through `bridge.ops.dead_letters`.
The Bsale dead-letter queue is shared by the whole session, so every check looks at the test's own shop; tests
that need a queue of their own (filters, purge) make a fresh pair in the same moto.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from admin import main
from bridge import queue
from bridge.errors import UpstreamError
from bridge.ops import dead_letters as dl
from bridge.queue import WorkMessage
from devstack import LocalStack
from devstack.demo import DemoShop, write_local_env
from sandboxes.jumpseller import JumpsellerSandbox
from tests.e2e.conftest import eventually

BSALE = dl.REGISTRY[0]


@pytest.fixture
def route(stack: LocalStack) -> dl.Route:
    return dl.Route(BSALE, stack.queue_url("CatalogDeadLetterQueue"), stack.queue_url("CatalogQueue"))


@pytest.fixture
def fresh_route(stack: LocalStack) -> dl.Route:
    """A dead-letter queue and a 'source' nobody consumes, so what a replay sends stays there to be looked at."""
    sqs = stack.client("sqs")
    name = uuid.uuid4().hex[:12]
    return dl.Route(BSALE, sqs.create_queue(QueueName=f"dlq-{name}")["QueueUrl"],
                    sqs.create_queue(QueueName=f"src-{name}")["QueueUrl"])


Admin = Callable[..., str]


@pytest.fixture
def admin(stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> Iterator[Admin]:
    """`./dev admin --local ...` against this stack: the env file `./dev local` writes, then the CLI's main."""
    from admin import environment

    env_file = tmp_path / ".devstack" / "env.json"
    write_local_env(stack, str(env_file))
    monkeypatch.setattr(environment, "LOCAL_ENV", env_file)
    saved = dict(os.environ)

    def run(*argv: str, answer: str | None = None, env: dict[str, str] | None = None, code: int = 0) -> str:
        if env:
            env_file.write_text(json.dumps({**json.loads(env_file.read_text()), **env}))
        if answer is not None:
            monkeypatch.setattr("builtins.input", lambda prompt="": answer)
        capsys.readouterr()
        returned = main(["--local", *argv])
        out = capsys.readouterr()
        assert returned == code, out.err
        return out.out + out.err

    yield run
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    os.environ.update(saved)


def dead(sqs: Any, route: dl.Route, shop: DemoShop) -> list[dl.DeadLetter]:
    return dl.inspect(sqs, route, dl.Selection(shops=frozenset({shop.code})), wait_seconds=0).letters


def break_writes(shop: DemoShop, jumpseller: JumpsellerSandbox, *skus: str) -> None:
    """Jumpseller answers 500 to every stock write of these SKUs, for as long as the test wants."""
    for sku in skus:
        found = shop.store.find_sku(sku)
        assert found is not None
        product = found[0].id
        jumpseller.faults.add(status=500, count=100_000, path_contains=f"/products/{product}.json", method="PUT")
        jumpseller.faults.add(status=500, count=100_000, path_contains=f"/products/{product}/variants/", method="PUT")


def writes(jumpseller: JumpsellerSandbox, shop: DemoShop) -> int:
    return sum(1 for r in jumpseller.requests
               if r.credential == shop.store.login and r.method == "PUT" and r.status == 200)


def poison(shop: DemoShop, stack: LocalStack, route: dl.Route, jumpseller: JumpsellerSandbox,
           stocks: dict[str, int]) -> list[dl.DeadLetter]:
    """Change these stocks in Bsale while Jumpseller refuses them, until every notification is a dead letter."""
    break_writes(shop, jumpseller, *stocks)
    for sku, quantity in stocks.items():
        shop.bsale.set_stock(shop.variant_id(sku), shop.office_id, quantity)
    sqs = stack.client("sqs")
    return list(eventually(lambda: (found := dead(sqs, route, shop)) and len(found) == len(stocks) and found,
                           timeout=90, interval=0.25))


def worker_runs(stack: LocalStack) -> int:
    return sum(1 for i in stack.invocations if i.function == "BsaleWorkerFunction")


# ------------------------------------------------------------------------------------------- the whole story

def test_a_poison_message_is_replayed_once_after_the_cause_is_fixed(
    shop: DemoShop, stack: LocalStack, route: dl.Route, jumpseller: JumpsellerSandbox, admin: Admin
) -> None:
    # Given two stock changes Jumpseller keeps refusing: after their receives, both are dead letters
    shown_before = {sku: shop.jumpseller_stock(sku) for sku in ("TAZA-1", "POL-M")}
    letters = poison(shop, stack, route, jumpseller, {"TAZA-1": 2, "POL-M": 8})
    assert {letter.subject for letter in letters} == {f"stock {shop.variant_id(s)}" for s in ("TAZA-1", "POL-M")}
    for letter in letters:
        assert (letter.shop_id, letter.kind, letter.decoded) == (shop.code, "bsale.notification", True)
        assert letter.receive_count >= 5 and letter.sent_at and letter.first_received_at
    listing = admin("dlq", "inspect", "bsale", "--shop", shop.code)
    assert listing.count(f"shop={shop.code}") == 2 and "2 dead letters shown" in listing
    # The workers record each failed attempt: the operator reads why, in plain words
    assert listing.count("Jumpseller: gave up after 4 attempts: 500") == 2

    # When an operator first asks for a dry run
    assert stack.drain(60)
    runs = worker_runs(stack)
    out = admin("dlq", "replay", "bsale", "--shop", shop.code, "--dry-run")
    # Then nothing moves: no work, both still dead letters, Jumpseller unchanged
    assert "would replay 2" in out
    assert stack.drain(60) and worker_runs(stack) == runs
    assert len(dead(stack.client("sqs"), route, shop)) == 2
    assert {sku: shop.jumpseller_stock(sku) for sku in shown_before} == shown_before

    # When the cause is fixed and the dead letters are replayed
    jumpseller.faults.clear()
    before = writes(jumpseller, shop)
    out = admin("dlq", "replay", "bsale", "--shop", shop.code, "--rate", "20")
    assert "replayed 2" in out
    # Then each is processed once: Bsale's stock in Jumpseller, one write each, no dead letter left
    eventually(lambda: shop.jumpseller_stock("TAZA-1") == 2 and shop.jumpseller_stock("POL-M") == 8)
    assert stack.drain(60)
    assert writes(jumpseller, shop) - before == 2
    assert dead(stack.client("sqs"), route, shop) == []


def test_a_replay_killed_half_way_loses_nothing(
    shop: DemoShop, stack: LocalStack, route: dl.Route, jumpseller: JumpsellerSandbox
) -> None:
    stocks = {"POL-S": 1, "POL-M": 2, "TAZA-1": 3}
    poison(shop, stack, route, jumpseller, stocks)
    jumpseller.faults.clear()
    selection = dl.Selection(shops=frozenset({shop.code}))
    sqs = stack.client("sqs")
    before = writes(jumpseller, shop)

    # When Ctrl-C hits the first send: nothing was sent, every message is back at once
    with pytest.raises(KeyboardInterrupt):
        dl.replay(Flaky(sqs, interrupt_send=1), route, selection)
    assert len(dead(sqs, route, shop)) == 3

    # When the process dies between the second send and its delete
    report = dl.replay(Flaky(sqs, fail_delete=2), route, selection)
    assert (len(report.replayed), len(report.sent_not_deleted)) == (1, 1) and report.error
    # Then nothing is lost: the half-done message and the untouched one are dead letters, visible again now
    left = {letter.message_id for letter in dead(sqs, route, shop)}
    assert len(left) == 2 and report.sent_not_deleted[0].message_id in left
    assert report.replayed[0].message_id not in left
    assert stack.drain(60)  # the two that were sent are processed

    # When the replay runs again to its end
    report = dl.replay(sqs, route, selection)
    assert len(report.replayed) == 2 and report.error is None
    # Then every stock is right, and the message sent twice wrote nothing the second time
    eventually(lambda: all(shop.jumpseller_stock(sku) == q for sku, q in stocks.items()))
    assert stack.drain(60)
    assert writes(jumpseller, shop) - before == 3
    assert dead(sqs, route, shop) == []


class Flaky:
    """An SQS client that dies where a test says (the n-th send or delete), and is the real one otherwise."""

    def __init__(self, sqs: Any, *, interrupt_send: int | None = None, fail_delete: int | None = None) -> None:
        self.sqs, self.interrupt_send, self.fail_delete = sqs, interrupt_send, fail_delete
        self.sends = self.deletes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message(self, **kwargs: Any) -> Any:
        self.sends += 1
        if self.sends == self.interrupt_send:
            raise KeyboardInterrupt
        return self.sqs.send_message(**kwargs)

    def delete_message(self, **kwargs: Any) -> Any:
        self.deletes += 1
        if self.deletes == self.fail_delete:
            raise ConnectionError("the process died here")
        return self.sqs.delete_message(**kwargs)


# ------------------------------------------------------------------------------------------- selecting, purging

def put(route: dl.Route, shop: str, kind: str, subject: str) -> str:
    message = WorkMessage(kind=kind, shop_id=shop, payload={"n": subject}, subject=subject)  # type: ignore[arg-type]
    return queue.send(route.url, message)


def visible_and_held(stack: LocalStack, url: str) -> tuple[int, int]:
    got = stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(got["ApproximateNumberOfMessages"]), int(got["ApproximateNumberOfMessagesNotVisible"])


def test_filters_select_the_right_messages_and_a_replay_moves_only_those(
    stack: LocalStack, fresh_route: dl.Route
) -> None:
    a_stock = put(fresh_route, "shop-a", "bsale.notification", "stock 11")
    a_order = put(fresh_route, "shop-a", "jumpseller.webhook", "order 10234")
    b_stock = put(fresh_route, "shop-b", "bsale.notification", "stock 12")
    b_sync = put(fresh_route, "shop-b", "sync.reconcile", "reconcile")
    # A worker that opts in recorded why one attempt failed (scrubbed like a log line)
    with pytest.raises(UpstreamError), dl.failures_recorded(
        b_sync, WorkMessage(kind="sync.reconcile", shop_id="shop-b", payload={}, subject="reconcile"), 5
    ):
        raise UpstreamError("jumpseller", "503 maintenance, write to ana@example.cl", retryable=True)
    sqs = stack.client("sqs")

    def ids(selection: dl.Selection) -> set[str]:
        return {letter.message_id for letter in dl.inspect(sqs, fresh_route, selection, wait_seconds=0).letters}

    assert ids(dl.Selection()) == {a_stock, a_order, b_stock, b_sync}
    assert ids(dl.Selection(shops=frozenset({"shop-a"}))) == {a_stock, a_order}
    assert ids(dl.Selection(kinds=frozenset({"bsale"}))) == {a_stock, b_stock}
    assert ids(dl.Selection(text="order 102")) == {a_order}
    assert ids(dl.Selection(text="maintenance")) == {b_sync}  # found in the recorded error
    assert ids(dl.Selection(message_ids=frozenset({b_stock}))) == {b_stock}
    recorded = next(x for x in dl.inspect(sqs, fresh_route, wait_seconds=0).letters if x.message_id == b_sync)
    assert recorded.error == "UpstreamError: jumpseller: 503 maintenance, write to [email]" and recorded.failed_at
    assert visible_and_held(stack, fresh_route.url) == (4, 0)  # inspecting hid nothing

    report = dl.replay(sqs, fresh_route, dl.Selection(shops=frozenset({"shop-b"})), limit=1, wait_seconds=0)
    assert [letter.message_id for letter in report.replayed] == [b_stock]
    sent = sqs.receive_message(QueueUrl=fresh_route.source_url, MessageAttributeNames=["All"],
                               MaxNumberOfMessages=10)["Messages"]
    assert len(sent) == 1
    assert WorkMessage.model_validate_json(sent[0]["Body"]).subject == "stock 12"
    assert {k: v["StringValue"] for k, v in sent[0]["MessageAttributes"].items()} == {
        "shop_id": "shop-b", "kind": "bsale.notification"}
    assert ids(dl.Selection()) == {a_stock, a_order, b_sync}
    assert visible_and_held(stack, fresh_route.url) == (3, 0)


def test_purge_asks_first_and_a_filter_limits_it(stack: LocalStack, fresh_route: dl.Route, admin: Admin) -> None:
    keep = put(fresh_route, "shop-a", "bsale.notification", "stock 1")
    put(fresh_route, "shop-b", "bsale.notification", "stock 2")
    queues = {"CATALOG_DLQ_URL": fresh_route.url, "CATALOG_QUEUE_URL": fresh_route.source_url}

    assert "purged 0" in admin("dlq", "purge", "bsale", "--shop", "shop-b", answer="n", env=queues)
    assert visible_and_held(stack, fresh_route.url) == (2, 0)
    assert "purged 1 (matching messages); 1 others visible again" in admin(
        "dlq", "purge", "bsale", "--shop", "shop-b", answer="y", env=queues)
    left = dl.inspect(stack.client("sqs"), fresh_route, wait_seconds=0).letters
    assert [letter.message_id for letter in left] == [keep]
    assert "purged 1 (the whole queue)" in admin("dlq", "purge", "bsale", "--yes", env=queues)
    assert eventually(lambda: visible_and_held(stack, fresh_route.url) == (0, 0))


def test_list_shows_every_dead_letter_queue_and_the_stack_output_names_the_same_queues(
    stack: LocalStack, admin: Admin
) -> None:
    depths = json.loads(admin("dlq", "list", "--json"))
    assert [d["queue"] for d in depths] == list(dl.NAMES)
    assert all(isinstance(d[key], int) for d in depths
               for key in ("dead_letters", "held_now", "source_waiting", "source_in_flight"))
    assert "dead letters" in admin("dlq", "list")  # the table an operator reads
    given = dict(pair.split("=", 1) for pair in stack.outputs()["OperatorEnvironment"].split())
    for q in dl.REGISTRY:
        assert given[q.env] == stack.queue_url(q.resource)
        assert given[q.source_env] == stack.queue_url(q.source_resource)


def test_a_queue_that_is_not_configured_is_refused_by_name(admin: Admin) -> None:
    out = admin("dlq", "inspect", "order", env={"ORDER_DLQ_URL": ""}, code=2)
    assert "ORDER_DLQ_URL not set" in out


# ------------------------------------------------------------------------------------------- bounded deferrals

@pytest.fixture
def deferral_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """DEFERRAL_LIMITS for the workers of the running stack (they read settings from this process)."""
    from bridge.settings import settings

    def set_limits(value: str) -> None:
        monkeypatch.setenv("DEFERRAL_LIMITS", value)
        settings.cache_clear()

    yield set_limits
    monkeypatch.delenv("DEFERRAL_LIMITS", raising=False)
    settings.cache_clear()


def test_a_jumpseller_answering_429_for_good_ends_in_the_dead_letters_with_its_reason(
    shop: DemoShop, stack: LocalStack, route: dl.Route, jumpseller: JumpsellerSandbox, admin: Admin,
    deferral_limits: Callable[[str], None],
) -> None:
    # Given a Jumpseller that answers 429 to every write of a SKU, for as long as it takes
    deferral_limits('{"bsale": {"count": 3, "minutes": 30}}')
    found = shop.store.find_sku("TAZA-1")
    assert found is not None
    jumpseller.faults.add(status=429, count=100_000, path_contains=f"/products/{found[0].id}", method="PUT")
    # When Bsale's stock changes
    shop.bsale.set_stock(shop.variant_id("TAZA-1"), shop.office_id, 2)
    # Then the message is handed back as often as the Bsale queue allows, and then fails into the dead letters
    sqs = stack.client("sqs")
    letters = eventually(lambda: dead(sqs, route, shop), timeout=90, interval=0.25)
    assert [letter.subject for letter in letters] == [f"stock {shop.variant_id('TAZA-1')}"]
    body = json.loads(letters[0].body)
    assert body["deferred"] == 3 and body["first_deferred_at"]
    assert letters[0].receive_count >= 5
    # And the operator reads why (the bound and the API's own answer), with the alarm's queue non-empty
    listing = admin("dlq", "inspect", "bsale", "--shop", shop.code)
    assert "DeferralsExhausted" in listing and "Jumpseller still answers 429" in listing
    assert "handed back 3 times" in listing
    # And the writes it cost are bounded: every hand-back and every retry tries a few times, then stops
    assert stack.drain(60)
    tried = sum(1 for r in jumpseller.requests if r.credential == shop.store.login and r.method == "PUT")
    assert tried <= (3 + 5) * 4
    jumpseller.faults.clear()
