"""How the commands show things: Rich tables and progress bars for people, stable JSON for scripts.

Times are shown in Chile's local time (America/Santiago); JSON keeps them as epoch seconds (stable, sortable).
Progress bars go to stderr, so stdout stays a clean table or JSON document.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

SANTIAGO = ZoneInfo("America/Santiago")
PIPED_WIDTH = 200


def out() -> Console:
    # Made per call: tests swap sys.stdout. Piped to a file or grep, rows are not folded at 80 columns.
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(file=sys.stdout, highlight=False, width=PIPED_WIDTH if piped else None)


def err() -> Console:
    return Console(file=sys.stderr, highlight=False)


def when(epoch: float | None) -> str:
    """An epoch as Chile's local time, e.g. '2026-12-02 06:33:25 -03'."""
    if not epoch:
        return "never"
    return datetime.fromtimestamp(epoch, SANTIAGO).strftime("%Y-%m-%d %H:%M:%S %Z")


def say(line: str = "") -> None:
    """One plain line on stdout (no markup: data may hold brackets)."""
    out().print(line, markup=False, highlight=False, soft_wrap=True)


def warn(line: str) -> None:
    err().print(line, markup=False, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def table(*columns: str, title: str | None = None) -> Table:
    grid = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def row(grid: Table, *cells: Any) -> None:
    """Cells as plain text (data may hold brackets that Rich would read as markup); Text cells keep their style."""
    grid.add_row(*(cell if isinstance(cell, Text) else Text("-" if cell is None else str(cell)) for cell in cells))


def health(ok: bool, words: str | None = None) -> Text:
    """'ok' in green, or what needs a person in bold red: the column an operator scans first."""
    return Text(words or ("ok" if ok else "ATTENTION"), style="green" if ok else "bold red")


def show(grid: Table) -> None:
    out().print(grid)


def pairs(items: Iterable[tuple[str, Any]], title: str | None = None) -> None:
    """A two-column table of settings or facts."""
    grid = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in items:
        grid.add_row(key, Text("-" if value is None else str(value)))
    out().print(grid)


def progress(*, counted: bool = True, hidden: bool = False) -> Progress:
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    columns += [MofNCompleteColumn()] if counted else []
    columns += [TimeElapsedColumn()]
    return Progress(*columns, console=err(), transient=False, disable=hidden)


def finish(code: int) -> NoReturn:
    raise typer.Exit(code)


JSON_HELP = "print JSON (stable keys, times as epoch seconds) instead of tables"
