"""Routing on event + status_enum (never labels), and what each Bsale refusal means for an order."""

from __future__ import annotations

import pytest

from bridge.errors import UpstreamError
from bridge.models.jumpseller_order import OrderStatus, parse_order_webhook
from bridge.models.order_record import Step
from bridge.orders.problems import Verdict, diagnose
from bridge.orders.worker import Action, route, status_enum
from tests.conftest import official


@pytest.mark.parametrize(("event", "status", "action"), [
    ("order_pending_payment", OrderStatus.PENDING_PAYMENT, Action.HOLD),
    ("order_paid", OrderStatus.PAID, Action.PAID),
    ("order_canceled", OrderStatus.CANCELED, Action.CANCEL),
    ("order_abandoned", OrderStatus.ABANDONED, Action.ABANDON),
    # the four registered events name their action whatever the payload says (the record sorts out the rest)
    ("order_paid", None, Action.PAID),
    # generic events act as the event their status_enum names
    ("order_updated", OrderStatus.PAID, Action.PAID),
    ("order_updated", OrderStatus.CANCELED, Action.CANCEL),
    ("order_shipped", OrderStatus.PAID, Action.PAID),
    ("order_updated", None, Action.IGNORE),
    ("order_created", OrderStatus.PAID, Action.IGNORE),
])
def test_route(event: str, status: OrderStatus | None, action: Action) -> None:
    assert route(event, status) is action


def test_the_translated_label_never_routes() -> None:
    # Given an order_updated whose only status is a Spanish label
    raw = {"id": 1, "status": "Pagado", "status_name": "Pagado"}
    # Then there is no status to route on (the document builder may still read the label; routing does not)
    assert status_enum(raw) is None
    assert route("order_updated", status_enum(raw)) is Action.IGNORE
    assert status_enum({"status_enum": "paid", "status": "Cancelado"}) is OrderStatus.PAID


def test_the_official_order_payload_parses() -> None:
    order = parse_order_webhook(official("jumpseller/order_webhook_official"))
    assert order.id == 1026
    assert order.products[0].sku == "black"
    assert status_enum(official("jumpseller/order_webhook_official")["order"]) is None  # it has no status_enum


def bsale_error(message: str, status: int = 400) -> UpstreamError:
    return UpstreamError("Bsale", message, status_code=status, retryable=status in (429, 500, 502, 503, 504))


@pytest.mark.parametrize(("message", "status", "outcome", "code"), [
    ('There is no stock for this products: "POL-S"', 400, Verdict.FAILED, "no_stock"),
    ("There is a problem with the available quantity for your products", 400, Verdict.FAILED, "no_stock"),
    ("Use 'comment' to especify the serie of detailid to dispatch.", 400, Verdict.NEEDS_MANUAL, "serial_product"),
    ("does not have numbers available, check sii caf", 400, Verdict.FAILED, "folios"),
    ("The sii caf used is expired, you must request and upload a new one", 400, Verdict.FAILED, "folios"),
    ("unavailable document number", 400, Verdict.FAILED, "folios"),
    ("client attribute required : code,activity,address,city,municipality", 400, Verdict.FAILED, "client_data"),
    ('There are more than a client with the code "11111111-1", client id: "4"', 400, Verdict.FAILED,
     "duplicate_client"),
    ('The quantity returned (1.0) is higher than the available (0.0) for detail: "9"', 400, Verdict.FAILED,
     "already_returned"),
    ("invalid variant", 400, Verdict.FAILED, "unknown_variant"),
    ("invalid documentType", 400, Verdict.FAILED, "document_type"),
    ("invalid price list", 400, Verdict.FAILED, "price_list"),
    ("Sorry, this request can not be authenticated", 401, Verdict.FAILED, "token"),
    ("Payment Required", 402, Verdict.FAILED, "account_blocked"),
    ("something new", 422, Verdict.FAILED, "refused"),
    ("<html>Bad gateway</html>", 502, Verdict.RETRY, "unavailable"),
    ("Service Unavailable", 503, Verdict.RETRY, "unavailable"),
    ("Too Many Requests", 429, Verdict.RETRY, "unavailable"),
])
def test_bsale_refusals_are_classified_and_kept_verbatim(message: str, status: int, outcome: Verdict,
                                                         code: str) -> None:
    got, error = diagnose(bsale_error(message, status), Step.DOCUMENT)
    assert (got, error.code) == (outcome, code)
    assert error.upstream == message  # Bsale's words, untouched
    assert error.reason and error.reason[0].isupper()  # a Spanish sentence beside them
    assert error.retryable is (outcome is Verdict.RETRY)
    assert error.step is Step.DOCUMENT


def test_no_answer_is_retryable() -> None:
    outcome, error = diagnose(UpstreamError("Bsale", "ConnectionError: no answer", retryable=True), Step.CREDIT)
    assert outcome is Verdict.RETRY and error.status_code is None
