"""Fixtures of the devstack tests: one stack per test module on the miniature template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import LocalStack

FIXTURES = Path(__file__).parent / "fixtures"
BASIC_TEMPLATE = FIXTURES / "basic" / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """The basic template with SQS retries compressed to 0 s and no schedule timers."""
    with LocalStack(template=BASIC_TEMPLATE, retry_visibility_seconds=0, schedules=False) as running:
        yield running
