"""The test harness itself: unit tests cannot reach the network, and a thread that crashes fails its test."""

from __future__ import annotations

import socket
import tomllib

import pytest
import requests

from tests.conftest import ROOT
from tests.unit.conftest import NetworkBlocked

pytest_plugins = ["pytester"]


def test_a_connection_to_another_host_fails_at_once() -> None:
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 443), timeout=30)
    with pytest.raises(NetworkBlocked):
        socket.socket().connect_ex(("192.0.2.1", 443))


def test_a_name_is_not_even_resolved() -> None:
    with pytest.raises(NetworkBlocked):
        requests.get("https://api.bsale.io/v1/stocks.json", timeout=30)


def test_loopback_stays_open() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()):
        pass


def test_a_thread_that_crashes_fails_its_test(pytester: pytest.Pytester) -> None:
    # The project's own warning filters, in a throwaway session: a crash in a thread is only a warning by default.
    filters = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["filterwarnings"]
    pytester.makeini("[pytest]\nfilterwarnings =\n" + "".join(f"    {f}\n" for f in filters))
    pytester.makepyfile(
        """
        import threading

        def test_crashes_in_a_thread():
            worker = threading.Thread(target=lambda: 1 / 0)
            worker.start()
            worker.join()

        def test_stays_well():
            worker = threading.Thread(target=lambda: None)
            worker.start()
            worker.join()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 1
    assert "ZeroDivisionError" in result.stdout.str()
