"""Command line of the local stack: ``python -m devstack [--api-port 3000] [--moto-port 5000] ...``.

Extend it without copying it: ``main(argv, on_started=hook, parser=parser)`` where ``parser`` comes from
:func:`build_parser` with your own flags added and ``hook(stack)`` runs once everything listens (seed data, print
a story...). ``main`` then waits for Ctrl-C (SIGINT) or SIGTERM and shuts everything down.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from devstack.runner import CLIENT_ENV_FILE, DEFAULT_TEMPLATE, LocalStack
from devstack.template import ACCOUNT_ID, TemplateError

log = logging.getLogger("devstack")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Run the SAM template locally: moto for AWS, the real handlers for every function.",
    )
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="SAM template (default: %(default)s)")
    parser.add_argument("--api-port", type=int, default=3000, help="local API Gateway port (default: %(default)s)")
    parser.add_argument("--moto-port", type=int, default=5000, help="moto server port (default: %(default)s)")
    parser.add_argument("--moto-endpoint", help="use an already-running moto server at this URL instead")
    parser.add_argument("--no-schedules", action="store_true", help="do not fire schedules on their own")
    parser.add_argument(
        "--schedule-speed", type=float, default=1.0, help="run schedules N times faster (e.g. 60: an hour per minute)"
    )
    parser.add_argument(
        "--retry-visibility",
        type=int,
        default=None,
        metavar="SECONDS",
        help="retry failed SQS messages after SECONDS instead of the queue's VisibilityTimeout",
    )
    parser.add_argument(
        "--timeout-scale",
        type=float,
        default=None,
        metavar="FACTOR",
        help="stretch every function's Timeout (enforced and remaining time) by FACTOR "
        "(default: $DEVSTACK_TIMEOUT_SCALE, else 1.0, Lambda's own)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=CLIENT_ENV_FILE,
        metavar="PATH",
        help="where to write what a client in another shell needs (moto's endpoint, the template's NAME=value "
        "outputs) as JSON (default: %(default)s)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter (repeatable)",
    )
    parser.add_argument("--stack-name", default="devstack", help="value of AWS::StackName (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def configure_logging(verbose: bool = False) -> None:
    logger = logging.getLogger("devstack")
    if not any(getattr(h, "_devstack", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s  %(message)s", datefmt="%H:%M:%S"))
        handler._devstack = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def describe(stack: LocalStack) -> str:
    """What is listening where, in words a newcomer can follow."""
    lines = [
        f"devstack is running {stack.template.path or 'the template'} "
        f"(stack {stack.stack_name!r}, region {stack.region}, account {ACCOUNT_ID}; no AWS account involved)",
        "",
        f"  AWS services (moto)   {stack.moto_endpoint}",
    ]
    if stack.serve_api:
        lines.append(f"  API Gateway (REST)    {stack.api_url}")
        for route in sorted(stack.routes, key=lambda r: (r.path, r.method)):
            lines.append(f"      {route.method:<7} {stack.api_url}{route.path}  ->  {route.function.logical_id}")
    if stack.sqs_sources:
        lines.append("  SQS queue -> function (polled; failures retried, then dead-lettered)")
        for src in stack.sqs_sources:
            bits = [f"batch {src.batch_size}", f"{src.maximum_concurrency} at a time"]
            if src.report_batch_item_failures:
                bits.append("partial batch failures")
            if src.queue.max_receive_count:
                bits.append(f"DLQ after {src.queue.max_receive_count} receives")
            if not src.enabled:
                bits.append("DISABLED")
            lines.append(f"      {src.queue.name}  ->  {src.function.logical_id}  ({', '.join(bits)})")
    if stack.schedules:
        lines.append("  Schedules" + ("" if stack.run_schedules else " (timers off; fire them on demand)"))
        for sched in stack.schedules:
            speed = f", {stack.schedule_speed:g}x faster" if stack.schedule_speed != 1 else ""
            state = "" if sched.enabled else " (disabled)"
            lines.append(f"      {sched.expression}{speed}  ->  {sched.function.logical_id}{state}")
    if stack.resources.tables:
        lines.append("  DynamoDB tables       " + ", ".join(t.name for t in stack.resources.tables.values()))
    if stack.resources.queues:
        lines.append("  SQS queues            " + ", ".join(q.name for q in stack.resources.queues.values()))
    broken = [f for f in stack.functions.values() if f.import_error]
    for function in broken:
        lines.append(f"  ! {function.logical_id} cannot be imported: {function.import_error}")
    lines += [
        "",
        "  From another shell, point the AWS CLI or boto3 at it with:",
        f"      export AWS_ENDPOINT_URL={stack.moto_endpoint} AWS_DEFAULT_REGION={stack.region} "
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        "",
        "  Each invocation prints: kind, function, outcome, duration, what happened. Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def _parameters(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--parameter wants NAME=VALUE, got {pair!r}")
        out[name.strip()] = value
    return out


def main(
    argv: Sequence[str] | None = None,
    on_started: Callable[[LocalStack], Any] | None = None,
    parser: argparse.ArgumentParser | None = None,
) -> int:
    """Start the stack, print what listens where, run ``on_started(stack)``, wait for Ctrl-C or SIGTERM."""
    args = (parser or build_parser()).parse_args(argv)
    configure_logging(args.verbose)
    if not Path(args.template).is_file():
        print(f"devstack: no template at {args.template} (pass --template PATH)", file=sys.stderr)
        return 2
    received: list[str] = []

    def interrupt(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, interrupt)
    stack: LocalStack | None = None
    try:
        stack = LocalStack(
            template=args.template,
            api_port=args.api_port,
            moto_port=args.moto_port,
            moto_endpoint=args.moto_endpoint,
            parameters=_parameters(args.parameter),
            stack_name=args.stack_name,
            retry_visibility_seconds=args.retry_visibility,
            schedules=not args.no_schedules,
            schedule_speed=args.schedule_speed,
            timeout_scale=args.timeout_scale,
        )
        stack.start()
        stack.write_client_environment(args.env_file)
        print(describe(stack), flush=True)
        if on_started is not None:
            on_started(stack)
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print(f"\ndevstack: {received[-1] if received else 'SIGINT'} received, shutting down...", flush=True)
        return 0
    except TemplateError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"devstack: cannot start ({exc}); is another devstack running? Try other --api-port/--moto-port",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        try:
            if stack is not None and stack.started:
                stack.stop()
                print("devstack: stopped.", flush=True)
        except KeyboardInterrupt:  # a second Ctrl-C while stopping: leave now (threads are daemons)
            print("devstack: stopped abruptly.", flush=True)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
