"""Bulk catalog jobs on the sync queue: how they are requested, and one slice of work per message."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from bridge import queue
from bridge.clients.http import OutOfTime
from bridge.observability import logger, work_keys
from bridge.queue import WorkMessage
from bridge.settings import settings
from bridge.shops.context import ShopContext, open_shop
from bridge.store import jobs
from bridge.sync.stock import Outcome

RECONCILE = "reconcile"
MANUAL = "manual"
SII_WATCH = "sii"  # F19: one tick of the SII verdict watch (bridge/orders/sii.py)


@dataclass
class Budget:
    """When a slice must stop and leave the rest to its continuation."""

    deadline: float

    @classmethod
    def of(cls, remaining_ms: int | None) -> Budget:
        seconds = float(settings().sync_budget_seconds)
        if remaining_ms is not None:
            seconds = min(seconds, remaining_ms / 1000 - 60)  # a minute to checkpoint and queue the rest
        return cls(time.monotonic() + max(0.0, seconds))

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline


def request(shop_id: str, kind: str, params: dict[str, str] | None = None, reason: str = "") -> str | None:
    """Queue a new run unless one is under way; return its id (None: one is running already)."""
    run = uuid.uuid4().hex[:12]
    if not jobs.start(shop_id, kind, run, {**(params or {}), "reason": reason}, jobs.now()):
        return None
    continue_run(shop_id, kind, run)
    return run


def continue_run(shop_id: str, kind: str, run: str, delay_seconds: int = 0) -> None:
    message = WorkMessage(kind=f"sync.{kind}", shop_id=shop_id, payload={"run": run},
                          subject=f"{kind} {run}")
    queue.send(settings().sync_queue_url, message, delay_seconds=delay_seconds)


def _sii_watch(ctx: ShopContext, run: str) -> Outcome:
    from bridge.orders import sii

    tick = sii.watch_shop(ctx, jobs.now())
    jobs.finish(ctx.shop_id, SII_WATCH, run, tick.summary(), jobs.now())
    return Outcome("done", f"{tick.outstanding} outstanding, {tick.calls} Bsale call(s)")


def handle_sync_message(message: WorkMessage, remaining_ms: int | None = None) -> Outcome:
    from bridge.sync import manual, reconcile

    kind = message.kind.removeprefix("sync.")
    run = str(message.payload["run"])
    with work_keys(shop=message.shop_id, job=kind, run=run):
        record = jobs.resume(message.shop_id, kind, run, jobs.now())
        if record is None:
            # A replayed or duplicate message of a run that is over (or held by a live slice): nothing to do.
            return Outcome("dropped", f"{kind} run {run} is not running")
        ctx = open_shop(message.shop_id, bulk=True)
        budget = Budget.of(remaining_ms)
        # A spent quota raises out of here: the worker hands the message back, delayed, and the slice resumes from
        # the last checkpoint once it is back (bridge/worker.py); a continuation after progress counts afresh.
        try:
            if kind == RECONCILE:
                outcome = reconcile.run_slice(ctx, run, record["checkpoint"], budget)
            elif kind == SII_WATCH:
                outcome = _sii_watch(ctx, run)
            else:
                outcome = manual.run(ctx, run, str(record.get("params", {}).get("mode", "link")), budget)
        except OutOfTime:
            # A call would have outlived the invocation: resume from the last checkpoint at once.
            continue_run(message.shop_id, kind, run)
            return Outcome("paused", "out of time in this invocation; resumes from its checkpoint")
        if outcome.action == "paused":
            continue_run(message.shop_id, kind, run)
        logger.info("sync slice", extra={"action": outcome.action, "detail": outcome.detail})
        return outcome
