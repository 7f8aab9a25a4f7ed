"""The vendored official payloads and the Jumpseller OpenAPI file are verbatim copies of the APIs' documentation.

Tests assert our models and sandboxes against them, so an edit made to get a test green would hide a drift from the
real API. Each file is pinned in tests/fixtures/SHA256SUMS (`sha256sum -c tests/fixtures/SHA256SUMS` from the
repository root); replacing a copy with a newer official one means updating its line there on purpose.
"""

from __future__ import annotations

import hashlib

from sandboxes._openapi import DEFAULT_SPEC
from tests.conftest import FIXTURES, ROOT

SUMS = FIXTURES / "SHA256SUMS"


def pinned() -> dict[str, str]:
    lines = [line.split() for line in SUMS.read_text().splitlines() if line.strip()]
    return {path: digest for digest, path in lines}


def test_every_vendored_copy_is_pinned() -> None:
    copies = {p.relative_to(ROOT).as_posix() for p in FIXTURES.rglob("*.json")}
    copies.add(DEFAULT_SPEC.relative_to(ROOT).as_posix())
    assert len(copies) > 10
    assert set(pinned()) == copies


def test_vendored_copies_are_unchanged() -> None:
    changed = [path for path, digest in pinned().items()
               if hashlib.sha256((ROOT / path).read_bytes()).hexdigest() != digest]
    assert changed == []
