"""One protocol for every exactly-once step of an order: claim → (look for an earlier result) → send → settle.

A step (bridge/orders/steps/) says only what is particular to it: the request it sends, how it finds what an
earlier attempt may already have made, and what the record says once it is done. Claiming, resuming, settling
and failing are implemented here, once:

- `begin` claims the step on the order's record (`from_states` → the in-flight state, the exact request saved in
  `intent`) before anything is sent; only one attempt can hold the claim.
- `resume` takes over an in-flight step when the claim is ours (a redelivered message), nobody's (its holder let
  go after a retryable failure) or older than the lease (`force` skips the wait). The step is then performed with
  `look_first`: it must find out what an earlier attempt did before sending again, or stop and wait for a person.
- `run` performs the step and settles it: only the claim's holder can settle. A retryable failure lets go of the
  claim and raises (SQS tries again); any other failure ends in `failed` / `needs_manual` with the outside
  service's words and a Spanish explanation.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import BridgeError, UpstreamError
from bridge.models.order_record import LEASE_SECONDS, OrderError, OrderRecord, OrderState, Step
from bridge.observability import logger
from bridge.orders import followups
from bridge.orders.problems import Verdict, diagnose
from bridge.redact import scrub_text
from bridge.shops.context import ShopContext
from bridge.store import held
from bridge.store import orders as records

__all__ = ["LEASE_SECONDS", "Done", "ExactlyOnceStep", "OrderBusy", "Result", "ForAPerson", "begin", "fail", "run"]


class OrderBusy(BridgeError):
    """Another step of this order is in flight; the event is tried again later (SQS)."""

    status = 409
    code = "order_busy"


@dataclass(frozen=True)
class Result:
    action: str  # what happened, for logs and the CLI (created, failed, in_progress, unchanged...)
    detail: str = ""
    record: OrderRecord | None = None


@dataclass(frozen=True)
class Done:
    """The step happened (or was found made by an earlier attempt): where the record goes, and what it keeps."""

    to: OrderState
    sets: dict[str, Any]
    what: str
    found: bool = False  # found made by an earlier attempt, not sent again


@dataclass(frozen=True)
class ForAPerson:
    """The step cannot go on by itself (outcome unknown, refused for good): a person decides."""

    to: OrderState
    error: OrderError
    sets: dict[str, Any] = field(default_factory=dict)


class ExactlyOnceStep(ABC):
    step: Step  # what a failure of this step is about (the retry resumes there)
    in_flight: OrderState
    service: str = "Bsale"
    lost_claim: str = "lost the claim"

    @abstractmethod
    def perform(self, ctx: ShopContext, record: OrderRecord, *, look_first: bool) -> Done | ForAPerson:
        """Send the saved request (after looking for an earlier result when `look_first` or always, as the
        outside service requires). Raise UpstreamError when the service refused or did not answer."""

    @abstractmethod
    def finish(self, ctx: ShopContext, settled: OrderRecord, done: Done, attempt: str) -> Result:
        """After the record says so: follow-ups in Jumpseller, held stock, the next step."""

    def diagnose(self, exc: UpstreamError, record: OrderRecord) -> tuple[Verdict, OrderError]:
        """Retry by itself, or wait for a person (and what to tell them)."""
        return diagnose(exc, self.step)

    def let_go(self, ctx: ShopContext, record: OrderRecord, attempt: str, error: OrderError) -> None:
        """A retryable failure: the step stays in flight with its intent, for the next attempt to resume."""
        records.unclaim(ctx.shop_id, record.order_id, attempt=attempt, now=now(), sets={"last_error": error})


def now() -> int:
    return int(time.time())


def checkpoint(step: str) -> None:
    """Right after the outside service accepted a write, before the record says so: the window a crash can hit.

    Does nothing; tests replace it to make an attempt die exactly there.
    """


def crash_window(step: str) -> None:
    checkpoint(step)


def begin(ctx: ShopContext, kind: ExactlyOnceStep, order_id: int, attempt: str, *, from_states: list[OrderState],
          sets: dict[str, Any], what: str, look_first: bool = False) -> Result:
    claimed = records.claim(ctx.shop_id, order_id, from_states=from_states, to=kind.in_flight, attempt=attempt,
                            now=now(), sets=sets, what=what)
    if claimed is None:
        return Result("in_progress", "another attempt took the order first")
    return run(ctx, kind, claimed, attempt, look_first=look_first)


def take_over(ctx: ShopContext, record: OrderRecord, attempt: str, *, force: bool) -> OrderRecord | None:
    at = now()
    taken = records.take_over(ctx.shop_id, record.order_id, state=record.state, attempt=attempt, now=at,
                              stale_before=at - LEASE_SECONDS, force=force)
    if taken is not None:
        logger.info("resuming an in-flight step", extra={"state": taken.state.value})
    return taken


def run(ctx: ShopContext, kind: ExactlyOnceStep, record: OrderRecord, attempt: str, *, look_first: bool) -> Result:
    try:
        done = kind.perform(ctx, record, look_first=look_first)
    except UpstreamError as exc:
        return step_failed(ctx, kind, record, attempt, exc)
    if isinstance(done, ForAPerson):
        return settle_failure(ctx, record, attempt, done.to, done.error, done.sets)
    settled = records.settle(ctx.shop_id, record.order_id, attempt=attempt, from_state=kind.in_flight, to=done.to,
                             now=now(), sets=done.sets, what=done.what)
    if settled is None:
        return Result("in_progress", kind.lost_claim)
    return kind.finish(ctx, settled, done, attempt)


def step_failed(ctx: ShopContext, kind: ExactlyOnceStep, record: OrderRecord, attempt: str,
                exc: UpstreamError) -> Result:
    outcome, error = kind.diagnose(exc, record)
    logger.warning(f"{kind.service} refused or did not answer",
                   extra={"step": kind.step.value, "outcome": outcome.value, "status_code": exc.status_code,
                          "upstream": scrub_text(exc.upstream_reason)[:300]})
    if outcome is Verdict.RETRY:
        kind.let_go(ctx, record, attempt, error)
        raise exc
    return settle_failure(ctx, record, attempt, OrderState.NEEDS_MANUAL if outcome is Verdict.NEEDS_MANUAL
                          else OrderState.FAILED, error)


def settle_failure(ctx: ShopContext, record: OrderRecord, attempt: str, to: OrderState, error: OrderError,
                   sets: dict[str, Any] | None = None) -> Result:
    settled = records.settle(ctx.shop_id, record.order_id, attempt=attempt, from_state=record.state, to=to,
                             now=now(), sets={"error": error, "intent": record.intent, **(sets or {})},
                             what=error.code)
    if settled is None:
        return Result("in_progress", "lost the claim")
    followups.note_failure(ctx, settled, error)
    return Result(to.value, error.reason, settled)


def fail(ctx: ShopContext, order_id: int, from_states: list[OrderState], to: OrderState,
         error: OrderError) -> Result:
    """Refused before anything was sent (our own rules): no claim to settle, just a move."""
    moved = records.move(ctx.shop_id, order_id, from_states=from_states, to=to, now=now(), sets={"error": error},
                         what=error.code)
    if moved is None:
        return Result("in_progress", "the order moved meanwhile")
    logger.warning("order waits for a person", extra={"state": to.value, "code": error.code,
                                                      "reason": scrub_text(error.reason)[:300]})
    followups.note_failure(ctx, moved, error)
    return Result(to.value, error.reason, moved)


def undone(ctx: ShopContext, settled: OrderRecord, action: str, what: str, *, found: bool = False) -> Result:
    """A cancellation settled (credit note, reception): the order's held stock given back, Jumpseller told.
    `found`: an earlier attempt had made it, so it was not sent again."""
    held.release(ctx.shop_id, settled.order_id, "canceled", now())
    followups.follow_up(ctx, settled)
    return Result(action, what + (" (found, not sent again)" if found else ""), settled)


def to_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
