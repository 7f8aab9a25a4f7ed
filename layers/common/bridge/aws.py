"""boto3 clients, created once per process and shared.

They honour AWS_ENDPOINT_URL, so the same code talks to moto locally and to AWS when deployed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Short timeouts: an acknowledging handler must answer well inside Bsale's ~3 s.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


def reset() -> None:
    """Forget every client (tests point the process at a new endpoint)."""
    client.cache_clear()
