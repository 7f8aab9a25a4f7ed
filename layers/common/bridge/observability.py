"""The one Logger and Metrics of the process. Nobody builds another."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "bsale-jumpseller-bridge")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "BsaleJumpsellerBridge"), service=SERVICE)
