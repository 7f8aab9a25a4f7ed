"""EventBridge schedule: flag shops Bsale stopped notifying; queue the reconciles that are due and the SII watches.

Each reads only the shops that are due (bridge/store/due.py), never every shop."""

import time

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.observability import logger, metrics
from bridge.ops.stale import flag_stale_shops
from bridge.store import due
from bridge.sync.schedule import queue_due_reconciles, queue_sii_watches


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    now = int(time.time())
    backfilled = due.backfill_once(now)  # shops saved before due items existed (once; then one GetItem a tick)
    return {"flagged_stale": flag_stale_shops(now), "reconciles": queue_due_reconciles(now),
            "sii_watches": queue_sii_watches(now), "backfilled": backfilled}
