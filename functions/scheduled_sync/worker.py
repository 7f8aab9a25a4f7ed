"""SQS worker: one slice of a bulk catalog job (reconcile, manual sync), resuming from its checkpoint."""

import time

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.clients.http import calls_end_by
from bridge.observability import logger, metrics
from bridge.ops.dead_letters import failures_recorded
from bridge.queue import WorkMessage
from bridge.sync.jobs import handle_sync_message

CALLS_MARGIN_SECONDS = 10  # to save the checkpoint and answer, after the last call


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    def record_handler(record: SQSRecord) -> str:
        logger.set_correlation_id(record.message_id)
        message = WorkMessage.model_validate_json(record.body)
        remaining = context.get_remaining_time_in_millis()
        # The slice stops on its own budget well before; no call may outlive the invocation whatever it does.
        with failures_recorded(record.message_id, message, int(record.attributes.approximate_receive_count),
                               queue="sync"), \
                calls_end_by(time.monotonic() + remaining / 1000 - CALLS_MARGIN_SECONDS):
            return handle_sync_message(message, remaining).action

    # A processor per invocation: it holds the batch's results, and the local stack runs invocations in threads.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
