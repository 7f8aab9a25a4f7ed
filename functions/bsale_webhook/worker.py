"""SQS worker: apply queued Bsale notifications (partial batch failures: one bad message retries alone).

Records run inside the invocation's time, each shop's in order and the shops side by side (bridge/batch.py):
none is started without time for it, and a slow or failing shop's records never hold another shop's up.
"""

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.batch import TimeBox, by_shop
from bridge.observability import logger, metrics
from bridge.ops.dead_letters import failures_recorded
from bridge.queue import WorkMessage
from bridge.settings import settings
from bridge.sync.worker import handle_catalog_event


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    box = TimeBox("bsale", settings().bsale_queue_url, context.get_remaining_time_in_millis)

    def record_handler(raw: dict[str, Any]) -> str:
        record = SQSRecord(raw)
        logger.set_correlation_id(record.message_id)
        message = WorkMessage.model_validate_json(record.body)
        with failures_recorded(record.message_id, message, int(record.attributes.approximate_receive_count),
                               queue="bsale"):
            return box.run(message, lambda: handle_catalog_event(message).action)

    return by_shop(event, "bsale", record_handler)
