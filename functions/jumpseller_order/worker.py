"""SQS worker: act on queued Jumpseller webhooks (partial batch failures).

Records run inside the invocation's time, each shop's in order and the shops side by side (bridge/batch.py).
"""

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.batch import TimeBox, by_shop
from bridge.observability import logger, metrics
from bridge.ops.dead_letters import failures_recorded
from bridge.orders.worker import handle_jumpseller
from bridge.queue import WorkMessage
from bridge.settings import settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    box = TimeBox("order", settings().order_queue_url, context.get_remaining_time_in_millis)

    def record_handler(raw: dict[str, Any]) -> str:
        record = SQSRecord(raw)
        logger.set_correlation_id(record.message_id)
        message = WorkMessage.model_validate_json(record.body)
        with failures_recorded(record.message_id, message, int(record.attributes.approximate_receive_count),
                               queue="order"):
            # The message id lets the same message, coming back after a crash, resume the step it had claimed.
            return box.run(message, lambda: handle_jumpseller(message, attempt=f"sqs-{record.message_id}"))

    return by_shop(event, "order", record_handler)
