"""moto in server mode, with every request it answers attributable to the function that made it.

Each function's processes sign with an access key of their own (``functions.access_key``), as each Lambda
function signs with its role's credentials; the server reads the key, the service and the operation off each
request, so a test or a benchmark can see what AWS calls a function made (``LocalStack.aws_calls``) without
reaching into the function's process.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/")


@dataclass
class AwsCall:
    """One request moto answered: who made it (a function's logical id, or ``None``), service, operation, params."""

    function: str | None
    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)


class CallRecorder:
    """A WSGI middleware: while someone listens, parse each request into an :class:`AwsCall`."""

    def __init__(self, app: Any, whose: Callable[[str], str | None]) -> None:
        self.app = app
        self.whose = whose
        self._listeners: list[list[AwsCall]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self._listeners:
            call = self._parse(environ)
            if call is not None:
                with self._lock:
                    for calls in self._listeners:
                        calls.append(call)
        return self.app(environ, start_response)  # type: ignore[no-any-return]

    @contextmanager
    def listening(self) -> Iterator[list[AwsCall]]:
        calls: list[AwsCall] = []
        with self._lock:
            self._listeners.append(calls)
        try:
            yield calls
        finally:
            with self._lock:
                self._listeners.remove(calls)

    def _parse(self, environ: dict[str, Any]) -> AwsCall | None:
        found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if found is None:
            return None
        key, service = found.groups()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        params: dict[str, Any] = {}
        if target:
            operation = target.rpartition(".")[2]
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = {}
        else:
            form = parse_qs(body.decode("utf-8", "replace") or environ.get("QUERY_STRING", ""))
            params = {k: v[0] for k, v in form.items()}
            operation = params.pop("Action", None) or f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO')}"
        return AwsCall(self.whose(key), service, operation, params)


class MotoServer:
    """moto's ``ThreadedMotoServer``, serving its app through a :class:`CallRecorder`."""

    def __init__(self, whose: Callable[[str], str | None], host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.recorder = CallRecorder(DomainDispatcherApplication(create_backend_app), whose)
        self.host, self.port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server(self.host, self.port, self.recorder, threaded=True,
                                   request_handler=MotoRequestHandler)  # fmt: skip
        self._thread = threading.Thread(target=self._server.serve_forever, name="devstack-moto", daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


_atomic_lock = threading.RLock()


def atomic_dynamodb_writes() -> None:
    """Make moto apply each DynamoDB write atomically, as DynamoDB does.

    moto checks a condition and then writes, and its server threads can interleave in between: two conditional
    claims could both win. One process-wide lock around its write operations restores DynamoDB's guarantee, so
    what the local stack shows about concurrency is about our conditions, not moto's races. Reads take the lock
    too, around moto's whole request handler: it copies an item outside the backend, and fails ("dictionary
    changed size during iteration") if another thread writes it meanwhile. Idempotent, and for the life of the
    process: unit tests and benches that run moto in process call it too.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    writes = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
    reads = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")
    for owner, method in [*((DynamoDBBackend, m) for m in writes), *((DynamoHandler, m) for m in writes + reads)]:
        original = getattr(owner, method, None)
        if original is None or getattr(original, "_devstack_atomic", False):
            continue

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _atomic_lock:
                return __original(self, *args, **kwargs)

        locked._devstack_atomic = True  # type: ignore[attr-defined]
        setattr(owner, method, locked)
