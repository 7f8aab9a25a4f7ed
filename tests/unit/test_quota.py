"""The shared per-shop quota (bridge.store.rate): no rolling window ever holds more than its cap, across
concurrent takers, and bulk work takes several units in one write."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from bridge.clients.http import Pace, Quota, SharedPace
from bridge.store import rate
from bridge.store.table import client
from tests.unit.orders.conftest import atomic_writes, table  # noqa: F401  (fixtures)

Grants = list[tuple[float, float, int]]  # (from, until, units) as the takers recorded them


class FakeClock:
    """Shared by every thread; each reading moves it on, so the threads interleave at distinct times.

    The threads read it in turn (each once per round), so their takes still race, but none runs ahead while
    another is starved of the CPU: a thread's reading is never more than a round old when it decides, as on a
    machine whose processes all keep time (a stale decision is tested on its own, in the test of `pruned`).
    """

    def __init__(self, start: float = 1_000_000.0, step: float = 0.004) -> None:
        self.now, self.step = start, step
        self._turns = threading.Condition()
        self._order: list[int] = []  # the readers, in turn order
        self._next = 0  # whose turn it is: an index into _order

    def __call__(self) -> float:
        me = threading.get_ident()
        with self._turns:
            if me not in self._order:
                self._order.append(me)
            self._turns.wait_for(lambda: self._order[self._next % len(self._order)] == me)
            self._next = (self._next + 1) % len(self._order)
            self.now += self.step
            self._turns.notify_all()
            return self.now

    def leave(self) -> None:
        """The calling thread reads no more: the others stop waiting for its turn."""
        me = threading.get_ident()
        with self._turns:
            if me in self._order:
                if self._order.index(me) < self._next % len(self._order):
                    self._next -= 1
                self._order.remove(me)
                self._next = self._next % len(self._order) if self._order else 0
            self._turns.notify_all()


@pytest.fixture
def quota_table(table: str, atomic_writes: None) -> Iterator[str]:  # noqa: F811
    rate.forget()
    yield table
    rate.forget()


def hammer(clock: FakeClock, quotas: list[tuple[int, int]], until: float, threads: int = 2, units: int = 1,
           hold: float = 0.0, ahead: float = 0.0) -> Grants:
    """`threads` takers taking as fast as they can; each decides on the state it last saw, so they race."""
    grants: Grants = []
    lock = threading.Lock()

    def taker() -> None:
        try:
            take_until(clock, until)
        finally:
            clock.leave()

    def take_until(clock: FakeClock, until: float) -> None:
        while (now := clock()) < until:
            grant = rate.take("tienda", "bsale", quotas, units, hold, ahead, now=now)
            if grant.units == 1:  # a single call leaves at its grant's start (now, or a slot booked ahead)
                with lock:
                    grants.append((grant.start, grant.until, 1))
            elif grant.units:  # each unit of a batch leaves in its own slot
                with lock:
                    grants.extend((grant.start + i * grant.step, grant.start + i * grant.step + grant.slot, 1)
                                  for i in range(grant.units))
            if len(grants) % 3 == 0:
                rate.forget()  # now and then a take starts from no view at all, as a new Lambda's would

    workers = [threading.Thread(target=taker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return grants


def busiest_window(grants: Grants, window: float) -> int:
    """The most units whose calls may fall in one closed window of `window` seconds, wherever it lies.

    A grant's calls may fall in [s, s + window] when the window starts at s in [first - window, last]: the most
    such spans over one s, counted in one sweep over their ends."""
    edges = sorted([(first - window, 0, units) for first, _, units in grants] +
                   [(last, 1, -units) for _, last, units in grants])  # at one s, spans begin before they end
    most = inside = 0
    for _, _, units in edges:
        inside += units
        most = max(most, inside)
    return most


def test_no_rolling_second_holds_more_than_the_cap_across_two_threads(quota_table: str) -> None:
    clock = FakeClock()
    grants = hammer(clock, [(1, 7)], until=clock.now + 6)
    assert busiest_window(grants, 1.0) <= 7
    # ...and the quota is used, not merely refused: 7 a window, windows a little longer than a second
    assert sum(g[2] for g in grants) >= 6 * 7 / (1 + rate.JITTER) - 7


def test_a_fixed_window_would_have_let_twice_the_cap_through() -> None:
    """The check above can fail: grants a fixed-window counter allows (7 at the end of one second, 7 at the
    start of the next) are caught."""
    grants = [(10.95 + i * 0.001, 10.95 + i * 0.001, 1) for i in range(7)]
    grants += [(11.0 + i * 0.001, 11.0 + i * 0.001, 1) for i in range(7)]
    assert busiest_window(grants, 1.0) == 14


def test_a_batch_counts_as_its_units(quota_table: str) -> None:
    first = rate.take("tienda", "bsale", [(1, 7)], units=4, hold=0.2, now=100.0)
    single = rate.take("tienda", "bsale", [(1, 7)], units=1, now=100.2)
    fourth = rate.take("tienda", "bsale", [(1, 7)], units=1, now=100.3)
    third = rate.take("tienda", "bsale", [(1, 7)], units=1, now=100.35)
    # The batch counts as 4 of 7: singles fit beside it until the window is full
    assert (first.units, single.units, fourth.units, third.units) == (4, 1, 1, 1)
    assert rate.take("tienda", "bsale", [(1, 7)], units=1, now=100.4).units == 0
    # Another batch does not fit now: it is given the first start at which it does (its caller sleeps till
    # then). Live calls are recent, so a batch keeps reserve(7) = 1 unit free beside them: it fits once the first
    # batch's second unit stops counting (3 live + 2 units + its first = 6; its units spread at the cap's pace)
    second = rate.take("tienda", "bsale", [(1, 7)], units=4, hold=0.2, now=100.5)
    assert second.units == 4
    assert second.start == pytest.approx(first.start + first.step + rate.SLOT + 1 + rate.JITTER, abs=0.002)
    assert second.step == pytest.approx((1 + rate.JITTER + rate.SLOT + rate.ROUNDING) / 7)


def test_a_batch_yields_to_live_calls(quota_table: str) -> None:
    assert rate.take("tienda", "bsale", [(1, 5)], units=1, now=100.0).units == 1
    # 1 live call + 4 would make the cap of 5, but a batch leaves reserve(5) = 1 free while live calls are recent
    late = rate.take("tienda", "bsale", [(1, 5)], units=4, hold=0.4, now=100.2)
    assert late.units == 4 and late.start == pytest.approx(100.0 + 1 + rate.JITTER)


def test_each_unit_of_a_batch_counts_only_around_its_own_slot(quota_table: str) -> None:
    """A batch spread over 2 s (units at 100, 100.5, 101, 101.5) does not hold back the shop's other calls for
    its whole spread plus the window: by 101.2 its first unit has stopped counting."""
    batch = rate.take("tienda", "bsale", [(1, 5)], units=4, hold=2.0, now=100.0)
    assert (batch.units, batch.start, batch.step) == (4, 100.0, 0.5)
    singles = [rate.take("tienda", "bsale", [(1, 5)], units=1, now=101.2 + i * 0.01).units for i in range(3)]
    assert singles == [1, 1, 0]  # units 1, 2, 3 and two singles make the window's 5
    spans = [(batch.start + i * batch.step, batch.start + i * batch.step + batch.slot, 1) for i in range(4)]
    assert busiest_window(spans + [(101.2, 101.2, 1), (101.21, 101.21, 1)], 1.0) <= 5


def test_a_bulk_caller_waits_for_each_unit_s_slot(quota_table: str) -> None:
    grants: list[Any] = []

    def take(*args: Any) -> Any:
        grants.append(rate.take(*args))
        return grants[-1]

    pace = SharedPace(Pace(10_000), "tienda", "bsale", [Quota(1, 1_000)], max_wait=5, take=take,
                      batch=4, hold=0.4)
    times = []
    for _ in range(8):
        pace._gaps.extend([0.1] * 8)  # a caller that makes a call every 0.1 s: its units are spaced so
        pace.wait()
        times.append(rate.time.time())
    batch = grants[0]
    assert batch.units == 4 and batch.step == pytest.approx(0.1)
    # No call before its unit's slot (measured from the slots themselves: a busy machine may return the first
    # call late, but never one early; a unit whose slot passed is let go and the call takes a later one)
    assert all(t >= batch.start + i * batch.step for i, t in enumerate(times[:4]))


def test_a_batch_the_caller_announces_is_spaced_at_the_quota_s_pace_not_at_its_last_pause(quota_table: str) -> None:
    holds: list[float] = []

    def take(*args: Any) -> Any:
        holds.append(args[4])  # the seconds the batch's units are spread over
        return rate.take(*args)

    pace = SharedPace(Pace(10_000), "tienda", "jumpseller", [Quota(1, 1_000)], max_wait=5, take=take, batch=8,
                      hold=2.0)
    pace._gaps.extend([0.02] * 7 + [0.5])  # a caller's calls, and the pause while it prepared the next batch
    pace.wait()
    pace.expect()  # the next batch, side by side
    pace._slots.clear()  # (its units spent)
    pace.wait()
    # The pause spread the first batch over its whole hold; not the next one (nor any taken again for it)
    assert holds[0] == pytest.approx(2.0) and holds[1:] and set(holds[1:]) == {0.0}


def test_batches_from_two_threads_never_overfill_a_window(quota_table: str) -> None:
    clock = FakeClock()
    grants = hammer(clock, [(1, 5)], until=clock.now + 6, units=4, hold=0.3)
    assert busiest_window(grants, 1.0) <= 5


def bulk_calls(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    """One bulk caller (batches of 4) making `calls` calls under a quota it never fills."""
    # about the accounting, not the machine's timing: a busy machine's late wake-ups would cost units
    monkeypatch.setattr(rate, "SLOT", 0.2)
    pace = SharedPace(Pace(10_000), "tienda", "bsale", [Quota(1, 1_000)], max_wait=5, take=rate.take,
                      batch=4, hold=5.0)
    for _ in range(calls):
        pace.wait()


def test_bulk_work_writes_the_quota_at_most_once_every_four_calls(quota_table: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    puts: list[dict[str, Any]] = []
    client().meta.events.register("before-parameter-build.dynamodb.PutItem", lambda params, **_: puts.append(params))
    client().meta.events.register("before-parameter-build.dynamodb.UpdateItem", lambda params, **_: puts.append(params))
    bulk_calls(monkeypatch, 100)
    # one write for every 4 calls, none refused (one process); a stall of the machine may cost one batch its slots
    assert len(puts) <= 26
    item = client().get_item(TableName=quota_table, Key={"pk": {"S": "SHOP#tienda"}, "sk": {"S": "RATE#bsale"}},
                             ConsistentRead=True)["Item"]
    assert sum(g[2] for g in rate._decode(item["grants"]["S"])) == 4 * len(puts)  # every unit counted, once


def test_the_jumpseller_minute_holds_beside_the_second(quota_table: str) -> None:
    clock = FakeClock(step=0.04)  # 25 tries a second: more than the second's 18, far more than the minute's 760
    quotas = [(1, 18), (60, 760)]
    grants = hammer(clock, quotas, until=clock.now + 130)
    assert busiest_window(grants, 1.0) <= 18
    assert busiest_window(grants, 60.0) <= 760
    # The minute, not the second, is what stopped them (18/s would be over 1,000 a minute)
    assert busiest_window(grants, 60.0) >= 700
    # Old grants are merged: the item stays small whatever the minute holds
    item = client().get_item(TableName=quota_table, Key={"pk": {"S": "SHOP#tienda"}, "sk": {"S": "RATE#bsale"}},
                             ConsistentRead=True)["Item"]
    assert len(item["grants"]["S"]) < 1_200


def test_a_caller_that_will_not_wait_is_told_how_long(quota_table: str) -> None:
    from bridge.clients.http import RateLimited

    pace = SharedPace(Pace(1_000), "tienda", "bsale", [Quota(1, 2)], max_wait=0, take=rate.take)
    pace.wait()
    pace.wait()
    with pytest.raises(RateLimited) as caught:
        pace.wait()
    assert 0 < caught.value.seconds <= 1 + rate.JITTER


def test_bulk_alone_uses_the_whole_cap_spaced_evenly(quota_table: str) -> None:
    """With no live call lately, a batch may fill the window up to the cap, its units spread at the cap's pace
    (not bunched: a live call arriving later waits at most one batch's span)."""
    grants: Grants = []
    at = 100.0
    while at < 110.0:
        grant = rate.take("tienda", "bsale", [(1, 8)], units=4, hold=0.0, now=at)
        assert grant.units == 4
        grants += [(grant.start + i * grant.step, grant.start + i * grant.step + grant.slot, 1) for i in range(4)]
        at = grant.start + 3 * grant.step + 0.01  # the caller asks again once it spent its last unit
    assert busiest_window(grants, 1.0) <= 8
    assert grants[1][0] - grants[0][0] == pytest.approx((1 + rate.JITTER + rate.SLOT + rate.ROUNDING) / 8)
    # about 8 every 1 + JITTER + SLOT seconds: the whole cap, less only the stretch for jitter
    assert len(grants) >= 10 * 8 / (1 + rate.JITTER + rate.SLOT + rate.ROUNDING) - 5


def test_a_live_call_preempts_bulk_within_one_batch_span(quota_table: str) -> None:
    at = 100.0
    while at < 103.0:  # bulk saturating the window
        grant = rate.take("tienda", "bsale", [(1, 8)], units=4, hold=0.0, now=at)
        at = grant.start + 3 * grant.step + 0.01
    live = rate.take("tienda", "bsale", [(1, 8)], units=1, now=at + 0.01)
    # the window is full of bulk: the live call waits, but no longer than the batch booked ahead of it
    assert 0 < live.wait <= 4 * (1 + rate.JITTER + rate.SLOT + rate.ROUNDING) / 8 + rate.SLOT
    assert rate.take("tienda", "bsale", [(1, 8)], units=1, now=at + 0.01 + live.wait).units == 1
    # from now on bulk leaves room: a live call made later finds a unit at once
    later = at + 0.01 + live.wait
    for _ in range(4):
        grant = rate.take("tienda", "bsale", [(1, 8)], units=4, hold=0.0, now=later)
        later = grant.start + 3 * grant.step + 0.01
    assert rate.take("tienda", "bsale", [(1, 8)], units=1, now=later + 0.01).units == 1
    assert rate.take("tienda", "bsale", [(1, 8)], units=1, now=later + 0.02).units == 1


def test_bulk_gets_the_whole_cap_again_once_live_calls_stop(quota_table: str) -> None:
    rate.take("tienda", "bsale", [(1, 8)], units=1, now=100.0)
    during = rate.take("tienda", "bsale", [(1, 8)], units=8, hold=0.0, now=102.0)
    assert during.units == 8 - rate.reserve(8)  # a batch never takes the room kept for live calls
    quiet = 100.0 + rate.LIVE_RECENT + 5
    assert rate.take("tienda", "bsale", [(1, 8)], units=8, hold=0.0, now=quiet).units == 8


def test_live_callers_under_concurrency_never_overfill_a_window_beside_bulk(quota_table: str) -> None:
    clock = FakeClock()
    end = clock.now + 6
    grants: Grants = []
    lock = threading.Lock()

    def bulk() -> None:
        grants.extend(hammer(clock, [(1, 8)], until=end, threads=1, units=4))

    thread = threading.Thread(target=bulk)
    thread.start()
    live = hammer(clock, [(1, 8)], until=end, threads=2)
    thread.join()
    with lock:
        everything = grants + live
    assert busiest_window(everything, 1.0) <= 8
    assert live and grants


def test_a_live_caller_waits_briefly_for_the_next_unit_instead_of_giving_up(quota_table: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate, "LIVE_SLOT", 1.0)  # a busy machine's slow write must not make a unit late here
    # A 3-second window: on a busy machine the three takes themselves may last a second (CI ran them beside the
    # end-to-end tests), and the fourth must still find the first unit further off than the half second.
    pace = SharedPace(Pace(1_000), "tienda", "bsale", [Quota(3, 3)], max_wait=0.5, take=rate.take)
    pace.wait()
    first = time.time()  # the first unit was granted from no later than now
    for _ in range(2):
        pace.wait()
    started = time.monotonic()
    from bridge.clients.http import RateLimited

    with pytest.raises(RateLimited):  # the first unit frees up in over half a second: given up
        pace.wait()
    assert time.monotonic() - started < 0.45  # told at once, not after sleeping the half second
    # until the first unit is at most a quarter second from no longer counting
    time.sleep(max(0.0, first + 3 + rate.JITTER - 0.25 - time.time()))
    assert pace.wait() <= 0.5  # the first unit stops counting within the half second: waited for, not handed back


def test_a_live_caller_never_waits_past_the_invocation_s_time(quota_table: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate, "LIVE_SLOT", 1.0)
    from bridge.clients.http import MIN_CALL_SECONDS, RateLimited, calls_end_by

    pace = SharedPace(Pace(1_000), "tienda", "bsale", [Quota(1, 1)], max_wait=0.5, take=rate.take)
    pace.wait()
    time.sleep(0.7)  # the next unit is ~0.35 s away: within max_wait, but not within what is left
    with calls_end_by(time.monotonic() + MIN_CALL_SECONDS + 0.1), pytest.raises(RateLimited):
        pace.wait()


def test_a_single_unit_granted_too_late_to_leave_in_time_is_let_go() -> None:
    """The quota counts a live call from its grant's start: a call leaving later than LIVE_SLOT after it could
    arrive in a window the quota thought had room, so it takes another unit (and hands back after MAX_LATE)."""
    from bridge.clients.http import MAX_LATE, RateLimited

    taken: list[float] = []

    def take(*_: object) -> rate.Grant:
        now = rate.time.time()
        taken.append(now)
        late = len(taken) == 1  # the first answer comes back after its slot
        return rate.Grant(1, until=now, start=now - 1.0 if late else now, slot=0.05)

    pace = SharedPace(Pace(1_000), "tienda", "bsale", [Quota(1, 8)], max_wait=0.5, take=take)
    pace.wait()
    assert len(taken) == 2

    def always_late(*_: object) -> rate.Grant:
        taken.append(0.0)
        return rate.Grant(1, until=0.0, start=rate.time.time() - 1.0, slot=0.05)

    taken.clear()
    pace.take = always_late
    with pytest.raises(RateLimited):
        pace.wait()
    assert len(taken) == MAX_LATE


def test_a_take_decided_at_a_time_older_than_the_log_was_pruned_at_waits_instead_of_overfilling(
        quota_table: str) -> None:
    """A process whose decision time lags (a stalled thread, a clock behind) must not grant into a past the log
    no longer remembers: the grants another process pruned at a later time still counted then."""
    for i in range(8):  # a full second's worth, from 100.0 on
        assert rate.take("tienda", "bsale", [(1, 8)], units=1, now=100.0 + i * 0.1).units == 1
    # another process, later, prunes them all (they stopped counting at about 101.8)
    assert rate.take("tienda", "bsale", [(1, 8)], units=1, now=103.5).units == 1
    rate.forget()
    stale = rate.take("tienda", "bsale", [(1, 8)], units=1, now=100.75)
    # at 100.75 the window already holds 8: granting here would make 9 in that second
    assert stale.units == 0 and stale.wait > 0
    batch = rate.take("tienda", "bsale", [(1, 8)], units=4, hold=0.0, now=100.75)
    assert batch.units == 0 or batch.start >= 103.5 - rate.KEEP


def test_a_refused_live_call_makes_bulk_that_books_ahead_leave_room_for_the_next(quota_table: str) -> None:
    """Bulk work that asks as often as it may books the freed units ahead of any live call; the live call's
    refusal alone must make it yield (a live call is only ever refused while bulk fills the window)."""
    at = 100.0
    while at < 103.0:  # no live call yet: bulk takes the whole cap, asking every 50 ms
        rate.take("tienda", "bsale", [(1, 8)], units=4, hold=0.0, now=at)
        at += 0.05
    live_granted = []
    while at < 106.0:  # bulk keeps asking first at every tick; a live caller asks right after it
        rate.take("tienda", "bsale", [(1, 8)], units=4, hold=0.0, now=at)
        if rate.take("tienda", "bsale", [(1, 8)], units=1, now=at + 0.001).units:
            live_granted.append(at)
        at += 0.05
    assert live_granted, "bulk booked every freed unit ahead of the live caller"
    # room comes once the units bulk booked before the refusal stop counting: within AHEAD, a batch and a window
    assert live_granted[0] <= 103.0 + rate.AHEAD + 4 * 0.15 + 1 + rate.JITTER + 0.1


def test_bulk_work_alone_reads_the_quota_once_then_goes_on_from_its_own_writes(quota_table: str,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[dict[str, Any]] = []
    client().meta.events.register("before-parameter-build.dynamodb.GetItem", lambda params, **_: reads.append(params))
    bulk_calls(monkeypatch, 100)
    # the first batch reads the item (another process may have written it); the next ones follow this one's writes
    assert len(reads) <= 2


def test_a_batch_decided_on_a_stale_view_learns_of_another_process_s_live_call(quota_table: str) -> None:
    at = 100.0
    for _ in range(3):  # bulk alone: the whole cap
        grant = rate.take("tienda", "bsale", [(1, 8)], units=8, hold=0.0, now=at)
        at = grant.start + 7 * grant.step + 0.01
    assert grant.units == 8
    ours = dict(rate._seen)
    rate.take("tienda", "bsale", [(1, 8)], units=1, now=at)  # a live call, made by another process:
    rate._seen.clear()
    rate._seen.update(ours)  # this one has not seen it
    batch = rate.take("tienda", "bsale", [(1, 8)], units=8, hold=0.0, now=at + 0.01)
    assert batch.units == 8 - rate.reserve(8)  # its write was refused, and it decided again on the current item


def test_a_live_grant_starts_when_its_write_is_expected_back_not_a_write_later(quota_table: str,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A single call is granted from about when this process's quota write comes back (the caller sleeps till
    then, so it leaves when the quota counted it): every live call waits out that lead, so it should be the
    writes' usual time, not twice it. A write slower than usual still leaves within LIVE_SLOT, or lets the unit go.
    """
    clock = [1_000_000.0]
    monkeypatch.setattr(rate, "time", SimpleNamespace(time=lambda: clock[0]))
    monkeypatch.setattr(rate, "_write_lead", 0.02)
    table_client = client()

    class WritesTakeTenMs:
        def put_item(self, **kwargs: Any) -> Any:
            clock[0] += 0.010
            return table_client.put_item(**kwargs)

        def __getattr__(self, attr: str) -> Any:
            return getattr(table_client, attr)

    monkeypatch.setattr(rate, "client", WritesTakeTenMs)
    leads = []
    for _ in range(30):  # one live call a second: the quota never makes them wait
        clock[0] += 1.0
        asked = clock[0]
        grant = rate.take("tienda", "bsale", [(1, 8)])
        assert grant.units == 1
        leads.append(grant.start - asked)
    assert 0.009 <= leads[-1] <= 0.0125
    assert rate.LIVE_SLOT > 0.04  # room for a write slower than usual


def test_a_live_caller_that_can_wait_books_the_next_free_slot_in_one_write(quota_table: str) -> None:
    """Live callers refused at a full window all slept till the same freed unit and raced for it: one write won,
    the others were refused and waited again (five catalog workers: ~3.6 refused quota writes per Bsale call in
    a burst). A caller that says how long it can wait (`ahead`) is given the earliest free slot within that, with
    one write, and the next caller the slot after it."""
    for i in range(8):
        assert rate.take("tienda", "bsale", [(1, 8)], units=1, now=100.0 + i * 0.01).units == 1
    assert rate.take("tienda", "bsale", [(1, 8)], units=1, now=100.1).units == 0  # cannot wait: told how long
    writes = rate.writes
    first = rate.take("tienda", "bsale", [(1, 8)], units=1, ahead=1.5, now=100.1)
    second = rate.take("tienda", "bsale", [(1, 8)], units=1, ahead=1.5, now=100.11)
    assert rate.writes - writes == 2
    assert first.units == second.units == 1
    assert 101.0 + rate.JITTER <= first.start < second.start <= 100.11 + 1.5
    assert rate.take("tienda", "bsale", [(1, 8)], units=1, ahead=0.5, now=100.12).units == 0  # not that soon


def test_live_callers_booking_ahead_never_overfill_a_window(quota_table: str) -> None:
    clock = FakeClock()
    grants = hammer(clock, [(1, 7)], until=clock.now + 6, threads=3, ahead=1.0)
    assert busiest_window(grants, 1.0) <= 7
    assert sum(g[2] for g in grants) >= 6 * 7 / (1 + rate.JITTER) - 7
