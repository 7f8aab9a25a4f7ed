"""SQS worker of the sync queue: one slice of a bulk job (reconcile, manual sync, SII watch), resuming from its
checkpoint (bridge/sync/jobs.py). Batch, time, deferrals and dead letters: bridge/worker.py."""

from bridge.sync.jobs import handle_sync_message
from bridge.worker import sqs_worker

lambda_handler = sqs_worker("sync", lambda work: handle_sync_message(work.message, work.remaining_ms).action,
                            bulk=True)
