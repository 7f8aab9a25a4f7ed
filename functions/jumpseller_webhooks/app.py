"""POST /jumpseller/webhooks: verify a Jumpseller webhook's signature and queue it."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.inbound import resolver
from bridge.intake import body, jumpseller
from bridge.observability import logger, metrics

app = resolver()


@app.post("/jumpseller/webhooks")
def webhook() -> dict[str, str]:
    event = app.current_event
    message = jumpseller.accept(event.headers, body.raw(event.body, event.is_base64_encoded))
    if message is None:  # a product event with nothing new for the catalog (our own write's echo)
        return {"status": "unchanged"}
    return {"status": "queued", "subject": message.subject}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
