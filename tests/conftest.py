"""Shared test setup: every test runs with a fake AWS identity and never reaches a real account."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Official example payloads from the APIs' documentation, vendored so a bare clone runs every test;
# tests/sandboxes/test_fixtures.py checks them against the committed checksum list beside them.
FIXTURES = ROOT / "tests" / "fixtures"

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines would drown the test output
os.environ.setdefault("TABLE_NAME", "unit-test-table")


def official(name: str) -> dict:
    """An official example payload from tests/fixtures, e.g. official('bsale/webhook_stock_official')."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


# Cost markers by folder (registered in pyproject.toml): `pytest -m unit` runs the fast loop.
COST_MARKERS = ("unit", "integration", "e2e", "sandboxes", "devstack")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        parts = item.path.resolve().relative_to(tests_dir).parts
        folder = parts[0] if len(parts) > 1 else ""
        if folder not in COST_MARKERS:
            raise pytest.UsageError(f"{item.nodeid}: put the test in one of tests/{{{','.join(COST_MARKERS)}}}")
        item.add_marker(folder)
