"""SQS worker: act on queued Jumpseller webhooks (partial batch failures)."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.observability import logger, metrics
from bridge.ops.dead_letters import failures_recorded
from bridge.orders.worker import handle_jumpseller
from bridge.queue import WorkMessage


def record_handler(record: SQSRecord) -> str:
    logger.set_correlation_id(record.message_id)
    message = WorkMessage.model_validate_json(record.body)
    with failures_recorded(record.message_id, message, int(record.attributes.approximate_receive_count)):
        # The message id lets the same message, coming back after a crash, resume the step it had claimed.
        return handle_jumpseller(message, attempt=f"sqs-{record.message_id}")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # A processor per invocation: it holds the batch's results, and the local stack runs invocations in threads.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
