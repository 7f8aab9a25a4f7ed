"""Per-shop API quotas shared by every process: a rolling-window log, one table item per shop and service.

The item holds the recent grants, each `(from, until, units)`: `units` calls that may leave between `from` and
`until` (a single call: from == until). A grant counts against a `window`-second quota from `from` until
`until + window + JITTER`, so no rolling window of any length `window` ever holds more than the quota's cap,
across every process (fixed windows let a burst across a window's edge send twice the cap).

A take decides on the last state this process saw and writes the whole item on condition that its version is
still that one; when another process wrote in between, the refused write returns the current item (no extra
read) and the take decides again. Bulk work takes several units in one write (`units`), spaced over `hold`
seconds: unit i has its own short slot, SLOT seconds from `start + i * hold / units`, and is logged as its
own grant, so the window counts each unit only around the time it may really leave (a batch counted whole for
its hold plus the window would block the shop's other calls for seconds). A batch that does not fit now is
given the earliest start that fits, up to AHEAD seconds on; a caller that misses a unit's slot lets it go.
Refusals cost no write: they are decided on the state last seen, which can only hold fewer grants than the
table (a stale "full" is still full). The item keeps how far its log has been pruned (`pruned`): a take whose
time lags behind that (a stalled process, a clock behind) never grants before it, since the log no longer holds
every grant that counted then.

Live calls come first. Bulk work may use the whole cap while no live call asked for LIVE_RECENT seconds (the
item keeps when the last one did, `live_at`: a live call refused because bulk filled the window records its
demand too, or bulk, booking each freed unit ahead, would never let it in); after one, a batch leaves
`reserve(cap)` units of every window free beside the live calls in it, so the shop's live changes find room.
A batch's units are spread at least at the cap's pace (never bunched), so the first live call after a quiet
spell waits at most for the units the last batch booked ahead of it (4 x (1 + JITTER + SLOT) / 8 for Bsale:
about half a second).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from bridge.store import keys
from bridge.store.table import client, deserialize, name, serialize

# The API counts arrivals, we count grants: the write's return, the request's departure and its journey all
# come between. Each window is stretched by this much so that jitter cannot tip a full window over the limit.
JITTER = 0.1
# Grants older than the shortest window are merged into buckets this long (widened outwards, so still counted
# at least as long): the log of an 800-a-minute quota stays a few dozen entries, one write unit or two.
BUCKET = 1.0
LIVE_SLOT = JITTER / 2  # how late after its grant a single call may still leave (the write's return included)
SLOT = 0.02  # how late after its slot's start a batch's unit may still leave: it counts this much longer
AHEAD = 1.0  # a batch may be given slots starting this far on (its caller sleeps till then), not further
ROUNDING = 0.002  # the log keeps milliseconds, rounded outwards (_encode): each grant may count this much longer
KEEP = 1.0  # seconds a grant stays in the log after it stops counting (see _prune)
LIVE_RECENT = 30.0  # seconds after a live call during which bulk work leaves room for the next ones
OWN_WRITE_FRESH = 2.0  # seconds during which bulk work goes on from its own last write without reading (see take)
MAX_RACES = 20  # concurrent writers each win eventually; this only bounds a pathological loop

Log = list[tuple[float, float, int]]  # (from, until, units), times in epoch seconds


@dataclass(frozen=True)
class Grant:
    """What a take gave: `units` calls to make by `until` (epoch seconds), or 0 units and `wait` seconds.

    Unit i of a batch may leave between `start + i * step` and `slot` seconds after that, not at other times.
    """

    units: int
    until: float = 0.0
    wait: float = 0.0
    start: float = 0.0
    step: float = 0.0
    slot: float = 0.0


@dataclass
class _Seen:
    version: int
    log: Log
    live_at: float = 0.0  # the last live (single) grant's time, epoch seconds
    pruned: float = 0.0  # grants that still counted from here on are all in the log; earlier ones may be gone
    written_at: float | None = None  # when this process wrote this state (None: it read it)


def reserve(cap: int) -> int:
    """Units of a window a batch leaves free while live calls are recent."""
    return max(1, cap // 4)


_seen: dict[tuple[str, str], _Seen] = {}  # the last state of each item this process read or wrote
_seen_lock = threading.Lock()
MAX_LEAD = 0.2  # a single grant starts at most this far after its take
_write_lead = 0.02  # how far after the take a single grant starts: about when this process's write is back
writes = 0  # quota writes this process made (accepted or refused), for benchmarks and tests


def take(shop_id: str, api: str, quotas: list[tuple[int, int]], units: int = 1, hold: float = 0.0,
         ahead: float = 0.0, now: float | None = None) -> Grant:
    """Take up to `units` calls of the shop's `api` under every `(window seconds, cap)` quota.

    All of them (at most the smallest cap) or none: then wait `Grant.wait` seconds for them to fit. A single call
    whose caller can wait `ahead` seconds is given the earliest free slot within that (it sleeps till its start):
    callers that were all told to come back when the same unit frees would race for it, one write winning and
    every other refused.
    """
    global writes
    key = (shop_id, api)
    with _seen_lock:
        seen = _seen.get(key)
    if units > 1 and not _own_recent_write(seen, time.time() if now is None else now):
        # A batch after a pause: what this process saw is likely stale, and a consistent read costs less than a
        # refused write (refusals count against the writes a batch is there to save).
        seen = _read(shop_id, api)
    lead = _write_lead if now is None else 0.0  # (a caller naming the time has no write to wait for)
    for _ in range(MAX_RACES):
        at = time.time() if now is None else now
        log = _prune(seen.log if seen else [], at, quotas)
        live_at = seen.live_at if seen else 0.0
        # Another process may have pruned at a later time than ours: nothing is granted before what it let go.
        floor = seen.pruned if seen else 0.0
        pruned = max(floor, at - KEEP)  # how far the log this take writes is complete
        bulk = units > 1
        # Bulk yields: while live calls are recent, a batch keeps room for them in every window.
        caps = [(w, cap - reserve(cap) if bulk and at - live_at < LIVE_RECENT else cap) for w, cap in quotas]
        # A batch is all or nothing (a part would cost the same write for fewer calls); never more than a cap.
        granted = max(1, min([units] + [cap for _, cap in caps]))
        # A batch's units are spread at least at the shortest window's pace: a burst would fill the window
        # for a whole second, and a live call arriving then would wait that long.
        pace = min((w + JITTER + SLOT + ROUNDING) / cap for w, cap in quotas)
        step = max(hold / granted, pace) if bulk else 0.0
        slot = SLOT if bulk else LIVE_SLOT
        # Bulk keeps its pace across batches too: its next unit no sooner than a step after its last one.
        # A single call is granted from when this process's write is likely back (it sleeps till then if early):
        # its departure then lies within LIVE_SLOT of what the quota counted, without wasting units on slow writes.
        after = max([at + (0.0 if bulk else lead), floor] + [g[0] + step for g in log if bulk and g[0] != g[1]])
        start = _earliest(log, after, caps, granted, step, slot if bulk else 0.0)
        if start > at + (AHEAD if bulk else lead + ahead):
            if bulk or at - live_at < LIVE_RECENT:
                return Grant(0, wait=start - at)
            # A live call refused while bulk had the whole cap: bulk books freed units ahead, so it must learn of
            # the live demand now, not once a live call got through. One write per LIVE_RECENT at most.
            new, live_at = [], at
        else:
            # A single call is logged at its start alone (from == until: how live calls are told from batches);
            # it leaves within LIVE_SLOT or not at all, which JITTER covers.
            new = [(start + i * step, start + i * step + (slot if bulk else 0.0), 1) for i in range(granted)]
            live_at = live_at if bulk else start
        log = sorted(log + new)
        version = (seen.version if seen else 0) + 1
        writes += 1
        try:
            client().put_item(
                TableName=name(),
                Item=serialize({**keys.rate(shop_id, api), "version": version, "grants": _encode(log),
                                "live_at": int(live_at * 1000), "pruned": math.ceil(pruned * 1000),
                                "expires_at": int(at) + 3600}),
                ConditionExpression="attribute_not_exists(version) OR version = :seen",
                ExpressionAttributeValues={":seen": {"N": str(seen.version if seen else 0)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            _learn(at)
            # Another process wrote first: decide again on what it wrote.
            seen = _parse(dict(exc.response.get("Item") or {}))  # type: ignore[call-overload]
            continue
        _learn(at)
        seen = _Seen(version, log, int(live_at * 1000) / 1000, math.ceil(pruned * 1000) / 1000, written_at=at)
        with _seen_lock:
            _seen[key] = seen
        if not new:
            return Grant(0, wait=start - at)
        return Grant(granted, until=new[-1][1], start=start, step=step, slot=slot)
    return Grant(0, wait=JITTER)


def _own_recent_write(seen: _Seen | None, at: float) -> bool:
    """Whether bulk work may decide on the state this process last wrote, without reading the item first.

    Bulk work running on, alone, asks again about one batch span after its own last write: nobody else wrote
    since, most likely, and a read before each batch would double its DynamoDB calls (and their wait). Not when
    live calls are recent (other processes write then), nor after a pause. When the guess is wrong the write is
    refused and returns the current item: one write more, never a unit too many.
    """
    return (seen is not None and seen.written_at is not None and 0 <= at - seen.written_at <= OWN_WRITE_FRESH
            and at - seen.live_at >= LIVE_RECENT)


def _learn(asked: float) -> None:
    """Follow how long this process's quota writes take (a moving average): the lead of a single grant.

    Every live call sleeps out the lead after its write, so it is the usual time, not a margin: a write slower
    than usual still leaves within LIVE_SLOT of its grant (or lets the unit go, http.SharedPace)."""
    global _write_lead
    took = time.time() - asked
    if 0 <= took < 5:
        _write_lead = min(MAX_LEAD, 0.8 * _write_lead + 0.2 * took)


def _read(shop_id: str, api: str) -> _Seen:
    item = client().get_item(TableName=name(), Key=serialize(keys.rate(shop_id, api)), ConsistentRead=True)
    return _parse(item.get("Item") or {})


def _parse(item: dict[str, Any]) -> _Seen:
    current = deserialize(item)
    return _Seen(int(current.get("version", 0)), _decode(str(current.get("grants", ""))),
                 int(current.get("live_at", 0)) / 1000, int(current.get("pruned", 0)) / 1000)


def _counts_until(grant: tuple[float, float, int], window: int) -> float:
    return grant[1] + window + JITTER


def _earliest(log: Log, at: float, quotas: list[tuple[int, int]], units: int, step: float, slot: float) -> float:
    """The first start from `at` on at which `units` units, `step` apart, fit under every quota."""
    # Fitting starts only when a logged grant stops counting: try those times in order.
    ends = sorted({_counts_until(g, w) for g in log for w, _ in quotas if _counts_until(g, w) > at})
    for start in [at] + ends:
        new = [(start + i * step, start + i * step + slot, 1) for i in range(units)]
        if all(_fits(log, new, window, cap) for window, cap in quotas):
            return start
    return ends[-1] if ends else at  # not reached: once every grant has stopped counting, any batch fits


def _fits(log: Log, new: Log, window: int, cap: int) -> bool:
    """No rolling window holds more than `cap` units once `new` is added.

    A grant counts over [from, until + window + JITTER): the calls of any one window all fall in the span of
    its latest call, which lies where some grant's span begins; so checking where the spans begin is enough,
    and only those from the first new one on can change.
    """
    first = new[0][0]
    alive = [g for g in log if _counts_until(g, window) > first]
    spans = [(g[0], _counts_until(g, window), g[2]) for g in alive + new]
    points = [first] + [start for start, _, _ in spans if start > first]
    return all(sum(units for start, end, units in spans if start <= p < end) <= cap for p in points)


def _prune(log: Log, at: float, quotas: list[tuple[int, int]]) -> Log:
    """Drop grants every window has let go of; merge those only the longer windows still see into buckets."""
    longest = max(window for window, _ in quotas)
    shortest = min(window for window, _ in quotas)
    kept: Log = []
    buckets: dict[int, list[float]] = {}
    for grant in log:
        # Kept a little past its end: another process may still decide at a slightly earlier `at` (its clock
        # read before ours, or a little behind), and must see the grant that counts then.
        if _counts_until(grant, longest) <= at - KEEP:
            continue
        start, end = math.floor(grant[0] / BUCKET) * BUCKET, math.ceil(grant[1] / BUCKET) * BUCKET
        if len(quotas) > 1 and end + shortest + JITTER <= at - KEEP:
            # Widened to whole buckets, so counted at least as long as its parts; and only once the widened
            # bucket is out of the shortest window too, which would otherwise count it again.
            bucket = buckets.setdefault(int(start / BUCKET), [start, end, 0])
            bucket[1], bucket[2] = max(bucket[1], end), bucket[2] + grant[2]
            continue
        kept.append(grant)
    merged: Log = [(b[0], b[1], int(b[2])) for b in buckets.values()]
    return sorted(merged + kept)


def _encode(log: Log) -> str:
    """`from,until,units` in milliseconds, `from` relative to the first grant's: small items, few write units."""
    if not log:
        return ""
    base = math.floor(log[0][0] * 1000)
    parts = [str(base)]
    for start, until, units in log:
        # Rounded outwards: a grant is never counted for less time than it was given.
        first = math.floor(start * 1000) - base
        parts.append(f"{first},{math.ceil(until * 1000) - base - first},{units}")
    return " ".join(parts)


def _decode(text: str) -> Log:
    if not text:
        return []
    base, *parts = text.split(" ")
    log: Log = []
    for part in parts:
        first, length, units = (int(x) for x in part.split(","))
        start = (int(base) + first) / 1000
        log.append((start, start + length / 1000, units))
    return log


def forget() -> None:
    """Drop what this process remembers of the items (tests: a fresh process)."""
    with _seen_lock:
        _seen.clear()
