"""SQS worker of the order queue: a Jumpseller order event acted on, once per order (bridge/orders/worker.py).
Batch, time, deferrals and dead letters: bridge/worker.py."""

from bridge.orders.worker import handle_jumpseller
from bridge.worker import sqs_worker

# The message id lets the same message, coming back after a crash, resume the step it had claimed.
lambda_handler = sqs_worker("order", lambda work: handle_jumpseller(work.message, attempt=f"sqs-{work.message_id}"))
