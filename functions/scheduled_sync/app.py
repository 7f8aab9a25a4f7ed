"""EventBridge schedule: flag shops Bsale stopped notifying."""

import time

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.observability import logger, metrics
from bridge.ops.stale import flag_stale_shops


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    flagged = flag_stale_shops(int(time.time()))
    return {"flagged_stale": flagged}
