"""One HTTP session per outside API: timeouts, a per-credential pace, and retries on 429 and 5xx.

Retries here are short (a few seconds, inside one Lambda invocation). What still fails is raised as an
UpstreamError marked retryable, and SQS retries the whole message later with back-off.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from aws_lambda_powertools.metrics import MetricUnit

from bridge.errors import UpstreamError
from bridge.observability import metrics

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
TIMEOUT = (3.05, 10)  # connect, read
MIN_CALL_SECONDS = 1.0  # no call is started with less time than this left before the invocation's deadline

# When the work under way must be over (time.monotonic()), set by a worker from its Lambda context's remaining
# time: no call is started past it, and each call's timeouts are cut to what is left. Per thread (contextvar).
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("bridge_calls_deadline", default=None)


@contextlib.contextmanager
def calls_end_by(deadline: float | None) -> Iterator[None]:
    """Every outside call made inside ends by `deadline` (monotonic seconds), or is not made (OutOfTime)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_left() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


class NoAnswer(UpstreamError):
    """The API gave no answer within the call's timeout (and the session does not wait twice)."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(service, reason, retryable=True)


class OutOfTime(UpstreamError):
    """The invocation has too little time left for another call: the work is retried later, whole."""

    def __init__(self, service: str) -> None:
        super().__init__(service, "no time left in this invocation for another call", retryable=True)


class Pace:
    """At most `per_second` calls in any rolling second (and `per_minute` in any minute), per credential.

    It paces one process; the SQS event sources' MaximumConcurrency bounds how many processes a queue runs.
    Windows are stretched by MARGIN: the API counts arrivals, we count departures, and jitter between the
    two must not tip a full window over the limit.
    """

    MARGIN = 1.05  # no more than the shared quota's stretch (bridge.store.rate), or bulk would miss its slots

    def __init__(self, per_second: int, per_minute: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.per_second = per_second
        self.per_minute = per_minute
        self._clock = clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self, max_wait: float | None = None) -> float:
        """Block until a call is allowed; return the seconds waited.

        With `max_wait`, raise RateLimited instead of waiting longer than that in all.
        """
        waited = 0.0
        while (delay := self.take()) > 0:
            if max_wait is not None and waited + delay > max_wait:
                raise RateLimited(delay)
            time.sleep(delay)
            waited += delay
        return waited

    def take(self) -> float:
        """Take a call if one is allowed now (0), else say how long until one is."""
        with self._lock:
            now = self._clock()
            horizon = (60.0 if self.per_minute else 1.0) * self.MARGIN
            while self._calls and now - self._calls[0] >= horizon:
                self._calls.popleft()
            delay = self._delay(now)
            if delay <= 0:
                self._calls.append(now)
            return delay

    def _delay(self, now: float) -> float:
        second, minute = self.MARGIN, 60.0 * self.MARGIN
        last_second = [t for t in self._calls if now - t < second]
        delay = 0.0
        if len(last_second) >= self.per_second:
            delay = second - (now - last_second[-self.per_second])
        if self.per_minute and len(self._calls) >= self.per_minute:
            delay = max(delay, minute - (now - self._calls[-self.per_minute]))
        return delay


class RateLimited(Exception):
    """The shop's shared quota is spent for longer than the caller is willing to wait."""

    def __init__(self, seconds: float, reason: str = "API quota spent") -> None:
        super().__init__(f"{reason} (for {seconds:.1f} s more)")
        self.seconds = seconds
        self.reason = reason


@dataclass(frozen=True)
class Quota:
    """A shared per-shop quota: at most `cap` calls in any rolling `window` seconds (one per API window)."""

    window: int
    cap: int


class QuotaGrant(Protocol):
    @property
    def units(self) -> int: ...  # calls granted (0: none, wait `wait` seconds)

    @property
    def until(self) -> float: ...  # epoch seconds by which the granted calls must have left

    @property
    def wait(self) -> float: ...

    @property
    def start(self) -> float: ...  # epoch seconds: unit i may leave from start + i * step, for `slot` seconds

    @property
    def step(self) -> float: ...

    @property
    def slot(self) -> float: ...


# (shop, api, [(window seconds, cap)], units wanted, hold seconds, seconds a single call may wait for its slot)
# -> what was granted (bridge.store.rate.take)
TakeQuota = Callable[[str, str, list[tuple[int, int]], int, float, float], QuotaGrant]


class SharedPace:
    """The local pace plus the shop's quotas shared through the table, for every process of the deployment.

    `max_wait` is how long a caller accepts to wait for the quota to free up (never past the invocation's
    time): a webhook worker waits a moment for the next unit, and gives up when it is further off (its message
    goes back to the queue, delayed, and the worker serves other shops meanwhile); a bulk job waits.
    `take` is the table's counter (bridge.store.rate.take), handed in: clients know no storage.
    `batch` > 1 (bulk work, which knows more calls follow) takes that many units in one write, each with its
    own short slot, spaced as this caller has lately been spacing its calls (at most `hold` seconds for the
    batch): it waits for a unit's slot when early, and lets go of the units whose slots it missed (the quota
    counted them: never more than allowed). The quota counts each unit only around its slot.
    """

    def __init__(self, local: Pace, shop_id: str, api: str, quotas: list[Quota], max_wait: float,
                 take: TakeQuota, batch: int = 1, hold: float = 0.0) -> None:
        self.local, self.shop_id, self.api, self.quotas, self.max_wait = local, shop_id, api, quotas, max_wait
        self.take, self.batch, self.hold = take, batch, hold
        self._slots: deque[float] = deque()  # when each unit granted and not yet spent may leave (epoch)
        self._slot = 0.0  # for how long after that
        self._gaps: deque[float] = deque(maxlen=8)  # the caller's last times between two calls
        self._last = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        with self._lock:
            if self._last:  # the caller's own time from one call's start to asking for the next
                self._gaps.append(time.time() - self._last)
        try:
            return self._wait()
        finally:
            with self._lock:
                self._last = time.time()

    def expect(self) -> None:
        """Calls follow side by side now, a batch the caller knows of (a reconcile's fixes): space the next units
        at the quota's pace, not at the caller's last gaps, which the pause before a batch (its preparation)
        would stretch to one call every quarter second."""
        with self._lock:
            self._gaps.clear()
            self._last = 0.0

    def _patience(self) -> float:
        """How long this call may wait in all: `max_wait`, and never past the invocation's time."""
        left = seconds_left()
        return self.max_wait if left is None else max(0.0, min(self.max_wait, left - MIN_CALL_SECONDS))

    def _wait(self) -> float:
        patience = self._patience()
        waited = self.local.wait(patience)
        late = 0
        with self._lock:
            while True:
                now = time.time()
                while self._slots and self._slots[0] + self._slot < now:
                    self._slots.popleft()  # missed: let go
                if self._slots:
                    early = self._slots[0] - now
                    if early > 0:  # then look again: a sleep that overran the slot lets the unit go
                        time.sleep(early)
                        waited += early
                        continue
                    self._slots.popleft()
                    return waited
                # Spaced at the slowest recent gap (a unit whose slot passes unspent costs a write), unless the
                # caller said a batch begins (`expect`).
                gap = max(self._gaps, default=0.0)
                hold = min(self.hold, 1.1 * gap * self.batch) if self.batch > 1 else 0.0
                # A single call books the first free slot it can wait for, rather than racing other callers for it
                ahead = max(0.0, patience - waited) if self.batch == 1 else 0.0
                grant = self.take(self.shop_id, self.api, [(q.window, q.cap) for q in self.quotas], self.batch,
                                  hold, ahead)
                if grant.units == 1:
                    early = grant.start - time.time()
                    if early > 0:  # granted from when the write was expected back
                        time.sleep(early)
                        waited += early
                    if time.time() <= grant.start + grant.slot:
                        return waited  # a single call leaves now, as the quota counted it
                    # The write came back too late for the call to leave when the quota counted it: let the
                    # unit go (it stays counted) rather than tip a window over the API's limit.
                    late += 1
                    if late >= MAX_LATE:
                        raise RateLimited(1.0, f"the shop's {self.api} quota answers too slowly")
                    continue
                if grant.units:
                    self._slots = deque(grant.start + i * grant.step for i in range(grant.units))
                    self._slot = grant.slot
                    continue
                if waited + grant.wait > patience:
                    caps = ", ".join(f"{q.cap} calls in any {q.window} s" for q in self.quotas)
                    raise RateLimited(grant.wait, f"the shop's {self.api} quota ({caps}) is spent")
                time.sleep(grant.wait)
                waited += grant.wait


MAX_LATE = 3  # single units whose write came back too late, in a row, before the work is handed back

_paces: dict[tuple[str, str], Pace] = {}
_paces_lock = threading.Lock()


def pace_for(service: str, credential: str, per_second: int, per_minute: int | None = None) -> Pace:
    """The process-wide pace of one credential, shared by every client built for it."""
    with _paces_lock:
        key = (service, credential)
        if key not in _paces:
            _paces[key] = Pace(per_second, per_minute)
        return _paces[key]


class Waits(Protocol):
    def wait(self) -> float: ...


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower case: what a credential is bound to."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc.rpartition('@')[2]).lower()}"


class ApiSession:
    """Calls one API with one credential; subclasses say how auth and error bodies look."""

    service = "api"
    max_attempts = 4
    max_backoff = 8.0
    timeout: tuple[float, float] = TIMEOUT  # connect, read; the deadline (calls_end_by) may cut them
    # A call that got no answer in time is tried again only if this says so: a webhook worker gives up on a
    # slow API at once (SQS retries the message later) rather than spend its invocation waiting on one shop.
    retry_timeouts = True

    def __init__(self, base_url: str, pace: Waits, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        # The only hosts this session sends its credential to (subclasses add their API's other hosts).
        self.origins = {origin(self.base_url)}
        self.pace = pace
        self.session = session or requests.Session()
        self.calls = 0  # outbound requests made, for benchmarks and tests

    def expect_calls(self) -> None:
        """Several calls of this session follow at once, side by side (see SharedPace.expect)."""
        expect = getattr(self.pace, "expect", None)  # a shared quota's; a local pace spaces nothing ahead
        if expect is not None:
            expect()

    # -- subclass hooks -------------------------------------------------------------------------------------
    def _auth(self, headers: dict[str, str]) -> Any:
        return None

    def _error_text(self, response: requests.Response) -> str:
        return response.text[:500]

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After")
        if header and header.isdigit():
            return float(header)
        return self._backoff(attempt)

    # -- the one request path -------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_unsafe: bool = False,
    ) -> requests.Response:
        """Send, retrying 429 always and 5xx / network failures only when the call is safe to repeat.

        `retry_unsafe` marks a POST that Bsale deduplicates itself (a document with its salesId).
        """
        url = path if path.startswith(("http:", "https:")) else f"{self.base_url}{path}"
        if origin(url) not in self.origins:
            # A URL from a response (a link, an href) may name any host: the credential never goes there.
            raise UpstreamError(self.service, f"refused to send the credential to {origin(url)}", retryable=False)
        safe = method in ("GET", "PUT", "DELETE") or retry_unsafe
        headers = {"Accept": "application/json"}
        if json is not None:
            headers["Content-Type"] = "application/json"
        auth = self._auth(headers)
        last: str = ""
        throttled = 0.0  # how long the API asked us to wait last, when it answered 429
        for attempt in range(1, self.max_attempts + 1):
            timeout = self._timeout()
            self.pace.wait()
            self.calls += 1
            try:
                response = self.session.request(
                    method, url, params=params, json=json, headers=headers, auth=auth, timeout=timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"{type(exc).__name__}: no answer"
                if isinstance(exc, requests.Timeout) and not self.retry_timeouts:
                    raise NoAnswer(self.service, last) from exc
                if not safe:
                    raise UpstreamError(self.service, last, retryable=True) from exc
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code < 400:
                return response
            text = self._error_text(response)
            if response.status_code == 429:
                # The dashboard's 429 panel: Bsale, Jumpseller or Facto asked us to slow down (each answer counts).
                metrics.add_metric(name="UpstreamThrottled", unit=MetricUnit.Count, value=1)
                last = f"429 {text}"
                throttled = self._retry_after(response, attempt)
                self._sleep(min(throttled, self.max_backoff))
                continue
            throttled = 0.0
            if response.status_code in RETRYABLE_STATUS and safe:
                last = f"{response.status_code} {text}"
                self._sleep(self._backoff(attempt))
                continue
            raise UpstreamError(
                self.service,
                text,
                status_code=response.status_code,
                retryable=response.status_code in RETRYABLE_STATUS,
            )
        if throttled:
            # Still rate limited: not a failure of the work, which waits its turn (the caller defers it).
            raise RateLimited(max(throttled, 1.0), f"{self.service} still answers {last}"[:300])
        raise UpstreamError(self.service, f"gave up after {self.max_attempts} attempts: {last}", retryable=True)

    def _timeout(self) -> tuple[float, float]:
        """This call's (connect, read) timeouts: the session's, cut to the time the invocation has left."""
        left = seconds_left()
        if left is None:
            return self.timeout
        if left < MIN_CALL_SECONDS:
            raise OutOfTime(self.service)
        connect, read = self.timeout
        return min(connect, left), min(read, left)

    def _sleep(self, seconds: float) -> None:
        left = seconds_left()
        # Never sleep past the deadline: the next attempt would find no time left anyway.
        time.sleep(seconds if left is None else max(0.0, min(seconds, left - MIN_CALL_SECONDS)))

    def _backoff(self, attempt: int) -> float:
        # Full jitter keeps many workers from retrying in lock-step.
        return float(random.uniform(0, min(self.max_backoff, 0.25 * 2**attempt)))

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()
