"""F12, dead letters: see what failed and why, and send it back once the cause is fixed, losing none of it.

Manual mode (default; the tests drive it on moto). Messages are received from the dead-letter queue with a
visibility *hold*, decoded and filtered. A replayed message is sent to its source queue (same body, same message
attributes) and only then deleted from the dead-letter queue. Every message held but not replayed or purged is
made visible again when the command ends, however it ends, and holds are renewed while a long replay runs, so
inspecting never hides a message for long. A message sent but not deleted (the command was killed between the
two calls) stays in the dead-letter queue and a later replay sends it again: that is harmless, because the
workers are idempotent by design (they write absolute values read from the source of truth, and side effects
that are not naturally idempotent go through state records keyed by shop and order, never by message id).

Move-task mode (AWS only): SQS's own StartMessageMoveTask moves every message back to its source, at an
optional rate, one task per queue at a time. moto does not implement it.

Last error: SQS keeps no reason with a dead letter. `record_failure` (or the `failures_recorded` context
manager around a worker's record handler) stores the error of each failed attempt under the message id for
14 days, and `inspect` shows it. It is optional: without it, `inspect` points at the worker's log lines, which
carry the message id as `correlation_id`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bridge.errors import BridgeError
from bridge.queue import WorkMessage
from bridge.redact import scrub, scrub_text

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class DeadLetterError(BridgeError):
    status = 400
    code = "dead_letters"


# ------------------------------------------------------------------------------------------- which queues

@dataclass(frozen=True)
class DeadLetterQueue:
    """A dead-letter queue of the template and the work queue it catches failures of.

    `env` / `source_env` name the variables holding the queue URLs: the functions have the source's (from the
    template's Globals), operators' shells get both from the stack output `OperatorEnvironment` or, locally,
    from `.devstack/env.json`.
    """

    name: str
    resource: str
    env: str
    source_resource: str
    source_env: str
    max_receives: int  # the source queue's maxReceiveCount (template.yaml; a unit test keeps them equal)


REGISTRY: tuple[DeadLetterQueue, ...] = (
    DeadLetterQueue("bsale", "CatalogDeadLetterQueue", "CATALOG_DLQ_URL", "CatalogQueue", "CATALOG_QUEUE_URL", 5),
    DeadLetterQueue("order", "OrderDeadLetterQueue", "ORDER_DLQ_URL", "OrderQueue", "ORDER_QUEUE_URL", 6),
    DeadLetterQueue("sync", "SyncDeadLetterQueue", "SYNC_DLQ_URL", "SyncQueue", "SYNC_QUEUE_URL", 5),
)
NAMES = tuple(q.name for q in REGISTRY)


@dataclass(frozen=True)
class Route:
    """A dead-letter queue with its URL and its source queue's URL, ready to act on."""

    queue: DeadLetterQueue
    url: str
    source_url: str

    @property
    def name(self) -> str:
        return self.queue.name


def routes(names: Iterable[str] | None, environ: Mapping[str, str]) -> tuple[list[Route], list[str]]:
    """The routes for `names` (None or "all": every configured one), and what is not configured.

    A queue named explicitly must be configured; with "all", unconfigured ones are only reported.
    """
    wanted = set(names or ["all"])
    every = "all" in wanted
    unknown = wanted - set(NAMES) - {"all"}
    if unknown:
        raise DeadLetterError(f"unknown dead-letter queue {sorted(unknown)}; known: {', '.join(NAMES)}")
    found: list[Route] = []
    missing: list[str] = []
    for queue in REGISTRY:
        if not every and queue.name not in wanted:
            continue
        url, source = environ.get(queue.env, ""), environ.get(queue.source_env, "")
        if url and source:
            if url.endswith(".fifo"):
                raise DeadLetterError(f"{queue.name}: FIFO dead-letter queues are not supported (holds block groups)")
            found.append(Route(queue, url, source))
        else:
            absent = " and ".join(v for v, given in ((queue.env, url), (queue.source_env, source)) if not given)
            if not every:
                raise DeadLetterError(f"{queue.name}: {absent} not set (see README, 'Dead letters and alarms')")
            missing.append(f"{queue.name} ({absent} not set)")
    return found, missing


# ------------------------------------------------------------------------------------------- what a dead letter is

@dataclass
class DeadLetter:
    queue: str
    message_id: str
    receipt_handle: str = field(repr=False)
    body: str = field(repr=False)
    attributes: dict[str, Any] = field(repr=False)  # message attributes, as received
    receive_count: int
    sent_at: float | None  # first enqueued in the source queue (kept by the move to the dead-letter queue)
    first_received_at: float | None
    shop_id: str | None
    kind: str | None
    subject: str
    accepted_at: int | None  # when the webhook or job that produced it was accepted
    decoded: bool  # the body is a WorkMessage
    error: str | None = None  # last error, when the worker recorded it
    failed_at: int | None = None

    def summary(self) -> dict[str, Any]:
        """What an operator reads (and `--json` prints); the payload scrubbed like a log line."""
        payload: Any = None
        try:
            payload = WorkMessage.model_validate_json(self.body).payload
        except ValidationError:
            payload = self.body[:500]
        return {
            "queue": self.queue, "message_id": self.message_id, "shop": self.shop_id, "kind": self.kind,
            "subject": self.subject, "receive_count": self.receive_count, "sent_at": self.sent_at,
            "first_received_at": self.first_received_at, "accepted_at": self.accepted_at,
            "last_error": self.error, "failed_at": self.failed_at, "decoded": self.decoded,
            "payload": scrub(payload),
        }


def decode(queue: str, message: Mapping[str, Any]) -> DeadLetter:
    system = message.get("Attributes", {})
    attributes = dict(message.get("MessageAttributes", {}))
    body = str(message.get("Body", ""))
    shop = _attribute(attributes, "shop_id")
    kind = _attribute(attributes, "kind")
    subject, accepted, decoded = "(not a work message)", None, False
    try:
        work = WorkMessage.model_validate_json(body)
        shop, kind, subject, accepted, decoded = work.shop_id, work.kind, work.subject, work.received_at, True
    except ValidationError:
        # A kind this version does not know, or a damaged body: keep whatever an operator can still read.
        with contextlib.suppress(ValueError):
            data = json.loads(body)
            if isinstance(data, dict):
                shop, kind = str(data.get("shop_id") or shop or "") or None, str(data.get("kind") or kind or "") or None
                subject = str(data.get("subject") or subject)
    return DeadLetter(
        queue=queue,
        message_id=str(message["MessageId"]),
        receipt_handle=str(message["ReceiptHandle"]),
        body=body,
        attributes=attributes,
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
        sent_at=_seconds(system.get("SentTimestamp")),
        first_received_at=_seconds(system.get("ApproximateFirstReceiveTimestamp")),
        shop_id=shop,
        kind=kind,
        subject=subject,
        accepted_at=accepted,
        decoded=decoded,
    )


def _attribute(attributes: Mapping[str, Any], name: str) -> str | None:
    value = attributes.get(name, {}).get("StringValue")
    return str(value) if value is not None else None


def _seconds(milliseconds: Any) -> float | None:
    return int(milliseconds) / 1000 if milliseconds else None


@dataclass(frozen=True)
class Selection:
    """Which dead letters an operator means. Empty: all of them."""

    shops: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()  # "bsale.notification", or a family: "bsale"
    text: str = ""  # case-insensitive, in the subject or the last error
    message_ids: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return not (self.shops or self.kinds or self.text or self.message_ids)

    def matches(self, letter: DeadLetter) -> bool:
        if self.shops and letter.shop_id not in self.shops:
            return False
        if self.kinds and not any(letter.kind == k or (letter.kind or "").startswith(f"{k}.") for k in self.kinds):
            return False
        if self.message_ids and letter.message_id not in self.message_ids:
            return False
        needle = self.text.lower()
        return not needle or needle in letter.subject.lower() or needle in (letter.error or "").lower()


# ------------------------------------------------------------------------------------------- last errors

FAILURE_KIND = "work-failure"  # the kind of the shop event recording a failed attempt, keyed by message id
FAILURE_TTL_DAYS = 14  # as long as a dead letter lives


def record_failure(message_id: str, message: WorkMessage, error: BaseException | str, *,
                   receive_count: int | None = None, now: int | None = None, queue: str | None = None) -> None:
    """Keep why this attempt failed, where `inspect` finds it if the message ends in the dead-letter queue.

    Optional: a worker calls it (or wraps its record handler in `failures_recorded`) for failures that SQS retries.
    The reason is scrubbed like a log line before it is stored. Given its `queue`, the last attempt SQS allows
    also marks the message dead-lettered for its shop (`note_dead_lettered`): what `status` counts.
    """
    from bridge.observability import logger
    from bridge.store import shops

    reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    reason = scrub_text(reason)[:500]
    at = now or int(time.time())
    shops.record_event(message.shop_id, FAILURE_KIND, message_id,
                       {"error": reason, "kind": message.kind, "subject": message.subject,
                        "receive_count": receive_count}, at, ttl_days=FAILURE_TTL_DAYS)
    if queue is not None and receive_count is not None and receive_count >= _registered(queue).max_receives:
        note_dead_lettered(queue, message.shop_id, message_id, at)
    logger.warning("work failed; SQS retries it, then dead-letters it",
                   extra={"shop": message.shop_id, "kind": message.kind, "subject": message.subject,
                          "message_id": message_id, "receive_count": receive_count, "error": reason})


@contextlib.contextmanager
def failures_recorded(message_id: str, message: WorkMessage, receive_count: int | None = None, *,
                      queue: str | None = None) -> Iterator[None]:
    """Record the failure of the work inside, then let it propagate (SQS retries the message as before).

        with failures_recorded(record.message_id, message, int(record.attributes.approximate_receive_count),
                               queue="bsale"):
            return handle(message)
    """
    try:
        yield
    except Exception as exc:
        try:
            record_failure(message_id, message, exc, receive_count=receive_count, queue=queue)
        except Exception:  # noting the failure must never hide it
            from bridge.observability import logger

            logger.exception("could not record a work failure")
        raise


Failures = Callable[[list[DeadLetter]], None]


def attach_recorded_failures(letters: list[DeadLetter]) -> None:
    """Fill `error` / `failed_at` from what `record_failure` stored (one BatchGetItem per ten letters)."""
    from bridge.store import keys, table

    wanted = {_key(keys.event(str(lt.shop_id), FAILURE_KIND, lt.message_id)): lt for lt in letters if lt.shop_id}
    request: Any = {table.name(): {"Keys": [table.serialize(dict(key)) for key in wanted]}} if wanted else {}
    while request:
        answer = table.client().batch_get_item(RequestItems=request)
        for item in answer.get("Responses", {}).get(table.name(), []):
            data = table.deserialize(item)
            letter = wanted.get(_key({"pk": data.get("pk"), "sk": data.get("sk")}))
            if letter is not None:
                letter.error = str(data.get("body", {}).get("error") or "") or None
                letter.failed_at = data.get("at")
        request = answer.get("UnprocessedKeys") or {}


def _key(key: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in key.items()))


# ------------------------------------------------------------------------------------------- counts per shop
# SQS cannot count a queue's messages by shop without receiving them all, which hides each for the hold and
# raises its receive count. So the worker marks a message at its last allowed attempt (it is dead-lettered
# next), and replay / purge delete the mark: a shop's count is one Query in its own partition. SQS's
# ApproximateNumberOfMessages gives each queue's total, also without receiving (`totals`); a message that
# failed without its worker noticing (a crash, a timeout) is in the total but not in a shop's count.


def _registered(queue: str) -> DeadLetterQueue:
    for known in REGISTRY:
        if known.name == queue:
            return known
    raise DeadLetterError(f"unknown dead-letter queue {queue!r}; known: {', '.join(NAMES)}")


def note_dead_lettered(queue: str, shop_id: str, message_id: str, now: int | None = None) -> None:
    from bridge.store import keys, table

    at = now or int(time.time())
    item = {**keys.dead_letter(shop_id, queue, message_id), "at": at,
            "expires_at": at + FAILURE_TTL_DAYS * 86400}  # the dead-letter queue's retention
    table.client().put_item(TableName=table.name(), Item=table.serialize(item))


def forget(queue: str, letters: Iterable[tuple[str, str]]) -> None:
    """Drop the marks of (shop, message id) pairs that left the dead-letter queue (replayed, purged, moved)."""
    from bridge.store import keys, table

    deletes = [{"DeleteRequest": {"Key": table.serialize(keys.dead_letter(shop, queue, mid))}}
               for shop, mid in dict.fromkeys(letters)]
    for start in range(0, len(deletes), 25):
        request: Any = {table.name(): deletes[start:start + 25]}
        while request:
            request = table.client().batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def forget_letters(queue: str, letters: Iterable[DeadLetter]) -> None:
    forget(queue, [(lt.shop_id, lt.message_id) for lt in letters if lt.shop_id])


def forget_queue(queue: str) -> int:
    """Drop every shop's marks for a queue emptied whole (PurgeQueue, a move task): page by page over the shops."""
    from bridge.store import keys, shops, table

    dropped, cursor = 0, None
    while True:
        page, cursor = shops.page(limit=100, cursor=cursor)
        for shop in page:
            marks = table.query_prefix(keys.shop(shop.shop_id)["pk"], keys.dead_letter_prefix(queue),
                                       ProjectionExpression="sk")
            ids = [table.deserialize(m)["sk"].removeprefix(keys.dead_letter_prefix(queue)) for m in marks]
            forget(queue, [(shop.shop_id, mid) for mid in ids])
            dropped += len(ids)
        if cursor is None:
            return dropped


def counts(shop_id: str, now: int | None = None) -> dict[str, int]:
    """This shop's dead letters per queue, from the marks (one Query; no message is received)."""
    from bridge.store import keys, table

    at = now or int(time.time())
    found = dict.fromkeys(NAMES, 0)
    marks = table.query_prefix(keys.shop(shop_id)["pk"], keys.dead_letter_prefix(),
                               ProjectionExpression="sk, expires_at")
    for mark in map(table.deserialize, marks):
        queue = str(mark["sk"]).split("#")[1]
        if queue in found and int(mark.get("expires_at", at + 1)) > at:  # TTL deletes late: expired is gone
            found[queue] += 1
    return found


def totals(sqs: SQSClient, found: Iterable[Route]) -> dict[str, int]:
    """Messages in each dead-letter queue, held or not (GetQueueAttributes: nothing received)."""
    got: dict[str, int] = {}
    for route in found:
        answer = sqs.get_queue_attributes(QueueUrl=route.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        got[route.name] = (int(answer.get("ApproximateNumberOfMessages", 0))
                           + int(answer.get("ApproximateNumberOfMessagesNotVisible", 0)))
    return got


# ------------------------------------------------------------------------------------------- holding messages

DEFAULT_HOLD_SECONDS = 60
DEFAULT_WAIT_SECONDS = 1  # long poll: an empty answer then means empty, not "this server had none"


class Hold:
    """Messages received from one dead-letter queue, invisible to others until released (on exit, at the latest)."""

    def __init__(self, sqs: SQSClient, route: Route, *, seconds: int = DEFAULT_HOLD_SECONDS,
                 wait_seconds: int = DEFAULT_WAIT_SECONDS, failures: Failures = attach_recorded_failures,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sqs, self.route, self.seconds, self.wait_seconds = sqs, route, seconds, wait_seconds
        self.failures, self.clock = failures, clock
        self.failures_note: str | None = None
        self._held: dict[str, DeadLetter] = {}
        self._seen: set[str] = set()
        self._renewed = clock()

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def held(self) -> list[DeadLetter]:
        return list(self._held.values())

    def letters(self) -> Iterator[DeadLetter]:
        """Each message of the queue once, until the queue has none left that this hold has not seen."""
        while True:
            self.renew()
            answer = self.sqs.receive_message(
                QueueUrl=self.route.url, MaxNumberOfMessages=10, AttributeNames=["All"],
                MessageAttributeNames=["All"], VisibilityTimeout=self.seconds, WaitTimeSeconds=self.wait_seconds,
            )
            fresh: list[DeadLetter] = []
            for message in answer.get("Messages", []):
                letter = decode(self.route.name, message)
                if letter.message_id in self._seen:  # its hold lapsed: keep the newest receipt handle
                    if letter.message_id in self._held:
                        self._held[letter.message_id].receipt_handle = letter.receipt_handle
                    continue
                self._seen.add(letter.message_id)
                self._held[letter.message_id] = letter
                fresh.append(letter)
            if not fresh:
                return
            self._attach_failures(fresh)
            yield from fresh

    def _attach_failures(self, letters: list[DeadLetter]) -> None:
        try:
            self.failures(letters)
        except Exception as exc:  # the reasons are a convenience; the messages matter
            self.failures_note = f"last errors unavailable ({type(exc).__name__})"

    def renew(self) -> None:
        """Keep the held messages hidden while a long command runs (every half hold)."""
        if self.clock() - self._renewed < self.seconds / 2:
            return
        self._set_visibility(self.held, self.seconds)
        self._renewed = self.clock()

    def done(self, letter: DeadLetter) -> None:
        """The letter left the queue (deleted): nothing to release."""
        self._held.pop(letter.message_id, None)

    def release(self, letters: Sequence[DeadLetter] | None = None) -> int:
        """Make held messages visible again now (all of them by default)."""
        chosen = self.held if letters is None else list(letters)
        self._set_visibility(chosen, 0)
        for letter in chosen:
            self._held.pop(letter.message_id, None)
        return len(chosen)

    def _set_visibility(self, letters: Sequence[DeadLetter], seconds: int) -> None:
        for start in range(0, len(letters), 10):
            chunk = letters[start:start + 10]
            # A message whose hold cannot change comes back when the hold ends anyway.
            with contextlib.suppress(Exception):
                self.sqs.change_message_visibility_batch(QueueUrl=self.route.url, Entries=[
                    {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": seconds}
                    for i, letter in enumerate(chunk)
                ])


# ------------------------------------------------------------------------------------------- commands

@dataclass(frozen=True)
class Depth:
    queue: str
    visible: int
    in_flight: int  # held by someone (an inspection, a replay) right now
    source_visible: int
    source_in_flight: int


def depth(sqs: SQSClient, route: Route) -> Depth:
    def counts(url: str) -> tuple[int, int]:
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(got.get("ApproximateNumberOfMessages", 0)), int(got.get("ApproximateNumberOfMessagesNotVisible", 0))

    visible, in_flight = counts(route.url)
    source_visible, source_in_flight = counts(route.source_url)
    return Depth(route.name, visible, in_flight, source_visible, source_in_flight)


@dataclass
class Inspection:
    letters: list[DeadLetter]
    note: str | None = None


def inspect(sqs: SQSClient, route: Route, selection: Selection = Selection(), *, limit: int | None = None,
            hold_seconds: int = DEFAULT_HOLD_SECONDS, wait_seconds: int = DEFAULT_WAIT_SECONDS,
            failures: Failures = attach_recorded_failures) -> Inspection:
    """The matching dead letters, decoded; every message is visible again when this returns."""
    found: list[DeadLetter] = []
    with Hold(sqs, route, seconds=hold_seconds, wait_seconds=wait_seconds, failures=failures) as hold:
        for letter in hold.letters():
            if selection.matches(letter):
                found.append(letter)
                if limit is not None and len(found) >= limit:
                    break
    return Inspection(found, hold.failures_note)


@dataclass
class ReplayReport:
    queue: str
    dry_run: bool
    replayed: list[DeadLetter] = field(default_factory=list)  # or, on a dry run, would be
    sent_not_deleted: list[DeadLetter] = field(default_factory=list)
    released: int = 0
    error: str | None = None


class ReplayPace:
    """At most `rate` sends per second (None: as fast as SQS answers)."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate is not None and rate <= 0:
            raise DeadLetterError("--rate must be positive")
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self._next = clock()

    def wait(self) -> None:
        if self.rate is None:
            return
        delay = self._next - self.clock()
        if delay > 0:
            self.sleep(delay)
        self._next = max(self._next, self.clock()) + 1 / self.rate


def replay(sqs: SQSClient, route: Route, selection: Selection = Selection(), *, limit: int | None = None,
           rate: float | None = None, dry_run: bool = False, hold_seconds: int = DEFAULT_HOLD_SECONDS,
           wait_seconds: int = DEFAULT_WAIT_SECONDS, failures: Failures = attach_recorded_failures,
           pace: ReplayPace | None = None,
           on_examined: Callable[[DeadLetter, bool], None] | None = None) -> ReplayReport:
    """Send the matching dead letters back to the source queue: send, then delete, one message at a time.

    Stops at the first failure (reported in `error`); what was not replayed is released, so nothing is lost.
    `on_examined(letter, replayed)` follows each message looked at (the CLI's progress bar).
    """
    pace = pace or ReplayPace(rate)
    if rate:  # a batch of ten must go out well within the hold
        hold_seconds = max(hold_seconds, int(10 / rate) + 30)
    report = ReplayReport(route.name, dry_run)
    with Hold(sqs, route, seconds=hold_seconds, wait_seconds=wait_seconds, failures=failures) as hold:
        try:
            for letter in hold.letters():
                if not selection.matches(letter):
                    if on_examined:
                        on_examined(letter, False)
                    continue
                if limit is not None and len(report.replayed) >= limit:
                    break
                if dry_run:
                    report.replayed.append(letter)
                    if on_examined:
                        on_examined(letter, True)
                    continue
                pace.wait()
                hold.renew()
                if not _replay_one(sqs, route, letter, report):
                    break
                hold.done(letter)
                _forget_quietly(route.name, [letter])
                if on_examined:
                    on_examined(letter, True)
        finally:
            report.released = hold.release()
    return report


def _replay_one(sqs: SQSClient, route: Route, letter: DeadLetter, report: ReplayReport) -> bool:
    try:
        sqs.send_message(QueueUrl=route.source_url, MessageBody=letter.body,
                         MessageAttributes=_sendable(letter.attributes))
    except Exception as exc:
        report.error = f"{letter.message_id}: not sent ({type(exc).__name__}: {exc}); it stays in the dead letters"
        return False
    try:
        sqs.delete_message(QueueUrl=route.url, ReceiptHandle=letter.receipt_handle)
    except Exception as exc:
        report.sent_not_deleted.append(letter)
        report.error = (f"{letter.message_id}: sent but not deleted ({type(exc).__name__}: {exc}); it stays in "
                        "the dead letters and a later replay sends it again (harmless: the workers are idempotent)")
        return False
    report.replayed.append(letter)
    return True


def _forget_quietly(queue: str, letters: list[DeadLetter] | None = None) -> None:
    """The messages (None: all of the queue's) left it: drop their marks. A mark left behind only overcounts a
    shop's dead letters, so failing to drop it must not stop a replay or a purge."""
    try:
        if letters is None:
            forget_queue(queue)
        else:
            forget_letters(queue, letters)
    except Exception:
        from bridge.observability import logger

        logger.exception("could not drop a dead-letter mark", extra={"queue": queue})


def _sendable(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Message attributes as send_message takes them (a receive adds empty list fields send refuses)."""
    keep = ("DataType", "StringValue", "BinaryValue")
    return {name: {k: v for k, v in value.items() if k in keep} for name, value in attributes.items()}


@dataclass
class PurgeReport:
    queue: str
    purged: int
    whole_queue: bool
    released: int = 0


def purge(sqs: SQSClient, route: Route, selection: Selection, *, confirm: Callable[[str], bool],
          hold_seconds: int = DEFAULT_HOLD_SECONDS, wait_seconds: int = DEFAULT_WAIT_SECONDS,
          failures: Failures = attach_recorded_failures) -> PurgeReport:
    """Drop dead letters for good, after `confirm(question)` says yes.

    With no filter, the whole queue goes (PurgeQueue); with one, only the matching messages, one by one.
    """
    if selection.everything:
        count = depth(sqs, route).visible
        if count == 0 or not confirm(f"Purge all {count} messages of the {route.name} dead-letter queue?"):
            return PurgeReport(route.name, 0, True)
        sqs.purge_queue(QueueUrl=route.url)
        _forget_quietly(route.name)
        return PurgeReport(route.name, count, True)
    with Hold(sqs, route, seconds=hold_seconds, wait_seconds=wait_seconds, failures=failures) as hold:
        chosen = [letter for letter in hold.letters() if selection.matches(letter)]
        if not chosen or not confirm(f"Purge {len(chosen)} messages of the {route.name} dead-letter queue?"):
            return PurgeReport(route.name, 0, False, hold.release())
        purged = 0
        for start in range(0, len(chosen), 10):
            chunk = chosen[start:start + 10]
            answer = sqs.delete_message_batch(QueueUrl=route.url, Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt_handle} for i, letter in enumerate(chunk)])
            gone = [chunk[int(ok["Id"])] for ok in answer.get("Successful", [])]
            for letter in gone:
                hold.done(letter)
            purged += len(gone)
            _forget_quietly(route.name, gone)
        return PurgeReport(route.name, purged, False, hold.release())


# ------------------------------------------------------------------------------------------- SQS's move task (AWS)

ACTIVE_TASK_STATES = frozenset({"RUNNING", "CANCELLING"})  # AWS allows one active task per queue


@dataclass(frozen=True)
class MoveTask:
    queue: str
    status: str
    handle: str | None
    moved: int | None
    to_move: int | None
    started_at: float | None
    failure: str | None


def queue_arn(sqs: SQSClient, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def move_tasks(sqs: SQSClient, route: Route, max_results: int = 10) -> list[MoveTask]:
    answer = sqs.list_message_move_tasks(SourceArn=queue_arn(sqs, route.url), MaxResults=max_results)
    return [MoveTask(route.name, str(t.get("Status")), t.get("TaskHandle"),
                     t.get("ApproximateNumberOfMessagesMoved"), t.get("ApproximateNumberOfMessagesToMove"),
                     _seconds(t.get("StartedTimestamp")), t.get("FailureReason"))
            for t in answer.get("Results", [])]


def start_move_task(sqs: SQSClient, route: Route, rate: int | None = None) -> str:
    """Start SQS's own redrive of the whole dead-letter queue to its source; refuse if one is already active."""
    if rate is not None and not 1 <= rate <= 500:
        raise DeadLetterError("the move task's rate is 1 to 500 messages per second")
    source_arn = queue_arn(sqs, route.url)
    latest = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
    if latest and latest[0].get("Status") in ACTIVE_TASK_STATES:
        raise DeadLetterError(f"{route.name}: a move task is already {latest[0].get('Status')} "
                              f"(handle {latest[0].get('TaskHandle')}); wait for it or cancel it")
    kwargs: dict[str, Any] = {"SourceArn": source_arn, "DestinationArn": queue_arn(sqs, route.source_url)}
    if rate is not None:
        kwargs["MaxNumberOfMessagesPerSecond"] = rate
    handle = str(sqs.start_message_move_task(**kwargs)["TaskHandle"])
    _forget_quietly(route.name)  # every message goes back to the source; those failing again are marked again
    return handle


def cancel_move_task(sqs: SQSClient, handle: str) -> int:
    return int(sqs.cancel_message_move_task(TaskHandle=handle).get("ApproximateNumberOfMessagesMoved", 0))


# ------------------------------------------------------------------------------------------- for the shop panel

def for_shop(sqs: SQSClient, shop_id: str, environ: Mapping[str, str], *, limit: int = 50) -> list[DeadLetter]:
    """Every configured dead-letter queue's messages of one shop (what the shop status shows)."""
    found: list[DeadLetter] = []
    for route in routes(None, environ)[0]:
        found += inspect(sqs, route, Selection(shops=frozenset({shop_id})), limit=limit).letters
    return found
