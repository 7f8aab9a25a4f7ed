"""The exactly-once steps of an order, one module each (the protocol they follow: bridge/orders/protocol.py).

Bsale: `bsale_document` (boleta / factura), `consumption` (documents off), `bsale_return` (its credit note),
`reception` (undoing a consumption). Facto: `facto_document` (boleta / factura / credit note through Facto).
"""
