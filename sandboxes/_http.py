"""Shared machinery of the sandboxes: threaded server, routing, faults, rate limits, request log, webhook sender.

Nothing here knows about Bsale or Jumpseller; the concrete sandboxes plug their API in through
``SandboxServer.handle_api`` and their admin routes through ``SandboxServer.admin``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

Clock = Callable[[], float]
JSON = Any


# --------------------------------------------------------------------------- requests and responses


@dataclass
class Request:
    """One incoming HTTP request, already read off the socket."""

    method: str
    path: str  # without the query string
    query_string: str
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # path parameters, filled by the router

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def query(self) -> dict[str, str]:
        # Last value wins, like Rails and most servers do for repeated scalar parameters.
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> JSON:
        """Parsed body; raises ``ValueError`` when the body is not JSON."""
        if not self.body:
            return None
        return json.loads(self.body)

    def json_or_none(self) -> JSON:
        try:
            return self.json()
        except ValueError:
            return None


@dataclass
class Response:
    status: int
    body: JSON = None  # serialised as JSON unless ``raw`` is given
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode()


class HttpError(Exception):
    """Raised by handlers to answer with an error response from deep inside a call chain."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


# --------------------------------------------------------------------------- routing

Handler = Callable[[Request], Response]
H = TypeVar("H")


class Router(Generic[H]):
    """Tiny path router: patterns like ``/v1/offices/{id}.json``; ``{name}`` matches one path segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], H]] = []

    def add(self, method: str, pattern: str, handler: H) -> None:
        regex = re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}")
        regex = re.sub(r"{(\w+)}", r"(?P<\1>[^/]+?)", regex)
        self._routes.append((method.upper(), re.compile(f"^{regex}$"), handler))

    def resolve(self, method: str, path: str) -> tuple[H, dict[str, str]] | Literal["no-path", "no-method"]:
        path_known = False
        for route_method, regex, handler in self._routes:
            match = regex.match(path)
            if match is None:
                continue
            path_known = True
            if route_method == method.upper():
                return handler, match.groupdict()
        return "no-method" if path_known else "no-path"


# --------------------------------------------------------------------------- fault injection

FaultKind = Literal["status", "slow", "drop"]


@dataclass
class Fault:
    kind: FaultKind
    remaining: int
    status: int = 0
    seconds: float = 0.0
    path_contains: str | None = None
    method: str | None = None
    body: JSON = None  # optional override of the error body for ``status`` faults
    credential: str | None = None  # only requests with this credential (Bsale token, Jumpseller login): one shop

    def matches(self, method: str, target: str, credential: str | None = None) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.credential is not None and self.credential != credential:
            return False
        return self.path_contains is None or self.path_contains in target

    def describe(self) -> dict[str, JSON]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "status": self.status or None,
            "seconds": self.seconds or None,
            "path_contains": self.path_contains,
            "method": self.method,
            "credential": "(set)" if self.credential else None,
        }


class FaultInjector:
    """Queue of one-shot faults; each matching API request consumes one unit of the first matching fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        status: int = 500,
        count: int = 1,
        path_contains: str | None = None,
        method: str | None = None,
        body: JSON = None,
        credential: str | None = None,
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``status`` (500, 502, 503, 429...)."""
        return self._push(Fault("status", count, status=status, path_contains=path_contains, method=method, body=body,
                                credential=credential))

    def slow(
        self, seconds: float, count: int = 1, path_contains: str | None = None, method: str | None = None,
        credential: str | None = None,
    ) -> Fault:
        """Delay the next ``count`` matching requests by ``seconds`` before answering normally."""
        return self._push(Fault("slow", count, seconds=seconds, path_contains=path_contains, method=method,
                                credential=credential))

    def drop(self, count: int = 1, path_contains: str | None = None, method: str | None = None,
             credential: str | None = None) -> Fault:
        """Close the connection of the next ``count`` matching requests without answering."""
        return self._push(Fault("drop", count, path_contains=path_contains, method=method, credential=credential))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.remaining > 0]

    def take(self, method: str, target: str, credential: str | None = None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, target, credential):
                    fault.remaining -= 1
                    return fault
            return None

    def _push(self, fault: Fault) -> Fault:
        if fault.remaining < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(fault)
        return fault


# --------------------------------------------------------------------------- rate limiting


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: tuple[int, ...]  # one entry per window, in the order the windows were given


class SlidingWindowLimiter:
    """Sliding-log rate limiter: at most ``limit`` accepted requests in any ``seconds``-long window, per key.

    Rejected requests are not logged, so a client that backs off recovers as soon as the window slides.
    """

    def __init__(self, windows: list[tuple[int, float]], clock: Clock) -> None:
        self.windows = windows
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, list[deque[float]]] = {}

    def hit(self, key: str) -> RateDecision:
        now = self._clock()
        with self._lock:
            logs = self._hits.setdefault(key, [deque() for _ in self.windows])
            for (_, seconds), log in zip(self.windows, logs, strict=True):
                while log and log[0] <= now - seconds:
                    log.popleft()
            allowed = all(len(log) < limit for (limit, _), log in zip(self.windows, logs, strict=True))
            if allowed:
                for log in logs:
                    log.append(now)
            remaining = tuple(max(0, limit - len(log)) for (limit, _), log in zip(self.windows, logs, strict=True))
            return RateDecision(allowed, remaining)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class FakeClock:
    """Manually advanced clock for tests (``SandboxServer(clock=FakeClock())``), so rate windows need no sleeping."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --------------------------------------------------------------------------- request log


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    status: int | None  # None when the connection was dropped by a fault
    body: JSON  # JSON body the client sent (None if absent or not JSON)
    response: JSON
    credential: str | None
    at: float
    fault: FaultKind | None = None


# --------------------------------------------------------------------------- webhook sender


@dataclass
class Delivery:
    url: str
    topic: str  # Bsale topic or Jumpseller event
    payload: JSON
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # HTTP status of the receiver, None on network error/timeout
    error: str | None = None
    at: float = 0.0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """Posts webhooks from one background thread (in order) and keeps a log of every attempt."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._cond = threading.Condition()
        self._queue: deque[Delivery | None] = deque()
        self._worker: threading.Thread | None = None
        self._busy = False  # a delivery is in flight (popped from the queue but not yet logged)

    def enqueue(self, delivery: Delivery) -> None:
        with self._cond:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
                self._worker.start()
            self._queue.append(delivery)
            self._cond.notify_all()

    def send_now(self, delivery: Delivery) -> Delivery:
        self._post(delivery)
        with self._cond:
            self.deliveries.append(delivery)
            self._cond.notify_all()
        return delivery

    def wait(self, n: int, timeout: float) -> list[Delivery]:
        """Block until at least ``n`` deliveries were attempted; raise ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.deliveries) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {n} webhook deliveries, got {len(self.deliveries)}")
                self._cond.wait(left)
            return list(self.deliveries)

    def idle(self, timeout: float = 5.0) -> bool:
        """Wait until the queue is drained; True if it was."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def reset(self) -> None:
        with self._cond:
            self.deliveries.clear()

    def close(self) -> None:
        with self._cond:
            if self._worker is not None and self._worker.is_alive():
                self._queue.append(None)
                self._cond.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout=1.0)
        self._worker = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                delivery = self._queue.popleft()
                if delivery is None:
                    return
                self._busy = True
            try:
                self._post(delivery)
            finally:
                with self._cond:
                    self.deliveries.append(delivery)
                    self._busy = False
                    self._cond.notify_all()

    def _post(self, delivery: Delivery) -> None:
        request = urllib.request.Request(delivery.url, data=delivery.body, headers=delivery.headers, method="POST")
        delivery.at = time.time()
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                delivery.status = answer.status
        except urllib.error.HTTPError as exc:  # a non-2xx answer is still an answer
            delivery.status = exc.code
        except Exception as exc:  # timeouts, refused connections: the receiver never answered
            delivery.error = f"{type(exc).__name__}: {exc}"
        delivery.elapsed = time.monotonic() - started


# --------------------------------------------------------------------------- the server


class SandboxServer:
    """Base of both sandboxes: lifecycle, admin routes, faults, request log and dispatching to ``handle_api``."""

    service_name = "sandbox"

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, clock: Clock | None = None, webhook_timeout: float = 10.0
    ) -> None:
        self.host = host
        self.port = port
        self.clock: Clock = clock or time.monotonic
        self.faults = FaultInjector()
        self.requests: list[RequestRecord] = []
        self._sender = WebhookSender(webhook_timeout)
        self.admin: Router[Handler] = Router()
        self._lock = threading.RLock()  # guards all sandbox state
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()  # open client sockets, cut on stop()
        self._register_common_admin()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        # Short poll interval: stop() waits for one poll, and tests start and stop many servers.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.01,), name=f"{self.service_name}-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        # Keep-alive connections would otherwise go on being served by their threads after the "outage".
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        self._sender.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ outgoing webhooks

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook attempt so far, in sending order."""
        return self._sender.deliveries

    def wait_deliveries(self, n: int, timeout: float = 5.0) -> list[Delivery]:
        """Block until ``n`` webhook attempts were made (raises ``TimeoutError``); returns all of them."""
        return self._sender.wait(n, timeout)

    def reset_deliveries(self) -> None:
        self._sender.reset()

    def webhooks_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every webhook queued so far has been attempted; True if they all were in time."""
        return self._sender.idle(timeout)

    # ------------------------------------------------------------------ request log

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def count(self, method: str | None = None, path_contains: str | None = None, status: int | None = None) -> int:
        """Number of logged API requests matching all given criteria."""
        return len(list(self._matching(method, path_contains, status)))

    def _matching(self, method: str | None, path_contains: str | None, status: int | None) -> Iterator[RequestRecord]:
        with self._lock:
            records = list(self.requests)
        for record in records:
            if method is not None and record.method != method.upper():
                continue
            if path_contains is not None and path_contains not in record.path:
                continue
            if status is not None and record.status != status:
                continue
            yield record

    # ------------------------------------------------------------------ hooks for subclasses

    def handle_api(self, request: Request) -> Response:
        raise NotImplementedError

    def error_response(self, status: int, message: str) -> Response:
        return Response(status, {"error": message})

    def fault_response(self, fault: Fault) -> Response:
        if fault.body is not None:
            return Response(fault.status, fault.body)
        if fault.status in (502, 503, 504):
            # Gateways answer these with HTML in real life; clients must not assume JSON on 5xx.
            text = f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
            return Response(fault.status, raw=text.encode(), content_type="text/html")
        return self.error_response(fault.status, "Too Many Requests" if fault.status == 429 else "Internal error")

    def credential_of(self, request: Request) -> str | None:
        """Credential used for the log (token or store login); overridden by subclasses."""
        return None

    # ------------------------------------------------------------------ dispatching

    def _serve(self, request: Request) -> Response | None:
        """Answer one request; None means: drop the connection without answering."""
        if request.path.startswith("/_sandbox/") or request.path == "/_sandbox":
            return self._serve_admin(request)
        fault = self.faults.take(request.method, request.target, self.credential_of(request))
        if fault is not None and fault.kind == "drop":
            self._log(request, None, fault)
            return None
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            response = self.fault_response(fault)
        else:
            try:
                response = self.handle_api(request)
            except HttpError as exc:
                response = exc.response
        self._log(request, response, fault)
        return response

    def _serve_admin(self, request: Request) -> Response:
        resolved = self.admin.resolve(request.method, request.path)
        if resolved == "no-path":
            return Response(404, {"error": f"unknown admin path {request.path}"})
        if resolved == "no-method":
            return Response(405, {"error": f"method {request.method} not allowed on {request.path}"})
        handler, params = resolved
        request.params = params
        try:
            return handler(request)
        except HttpError as exc:
            return exc.response
        except (KeyError, ValueError, TypeError) as exc:
            return Response(400, {"error": f"{type(exc).__name__}: {exc}"})

    def _log(self, request: Request, response: Response | None, fault: Fault | None) -> None:
        record = RequestRecord(
            method=request.method,
            path=request.path,
            query=request.query,
            status=None if response is None else response.status,
            body=request.json_or_none(),
            response=None if response is None else response.body,
            credential=self.credential_of(request),
            at=time.time(),
            fault=None if fault is None else fault.kind,
        )
        with self._lock:
            self.requests.append(record)

    # ------------------------------------------------------------------ common admin API

    def _register_common_admin(self) -> None:
        self.admin.add("GET", "/_sandbox/requests", lambda r: Response(200, [_record_json(x) for x in self.requests]))
        self.admin.add("DELETE", "/_sandbox/requests", self._admin_reset_log)
        self.admin.add("GET", "/_sandbox/faults", lambda r: Response(200, [f.describe() for f in self.faults.pending]))
        self.admin.add("POST", "/_sandbox/faults", self._admin_add_fault)
        self.admin.add("DELETE", "/_sandbox/faults", self._admin_clear_faults)
        self.admin.add("GET", "/_sandbox/deliveries", lambda r: Response(200, [_delivery_json(d)
                                                                              for d in self.deliveries]))
        self.admin.add("DELETE", "/_sandbox/deliveries", self._admin_reset_deliveries)

    def _admin_reset_log(self, request: Request) -> Response:
        self.reset_log()
        return Response(204)

    def _admin_reset_deliveries(self, request: Request) -> Response:
        self.reset_deliveries()
        return Response(204)

    def _admin_clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return Response(204)

    def _admin_add_fault(self, request: Request) -> Response:
        spec = admin_body(request)
        kind = spec.get("kind", "status")
        count = int(spec.get("count", 1))
        where = {"path_contains": spec.get("path_contains"), "method": spec.get("method"),
                 "credential": spec.get("credential")}
        if kind == "status":
            fault = self.faults.add(status=int(spec.get("status", 500)), count=count, body=spec.get("body"), **where)
        elif kind == "slow":
            fault = self.faults.slow(float(spec["seconds"]), count=count, **where)
        elif kind == "drop":
            fault = self.faults.drop(count=count, **where)
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        return Response(201, fault.describe())


def admin_body(request: Request) -> dict[str, JSON]:
    try:
        body = request.json()
    except ValueError as exc:
        raise HttpError(Response(400, {"error": "body is not JSON"})) from exc
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise HttpError(Response(400, {"error": "body must be a JSON object"}))
    return body


def _record_json(record: RequestRecord) -> dict[str, JSON]:
    return {
        "method": record.method,
        "path": record.path,
        "query": record.query,
        "status": record.status,
        "body": record.body,
        "credential": record.credential,
        "fault": record.fault,
        "at": record.at,
    }


def _delivery_json(delivery: Delivery) -> dict[str, JSON]:
    return {
        "url": delivery.url,
        "topic": delivery.topic,
        "headers": delivery.headers,
        "payload": delivery.payload,
        "status": delivery.status,
        "error": delivery.error,
        "at": delivery.at,
    }


def _make_handler(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs behind their load balancers
        wbufsize = 64 * 1024  # headers and body leave in one segment (avoids Nagle/delayed-ACK 40 ms stalls)
        disable_nagle_algorithm = True
        server_version = f"{sandbox.service_name}-sandbox"

        def setup(self) -> None:
            super().setup()
            with sandbox._lock:
                sandbox._connections.add(self.connection)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                with sandbox._lock:
                    sandbox._connections.discard(self.connection)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            request = Request(
                method=self.command.upper(),
                path=parts.path,
                query_string=parts.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                response = sandbox._serve(request)
            except Exception as exc:  # a sandbox bug must not hang the client: answer 500 and say why
                response = Response(500, {"error": f"sandbox crashed: {type(exc).__name__}: {exc}"})
            if response is None:
                self.close_connection = True
                return
            payload = response.payload()
            self.send_response(response.status)
            if payload:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the stdlib
            pass  # the request log replaces stderr noise

    return _Handler
