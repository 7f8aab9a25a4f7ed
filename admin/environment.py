"""Which deployment the commands act on: the environment (stack output OperatorEnvironment) or, with --local,
the running local stack. Checked before a command touches AWS, so a missing setting is one line, not a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

LOCAL_ENV = Path(__file__).resolve().parent.parent / ".devstack" / "env.json"  # written by ./dev local
HOW = ("export the stack output OperatorEnvironment and AWS_REGION (README, 'Operating it'), "
       "or add --local for the running local stack (./dev local)")


class MissingEnvironment(Exception):
    """The command cannot tell which deployment to act on, or cannot reach it."""


def use_local_stack() -> None:
    if not LOCAL_ENV.exists():
        raise MissingEnvironment("the local stack is not running: start it with ./dev local (in another shell)")
    os.environ.update(json.loads(LOCAL_ENV.read_text()))
    _forget_cached_clients()


def require(*, table: bool = True) -> None:
    """Fail with one line naming what is missing: a region always, TABLE_NAME for everything but dead letters."""
    missing = []
    if table and not os.environ.get("TABLE_NAME"):
        missing.append("TABLE_NAME")
    if not _region():
        missing.append("AWS_REGION")
    if missing:
        raise MissingEnvironment(f"{' and '.join(missing)} not set: {HOW}")


def _region() -> str | None:
    found = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if found:
        return found
    import boto3  # a profile's region (~/.aws/config) counts too

    return boto3.session.Session().region_name


def _forget_cached_clients() -> None:
    from bridge import aws
    from bridge.settings import settings

    aws.reset()
    settings.cache_clear()


def need(*, table: bool = True) -> None:
    """What every command calls before touching AWS: --local's problem if it had one, else `require`."""
    import click

    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, dict) and obj.get("problem") is not None:
        raise obj["problem"]
    require(table=table)
