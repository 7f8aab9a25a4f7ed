"""The order record lives in bridge/models/order_record.py (storage depends on models, not on orders).

Only bridge.cli still imports it from here; the branch that moves the CLI out of the layer drops this file.
"""

from bridge.models.order_record import IN_FLIGHT, OrderState

__all__ = ["IN_FLIGHT", "OrderState"]
