"""A local stand-in for API Gateway (REST API, Lambda proxy integration, payload v1) on loopback."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from devstack.events import api_gateway_event
from devstack.functions import Invocation, LocalFunction

log = logging.getLogger("devstack")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INTEGRATION_TIMEOUT_S = 29.0  # API Gateway's default integration timeout
_PARAM = re.compile(r"^\{([^}+]+)(\+?)\}$")


@dataclass
class Route:
    method: str  # upper case, or "ANY"
    path: str  # the template's path, e.g. /bsale/notifications/{token}
    function: LocalFunction
    event_name: str = ""
    stage: str = "Prod"

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        parts: list[str] = []
        self.names: list[str] = []
        segments = [s for s in self.path.strip("/").split("/") if s]
        # Specificity: literal segments beat {param} beat {proxy+}, and an exact method beats ANY.
        score: list[int] = []
        for seg in segments:
            m = _PARAM.match(seg)
            if m is None:
                parts.append(re.escape(seg))
                score.append(2)
            elif m.group(2):
                parts.append(f"(?P<p{len(self.names)}>.+)")
                self.names.append(m.group(1))
                score.append(0)
            else:
                parts.append(f"(?P<p{len(self.names)}>[^/]+)")
                self.names.append(m.group(1))
                score.append(1)
        self.regex = re.compile("^/" + "/".join(parts) + "/?$" if parts else "^/?$")
        self.score = (tuple(score), 1 if self.method != "ANY" else 0)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        m = self.regex.match(path)
        if m is None:
            return None
        return {name: unquote(m.group(f"p{i}")) for i, name in enumerate(self.names)}


class Gateway:
    """Serves the template's ``Api`` routes; each request becomes a REST proxy event for its function."""

    def __init__(
        self,
        routes: list[Route],
        host: str = "127.0.0.1",
        port: int = 0,
        record: Callable[[Invocation], None] | None = None,
    ) -> None:
        self.routes = routes
        self.record = record
        gateway = self

        class Handler(_RequestHandler):
            owner = gateway

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="devstack-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        best: tuple[Route, dict[str, str]] | None = None
        for route in self.routes:
            params = route.match(method, path)
            if params is not None and (best is None or route.score > best[0].score):
                best = (route, params)
        return best


class _RequestHandler(BaseHTTPRequestHandler):
    owner: Gateway
    protocol_version = "HTTP/1.1"
    server_version = "devstack-apigateway"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("api: " + format, *args)

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        sent = {k.lower() for k, _ in headers or []}
        for name, value in headers or []:
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            self.send_header(name, value)
        if "content-type" not in sent:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", getattr(self, "_request_id", "") or "local")
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (or the stack is stopping)
                self.close_connection = True

    def _json(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"message": message}).encode())

    def _read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering 413 when it is over API Gateway's limit."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    self.close_connection = True
                    self._json(413, f"HTTP content length exceeded {MAX_BODY_BYTES} bytes.")
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            log.info("HTTP     %s %s -> 413 (%d bytes is over API Gateway's 10 MB)", self.command, self.path, length)
            self.close_connection = True  # the body is not read; the connection cannot be reused
            self._json(413, f"HTTP content length exceeded {MAX_BODY_BYTES} bytes.")
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        gateway = self.owner
        started = time.perf_counter()
        url = urlsplit(self.path)
        path = unquote(url.path) or "/"
        method = self.command.upper()
        body = self._read_body()
        if body is None:
            return
        found = gateway.find(method, path)
        if found is None:
            log.info("%-8s %-28s %-6s %11s  %s %s -> 403 (no such route)", "HTTP", "-", "-", "", method, path)
            self._json(403, "Missing Authentication Token")
            return
        route, params = found
        headers = list(self.headers.items())
        present = {name.lower() for name, _ in headers}
        for name, value in (
            ("X-Forwarded-For", self.client_address[0]),
            ("X-Forwarded-Port", str(gateway.server.server_port)),
            ("X-Forwarded-Proto", "http"),
        ):
            if name.lower() not in present:  # API Gateway adds these
                headers.append((name, value))
        event = api_gateway_event(
            method=method,
            path=path,
            resource=route.path,
            headers=headers,
            query=parse_qs(url.query, keep_blank_values=True),
            path_parameters=params,
            body=body,
            source_ip=self.client_address[0],
            stage=route.stage,
        )
        self._request_id = event["requestContext"]["requestId"]
        record, result, error = route.function.run(event, kind="api")
        error_body = json.dumps({"message": "Internal server error"}).encode()
        reply: tuple[int, bytes, list[tuple[str, str]]] = (502, error_body, [])
        # API Gateway's own limit stretches with the function's (timeout_scale): a slow machine is slow for both.
        if error is None and record.duration > INTEGRATION_TIMEOUT_S * route.function.timeout_scale:
            reply = (504, json.dumps({"message": "Endpoint request timed out"}).encode(), [])
        elif error is None:
            response = _proxy_response(result)
            if response is None:
                log.error("%s returned a malformed Lambda proxy response: %r", route.function.logical_id, result)
                record.error = "malformed Lambda proxy response"
            else:
                reply = response
        status = reply[0]
        record.detail = f"{method} {path} -> {status}"
        record.ok = record.ok and status < 500 and record.error is None
        if gateway.record:  # recorded before answering, so a client that got its answer sees the record
            gateway.record(record)
        self._send(*reply)
        log.debug("api request took %.1f ms", (time.perf_counter() - started) * 1000)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def _proxy_response(result: Any) -> tuple[int, bytes, list[tuple[str, str]]] | None:
    """Turn a Lambda proxy result into (status, body, headers); ``None`` when API Gateway would reject it."""
    if not isinstance(result, dict):
        return None
    allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if set(result) - allowed or "statusCode" not in result:
        return None
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return None
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        return None
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body)
        except ValueError:
            return None
    else:
        payload = body.encode("utf-8")
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    single = result.get("headers") or {}
    if not isinstance(multi, dict) or not isinstance(single, dict):
        return None
    for name, values in multi.items():
        for value in values if isinstance(values, list) else [values]:
            headers.append((str(name), str(value)))
    for name, value in single.items():
        if name not in multi:
            headers.append((str(name), str(value)))
    return status, payload, headers
