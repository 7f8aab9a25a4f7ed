"""Dead-letter commands: dlq list | inspect | replay | purge | tasks | cancel.

Queue URLs come from the environment: CATALOG_DLQ_URL / CATALOG_QUEUE_URL and the like (stack output
OperatorEnvironment), or from the running local stack with --local.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar, get_args

import typer
from rich.progress import Progress

from admin.environment import need
from admin.render import JSON_HELP, emit_json, finish, progress, row, say, show, table, warn, when
from bridge.ops import dead_letters as dl
from bridge.queue import Kind

T = TypeVar("T")


class QueueName(StrEnum):
    """The registry's queues (bridge/ops/dead_letters.py; a test keeps them equal), or all of them."""

    BSALE = "bsale"
    ORDER = "order"
    SYNC = "sync"
    ALL = "all"


class ReplayMode(StrEnum):
    MANUAL = "manual"
    MOVE_TASK = "move-task"


Json = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
Queue = Annotated[QueueName, typer.Argument(help="which dead-letter queue")]
Shops = Annotated[list[str] | None, typer.Option("--shop", help="only this shop's messages (repeatable)")]
Kinds = Annotated[list[str] | None, typer.Option(
    "--kind", help=f"only this kind ({', '.join(get_args(Kind))}) or family, such as 'sync' (repeatable)")]
Text = Annotated[str, typer.Option("--text", help="only messages whose subject or last error contains TEXT")]
Ids = Annotated[list[str] | None, typer.Option("--id", help="only this message id (repeatable)")]
HoldSeconds = Annotated[int, typer.Option("--hold", min=1, help="seconds a message stays hidden while examined; "
                                                                "those not acted on are made visible again anyway")]

family = typer.Typer(help="Dead letters: depth, inspect, replay, purge, SQS move tasks.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(family, name="dlq", rich_help_panel="Dead letters")


def _selection(shop: list[str] | None, kind: list[str] | None, text: str, ids: list[str] | None) -> dl.Selection:
    return dl.Selection(shops=frozenset(shop or []), kinds=frozenset(kind or []), text=text,
                        message_ids=frozenset(ids or []))


def _sqs() -> Any:
    from bridge import aws

    need(table=False)
    return aws.client("sqs")


def _routes(queue: QueueName | None) -> list[dl.Route]:
    import os

    found, missing = dl.routes(None if queue is None else [queue.value], os.environ)
    for line in missing:
        warn(f"not configured: {line}")
    return found


def _aws_only(call: Callable[..., T], *args: Any) -> T:
    """SQS move tasks exist on AWS only: say so plainly where they do not (moto, behind ./dev local)."""
    from botocore.exceptions import ClientError

    try:
        return call(*args)
    except (ClientError, NotImplementedError) as exc:
        raise dl.DeadLetterError(
            f"SQS move tasks are not available here ({type(exc).__name__}); they exist on AWS only, "
            "use --mode manual (the default)") from exc


@family.command("list")
def list_depths(as_json: Json = False) -> None:
    """Each dead-letter queue's depth, and its source queue's."""
    sqs = _sqs()
    depths = [dl.depth(sqs, route) for route in _routes(None)]
    if as_json:
        emit_json([{"queue": d.queue, "dead_letters": d.visible, "held_now": d.in_flight,
                    "source_waiting": d.source_visible, "source_in_flight": d.source_in_flight} for d in depths])
        finish(0)
    grid = table("queue", "dead letters", "held now", "source waiting", "source in flight")
    for d in depths:
        row(grid, d.queue, d.visible, d.in_flight, d.source_visible, d.source_in_flight)
    show(grid)


def describe(letter: dl.DeadLetter) -> str:
    lines = [f"{letter.queue:6} {letter.message_id}  shop={letter.shop_id or '?'}  kind={letter.kind or '?'}  "
             f"subject={letter.subject!r}",
             f"       receives={letter.receive_count}  sent={when(letter.sent_at)}  "
             f"first_received={when(letter.first_received_at)}  last_failure={when(letter.failed_at)}"]
    if letter.error:
        lines.append(f"       last error: {letter.error}")
    else:
        lines.append("       last error: not recorded; the worker's log lines about it carry "
                     f"correlation_id=\"{letter.message_id}\"")
    return "\n".join(lines)


@family.command("inspect")
def inspect_letters(
    queue: Annotated[QueueName, typer.Argument(help="which dead-letter queue")] = QueueName.ALL,
    shop: Shops = None, kind: Kinds = None, text: Text = "", ids: Ids = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many per queue")] = 100,
    hold: HoldSeconds = dl.DEFAULT_HOLD_SECONDS,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON list, one object per message (payload "
                                                         "scrubbed; times as epoch seconds)")] = False,
) -> None:
    """The messages, decoded: shop, kind, subject, receives, times, last error. All visible again after."""
    sqs = _sqs()
    selection = _selection(shop, kind, text, ids)
    letters: list[dl.DeadLetter] = []
    for route in _routes(queue):
        found = dl.inspect(sqs, route, selection, limit=limit, hold_seconds=hold)
        letters += found.letters
        if found.note:
            warn(f"note: {found.note}")
    if as_json:
        emit_json([letter.summary() for letter in letters])
        finish(0)
    for letter in letters:
        say(describe(letter))
    say(f"{len(letters)} dead letters shown (all visible again)")


@family.command("replay")
def replay_letters(
    queue: Queue,
    shop: Shops = None, kind: Kinds = None, text: Text = "", ids: Ids = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be replayed; change nothing")] = False,
    rate: Annotated[float | None, typer.Option(min=0.01, help="at most N messages per second")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="replay at most N messages (per queue)")] = None,
    mode: Annotated[ReplayMode, typer.Option(help="manual: receive, send, delete (selective; works locally). "
                                                  "move-task: SQS's own StartMessageMoveTask, everything at once, "
                                                  "AWS only")] = ReplayMode.MANUAL,
    hold: HoldSeconds = dl.DEFAULT_HOLD_SECONDS,
    as_json: Json = False,
) -> None:
    """Send dead letters back to their source queue, then delete them (one at a time, with a progress bar)."""
    selection = _selection(shop, kind, text, ids)
    if mode is ReplayMode.MOVE_TASK:
        finish(_start_move_tasks(queue, selection, limit, rate, dry_run, as_json))
    sqs = _sqs()
    failed = False
    reports = []
    for route in _routes(queue):
        with progress(hidden=as_json) as bar:
            followed = _Followed(bar, route.name, dl.depth(sqs, route).visible, dry_run)
            report = dl.replay(sqs, route, selection, limit=limit, rate=rate, dry_run=dry_run, hold_seconds=hold,
                               on_examined=followed)
        reports.append({"queue": route.name, "source": route.source_url, "dry_run": report.dry_run,
                        "replayed": [{"message_id": x.message_id, "shop": x.shop_id, "subject": x.subject}
                                     for x in report.replayed],
                        "released": report.released, "error": report.error})
        failed = failed or report.error is not None
        if as_json:
            continue
        verb = "would replay" if report.dry_run else "replayed"
        for letter in report.replayed:
            say(f"{verb}: {route.name} {letter.message_id} shop={letter.shop_id} {letter.subject!r}")
        if report.dry_run:
            say(f"{route.name}: would replay {len(report.replayed)} to {route.source_url}; nothing changed "
                f"({report.released} examined, all visible again)")
        else:
            say(f"{route.name}: replayed {len(report.replayed)} to {route.source_url}; "
                f"{report.released} others stay in the dead letters, visible again")
        if report.error:
            warn(f"{route.name}: stopped: {report.error}")
    if as_json:
        emit_json(reports)
    finish(1 if failed else 0)


class _Followed:
    """Moves a replay's progress bar on for each message it looks at (the total: the queue's depth at the start)."""

    def __init__(self, bar: Progress, queue: str, waiting: int, dry_run: bool) -> None:
        self.bar, self.queue, self.verb = bar, queue, "would replay" if dry_run else "replayed"
        self.task = bar.add_task(f"{queue}: 0 {self.verb}", total=waiting)
        self.examined = self.replayed = 0

    def __call__(self, letter: dl.DeadLetter, replayed: bool) -> None:
        self.examined += 1
        self.replayed += replayed
        total = self.bar.tasks[self.task].total or 0
        self.bar.update(self.task, completed=self.examined, total=max(total, self.examined),
                        description=f"{self.queue}: {self.replayed} {self.verb}")


def _start_move_tasks(queue: QueueName, selection: dl.Selection, limit: int | None, rate: float | None,
                      dry_run: bool, as_json: bool) -> int:
    if not selection.everything or limit is not None:
        warn("refused: a move task moves the whole queue; use --mode manual to select messages")
        return 2
    sqs = _sqs()
    started = []
    for route in _routes(queue):
        waiting = dl.depth(sqs, route).visible
        entry: dict[str, Any] = {"queue": route.name, "waiting": waiting, "task_handle": None, "dry_run": dry_run}
        started.append(entry)
        if waiting == 0:
            if not as_json:
                say(f"{route.name}: empty, nothing to move")
            continue
        if dry_run:
            if not as_json:
                say(f"{route.name}: would start a move task for about {waiting} messages to {route.source_url}")
            continue
        entry["task_handle"] = _aws_only(dl.start_move_task, sqs, route, None if rate is None else int(rate))
        if not as_json:
            say(f"{route.name}: move task started for about {waiting} messages: {entry['task_handle']}")
    if as_json:
        emit_json(started)
    return 0


@family.command("purge")
def purge_letters(
    queue: Queue,
    shop: Shops = None, kind: Kinds = None, text: Text = "", ids: Ids = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    hold: HoldSeconds = dl.DEFAULT_HOLD_SECONDS,
    as_json: Json = False,
) -> None:
    """Drop dead letters for good (asks first). Without filters, the whole queue."""
    sqs = _sqs()

    def confirm(question: str) -> bool:
        if yes:
            return True
        sys.stderr.write(f"{question} [y/N] ")  # stderr: stdout may be JSON
        sys.stderr.flush()
        try:
            return input().strip().lower() in ("y", "yes")
        except EOFError:
            return False

    done = []
    for route in _routes(queue):
        report = dl.purge(sqs, route, _selection(shop, kind, text, ids), confirm=confirm, hold_seconds=hold)
        done.append({"queue": route.name, "purged": report.purged, "whole_queue": report.whole_queue,
                     "released": report.released})
        what = "the whole queue" if report.whole_queue else "matching messages"
        if not as_json:
            say(f"{route.name}: purged {report.purged} ({what})"
                + (f"; {report.released} others visible again" if report.released else ""))
    if as_json:
        emit_json(done)


@family.command("tasks")
def list_tasks(
    queue: Annotated[QueueName, typer.Argument(help="which dead-letter queue")] = QueueName.ALL,
    as_json: Json = False,
) -> None:
    """SQS move tasks of each dead-letter queue (AWS only)."""
    sqs = _sqs()
    tasks = [task for route in _routes(queue) for task in _aws_only(dl.move_tasks, sqs, route)]
    if as_json:
        emit_json([{"queue": t.queue, "status": t.status, "moved": t.moved, "to_move": t.to_move,
                    "started_at": t.started_at, "task_handle": t.handle, "failure": t.failure} for t in tasks])
        finish(0)
    grid = table("queue", "status", "moved", "started", "task handle", "failure")
    for t in tasks:
        row(grid, t.queue, t.status, f"{t.moved}/{t.to_move}", when(t.started_at), t.handle, t.failure)
    show(grid)


@family.command("cancel")
def cancel_task(
    task_handle: Annotated[str, typer.Argument(help="the task handle `dlq tasks` shows")],
    as_json: Json = False,
) -> None:
    """Cancel a running SQS move task (AWS only)."""
    moved = _aws_only(dl.cancel_move_task, _sqs(), task_handle)
    if as_json:
        emit_json({"task_handle": task_handle, "cancelled": True, "moved": moved})
    else:
        say(f"cancelled; about {moved} messages had been moved")
