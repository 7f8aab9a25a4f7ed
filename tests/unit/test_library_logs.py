"""Loggers that are not ours (botocore, urllib3, anything): their DEBUG dumps stay off, and what they do say is
scrubbed when the record is made, whatever handler writes it."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator

import pytest

import bridge.observability  # noqa: F401 - installs the library levels and the scrubbing record factory

TOKEN = secrets.token_hex(8) + "-plain-token"  # no shape a free-text rule would catch on its own


@pytest.fixture
def root_at_debug() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_botocore_and_urllib3_debug_dumps_stay_off(root_at_debug: io.StringIO) -> None:
    body = b'{"Parameter": {"Value": "%s"}}' % TOKEN.encode()
    logging.getLogger("botocore.parsers").debug("Response body:\n%s", body)
    logging.getLogger("urllib3.connectionpool").debug('"GET /v1/instances/basic/%s.json HTTP/1.1" 200', TOKEN)
    assert TOKEN not in root_at_debug.getvalue()
    assert "Response body" not in root_at_debug.getvalue()


def test_what_other_loggers_say_is_scrubbed(root_at_debug: io.StringIO) -> None:
    logging.getLogger("urllib3.connectionpool").warning("Retrying after a reset: /v1/instances/basic/%s.json", TOKEN)
    logging.getLogger("anything.else").debug('body {\\"bsale_token\\": \\"%s\\"} for ana@example.cl', TOKEN)
    try:
        raise RuntimeError(f"failed with access_token={TOKEN}")
    except RuntimeError:
        logging.getLogger("anything.else").exception("boom")
    written = root_at_debug.getvalue()
    assert "WARNING urllib3.connectionpool Retrying" in written and "Traceback" in written
    assert TOKEN not in written
    assert "ana@example.cl" not in written
