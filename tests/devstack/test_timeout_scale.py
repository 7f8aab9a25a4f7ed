"""`timeout_scale` stretches a function's Timeout: the limit enforced and the context's remaining time alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from devstack import FunctionTimeout, LocalFunction, LocalStack
from devstack.functions import TIMEOUT_SCALE_VARIABLE, timeout_scale
from tests.devstack.conftest import BASIC_TEMPLATE

HANDLER = """
import time


def handler(event, context):
    at_start = context.get_remaining_time_in_millis()
    time.sleep(event["sleep"])
    return {"at_start": at_start, "at_end": context.get_remaining_time_in_millis()}
"""


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[Callable[[float, float], LocalFunction]]:
    (tmp_path / "app.py").write_text(HANDLER)
    made: list[LocalFunction] = []

    def make(timeout: float, scale: float) -> LocalFunction:
        made.append(LocalFunction(logical_id="Sleeper", name="devstack-Sleeper", handler="app.handler",
                                  code_dir=tmp_path, layer_dirs=[], timeout=timeout, memory_mb=128, environment={},
                                  events=[], timeout_scale=scale))  # fmt: skip
        return made[-1]

    yield make
    for function in made:
        function.stop()


def test_the_scale_stretches_the_enforced_timeout_and_the_remaining_time(
    sleeper: Callable[[float, float], LocalFunction],
) -> None:
    # 1.5 s is over a 1 s Timeout, and well inside 5 x 1 s even on a busy machine
    result = sleeper(1, 5).invoke({"sleep": 1.5})
    assert 1000 < result["at_start"] <= 5000  # the context counts down from the stretched budget...
    assert result["at_end"] <= result["at_start"] - 1500  # ...on the wall clock
    with pytest.raises(FunctionTimeout, match="timeout_scale 5"):
        sleeper(0.2, 5).invoke({"sleep": 1.2})  # over 5 x 0.2 s: still enforced


def test_without_a_scale_the_timeout_is_the_templates(sleeper: Callable[[float, float], LocalFunction]) -> None:
    with pytest.raises(FunctionTimeout):
        sleeper(1, 1).invoke({"sleep": 1.5})


def test_the_scale_comes_from_the_stack_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TIMEOUT_SCALE_VARIABLE, raising=False)
    assert timeout_scale() == 1.0
    monkeypatch.setenv(TIMEOUT_SCALE_VARIABLE, "2.5")
    assert timeout_scale() == 2.5
    assert LocalStack(template=BASIC_TEMPLATE).timeout_scale == 2.5
    assert LocalStack(template=BASIC_TEMPLATE, timeout_scale=4).timeout_scale == 4  # the argument wins
    monkeypatch.setenv(TIMEOUT_SCALE_VARIABLE, "fast")
    with pytest.raises(ValueError, match=TIMEOUT_SCALE_VARIABLE):
        timeout_scale()
    with pytest.raises(ValueError, match="positive"):
        timeout_scale(0)


def test_the_stack_gives_its_scale_to_every_function_and_the_gateway() -> None:
    with LocalStack(template=BASIC_TEMPLATE, timeout_scale=3, schedules=False, pollers=False) as stack:
        slow = stack.function("SlowFunction")  # Timeout: 1
        assert slow.timeout == 1 and slow.budget == 3
        assert all(f.timeout_scale == 3 for f in stack.functions.values())
        assert requests.get(f"{stack.api_url}/slow?sleep=1.3", timeout=30).text == "slept"  # over 1 s, under 3 s
        assert requests.get(f"{stack.api_url}/slow?sleep=3.2", timeout=30).status_code == 502  # over 3 s
