"""The vendored copies (official fixtures, Jumpseller OpenAPI file) must stay identical to the shared reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandboxes._openapi import DEFAULT_SPEC
from tests.sandboxes.conftest import FIXTURES

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference not available on this machine")
def test_vendored_copies_match_reference() -> None:
    assert DEFAULT_SPEC.read_bytes() == (REFERENCE / "jumpseller-openapi.json").read_bytes()
    copies = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*.json"))
    originals = sorted(p.relative_to(REFERENCE / "fixtures") for p in (REFERENCE / "fixtures").rglob("*.json"))
    assert copies == originals
    for name in copies:
        assert (FIXTURES / name).read_bytes() == (REFERENCE / "fixtures" / name).read_bytes(), name
