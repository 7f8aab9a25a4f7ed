"""Log lines as the project writes them: JSON, work keys on every line, no secret or personal data in clear.

Each test captures what the one Logger really writes (its own formatter and serializer) while real code runs.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.errors import UpstreamError
from bridge.observability import add_work_keys, logger, work_keys
from devstack.events import api_gateway_event

ROOT = Path(__file__).resolve().parents[2]
SECRET = secrets.token_urlsafe(32)
TOKEN = f"mystore.{SECRET}"
EMAIL = "ana.perez@example.cl"
RUTS = ["12.345.678-5", "76543210-3", "9876543K"]
BSALE_TOKEN = secrets.token_hex(20)


class Captured(list[dict[str, Any]]):
    """The JSON lines the Logger wrote so far, parsed (a list, refreshed on each read of `.now`)."""

    def __init__(self, stream: io.StringIO) -> None:
        super().__init__()
        self.stream = stream

    @property
    def now(self) -> Captured:
        self[:] = [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]
        return self


@pytest.fixture
def lines() -> Iterator[Captured]:
    """What the one Logger writes during the test, through its own formatter and serializer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    underlying = logging.getLogger(logger.name)
    underlying.addHandler(handler)
    try:
        yield Captured(stream)
    finally:
        underlying.removeHandler(handler)


def raw(lines: Captured) -> str:
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)


def assert_nothing_in_clear(text: str) -> None:
    for secret in [SECRET, EMAIL, BSALE_TOKEN, *RUTS]:
        assert secret not in text, f"{secret!r} reached the logs"


@dataclass
class Context:
    function_name: str = "BsaleWebhookFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:BsaleWebhookFunction"
    aws_request_id: str = "3f2c5a9e-1b2c-4d5e-8f90-123456789abc"


def load_handler(folder: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The function's app.py, imported as Lambda would, with event logging switched on (an operator's debug switch)."""
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")  # read when the handler is decorated
    path = ROOT / "functions" / folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"log_test_{folder}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def test_a_bsale_notification_with_personal_data_is_logged_without_it(
    lines: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the Bsale webhook with event logging on, and a body that carries an e-mail and RUTs
    app = load_handler("bsale_notifications", monkeypatch)
    body = json.dumps({"cpnId": 1, "note": f"cliente {EMAIL}, RUT {RUTS[0]} / {RUTS[1]} / {RUTS[2]}",
                       "access_token": BSALE_TOKEN}).encode()
    event = api_gateway_event(
        method="POST", path=f"/bsale/notifications/{TOKEN}", resource="/bsale/notifications/{token}",
        headers=[("Content-Type", "application/json"), ("access_token", BSALE_TOKEN)], query={},
        path_parameters={"token": TOKEN}, body=body, source_ip="127.0.0.1",
    )
    # When it arrives (and is refused: it is not a notification)
    answer = app.lambda_handler(event, Context())
    # Then the event and the rejection are logged, readable, with nothing in clear
    assert answer["statusCode"] == 400
    text = raw(lines.now)
    assert_nothing_in_clear(text)
    logged_event = next(line["message"] for line in lines if isinstance(line["message"], dict))
    assert logged_event["path"] == "/bsale/notifications/mystore.***"  # the shop stays readable
    assert logged_event["pathParameters"] == {"token": "mystore.***"}
    assert "[email]" in logged_event["body"] and "[rut]" in logged_event["body"]
    assert any(line["message"] == "request rejected" and line["error"] == "bad_request" for line in lines)
    assert all(line["service"] == "bsale-jumpseller-bridge" for line in lines)


def test_an_exception_that_carries_a_notification_url_is_logged_without_its_secret(
    lines: Captured,
) -> None:
    # Given the acknowledging functions' resolver, and a failure whose message and cause quote the secret URL
    from bridge.inbound import resolver

    app = resolver()
    url = f"https://api.example.com/Prod/bsale/notifications/{TOKEN}?access_token={BSALE_TOKEN}"

    @app.post("/boom")
    def boom() -> dict[str, str]:
        try:
            raise requests.ConnectionError(f"Max retries exceeded with url: {url} (contact {EMAIL})")
        except requests.ConnectionError as exc:
            raise UpstreamError("bsale", f"no answer from {url}", retryable=True) from exc

    event = api_gateway_event(method="POST", path="/boom", resource="/boom", headers=[], query={},
                              path_parameters={}, body=b"", source_ip="127.0.0.1")
    # When it fails
    answer = app.resolve(event, Context())
    # Then the exception, its cause and the traceback are logged, scrubbed
    assert answer["statusCode"] == 502
    text = raw(lines.now)
    assert_nothing_in_clear(text)
    failed = next(line for line in lines if line["message"] == "request failed")
    assert "bsale/notifications/mystore.***" in failed["exception"]
    assert "ConnectionError" in failed["exception"] and "access_token=***" in failed["exception"]


def test_every_line_of_a_piece_of_work_carries_its_keys_and_they_go_after_it(lines: Captured) -> None:
    with work_keys(shop="mystore", order="10234"):
        logger.info("first")
        add_work_keys(sku="POL-S")
        logger.warning("second", extra={"customer": {"email": EMAIL, "taxid": RUTS[0]}})
    logger.info("after")
    first, second, after = lines.now
    assert (first["shop"], first["order"]) == ("mystore", "10234")
    assert (second["shop"], second["order"], second["sku"]) == ("mystore", "10234", "POL-S")
    assert second["customer"] == {"email": "***", "taxid": "***"}
    assert "shop" not in after and "sku" not in after
    assert_nothing_in_clear(raw(lines))


def test_a_logger_made_before_ours_for_the_same_service_still_redacts() -> None:
    # Powertools reuses the first handler of a service: the redactor must be on it, whoever made it.
    from aws_lambda_powertools import Logger

    other = Logger(service=logger.service)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(other.registered_formatter)
    logging.getLogger(other.name).addHandler(handler)
    try:
        other.info(f"customer {EMAIL}")
    finally:
        logging.getLogger(other.name).removeHandler(handler)
    assert EMAIL not in stream.getvalue() and "[email]" in stream.getvalue()
