"""The one Logger and Metrics of the process. Nobody builds another.

Nothing logged in this process carries a secret in clear: the Logger serializes through `redact.dumps`, and every
other logger's records (libraries, the local stack) are scrubbed when they are made (`_redacting`).
"""

from __future__ import annotations

import logging
import os
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from bridge import redact

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "bsale-jumpseller-bridge")

# Every line goes through the redactor: no token, RUT or e-mail address reaches the logs in clear.
logger = Logger(service=SERVICE, json_serializer=redact.dumps)
if isinstance(logger.registered_formatter, LambdaPowertoolsFormatter):
    # A Logger of the same service made earlier keeps its handler and formatter: redact through it too.
    logger.registered_formatter.json_serializer = redact.dumps
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "BsaleJumpsellerBridge"), service=SERVICE)

# An acknowledgement that only rejected bad input has no metric to flush; that is not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Libraries log through the standard loggers, not ours. At DEBUG, botocore prints whole requests and responses
# (SSM parameter values: every token of a shop) and urllib3 every URL. Their DEBUG is off whatever the level asked;
# their INFO and above still shows (retries, connection trouble), scrubbed like everything else below.
QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer", "requests")
for _name in QUIET_LIBRARIES:
    _library = logging.getLogger(_name)
    if _library.level < logging.INFO:  # NOTSET included: it would follow the root logger down to DEBUG
        _library.setLevel(logging.INFO)


def _redacting(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """Every record of every other logger, scrubbed when it is made: message, arguments and traceback."""

    def make(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name == logger.name or record.name.startswith(f"{logger.name}."):
            return record  # the one Logger serializes through redact.dumps already, structure and all
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what there is rather than fail the caller
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact.scrub_text(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact.scrub_text("".join(traceback.format_exception(*record.exc_info)).rstrip())
        if record.stack_info:
            record.stack_info = redact.scrub_text(record.stack_info)
        return record

    make.bridge_redacting = True  # type: ignore[attr-defined]
    return make


if not getattr(logging.getLogRecordFactory(), "bridge_redacting", False):  # once per process
    logging.setLogRecordFactory(_redacting(logging.getLogRecordFactory()))


@contextmanager
def work_keys(**keys: Any) -> Iterator[None]:
    """Put shop / order / SKU on every log line of one piece of work, and take them off after it.

    Thread-local, so the shop lanes of one batch (bridge/batch.py), which run side by side, never mix their keys.
    """
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()  # with any add_work_keys made during the work


def add_work_keys(**keys: Any) -> None:
    """More keys for the piece of work under way, learnt along the way (the SKU behind a variant id)."""
    logger.thread_safe_append_keys(**keys)
