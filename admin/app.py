"""The operator CLI: `./dev admin --help` (or `python -m admin` with layers/common on PYTHONPATH)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from typer._completion_classes import completion_init
from typer.core import TyperGroup

from admin import dlq, environment, orders, shops, status, sync
from admin.render import warn
from bridge.errors import BridgeError

PROG = "./dev admin"
COMPLETE_VAR = "_DEV_COMPLETE"  # the shell completes `./dev admin ...` by calling ./dev with this set


class AdminGroup(TyperGroup):
    """The root group: --local anywhere on the line, and every known failure as one line with exit 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, local_first(args))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except environment.MissingEnvironment as exc:
            return _refuse(str(exc))
        except ValidationError as exc:
            return _refuse("refused: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                                   for e in exc.errors()))
        except BridgeError as exc:
            return _refuse(f"refused: {exc.reason}")
        except Exception as exc:  # botocore's "where is AWS" errors; anything else is a bug and keeps its traceback
            reason = _aws_unreachable(exc)
            if reason is None:
                raise
            return _refuse(reason)


def local_first(args: Sequence[str]) -> list[str]:
    """Move every --local before the subcommand, so `shops --local` means `--local shops` (up to a `--`)."""
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    if "--local" not in args[:end]:
        return args
    return ["--local", *(a for i, a in enumerate(args) if not (a == "--local" and i < end))]


def _refuse(line: str) -> None:
    warn(line)
    raise typer.Exit(2)


def _aws_unreachable(exc: Exception) -> str | None:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError | NoRegionError):
        return f"no AWS credentials or region: {environment.HOW}"
    if isinstance(exc, EndpointConnectionError):
        local = os.environ.get("AWS_ENDPOINT_URL")
        if local:
            return f"nothing answers at {local}: is the local stack running? (./dev local)"
        return f"cannot reach AWS: {exc}"
    return None


HELP = ("Operate the bridge: shops, health, catalog sync, orders and dead letters.\n\n"
        "Acts on the deployment named by the environment (stack output OperatorEnvironment, plus AWS credentials "
        "and region) or, with --local anywhere on the line, on the running local stack (./dev local). "
        "Times are Chile's (America/Santiago); --json prints stable JSON instead of tables.")
app = typer.Typer(cls=AdminGroup, name="admin", help=HELP, add_completion=False, no_args_is_help=True,
                  rich_markup_mode="rich", pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})


@app.callback()
def root(
    ctx: typer.Context,
    local: Annotated[bool, typer.Option("--local", help="act on the running local stack (./dev local); "
                                                        "accepted anywhere on the line")] = False,
) -> None:
    ctx.obj = {"local": local}
    if local:
        # Applied now, checked by each command when it first needs AWS (so --help works without a stack).
        try:
            environment.use_local_stack()
        except environment.MissingEnvironment as exc:
            ctx.obj["problem"] = exc


@app.command("completion", rich_help_panel="Shell")
def completion(
    shell: Annotated[str, typer.Argument(help="bash (zsh and fish: Typer's scripts, untested here)")] = "bash",
) -> None:
    """Print the shell completion script for `./dev admin`: `source <(./dev admin completion)`."""
    from typer._completion_shared import get_completion_script

    sys.stdout.write(get_completion_script(prog_name="dev", complete_var=COMPLETE_VAR, shell=shell) + "\n")


for family in (shops, status, sync, orders, dlq):
    family.register(app)
# Typer's completion classes answer in the format of Typer's scripts (`completion` prints one of them).
completion_init()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; returns its exit code (tests call this; `python -m admin` exits with it)."""
    command = typer.main.get_command(app)
    prog = PROG
    if os.environ.get(COMPLETE_VAR):
        prog = "dev"
        _completion_without_admin_word()
    try:
        code = command.main(args=list(sys.argv[1:] if argv is None else argv), prog_name=prog,
                            complete_var=COMPLETE_VAR, standalone_mode=False)
    except click.ClickException as exc:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
        return exc.exit_code
    except click.exceptions.Abort:
        warn("aborted")
        return 1
    return int(code or 0)


def _completion_without_admin_word() -> None:
    """The shell hands over `./dev admin dlq re`; the commands start after `admin`."""
    words = os.environ.get("COMP_WORDS", "").split(" ")
    if len(words) > 1 and words[1] == "admin":
        os.environ["COMP_WORDS"] = " ".join(words[:1] + words[2:])
        os.environ["COMP_CWORD"] = str(max(1, int(os.environ.get("COMP_CWORD", "1")) - 1))
    args = os.environ.get("_TYPER_COMPLETE_ARGS")
    if args is not None:
        os.environ["_TYPER_COMPLETE_ARGS"] = args.replace(" admin", "", 1)
