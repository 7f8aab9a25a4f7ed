"""The event payloads Lambda hands to a function: API Gateway REST proxy (v1), SQS batches, scheduled events."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from devstack.template import ACCOUNT_ID, REGION


def api_gateway_event(
    *,
    method: str,
    path: str,
    resource: str,
    headers: Sequence[tuple[str, str]],
    query: Mapping[str, list[str]],
    path_parameters: Mapping[str, str],
    body: bytes,
    source_ip: str,
    stage: str = "Prod",
    api_id: str = "local",
) -> dict[str, Any]:
    """API Gateway REST API Lambda proxy integration event (payload format 1.0)."""
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value  # API Gateway keeps the last value
        multi_headers.setdefault(name, []).append(value)
    body_text: str | None
    is_base64 = False
    if not body:
        body_text = None
    else:
        try:
            body_text = body.decode("utf-8")
        except UnicodeDecodeError:
            body_text = base64.b64encode(body).decode("ascii")
            is_base64 = True
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    user_agent = single_headers.get("User-Agent") or next(
        (v for k, v in single_headers.items() if k.lower() == "user-agent"), None
    )
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": {k: list(v) for k, v in query.items()} or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": single_headers.get("Host", "127.0.0.1"),
            "domainPrefix": api_id,
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": body_text,
        "isBase64Encoded": is_base64,
    }


def _message_attributes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API message attributes (``StringValue``...) in Lambda's event shape (``stringValue``...)."""
    out: dict[str, Any] = {}
    for name, attr in raw.items():
        binary = attr.get("BinaryValue")
        out[name] = {
            "stringValue": attr.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode("ascii") if isinstance(binary, bytes) else binary,
            "stringListValues": list(attr.get("StringListValues", [])),
            "binaryListValues": [
                base64.b64encode(b).decode("ascii") if isinstance(b, bytes) else b
                for b in attr.get("BinaryListValues", [])
            ],
            "dataType": attr.get("DataType", "String"),
        }
        if out[name]["stringValue"] is None:
            del out[name]["stringValue"]
        if out[name]["binaryValue"] is None:
            del out[name]["binaryValue"]
    return out


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """One record of a Lambda SQS event, from a ``receive_message`` message."""
    attributes = {k: str(v) for k, v in (message.get("Attributes") or {}).items()}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": _message_attributes(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str = REGION) -> dict[str, Any]:
    return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}


def scheduled_event(rule_arn: str, region: str = REGION, now: float | None = None) -> dict[str, Any]:
    """EventBridge's "Scheduled Event" (what a ``Schedule`` event without ``Input`` delivers)."""
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
