"""The local API Gateway: routing, the REST proxy event, proxy responses, API Gateway's error answers."""

from __future__ import annotations

import base64
import json

import requests

from devstack import LocalStack
from devstack.gateway import MAX_BODY_BYTES, Route


def test_route_reaches_handler_with_rest_proxy_event(stack: LocalStack) -> None:
    response = requests.post(
        f"{stack.api_url}/hooks/tok%2D123?x=1&x=2&flag=",
        data=json.dumps({"hello": "world"}),
        headers={"Content-Type": "application/json", "X-Multi": "one"},
        timeout=30,
    )
    assert response.status_code == 202
    assert response.headers["X-Handler"] == "webhook"
    assert response.headers["Content-Type"] == "application/json"
    assert "a=1" in response.headers["Set-Cookie"] and "b=2" in response.headers["Set-Cookie"]
    payload = response.json()
    event = payload["event"]
    assert event["resource"] == "/hooks/{token}"
    assert event["path"] == "/hooks/tok-123"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"token": "tok-123"}
    assert event["queryStringParameters"] == {"x": "2", "flag": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "flag": [""]}
    assert event["headers"]["X-Multi"] == "one"
    assert event["multiValueHeaders"]["X-Multi"] == ["one"]
    assert event["stageVariables"] is None
    assert json.loads(event["body"]) == {"hello": "world"}
    assert event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["stage"] == "Prod"
    assert ctx["resourcePath"] == "/hooks/{token}"
    assert ctx["httpMethod"] == "POST"
    assert ctx["path"] == "/Prod/hooks/tok-123"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(ctx["requestTimeEpoch"], int) and ctx["requestId"]
    assert response.headers["x-amzn-RequestId"] == ctx["requestId"]
    # the Lambda context and per-function environment
    assert payload["function_name"] == "devstack-WebhookFunction"
    assert payload["env_function_name"] == "devstack-WebhookFunction"
    assert payload["memory"] == 256
    assert 0 < payload["remaining_ms"] <= 5000
    assert payload["service"] == payload["service_at_import"] == "webhook"
    assert payload["greeting"] == "hello webhook"


def test_greedy_proxy_and_literal_precedence(stack: LocalStack) -> None:
    proxied = requests.get(f"{stack.api_url}/items/a/b/c", timeout=30).json()["event"]
    assert proxied["resource"] == "/items/{proxy+}"
    assert proxied["pathParameters"] == {"proxy": "a/b/c"}
    assert proxied["queryStringParameters"] is None and proxied["body"] is None
    special = requests.get(f"{stack.api_url}/items/special", timeout=30).json()["event"]
    assert special["resource"] == "/items/special"
    assert special["pathParameters"] is None


def test_any_method_and_function_sharing_a_folder(stack: LocalStack) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = requests.request(method, f"{stack.api_url}/echo", timeout=30)
        assert response.status_code == 200
        body = response.json()
        assert body["event"]["httpMethod"] == method
        assert body["function"] == "devstack-EchoFunction"
        assert body["helpers"] == "webhook-helpers"


def test_unknown_route_and_wrong_method(stack: LocalStack) -> None:
    for method, path in (("GET", "/nope"), ("GET", "/hooks/abc"), ("POST", "/items/x")):
        response = requests.request(method, f"{stack.api_url}{path}", timeout=30)
        assert response.status_code == 403
        assert response.json() == {"message": "Missing Authentication Token"}


def test_handler_exception_is_502(stack: LocalStack) -> None:
    response = requests.post(f"{stack.api_url}/boom", timeout=30)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    last = [i for i in stack.invocations if i.detail == "POST /boom -> 502"][-1]
    assert not last.ok and last.error == "RuntimeError: boom"


def test_malformed_proxy_response_is_502(stack: LocalStack) -> None:
    response = requests.get(f"{stack.api_url}/echo?bad=1", timeout=30)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_timeout_is_enforced(stack: LocalStack) -> None:
    assert requests.get(f"{stack.api_url}/slow?sleep=0.01", timeout=30).text == "slept"
    response = requests.get(f"{stack.api_url}/slow?sleep=1.1", timeout=30)
    assert response.status_code == 502
    slow = [i for i in stack.invocations if i.function == "SlowFunction"]
    assert slow[-1].ok is False and "timed out" in (slow[-1].error or "")


def test_binary_bodies(stack: LocalStack) -> None:
    raw = b"\x89PNG\xff\x00"
    event = requests.post(f"{stack.api_url}/echo", data=raw, timeout=30).json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    response = requests.get(f"{stack.api_url}/echo?binary=1", timeout=30)
    assert response.content == b"\x00\xffraw"
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_body_over_10_mb_is_413(stack: LocalStack) -> None:
    response = requests.post(f"{stack.api_url}/echo", data=b"x" * (MAX_BODY_BYTES + 1), timeout=30)
    assert response.status_code == 413
    assert "10485760" in response.json()["message"]
    assert requests.post(f"{stack.api_url}/echo", data="ok", timeout=30).status_code == 200


def test_keep_alive_session(stack: LocalStack) -> None:
    with requests.Session() as session:
        for i in range(5):
            body = session.post(f"{stack.api_url}/echo", data=str(i), timeout=30).json()
            assert body["event"]["body"] == str(i)


def test_route_specificity_rules() -> None:
    class Dummy:
        logical_id = "F"

    fn = Dummy()
    routes = [
        Route("ANY", "/{proxy+}", fn),  # type: ignore[arg-type]
        Route("GET", "/a/{id}", fn),  # type: ignore[arg-type]
        Route("ANY", "/a/{id}", fn),  # type: ignore[arg-type]
        Route("GET", "/a/b", fn),  # type: ignore[arg-type]
        Route("GET", "/", fn),  # type: ignore[arg-type]
    ]

    def best(method: str, path: str) -> tuple[str, str, dict[str, str]]:
        found = [(r, p) for r in routes if (p := r.match(method, path)) is not None]
        route, params = max(found, key=lambda rp: rp[0].score)
        return route.method, route.path, params

    assert best("GET", "/a/b") == ("GET", "/a/b", {})
    assert best("GET", "/a/c") == ("GET", "/a/{id}", {"id": "c"})
    assert best("POST", "/a/c") == ("ANY", "/a/{id}", {"id": "c"})
    assert best("POST", "/x/y/z") == ("ANY", "/{proxy+}", {"proxy": "x/y/z"})
    assert best("GET", "/") == ("GET", "/", {})
