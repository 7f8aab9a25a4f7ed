"""GET /documents/{name}: a Facto PDF or XML kept by the stack, for as long as it is kept.

The name is unguessable (bridge/orders/files.py); the answer is a redirect to a 5-minute S3 link made now, so
the link given to Jumpseller never expires the way Facto's own (30 days) or a presigned URL (7 days) would.
"""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.inbound import resolver
from bridge.observability import logger, metrics
from bridge.orders import files

app = resolver()


@app.get("/documents/<name>")
def document(name: str) -> Response[str]:
    url = files.presigned(name)
    if url is None:
        return Response(status_code=404, content_type="application/json", body='{"error": "not found"}')
    return Response(status_code=302, content_type="text/plain", body="", headers={"Location": url})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
