"""The one Logger and Metrics of the process. Nobody builds another."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from bridge.ops import redact

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "bsale-jumpseller-bridge")

# Every line goes through the redactor: no token, RUT or e-mail address reaches the logs in clear.
logger = Logger(service=SERVICE, json_serializer=redact.dumps)
if isinstance(logger.registered_formatter, LambdaPowertoolsFormatter):
    # A Logger of the same service made earlier keeps its handler and formatter: redact through it too.
    logger.registered_formatter.json_serializer = redact.dumps
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "BsaleJumpsellerBridge"), service=SERVICE)

# An acknowledgement that only rejected bad input has no metric to flush; that is not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")


@contextmanager
def work_keys(**keys: Any) -> Iterator[None]:
    """Put shop / order / SKU on every log line of one piece of work, and take them off after it.

    Thread-local, so concurrent work in one process (the local stack) never mixes its keys.
    """
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()  # with any add_work_keys made during the work


def add_work_keys(**keys: Any) -> None:
    """More keys for the piece of work under way, learnt along the way (the SKU behind a variant id)."""
    logger.thread_safe_append_keys(**keys)
