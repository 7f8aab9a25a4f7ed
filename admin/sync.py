"""Catalog commands: sync (link / import / overwrite), resync (reconcile now), sync-report."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from admin.environment import need
from admin.render import JSON_HELP, emit_json, finish, progress, row, say, show, table, when

Json = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
Wait = Annotated[float, typer.Option(metavar="SECONDS", min=0,
                                     help="wait this long for the result, with a progress bar (0: just queue it)")]
Shop = Annotated[str, typer.Argument(help="the shop's store code")]


class Mode(StrEnum):
    LINK = "link"
    IMPORT = "import"
    OVERWRITE = "overwrite"


class Kind(StrEnum):
    MANUAL = "manual"
    RECONCILE = "reconcile"


LABEL = {Kind.MANUAL: "manual sync", Kind.RECONCILE: "reconcile"}

PANEL = "Catalog"


def register(app: typer.Typer) -> None:
    app.command("sync", rich_help_panel=PANEL)(sync)
    app.command("resync", rich_help_panel=PANEL)(resync)
    app.command("sync-report", rich_help_panel=PANEL)(report)


def sync(
    store_code: Shop,
    mode: Annotated[Mode, typer.Option(help="link: by SKU only; import: also create in Jumpseller what only Bsale "
                                            "has; overwrite: link, then push Bsale stock and price where "
                                            "Jumpseller differs")] = Mode.LINK,
    wait: Wait = 0,
    as_json: Json = False,
) -> None:
    """Manual sync of a shop's catalog (link, import or overwrite), with its report."""
    finish(_start(store_code, Kind.MANUAL, {"mode": mode.value}, wait, as_json))


def resync(store_code: Shop, wait: Wait = 0, as_json: Json = False) -> None:
    """Reconcile a shop now (Sincronizar automáticamente): only drift is written."""
    finish(_start(store_code, Kind.RECONCILE, {}, wait, as_json))


def _start(shop_id: str, kind: Kind, params: dict[str, str], wait: float, as_json: bool) -> int:
    from bridge.store import jobs, shops
    from bridge.sync.jobs import request

    need()
    shops.require(shop_id)
    run = request(shop_id, kind.value, params, reason="operator")
    if run is None:
        if as_json:
            emit_json({"shop": shop_id, "kind": kind.value, "run": None, "status": "already_running", "result": None})
        else:
            say(f"a {kind.value} of '{shop_id}' is already running; see `sync-report {shop_id} --kind {kind.value}`")
        return 1
    if not as_json:
        say(f"{kind.value} {run} of '{shop_id}' queued")
    record = _wait_for(shop_id, kind, run, wait, hidden=as_json) if wait else None
    finished = record is not None and record.get("run_id") == run and record.get("status") != "running"
    result = jobs.result_of(record) if finished and record is not None else None
    if as_json:
        emit_json({"shop": shop_id, "kind": kind.value, "run": run,
                   "status": (record or {}).get("status", "queued") if finished else ("running" if wait else "queued"),
                   "result": result})
    elif finished:
        _print_result(kind, result)
    elif wait:
        say(f"not finished after {wait:g} s; see `sync-report {shop_id} --kind {kind.value}`")
    return 0 if finished or wait == 0 else 1


def _wait_for(shop_id: str, kind: Kind, run: str, wait: float, *, hidden: bool) -> dict[str, Any] | None:
    """Poll the job's record until it is over or `wait` is spent; the bar shows the time allowed and the phase."""
    from bridge.store import jobs

    record = None
    start = time.monotonic()
    with progress(counted=False, hidden=hidden) as bar:
        task = bar.add_task(f"{kind.value} {run}: queued", total=wait)
        while (elapsed := time.monotonic() - start) < wait:
            record = jobs.get(shop_id, kind.value)
            if record is not None and record.get("run_id") == run and record.get("status") != "running":
                bar.update(task, completed=wait, description=f"{kind.value} {run}: {record.get('status')}")
                return record
            bar.update(task, completed=elapsed, description=f"{kind.value} {run}: {_phase(record, run)}")
            time.sleep(0.5)
        bar.update(task, description=f"{kind.value} {run}: still running")
    return record


def _phase(record: dict[str, Any] | None, run: str) -> str:
    """What the running job is doing, from its checkpoint (reconcile keeps a phase and page counts)."""
    from bridge.store import jobs

    if record is None or record.get("run_id") != run:
        return "queued"
    checkpoint = jobs.unpack(record["checkpoint"]) if record.get("checkpoint") else {}
    counts = checkpoint.get("counts") or {}
    pages = sum(v for k, v in counts.items() if k.endswith("_pages"))
    phase = checkpoint.get("phase")
    return "running" + (f", {phase}" if phase else "") + (f", {pages} pages read" if pages else "")


def report(
    store_code: Shop,
    kind: Annotated[Kind, typer.Option(help="manual: the last manual sync; reconcile: the last reconcile")]
    = Kind.MANUAL,
    as_json: Json = False,
) -> None:
    """The last manual sync's report, or the last reconcile's result."""
    from bridge.store import jobs

    need()
    record = jobs.get(store_code, kind.value)
    if as_json:
        emit_json(None if record is None else {
            "shop": store_code, "kind": kind.value, "run": record.get("run_id"), "status": record.get("status"),
            "started_at": record.get("started_at"), "finished_at": record.get("finished_at"),
            "result": jobs.result_of(record)})
        finish(1 if record is None else 0)
    if record is None:
        say(f"no {LABEL[kind]} has run for '{store_code}'")
        finish(1)
    if record.get("status") == "running":
        say(f"{kind.value} {record['run_id']} is running (started {when(record.get('started_at'))})")
    else:
        say(f"{kind.value} {record.get('run_id')}: {record.get('status')}, started {when(record.get('started_at'))}"
            f", finished {when(record.get('finished_at'))}")
    _print_result(kind, jobs.result_of(record))
    finish(0)


def _print_result(kind: Kind, result: dict[str, Any] | None) -> None:
    if not result:
        return
    if kind is Kind.RECONCILE:
        say(f"reconcile: {result['fixed']} drift(s) fixed over {result['links']} linked product(s) "
            f"in {result['seconds']} s")
        _counts(result["counts"], "what was read or done")
        if result["fixes"]:
            grid = table("fixed")
            for fix in result["fixes"]:
                row(grid, fix)
            show(grid)
        return
    say(f"{result['mode']}: {result['linked']} linked, {len(result['created_in_jumpseller'])} created in "
        f"Jumpseller, {len(result['written'])} written, in {result['seconds']} s")
    for name in result["created_in_jumpseller"]:
        say(f"  created {name}")
    for line in result["written"]:
        say(f"  wrote {line}")
    missing = result["not_linked"] + result["not_imported"]
    if missing:
        grid = table("side", "SKU", "name", "not linked because", title=f"{len(missing)} not linked or not imported")
        for item in missing:
            row(grid, item["side"], item["sku"] or "-", item["name"], item["reason"])
        show(grid)
    _counts(result["counts"], "reason")


def _counts(counts: dict[str, int], what: str) -> None:
    if counts:
        grid = table(what, "count", title="counts")
        for reason, n in counts.items():
            row(grid, reason, n)
        show(grid)
