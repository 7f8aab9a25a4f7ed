"""Dead-letter commands: dlq list | inspect | replay | purge | tasks | cancel.

Queue URLs come from the environment: BSALE_DLQ_URL / BSALE_QUEUE_URL and the like (stack output
`OperatorEnvironment`), or from the running local stack with --local.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, get_args

from bridge.ops import dead_letters as dl
from bridge.queue import Kind

T = TypeVar("T")


def register(sub: Any) -> None:
    family = sub.add_parser("dlq", help="dead letters: depth, inspect, replay, purge (dlq --help)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = family.add_subparsers(dest="dlq_command", required=True)
    queues = [*dl.NAMES, "all"]

    listing = commands.add_parser("list", help="each dead-letter queue's depth (and its source queue's)")
    listing.set_defaults(run=list_depths)

    inspect = commands.add_parser("inspect", help="the messages, decoded: shop, kind, subject, receives, last error")
    inspect.add_argument("queue", nargs="?", default="all", choices=queues)
    _filters(inspect)
    inspect.add_argument("--limit", type=int, default=100, help="at most this many per queue (default: %(default)s)")
    inspect.add_argument("--json", action="store_true", help="one JSON object per message (payload scrubbed)")
    inspect.set_defaults(run=inspect_letters)

    replay = commands.add_parser("replay", help="send dead letters back to their source queue, then delete them")
    replay.add_argument("queue", choices=queues)
    _filters(replay)
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed; change nothing")
    replay.add_argument("--rate", type=float, help="at most N messages per second")
    replay.add_argument("--limit", type=int, help="replay at most N messages (per queue)")
    replay.add_argument("--mode", choices=["manual", "move-task"], default="manual",
                        help="manual: receive, send, delete (selective; works locally). move-task: SQS's own "
                             "StartMessageMoveTask, everything at once, AWS only (default: %(default)s)")
    replay.set_defaults(run=replay_letters)

    purge = commands.add_parser("purge", help="drop dead letters for good (asks first)")
    purge.add_argument("queue", choices=queues)
    _filters(purge)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(run=purge_letters)

    tasks = commands.add_parser("tasks", help="SQS move tasks of each dead-letter queue (AWS only)")
    tasks.add_argument("queue", nargs="?", default="all", choices=queues)
    tasks.set_defaults(run=list_tasks)

    cancel = commands.add_parser("cancel", help="cancel a running SQS move task (AWS only)")
    cancel.add_argument("task_handle")
    cancel.set_defaults(run=cancel_task)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shop", action="append", default=[], help="only this shop's messages (repeatable)")
    kinds = ", ".join(get_args(Kind))
    parser.add_argument("--kind", action="append", default=[],
                        help=f"only this kind ({kinds}) or family, such as 'sync' (repeatable)")
    parser.add_argument("--text", default="", help="only messages whose subject or last error contains TEXT")
    parser.add_argument("--id", dest="ids", action="append", default=[], help="only this message id (repeatable)")
    parser.add_argument("--hold", type=int, default=dl.DEFAULT_HOLD_SECONDS,
                        help="seconds a message stays hidden while examined (default: %(default)s); "
                             "messages not acted on are made visible again at the end anyway")


def _selection(args: argparse.Namespace) -> dl.Selection:
    return dl.Selection(shops=frozenset(args.shop), kinds=frozenset(args.kind), text=args.text,
                        message_ids=frozenset(args.ids))


def _sqs() -> Any:
    from bridge import aws

    return aws.client("sqs")


def _routes(names: list[str] | None) -> list[dl.Route]:
    found, missing = dl.routes(names, os.environ)
    for line in missing:
        print(f"not configured: {line}", file=sys.stderr)
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


def _when(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_depths(args: argparse.Namespace) -> int:
    sqs = _sqs()
    print(f"{'queue':8} {'dead letters':>12} {'held now':>9}   {'source waiting':>14} {'source in flight':>16}")
    for route in _routes(None):
        d = dl.depth(sqs, route)
        print(f"{d.queue:8} {d.visible:>12} {d.in_flight:>9}   {d.source_visible:>14} {d.source_in_flight:>16}")
    return 0


def describe(letter: dl.DeadLetter) -> str:
    lines = [f"{letter.queue:6} {letter.message_id}  shop={letter.shop_id or '?'}  kind={letter.kind or '?'}  "
             f"subject={letter.subject!r}",
             f"       receives={letter.receive_count}  sent={_when(letter.sent_at)}  "
             f"first_received={_when(letter.first_received_at)}  last_failure={_when(letter.failed_at)}"]
    if letter.error:
        lines.append(f"       last error: {letter.error}")
    else:
        lines.append("       last error: not recorded; the worker's log lines about it carry "
                     f"correlation_id=\"{letter.message_id}\"")
    return "\n".join(lines)


def inspect_letters(args: argparse.Namespace) -> int:
    sqs = _sqs()
    selection = _selection(args)
    total = 0
    for route in _routes([args.queue]):
        found = dl.inspect(sqs, route, selection, limit=args.limit, hold_seconds=args.hold)
        total += len(found.letters)
        for letter in found.letters:
            print(json.dumps(letter.summary(), ensure_ascii=False) if args.json else describe(letter))
        if found.note:
            print(f"note: {found.note}", file=sys.stderr)
    if not args.json:
        print(f"{total} dead letters shown (all visible again)")
    return 0


def replay_letters(args: argparse.Namespace) -> int:
    if args.mode == "move-task":
        return _start_move_tasks(args)
    sqs = _sqs()
    failed = False
    for route in _routes([args.queue]):
        report = dl.replay(sqs, route, _selection(args), limit=args.limit, rate=args.rate, dry_run=args.dry_run,
                           hold_seconds=args.hold)
        verb = "would replay" if report.dry_run else "replayed"
        for letter in report.replayed:
            print(f"{verb}: {route.name} {letter.message_id} shop={letter.shop_id} {letter.subject!r}")
        if report.dry_run:
            print(f"{route.name}: would replay {len(report.replayed)} to {route.source_url}; nothing changed "
                  f"({report.released} examined, all visible again)")
        else:
            print(f"{route.name}: replayed {len(report.replayed)} to {route.source_url}; "
                  f"{report.released} others stay in the dead letters, visible again")
        if report.error:
            failed = True
            print(f"{route.name}: stopped: {report.error}", file=sys.stderr)
    return 1 if failed else 0


def _start_move_tasks(args: argparse.Namespace) -> int:
    if not _selection(args).everything or args.limit is not None:
        print("refused: a move task moves the whole queue; use --mode manual to select messages", file=sys.stderr)
        return 2
    sqs = _sqs()
    rate = None if args.rate is None else int(args.rate)
    for route in _routes([args.queue]):
        waiting = dl.depth(sqs, route).visible
        if waiting == 0:
            print(f"{route.name}: empty, nothing to move")
            continue
        if args.dry_run:
            print(f"{route.name}: would start a move task for about {waiting} messages to {route.source_url}")
            continue
        handle = _aws_only(dl.start_move_task, sqs, route, rate)
        print(f"{route.name}: move task started for about {waiting} messages: {handle}")
    return 0


def purge_letters(args: argparse.Namespace) -> int:
    sqs = _sqs()

    def confirm(question: str) -> bool:
        if args.yes:
            return True
        try:
            return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            return False

    for route in _routes([args.queue]):
        report = dl.purge(sqs, route, _selection(args), confirm=confirm, hold_seconds=args.hold)
        what = "the whole queue" if report.whole_queue else "matching messages"
        print(f"{route.name}: purged {report.purged} ({what})"
              + (f"; {report.released} others visible again" if report.released else ""))
    return 0


def list_tasks(args: argparse.Namespace) -> int:
    sqs = _sqs()
    for route in _routes([args.queue]):
        for task in _aws_only(dl.move_tasks, sqs, route):
            print(f"{task.queue:6} {task.status:10} moved {task.moved}/{task.to_move} "
                  f"started {_when(task.started_at)} {task.handle or ''} {task.failure or ''}".rstrip())
    return 0


def cancel_task(args: argparse.Namespace) -> int:
    moved = _aws_only(dl.cancel_move_task, _sqs(), args.task_handle)
    print(f"cancelled; about {moved} messages had been moved")
    return 0
