"""Inbound HTTP for the acknowledging functions: one resolver factory, domain errors mapped to codes once.

(Outbound calls to Bsale, Jumpseller and Facto are bridge/clients/http.py.)
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit

from bridge.errors import BridgeError
from bridge.observability import logger, metrics


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.exception_handler(BridgeError)  # type: ignore[untyped-decorator]
    def _domain_error(exc: BridgeError) -> Response[dict[str, str]]:
        if exc.status < 500:
            # Rejections are expected from the open internet; they are counted, not alarming one by one.
            metrics.add_metric(name=f"Rejected{exc.code.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
            logger.warning("request rejected", extra={"status": exc.status, "error": exc.code, "reason": exc.reason})
        else:
            logger.exception("request failed")
        return Response(
            status_code=exc.status,
            content_type=content_types.APPLICATION_JSON,
            body={"error": exc.answer_code or exc.code, "message": exc.reason},
        )

    return app
