"""The local stack as a user drives it: one stack and two sandboxes per test session, one shop per test."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import aws
from bridge.clients.http import ApiSession
from bridge.settings import settings
from demo import DemoShop, connect_demo_shop
from devstack import LocalStack
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox
from tests.e2e import faults

_shop_numbers = itertools.count(1)
TIMEOUT_SCALE = 3.0  # see `stack`


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[tuple[BsaleSandbox, JumpsellerSandbox]]:
    with BsaleSandbox() as bsale, JumpsellerSandbox() as jumpseller:
        yield bsale, jumpseller


class SettlingStack(LocalStack):
    """The local stack, whose ``drain`` also waits for the webhooks the sandboxes have still to send.

    A change made in a sandbox (``set_stock``...) is notified from the sandbox's own thread: until that POST
    reached the API, the queues are empty and a bare drain would return before the work even started, so the
    test would look too early. On a busy machine that gap is what made tests fail.
    """

    sandboxes: tuple[BsaleSandbox, JumpsellerSandbox] | tuple[()] = ()

    def drain(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        while True:
            if not all(sandbox.webhooks_idle(left()) for sandbox in self.sandboxes):
                return False
            if not super().drain(left()):
                return False
            if all(sandbox.webhooks_idle(0) for sandbox in self.sandboxes):
                return True  # nothing the workers did made a sandbox send a webhook meanwhile


@pytest.fixture(scope="session")
def stack_faults(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests arm the faults the functions' processes apply (tests/e2e/preload.py)."""
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="session")
def stack(sandboxes: tuple[BsaleSandbox, JumpsellerSandbox], stack_faults: Path) -> Iterator[LocalStack]:
    # Failed messages come back after 1 s instead of the queue's 180 s, so retries and dead-lettering
    # happen within a test. Each function gets TIMEOUT_SCALE times its Timeout (enforced and as remaining time):
    # a shared 2-core box running the sandboxes, moto and every function is slower than Lambda, and beside
    # another CPU-heavy process a 5 s webhook ran 14 s. Everything else is as the template declares.
    # Each function's process runs tests/e2e/preload.py first: short client back-offs, crashes the tests arm.
    settling = SettlingStack(retry_visibility_seconds=1, schedules=False, timeout_scale=TIMEOUT_SCALE,
                             environment=faults.environment(stack_faults))
    settling.sandboxes = sandboxes
    with settling as running:
        aws.reset()
        settings.cache_clear()
        yield running


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The clients' in-invocation back-off is seconds long on AWS; shorten it so tests stay fast: here, for the
    # product code a test runs itself (the functions' processes get it from preload.py).
    monkeypatch.setattr(ApiSession, "max_backoff", float(faults.MAX_BACKOFF))


@pytest.fixture
def function_env(stack: LocalStack) -> Iterator[Callable[..., None]]:
    """``function_env({NAME: value or None}, functions=None)``: change variables of the stack's functions (all, or
    those named), as Lambda's UpdateFunctionConfiguration does (their next environments start with them), and of
    this process alike (the product code a test runs itself); both are restored after the test."""
    saved: dict[str, str | None] = {}
    changed: list[tuple[list[str], list[str] | None]] = []

    def change(values: dict[str, str | None], functions: list[str] | None = None) -> None:
        for key, value in values.items():
            saved.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        stack.update_environment(values, functions)
        changed.append((list(values), functions))
        settings.cache_clear()

    yield change
    for keys, functions in changed:
        stack.reset_environment(keys, functions)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    settings.cache_clear()


@pytest.fixture
def crash_at(stack_faults: Path) -> Iterator[Callable[[str], faults.Crash]]:
    """``crash_at(step)``: the next function process that reaches that order step dies there, once."""
    armed: list[faults.Crash] = []

    def arm(step: str) -> faults.Crash:
        armed.append(faults.Crash(stack_faults, step))
        return armed[-1]

    yield arm
    for crash in armed:
        crash.disarm()


@pytest.fixture
def bsale(sandboxes: tuple[BsaleSandbox, JumpsellerSandbox]) -> BsaleSandbox:
    return sandboxes[0]


@pytest.fixture
def jumpseller(sandboxes: tuple[BsaleSandbox, JumpsellerSandbox]) -> Iterator[JumpsellerSandbox]:
    sandbox = sandboxes[1]
    yield sandbox
    violations = list(sandbox.violations)
    sandbox.violations.clear()
    assert violations == [], "the project sent Jumpseller something its official OpenAPI spec rejects"


@pytest.fixture
def new_shop(
    stack: LocalStack, bsale: BsaleSandbox, jumpseller: JumpsellerSandbox
) -> Iterator[Callable[..., DemoShop]]:
    """Connect a fresh demo shop of its own (own Bsale company, own Jumpseller store) with these options."""

    def connect(**options: Any) -> DemoShop:
        n = next(_shop_numbers)
        return connect_demo_shop(stack.api_url, bsale, jumpseller, code=f"shop-{n}", cpn_id=5000 + n,
                                 options=options)

    yield connect
    for sandbox_faults in (bsale.faults, jumpseller.faults):
        sandbox_faults.clear()
    bsale.notifications_enabled = True


@pytest.fixture
def shop(new_shop: Callable[..., DemoShop]) -> DemoShop:
    return new_shop()


def eventually(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Wait until `check()` is truthy; return its value or fail with the last one seen.

    The deadline is generous on purpose: a passing check returns at once, and a machine busy with other work
    is slow, not wrong (the suite must pass beside a CPU-heavy process).
    """
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    assert value, f"condition not met within {timeout}s (last value: {value!r})"
    return value
