"""At DEBUG, with every logger of the process listening (the bridge's, botocore, urllib3, the local stack's), no
line carries a token, a URL secret, a RUT or an e-mail address in clear: while a shop is connected, a Bsale stock
notification goes through, and a paid Jumpseller order with a factura becomes its document.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bridge import secrets
from bridge.models.order_record import OrderState
from bridge.observability import QUIET_LIBRARIES, logger
from devstack import LocalFunction, LocalStack
from tests.e2e.test_orders import FACTURA, FACTURA_BILLING, OrderShop, order_shop  # noqa: F401 - the fixture

EMAIL = "compras.ferreteria@example.cl"


@pytest.fixture
def everything_at_debug(stack: LocalStack, function_env: Callable[..., None]
                        ) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """The root logger and the bridge's Logger at DEBUG, as a Lambda with LOG_LEVEL DEBUG runs; what each writes:
    in the functions' processes (their log level controls, their whole stdout and stderr) and in this one."""
    plain, structured = io.StringIO(), io.StringIO()
    function_env({"POWERTOOLS_LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"})  # new environments, cold caches

    def functions_log(function: LocalFunction, stream: str, line: str) -> None:
        (structured if line.startswith("{") else plain).write(line)

    functions = list(stack.functions.values())
    for function in functions:
        function.log_listeners.append(functions_log)
    root_handler = logging.StreamHandler(plain)
    root_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))  # tracebacks too
    ours = logging.getLogger(logger.name)
    ours_handler = logging.StreamHandler(structured)
    ours_handler.setFormatter(logger.registered_formatter)  # exactly what the Logger writes: its JSON lines
    root = logging.getLogger()
    saved = root.level, ours.level
    root.setLevel(logging.DEBUG)
    ours.setLevel(logging.DEBUG)
    root.addHandler(root_handler)
    ours.addHandler(ours_handler)
    secrets.parameters.clear_caches()  # every secret is read from SSM again, at DEBUG
    try:
        yield plain, structured
    finally:
        for function in functions:
            function.log_listeners.remove(functions_log)
        root.removeHandler(root_handler)
        ours.removeHandler(ours_handler)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])


def test_no_secret_or_personal_data_in_any_log_line_at_debug(
    order_shop: Callable[..., OrderShop], everything_at_debug: tuple[io.StringIO, io.StringIO]  # noqa: F811
) -> None:
    plain, structured = everything_at_debug
    shop = order_shop()  # connected while listening: the company lookup carries the Bsale token in its path

    # A stock change in Bsale: its notification, through the API, the queue and the worker.
    variant = shop.demo.variant_id("POL-S")
    shop.account.set_stock(variant, shop.demo.office_id, 33)
    # A paid order asking for a factura, with the buyer's RUT and e-mail address.
    order_id = shop.order([("POL-M", 1)], fields=FACTURA, billing=FACTURA_BILLING,
                          customer={"email": EMAIL})
    shop.pay(order_id)
    assert shop.deliver("order_paid", order_id).status_code == 200
    shop.settled(order_id, OrderState.CREATED)

    text = plain.getvalue() + structured.getvalue()
    # The product itself logs nothing at DEBUG; the functions' root loggers print the libraries' INFO lines only when
    # their level control (AWS_LAMBDA_LOG_LEVEL) reached them, and this process listens at DEBUG itself.
    assert "[INFO]\t" in plain.getvalue() and logger.isEnabledFor(logging.DEBUG), "not listening at DEBUG"
    assert f'"subject":"stock {variant}"' in text and f'"order":{order_id}' in text, "the work was not logged"
    for name in QUIET_LIBRARIES:  # their DEBUG dumps bodies; whatever they still say is scrubbed
        assert logging.getLogger(name).getEffectiveLevel() >= logging.INFO
    credentials = secrets.get(shop.code, fresh=True)
    forbidden: dict[str, Any] = {
        "Bsale token": credentials.bsale_token,
        "Jumpseller API token": credentials.jumpseller_auth_token,
        "Jumpseller hooks token": credentials.jumpseller_hooks_token,
        "notification URL secret": credentials.notify_token.split(".", 1)[1],
        "Basic credentials": base64.b64encode(
            f"{credentials.jumpseller_login}:{credentials.jumpseller_auth_token}".encode()).decode(),
        "buyer's RUT": FACTURA_BILLING["taxid"],
        "buyer's RUT, compact": FACTURA_BILLING["taxid"].replace(".", ""),
        "buyer's e-mail": EMAIL,
    }
    leaks = {what: value for what, value in forbidden.items() if value in text}
    assert leaks == {}, f"in clear in the logs: {sorted(leaks)}"
