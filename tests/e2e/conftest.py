"""The local stack as a user drives it: one stack and two sandboxes per test session, one shop per test."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bridge import aws
from bridge.clients.http import ApiSession
from bridge.settings import settings
from devstack import LocalStack
from devstack.demo import DemoShop, connect_demo_shop
from sandboxes.bsale import BsaleSandbox
from sandboxes.jumpseller import JumpsellerSandbox

_shop_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[tuple[BsaleSandbox, JumpsellerSandbox]]:
    with BsaleSandbox() as bsale, JumpsellerSandbox() as jumpseller:
        yield bsale, jumpseller


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    # Failed messages come back after 1 s instead of the queue's 180 s, so retries and dead-lettering
    # happen within a test; everything else is as the template declares.
    with LocalStack(retry_visibility_seconds=1, schedules=False) as running:
        aws.reset()
        settings.cache_clear()
        yield running


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The clients' in-invocation back-off is seconds long on AWS; shorten it so tests stay fast.
    monkeypatch.setattr(ApiSession, "max_backoff", 0.05)


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
    for faults in (bsale.faults, jumpseller.faults):
        faults.clear()
    bsale.notifications_enabled = True


@pytest.fixture
def shop(new_shop: Callable[..., DemoShop]) -> DemoShop:
    return new_shop()


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Wait until `check()` is truthy; return its value or fail with the last one seen."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    assert value, f"condition not met within {timeout}s (last value: {value!r})"
    return value
