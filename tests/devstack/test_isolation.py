"""Each function runs as on Lambda: in execution environments (processes) of its own, started when first needed,
reused while warm, replaced after a timeout, retired when its configuration changes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack import InvocationError, LocalFunction, LocalStack

from .conftest import BASIC_TEMPLATE


def test_each_function_sees_its_own_environment(stack: LocalStack) -> None:
    worker = stack.function("WorkerFunction").invoke({"whoami": True})
    environ = worker["environ"]
    assert environ["POWERTOOLS_SERVICE_NAME"] == "worker" == worker["service_at_import"]
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "devstack-WorkerFunction"
    assert environ["TABLE_NAME"] == "devstack-Table"  # Globals
    assert "ONLY_TWIN" not in environ and "QUEUE_URL" not in environ  # other functions' variables
    assert environ["AWS_ENDPOINT_URL"] == stack.moto_endpoint
    twin = stack.function("TwinFunction").invoke({"source": "t"})
    assert twin["only_twin"] == "yes"
    webhook = requests.post(f"{stack.api_url}/hooks/t", data="x", timeout=30).json()
    assert webhook["service"] == webhook["service_at_import"] == "webhook"
    assert webhook["env_function_name"] == webhook["function_name"] == "devstack-WebhookFunction"
    assert "TwinFunction" not in os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")  # nothing leaks into this process


def test_module_globals_are_per_function_and_kept_while_warm(stack: LocalStack) -> None:
    # ScheduledFunction and TwinFunction run the same file; each has its own module, as two Lambda functions do
    scheduled, twin = stack.function("ScheduledFunction"), stack.function("TwinFunction")
    first = scheduled.invoke({})["fired"]
    assert scheduled.invoke({})["fired"] == first + 1  # the warm environment again: its module's list grew
    twin_first = twin.invoke({})["fired"]
    assert twin.invoke({})["fired"] == twin_first + 1
    assert scheduled.invoke({})["fired"] == first + 2  # the twin's invocations did not touch this module


def test_a_timeout_kills_the_environment_and_the_next_invocation_gets_a_new_one(stack: LocalStack) -> None:
    slow = stack.function("SlowFunction")  # Timeout: 1
    pid = int(requests.get(f"{stack.api_url}/slow?pid=1", timeout=30).text)
    starts = slow.cold_starts
    assert requests.get(f"{stack.api_url}/slow?sleep={slow.budget + 2}", timeout=60).status_code == 502
    timed_out = stack.invocations[-1]
    assert timed_out.function == "SlowFunction" and not timed_out.ok
    assert timed_out.error is not None and "Task timed out" in timed_out.error
    assert timed_out.duration < slow.budget + 1.5  # stopped at the limit, not when the handler returned
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert int(requests.get(f"{stack.api_url}/slow?pid=1", timeout=30).text) != pid
    assert slow.cold_starts == starts + 1


def test_environments_start_lazily_up_to_the_functions_concurrency() -> None:
    with LocalStack(template=BASIC_TEMPLATE, schedules=False, pollers=False, api_concurrency=2) as stack:
        assert all(f.environments == 0 for f in stack.functions.values())  # nothing started with the stack
        echo = stack.function("EchoFunction")
        assert echo.max_environments == 3  # two for the API, one for direct invocations
        slow = stack.function("SlowFunction")
        answers: list[int] = []

        def call() -> None:
            answers.append(requests.get(f"{stack.api_url}/slow?sleep=0.5", timeout=60).status_code)

        threads = [threading.Thread(target=call) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [200] * 5  # the requests beyond the pool waited for a free environment
        assert 1 <= slow.environments <= slow.max_environments == 3
        assert slow.cold_starts == slow.environments
        assert echo.environments == 0
        cold = [i for i in stack.invocations if i.function == "SlowFunction" and i.init_duration > 0]
        assert len(cold) == slow.cold_starts


def test_an_environment_update_reaches_new_environments_only_after_the_change(stack: LocalStack) -> None:
    twin = stack.function("TwinFunction")
    assert twin.invoke({})["only_twin"] == "yes"
    starts = twin.cold_starts
    stack.update_environment({"ONLY_TWIN": "changed"}, functions=["TwinFunction"])
    assert twin.invoke({})["only_twin"] == "changed"
    assert twin.cold_starts == starts + 1  # the warm environment was retired
    stack.update_environment({"ONLY_TWIN": "changed"}, functions=["TwinFunction"])  # no change: stays warm
    assert twin.invoke({})["only_twin"] == "changed" and twin.cold_starts == starts + 1
    stack.reset_environment(["ONLY_TWIN"], functions=["TwinFunction"])
    assert twin.invoke({})["only_twin"] == "yes"
    assert stack.function("ScheduledFunction").invoke({})["only_twin"] is None


def test_aws_calls_are_attributed_to_the_function_that_made_them(stack: LocalStack) -> None:
    with stack.aws_calls() as calls:
        assert requests.post(f"{stack.api_url}/hooks/t?enqueue=1", data="attributed", timeout=30).status_code == 202
        stack.client("sqs").get_queue_attributes(QueueUrl=stack.queue_url("IdleQueue"), AttributeNames=["All"])
    sent = [c for c in calls if c.operation == "SendMessage"]
    assert [(c.function, c.service, c.params["MessageBody"]) for c in sent] == [("WebhookFunction", "sqs",
                                                                                 "attributed")]  # fmt: skip
    assert any(c.function is None and c.operation == "GetQueueAttributes" for c in calls)  # this process's own
    assert stack.drain(60)


def test_the_functions_logs_reach_this_process_stdout(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.function("ScheduledFunction").invoke({"source": "logged-here"})
    assert '"source": "logged-here"' in capsys.readouterr().out
    assert any("logged-here" in line for _, line in stack.function("ScheduledFunction").logs)


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[LocalFunction]:
    (tmp_path / "app.py").write_text("import not_installed_anywhere\n")
    function = LocalFunction(logical_id="Broken", name="devstack-Broken", handler="app.handler", code_dir=tmp_path,
                             layer_dirs=[], timeout=3, memory_mb=128, environment={}, events=[])  # fmt: skip
    yield function
    function.stop()


def test_an_import_error_fails_each_invocation_as_on_lambda(broken: LocalFunction) -> None:
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(InvocationError, match="Runtime.ImportModuleError: No module named"):
            broken.invoke({})
        assert time.monotonic() - started < 30
    assert broken.environments == 0
    assert broken.import_error is not None and "not_installed_anywhere" in broken.import_error
