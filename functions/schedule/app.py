"""EventBridge schedule: flag shops Bsale stopped notifying; queue the reconciles that are due and the SII watches."""

import time

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.observability import logger, metrics
from bridge.ops.stale import flag_stale_shops
from bridge.store import shops
from bridge.sync.schedule import queue_due_reconciles, queue_sii_watches


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    now = int(time.time())
    all_shops = shops.all_shops()
    return {"flagged_stale": flag_stale_shops(all_shops, now), "reconciles": queue_due_reconciles(all_shops, now),
            "sii_watches": queue_sii_watches(all_shops, now)}
