"""What the order worker does with one queued Jumpseller webhook.

Documents, held stock and cancellations are not built yet (issue 4): every event is recorded, so nothing
accepted is lost and a later version can act on what arrived before it.
"""

from __future__ import annotations

import time

from bridge.observability import logger, work_keys
from bridge.queue import WorkMessage
from bridge.store import shops


def handle_jumpseller(message: WorkMessage) -> str:
    event = str(message.payload.get("event"))
    with work_keys(shop=message.shop_id, event=event, subject=message.subject):
        shops.record_event(message.shop_id, f"jumpseller-{event}", message.subject.replace(" ", "-"),
                           message.payload, int(time.time()))
        logger.info("Jumpseller event recorded")
    return "recorded"
