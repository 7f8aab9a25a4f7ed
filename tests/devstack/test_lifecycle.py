"""Starting and stopping: environment restored, no stray threads, timers, the CLI, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from devstack import LocalStack, cli

from .conftest import BASIC_TEMPLATE

REPO = Path(__file__).resolve().parents[2]


def _devstack_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("devstack-")]


def test_stop_restores_environment_and_threads() -> None:
    before_env = dict(os.environ)
    before_modules = set(sys.modules)
    stack = LocalStack(template=BASIC_TEMPLATE, schedules=True, retry_visibility_seconds=0)
    with stack:
        assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_endpoint
        assert os.environ["TABLE_NAME"] == "devstack-Table"
        assert _devstack_threads()
        pid = int(requests.get(f"{stack.api_url}/slow?pid=1", timeout=30).text)
        assert stack.function("SlowFunction").environments == 1
    assert dict(os.environ) == before_env
    assert type(os.environ).__name__ == "_Environ"
    assert _devstack_threads() == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the functions' processes are gone
    fixtures = str(BASIC_TEMPLATE.parent)
    came = [m for m in set(sys.modules) - before_modules if fixtures in str(getattr(sys.modules[m], "__file__", ""))]
    assert came == [] and "shared_lib" not in sys.modules  # no function code ever ran in this process
    stack.stop()  # idempotent


def test_drain_times_out_while_a_failure_waits_for_its_visibility_timeout() -> None:
    """Without time compression a failed message stays invisible (VisibilityTimeout 60 s), as on AWS."""
    with LocalStack(template=BASIC_TEMPLATE, schedules=False, api=False) as stack:
        stack.client("sqs").send_message(QueueUrl=stack.queue_url("WorkQueue"), MessageBody="fail-stuck")
        started = time.monotonic()
        assert stack.drain(timeout=1.5) is False
        assert time.monotonic() - started < 30  # gave up on its own deadline, not the 60 s visibility
        assert stack.queue_depth("WorkQueue") == 1
        failed = [i for i in stack.invocations if i.failed]
        assert failed and "retry in 60 s" in failed[0].detail


def test_schedule_timer_with_speed_factor() -> None:
    # rate(5 minutes) at 3000x fires every 0.1 s; the cron one (1 hour) at 3000x every 1.2 s
    with LocalStack(template=BASIC_TEMPLATE, schedule_speed=3000, api=False, pollers=False) as stack:
        deadline = time.monotonic() + 60  # leaves as soon as three have fired
        while time.monotonic() < deadline:
            fired = [i for i in stack.invocations if i.kind == "schedule"]
            if len(fired) >= 3:
                break
            time.sleep(0.05)
        assert len(fired) >= 3
        assert all(i.ok and i.function == "ScheduledFunction" for i in fired)


def test_moto_state_starts_empty_and_external_endpoint_is_reused() -> None:
    with LocalStack(template=BASIC_TEMPLATE, schedules=False, api=False, pollers=False) as first:
        first.client("sqs").send_message(QueueUrl=first.queue_url("WorkQueue"), MessageBody="left over")
        # a second stack on the same, already-running moto server: idempotent creation, state kept
        with LocalStack(template=BASIC_TEMPLATE, moto_endpoint=first.moto_endpoint, schedules=False, api=False,
                        pollers=False) as second:  # fmt: skip
            assert second.moto_endpoint == first.moto_endpoint
            assert second.queue_url("WorkQueue") == first.queue_url("WorkQueue")
            assert second.queue_depth("WorkQueue") == 1
        assert os.environ["AWS_ENDPOINT_URL"] == first.moto_endpoint  # nested stop restores the outer values
    with LocalStack(template=BASIC_TEMPLATE, schedules=False, api=False, pollers=False) as fresh:
        assert fresh.queue_depth("WorkQueue") == 0


def test_moto_in_a_child_process_serves_the_stack_and_still_tells_whose_each_call_is() -> None:
    with LocalStack(template=BASIC_TEMPLATE, moto_process=True, schedules=False) as stack:
        with stack.aws_calls() as calls:
            assert requests.post(f"{stack.api_url}/hooks/t?enqueue=1", data="child", timeout=30).status_code == 202
            stack.client("sqs").get_queue_attributes(QueueUrl=stack.queue_url("WorkQueue"), AttributeNames=["All"])
        sent = [c for c in calls if c.operation == "SendMessage"]
        assert [(c.function, c.params["MessageBody"]) for c in sent] == [("WebhookFunction", "child")]
        assert any(c.function is None and c.operation == "GetQueueAttributes" for c in calls)
        with stack.aws_calls() as later:
            stack.client("sqs").get_queue_attributes(QueueUrl=stack.queue_url("WorkQueue"), AttributeNames=["All"])
        # A listener sees only its own block: this process's call, and any long poll the pollers made meanwhile
        assert [(c.function, c.operation) for c in later if c.operation != "ReceiveMessage"] == [
            (None, "GetQueueAttributes")]
        endpoint = stack.moto_endpoint
    # The queues were the child's, not this process's moto: the child is gone with the stack.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{endpoint}/moto-api/", timeout=5)


def test_cli_main_runs_until_sigint(tmp_path: Path) -> None:
    seen: list[str] = []
    env_file = tmp_path / "env.json"

    def on_started(stack: LocalStack) -> None:
        seen.append(stack.api_url)
        assert requests.post(f"{stack.api_url}/echo", data="cli", timeout=30).status_code == 200
        # Without any demo, the stack left what a client in another shell needs: moto and the outputs' NAME=value.
        written = json.loads(env_file.read_text())
        assert written["AWS_ENDPOINT_URL"] == stack.moto_endpoint
        assert written["TABLE_NAME"] == stack.table_name("Table")
        assert written["WORK_QUEUE_URL"] == stack.queue_url("WorkQueue")
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does

    code = cli.main(
        ["--template", str(BASIC_TEMPLATE), "--api-port", "0", "--moto-port", "0", "--no-schedules",
         "--env-file", str(env_file)],
        on_started=on_started,
    )
    assert code == 0
    assert seen and seen[0].startswith("http://127.0.0.1:")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert _devstack_threads() == []


def test_cli_missing_template() -> None:
    assert cli.main(["--template", "/nonexistent/template.yaml"]) == 2


@pytest.mark.timeout(300)
def test_cli_process_prints_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """The CLI as a program (``python -m demo`` adds the sandboxes and the demo shop on top of ``cli.main``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    entry = "import sys; from devstack import cli; sys.exit(cli.main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", entry, "--template", str(BASIC_TEMPLATE), "--api-port", "0", "--moto-port", "0",
         "--env-file", str(tmp_path / "env.json")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        text = "".join(lines)
        assert "API Gateway (REST)" in text and "/hooks/{token}" in text
        assert "devstack-WorkQueue  ->  WorkerFunction" in text
        assert "rate(5 minutes)  ->  ScheduledFunction" in text
        api_url = next(ln.split()[-1] for ln in lines if "API Gateway (REST)" in ln)
        assert requests.post(f"{api_url}/echo", data="hi", timeout=30).status_code == 200
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "HTTP     EchoFunction" in out
    assert "SIGINT received" in out and "devstack: stopped." in out
