"""Operator commands: `./dev admin --help` lists them.

They act on the deployment named by the environment (TABLE_NAME, SECRETS_PREFIX, queue URLs, AWS credentials),
or on the running local stack with --local. Each module of this package adds one family of commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from bridge.cli import dlq, orders, shops, status, sync
from bridge.errors import BridgeError

LOCAL_ENV = Path(".devstack/env.json")  # written by ./dev local (devstack/demo.py)
FAMILIES = [shops, status, sync, orders, dlq]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev admin", description=__doc__)
    parser.add_argument("--local", action="store_true", help="act on the running local stack (./dev local)")
    sub = parser.add_subparsers(dest="command", required=True)
    for family in FAMILIES:
        family.register(sub)
    args = parser.parse_args(argv)
    if args.local:
        use_local_stack()
    try:
        return int(args.run(args))
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"refused: {reasons}", file=sys.stderr)
        return 2
    except BridgeError as exc:
        print(f"refused: {exc.reason}", file=sys.stderr)
        return 2


def use_local_stack() -> None:
    if not LOCAL_ENV.exists():
        raise SystemExit("the local stack is not running (start it with ./dev local)")
    os.environ.update(json.loads(LOCAL_ENV.read_text()))
