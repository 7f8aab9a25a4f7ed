"""Fixtures of the sandbox tests: running sandboxes, a fake clock and a webhook receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sandboxes import BsaleAccount, BsaleSandbox, FakeClock, JumpsellerSandbox, JumpsellerStore


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local webhook target that records every POST; ``status``/``delay`` shape its answers."""

    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0

    def wait(self, n: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.received) >= n, f"expected {n} webhooks, got {len(self.received)}"
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target.received.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(target.delay)
            self.send_response(target.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bsale() -> Iterator[BsaleSandbox]:
    # Rate limiting off: these tests fire requests faster than 8/s; the limiter has its own tests.
    with BsaleSandbox(rate_limit_per_second=None) as sandbox:
        yield sandbox


@pytest.fixture
def account(bsale: BsaleSandbox) -> BsaleAccount:
    return bsale.demo_account(token="tok-demo", cpn_id=2)


@pytest.fixture
def bapi(bsale: BsaleSandbox, account: BsaleAccount) -> requests.Session:
    """A session authenticated against the Bsale sandbox; use ``bapi.get(bsale.url + '/v1/...')``."""
    session = requests.Session()
    session.headers["access_token"] = account.token
    return session


@pytest.fixture
def jumpseller() -> Iterator[JumpsellerSandbox]:
    with JumpsellerSandbox(rate_limit_per_second=None, rate_limit_per_minute=None) as sandbox:
        yield sandbox


@pytest.fixture
def store(jumpseller: JumpsellerSandbox) -> JumpsellerStore:
    return jumpseller.demo_store(login="demo-login", auth_token="a" * 32, hooks_token="hooks-secret")


@pytest.fixture
def japi(jumpseller: JumpsellerSandbox, store: JumpsellerStore) -> requests.Session:
    session = requests.Session()
    session.auth = (store.login, store.auth_token)
    return session
