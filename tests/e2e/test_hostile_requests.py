"""No stranger can make an endpoint answer 5xx: thousands of generated hostile requests per route.

Each route gets at least 2,000 requests built by hypothesis (fixed seed): bodies that are not UTF-8, JSON nested
thousands of levels deep, numbers beyond any column, lone surrogates, non-ASCII and forged signatures, unknown
and malformed shop codes, oversized bodies, and signed or authenticated requests whose body is still wrong.
Every one must get a 4xx with a short reason; afterwards nothing was enqueued, nothing was stamped, and no
traceback or error line was logged by any logger.

The answers by status class are printed (run with `-s`):
    .venv/bin/python -m pytest tests/e2e/test_hostile_requests.py -s -q -p no:cacheprovider | grep "hostile requests"
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.observability import logger
from bridge.store import shops
from devstack import LocalStack
from devstack.demo import DemoShop
from sandboxes.jumpseller import sign

EXAMPLES = 2000
HOSTILE = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
MAX_REASON = 200  # "a short reason": enough for a sentence, never an echo of the request

# -- hostile pieces -----------------------------------------------------------------------------------------------

huge_ints = st.one_of(
    st.integers(min_value=2**63, max_value=10**60), st.integers(max_value=-1, min_value=-(10**60)),
    st.sampled_from([10**40, 2**63, 2**64, -(2**63) - 1, 0]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True), huge_ints, st.integers(),
    st.text(max_size=40), st.text(alphabet=st.characters(codec="utf-8"), min_size=100, max_size=2000),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def _deep(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "dict":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"cpnId":' + b"[" * depth + b"]" * depth + b"}"  # deep inside an otherwise plausible body


deep_json = st.builds(_deep, st.integers(min_value=30, max_value=20_000), st.sampled_from(["list", "dict", "field"]))
lone_surrogates = st.sampled_from([b'{"topic": "\\ud800"}', b'{"resource": "\\udfff", "cpnId": 1}',
                                   b'{"order": {"id": 1, "x": "\\ud83d"}}', b'"\\udc80"'])
not_utf8 = st.binary(min_size=1, max_size=300).filter(lambda b: not _is_utf8(b))
oversized = st.builds(lambda n, c: b'{"pad": "' + c.encode() * n + b'"}',
                      st.integers(min_value=64 * 1024, max_value=200 * 1024), st.sampled_from(["x", "ñ"]))
junk_bodies = st.one_of(st.just(b""), st.binary(max_size=300), not_utf8, deep_json, lone_surrogates, oversized,
                        values.map(lambda v: json.dumps(v).encode()))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


latin1_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                             exclude_characters="\x7f"), max_size=80)
# What an HTTP client can put in a header at all (no line breaks, no leading space), Latin-1 or raw bytes.
header_values = st.one_of(
    latin1_text.map(str.lstrip),
    st.binary(max_size=60).map(lambda b: bytes(c for c in b if c not in b"\r\n\x00").lstrip()),
)


def _not(value: int) -> Any:
    """A hostile cpnId that is surely not `value` as Bsale's model reads it (lax ints: "5001", 5001.0, True)."""
    def differs(candidate: Any) -> bool:
        try:
            return int(float(candidate)) != value
        except (TypeError, ValueError, OverflowError):
            return True
    return values.filter(differs)


# -- the routes' requests -----------------------------------------------------------------------------------------

def bsale_requests(shop: DemoShop) -> st.SearchStrategy[tuple[str, bytes, dict[str, Any]]]:
    real_token = shop.notification_url.rsplit("/", 1)[1]
    base = shop.notification_url.rsplit("/", 1)[0]
    plausible = {"cpnId": shop.bsale.cpn_id, "resource": "/v2/stocks.json?variant=1&office=1", "resourceId": "1",
                 "topic": "stock", "action": "put", "officeId": str(shop.office_id), "send": 1}
    forged_tokens = st.one_of(
        st.builds(lambda s: f"{shop.code}.{s}", st.text(alphabet="ABCDEFabcdef0123456789_-", min_size=20, max_size=90)),
        st.builds(lambda c, s: f"{c}.{s}", st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
                  st.just(secrets.token_urlsafe(32))),
        st.text(max_size=200).filter(lambda t: t and "/" not in t and t not in (".", "..")),
        st.just("x" * 5000),
    )
    fields = st.sampled_from(sorted(plausible))
    mutated = st.builds(lambda key, v: {**plausible, key: v}, fields, values)
    bodies_of_strangers = st.one_of(junk_bodies, st.just(json.dumps(plausible).encode()),
                                    mutated.map(lambda b: json.dumps(b).encode()))
    # The shop's own URL with a body that is still wrong: another company, or not a notification at all.
    wrong_company = st.builds(lambda v, extra: json.dumps({**plausible, **extra, "cpnId": v}).encode(),
                              st.one_of(st.integers(min_value=1, max_value=2**53), _not(shop.bsale.cpn_id))
                              .filter(lambda v: v != shop.bsale.cpn_id),
                              st.one_of(st.just({}), st.dictionaries(st.sampled_from(sorted(plausible)), values,
                                                                     max_size=3)))
    broken = st.one_of(junk_bodies.filter(lambda b: not _plausible(b)), wrong_company)
    headers = st.dictionaries(st.sampled_from(["Content-Type", "X-Bsale", "User-Agent", "Accept"]), header_values,
                              max_size=2)
    stranger = st.tuples(forged_tokens, bodies_of_strangers, headers)
    insider_typo = st.tuples(st.just(real_token), broken, headers)
    return st.one_of(stranger, insider_typo).map(
        lambda r: (f"{base}/{requests.utils.quote(r[0], safe='')}", r[1], r[2]))


def _plausible(raw: bytes) -> bool:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "cpnId" in data


EVENTS = ["order_paid", "order_pending_payment", "order_canceled", "product_updated", "product_created"]


def jumpseller_requests(shop: DemoShop, other_code: str) -> st.SearchStrategy[tuple[bytes, dict[str, Any]]]:
    order = {"order": {"id": 1026, "status": "Paid"}}
    codes = st.one_of(st.just(shop.code), st.just(other_code), st.just("not-a-shop"),
                      st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}", fullmatch=True), header_values)
    events = st.one_of(st.sampled_from(EVENTS), header_values)
    signatures = st.one_of(
        st.none(), header_values, st.just("forged"),
        st.builds(lambda b: sign(secrets.token_hex(16), b), st.binary(max_size=20)),  # well formed, wrong key
        st.builds(lambda s: s.encode("utf-8").lstrip(), st.text(  # non-ASCII, as UTF-8 bytes
            st.characters(min_codepoint=0x20, exclude_categories=("Cc", "Cs")), min_size=1, max_size=60)),
    )
    bodies = st.one_of(junk_bodies, st.just(json.dumps(order).encode()),
                       st.builds(lambda v: json.dumps({"order": {"id": v}}).encode(), values))

    def unsigned(body: bytes, code: Any, event: Any, signature: Any) -> tuple[bytes, dict[str, Any]]:
        headers = {"Jumpseller-Store-Code": code, "Jumpseller-Event": event}
        if signature is not None:
            headers["Jumpseller-Hmac-Sha256"] = signature
        return body, headers

    # Signed by the shop's own hooks token, but still not something to act on.
    bad_ids = st.one_of(huge_ints, st.floats(), st.text(max_size=20), st.booleans(), st.none(),
                        st.lists(st.integers(), max_size=2))
    signed_junk = st.one_of(
        junk_bodies.filter(lambda b: not _object_with_id(b)),
        st.builds(lambda key, v: json.dumps({key: {"id": v}}).encode(), st.sampled_from(["order", "product"]),
                  bad_ids),
    )

    def signed(body: bytes, event: str) -> tuple[bytes, dict[str, Any]]:
        return body, {"Jumpseller-Store-Code": shop.code, "Jumpseller-Event": event,
                      "Jumpseller-Hmac-Sha256": sign(shop.store.hooks_token, body)}

    return st.one_of(
        st.builds(unsigned, bodies, codes, events, signatures),
        st.builds(signed, signed_junk, st.sampled_from(EVENTS)),
    )


def _object_with_id(raw: bytes) -> bool:
    """Whether a signed body could be a real event (an integer id where the route looks): left out of the junk."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    inner = [data.get(key, data) for key in ("order", "product")]
    return any(isinstance(i, dict) and isinstance(i.get("id"), int) and not isinstance(i.get("id"), bool)
               for i in inner)


# -- what is observed -----------------------------------------------------------------------------------------------

@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Every line any logger writes during the test: the bridge's own Logger, the local stack, libraries."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))  # + any traceback, as text
    targets = [logging.getLogger(), logging.getLogger(logger.name)]
    for target in targets:
        target.addHandler(handler)
    try:
        yield stream
    finally:
        for target in targets:
            target.removeHandler(handler)


class Tally:
    def __init__(self) -> None:
        self.by_class: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()

    def answer(self, response: requests.Response) -> None:
        self.by_status[response.status_code] += 1
        self.by_class[f"{response.status_code // 100}xx"] += 1
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
        reason = response.json()
        assert isinstance(reason, dict)
        text = reason.get("message") or reason.get("error")
        assert isinstance(text, str) and 0 < len(text) <= MAX_REASON, reason

    def report(self, route: str) -> None:
        counts = {"route": route, "requests": sum(self.by_class.values()), "by_class": dict(self.by_class),
                  "by_status": {str(k): v for k, v in sorted(self.by_status.items())}}
        print("hostile requests:", json.dumps(counts))


def _runs(stack: LocalStack) -> Counter[str]:
    return Counter(i.function for i in stack.invocations)


def _api_failures(stack: LocalStack, since: int) -> list[str]:
    return [f"{i.detail} {i.error}" for i in stack.invocations[since:] if i.kind == "api" and not i.ok]


def _assert_no_trace(stack: LocalStack, since: int, before: Counter[str], logs: io.StringIO) -> None:
    assert stack.drain(60)
    after = _runs(stack)
    for worker in ("BsaleWorkerFunction", "JumpsellerOrderWorkerFunction", "SyncWorkerFunction"):
        assert after[worker] == before[worker], f"{worker} ran: something was enqueued"
    assert all(stack.queue_depth(q) == 0 for q in ("CatalogQueue", "OrderQueue", "SyncQueue"))
    assert _api_failures(stack, since) == []
    text = logs.getvalue()
    assert "request rejected" in text, "the capture saw nothing: it would not see a traceback either"
    assert "Traceback" not in text
    assert not [line for line in text.splitlines() if line.startswith(("ERROR ", "CRITICAL "))]


# About a minute per route on an idle 2-core box; a box shared with other heavy runs needs more than the default.
BULK = pytest.mark.timeout(600)


@BULK
def test_hostile_bsale_notifications_get_4xx_and_leave_no_trace(
    shop: DemoShop, stack: LocalStack, all_logs: io.StringIO
) -> None:
    assert stack.drain(60)
    stamp = shops.require(shop.code).last_notification_at
    before, since, tally = _runs(stack), len(stack.invocations), Tally()
    session = requests.Session()

    @HOSTILE
    @given(bsale_requests(shop))
    def throw(request: tuple[str, bytes, dict[str, Any]]) -> None:
        url, body, headers = request
        tally.answer(session.post(url, data=body, headers=headers, timeout=30))

    throw()
    tally.report("POST /bsale/notifications/{token}")
    assert sum(tally.by_class.values()) >= EXAMPLES
    _assert_no_trace(stack, since, before, all_logs)
    assert shops.require(shop.code).last_notification_at == stamp


@BULK
def test_hostile_jumpseller_webhooks_get_4xx_and_leave_no_trace(
    new_shop: Any, stack: LocalStack, all_logs: io.StringIO
) -> None:
    shop, other = new_shop(), new_shop()
    assert stack.drain(60)
    before, since, tally = _runs(stack), len(stack.invocations), Tally()
    session = requests.Session()
    url = f"{stack.api_url}/jumpseller/webhooks"

    @HOSTILE
    @given(jumpseller_requests(shop, other.code))
    def throw(request: tuple[bytes, dict[str, Any]]) -> None:
        body, headers = request
        tally.answer(session.post(url, data=body, headers=headers, timeout=30))

    throw()
    tally.report("POST /jumpseller/webhooks")
    assert sum(tally.by_class.values()) >= EXAMPLES
    _assert_no_trace(stack, since, before, all_logs)
