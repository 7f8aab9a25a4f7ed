"""The operator CLI as an operator meets it: Typer's CliRunner on the app, moto in memory behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from admin import app, environment, main
from admin.dlq import QueueName
from admin.render import when
from bridge.models.shop import Shop
from bridge.ops import dead_letters as dl
from bridge.store import shops
from tests.unit.orders.conftest import table  # noqa: F401  (the moto table fixture)

ROOT = Path(__file__).resolve().parents[3]
# 2026-01-01 00:00 UTC: Chile is on summer time (UTC-3); 2025-07-01 00:00 UTC: winter time (UTC-4).
SUMMER, WINTER = 1767225600, 1751328000
NO_DEPLOYMENT = {"TABLE_NAME": None, "AWS_REGION": None, "AWS_DEFAULT_REGION": None, "AWS_PROFILE": None,
                 "AWS_CONFIG_FILE": "/nonexistent/aws-config", "AWS_ENDPOINT_URL": None}

runner = CliRunner()


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """--local writes the local stack's variables into os.environ: put it back as it was."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def shop(table: str) -> Shop:  # noqa: F811
    made = Shop(shop_id="tienda-sur", cpn_id=7, office_id=3, price_list_id=2)
    shops.save(made, "unit-notify-hash")
    shops.stamp_notification(made.shop_id, "unit-notify-hash", made.cpn_id, SUMMER)
    assert shops.flag_stale(made.shop_id, WINTER)
    return made


@pytest.fixture
def local_stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str,  # noqa: F811
                     restored_environ: None) -> Path:
    """The file `./dev local` writes, naming the moto table; the shell itself names no deployment."""
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"TABLE_NAME": table, "AWS_DEFAULT_REGION": "us-east-1"}))
    monkeypatch.setattr(environment, "LOCAL_ENV", env_file)
    monkeypatch.delenv("TABLE_NAME")
    return env_file


# ------------------------------------------------------------------------------------------- no deployment named

@pytest.mark.parametrize("argv", [["shops"], ["status"], ["orders", "tienda"], ["sync", "tienda", "--wait", "5"],
                                  ["sync-report", "tienda", "--json"], ["retry-orders", "tienda"],
                                  ["dlq", "list"], ["dlq", "replay", "bsale"]])
def test_a_missing_environment_is_one_line_and_exit_2(argv: list[str]) -> None:
    result = runner.invoke(app, argv, env=NO_DEPLOYMENT)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # the exit of a handled refusal, not an error escaping
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "AWS_REGION not set" in lines[0] and "--local" in lines[0]
    if argv[0] != "dlq":  # dead letters need only the queues' URLs, not the table
        assert "TABLE_NAME" in lines[0]


def test_python_dash_m_admin_without_an_environment_prints_one_line_and_exits_2() -> None:
    env = {k: v for k, v in os.environ.items() if k not in NO_DEPLOYMENT}
    env.update(AWS_CONFIG_FILE="/nonexistent/aws-config", PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'layers/common'}")
    done = subprocess.run([sys.executable, "-m", "admin", "status"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "TABLE_NAME and AWS_REGION not set" in done.stderr


def test_local_without_a_running_stack_says_how_to_start_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "LOCAL_ENV", tmp_path / "missing.json")
    result = runner.invoke(app, ["shops", "--local"])
    assert result.exit_code == 2
    assert result.output.strip() == "the local stack is not running: start it with ./dev local (in another shell)"


def test_help_works_without_any_environment() -> None:
    for argv in (["--help"], ["shops", "--help"], ["--local", "dlq", "replay", "--help"]):
        result = runner.invoke(app, argv, env=NO_DEPLOYMENT)
        assert result.exit_code == 0 and "Usage" in result.output, (argv, result.output)


# ------------------------------------------------------------------------------------------- --local anywhere

@pytest.mark.parametrize("argv", [["--local", "shops", "--json"], ["shops", "--local", "--json"],
                                  ["shops", "--json", "--local"]])
def test_local_is_accepted_before_and_after_the_subcommand(argv: list[str], shop: Shop,
                                                           local_stack_file: Path) -> None:
    assert runner.invoke(app, ["shops"]).exit_code == 2  # this shell names no table: only --local can
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert [s["shop"] for s in json.loads(result.output)] == [shop.shop_id]


def test_local_after_a_nested_subcommand_and_through_main(shop: Shop, local_stack_file: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shop", shop.shop_id, "--json", "--local"]) == 0
    assert json.loads(capsys.readouterr().out)["shop_id"] == shop.shop_id


# ------------------------------------------------------------------------------------------- --json and times

def test_json_listings_parse_with_stable_keys(shop: Shop) -> None:
    listed = json.loads(runner.invoke(app, ["shops", "--json"]).output)
    assert listed == [{"shop": "tienda-sur", "stale": True, "stale_since": WINTER, "office_id": 3,
                       "last_notification_at": SUMMER}]

    result = runner.invoke(app, ["status", "--json", "--no-dead-letters"])
    assert result.exit_code == 1  # stale: needs a person
    (health,) = json.loads(result.output)["shops"]
    assert (health["shop_id"], health["stale"], health["last_notification_at"]) == ("tienda-sur", True, SUMMER)

    orders = runner.invoke(app, ["orders", shop.shop_id, "--json"])
    assert orders.exit_code == 0 and json.loads(orders.output) == {"shop": "tienda-sur", "orders": [], "held": {}}

    report = runner.invoke(app, ["sync-report", shop.shop_id, "--json", "--kind", "reconcile"])
    assert report.exit_code == 1 and json.loads(report.output) is None  # none has run

    retried = runner.invoke(app, ["retry-orders", shop.shop_id, "--json"])
    assert retried.exit_code == 0 and json.loads(retried.output) == []


def test_times_are_shown_in_santiago_time_not_epochs(shop: Shop) -> None:
    result = runner.invoke(app, ["shops"])
    assert result.exit_code == 0
    assert "2025-12-31 21:00:00 -03" in result.output  # SUMMER, UTC-3
    assert "2025-06-30 20:00:00 -04" in result.output  # WINTER (the stale flag), UTC-4
    assert str(SUMMER) not in result.output and str(WINTER) not in result.output

    status = runner.invoke(app, ["status", shop.shop_id, "--no-dead-letters"])
    assert "last Bsale notification: 2025-12-31 21:00:00 -03" in status.output
    assert status.exit_code == 1


def test_when_reads_an_epoch_in_chiles_time() -> None:
    assert when(SUMMER) == "2025-12-31 21:00:00 -03"
    assert when(WINTER) == "2025-06-30 20:00:00 -04"
    assert when(None) == "never"


# ------------------------------------------------------------------------------------------- the shape of the CLI

def test_required_options_are_marked_and_enforced() -> None:
    shown = runner.invoke(app, ["resolve-order", "--help"], env={"COLUMNS": "200"}).output
    (note,) = [line for line in shown.splitlines() if "--note" in line]
    assert "[required]" in note
    (folio,) = [line for line in shown.splitlines() if "--folio" in line]
    assert "[required]" not in folio
    result = runner.invoke(app, ["resolve-order", "tienda", "1026"])
    assert result.exit_code == 2 and "Missing option '--note'" in result.output


def test_dead_letter_queue_names_are_the_registrys() -> None:
    assert [q.value for q in QueueName] == [*dl.NAMES, "all"]


def test_every_listing_or_reporting_command_takes_json() -> None:
    import typer.main

    root = typer.main.get_command(app)
    commands = {name: cmd for name, cmd in root.commands.items() if name not in ("dlq", "completion")}
    commands.update({f"dlq {n}": c for n, c in root.commands["dlq"].commands.items()})  # type: ignore[attr-defined]
    without = [name for name, cmd in commands.items() if not any("--json" in p.opts for p in cmd.params)]
    assert without == []


def test_shell_completion_completes_after_dev_admin(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    script = runner.invoke(app, ["completion"])
    assert script.exit_code == 0 and "_DEV_COMPLETE=complete_bash" in script.output
    monkeypatch.setenv("_DEV_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "./dev admin dlq re")
    monkeypatch.setenv("COMP_CWORD", "3")
    with pytest.raises(SystemExit) as done:
        main([])
    assert done.value.code == 0
    assert capsys.readouterr().out.split() == ["replay"]


def test_nothing_under_layers_imports_the_cli() -> None:
    def imports_admin(path: Path) -> bool:
        return any(line.strip().startswith(("import admin", "from admin")) for line in path.read_text().splitlines())

    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "layers").rglob("*.py") if imports_admin(path)]
    assert offenders == []
    assert not (ROOT / "layers" / "common" / "bridge" / "cli").exists()
