"""/panel/...: the shop owner's panel (F18) and the app's OAuth install (F17), as HTML pages."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.observability import logger, metrics
from bridge.panel.web import resolver

app = resolver()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
