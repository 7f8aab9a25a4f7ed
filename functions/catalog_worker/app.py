"""SQS worker of the catalog queue: Bsale notifications, Jumpseller product webhooks and stock resyncs, each
applied to Jumpseller (bridge/sync/worker.py). Batch, time, deferrals and dead letters: bridge/worker.py."""

from bridge.sync.worker import handle_catalog_event
from bridge.worker import sqs_worker

lambda_handler = sqs_worker("bsale", lambda work: handle_catalog_event(work.message).action)
