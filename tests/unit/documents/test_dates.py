"""Emission date: the Chilean calendar date, sent as that date at 00:00 UTC (bsale.md §1.3)."""

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bridge.documents.dates import chile_date, date_at_utc_midnight, emission_date


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def midnight(day: date) -> int:
    return calendar.timegm((day.year, day.month, day.day, 0, 0, 0))


@pytest.mark.parametrize(("instant", "expected"), [
    # summer (UTC-3): local midnight is 03:00 UTC
    (utc(2025, 1, 15, 2, 59, 59), date(2025, 1, 14)),
    (utc(2025, 1, 15, 3, 0, 0), date(2025, 1, 15)),
    # winter (UTC-4): local midnight is 04:00 UTC
    (utc(2025, 6, 15, 3, 59, 59), date(2025, 6, 14)),
    (utc(2025, 6, 15, 4, 0, 0), date(2025, 6, 15)),
    # an evening sale: already tomorrow in UTC, still today in Chile
    (utc(2025, 3, 15, 2, 30), date(2025, 3, 14)),
    # New Year's Eve in Santiago
    (utc(2026, 1, 1, 2, 59, 59), date(2025, 12, 31)),
])
def test_chile_date_around_midnight(instant: datetime, expected: date) -> None:
    # Given a moment near Chilean midnight
    # Then the local date is Chile's, and Bsale gets that date at 00:00 UTC
    assert chile_date(instant) == expected
    assert emission_date(instant) == midnight(expected)


def test_dst_ends_first_sunday_of_april() -> None:
    # Given 2025-04-06, when Chile turns clocks back at local midnight (00:00 UTC-3 → 23:00 UTC-4 of the 5th)
    # Then the repeated hour still belongs to the 5th, and the 6th starts at 04:00 UTC
    assert chile_date(utc(2025, 4, 6, 2, 59)) == date(2025, 4, 5)
    assert chile_date(utc(2025, 4, 6, 3, 30)) == date(2025, 4, 5)  # 23:30 again, now UTC-4
    assert chile_date(utc(2025, 4, 6, 3, 59, 59)) == date(2025, 4, 5)
    assert chile_date(utc(2025, 4, 6, 4, 0)) == date(2025, 4, 6)


def test_dst_starts_first_sunday_of_september() -> None:
    # Given 2025-09-07, when Chile jumps from 00:00 UTC-4 to 01:00 UTC-3 (local midnight never happens)
    # Then 03:59 UTC is still the 6th and 04:00 UTC is 01:00 of the 7th
    assert chile_date(utc(2025, 9, 7, 3, 59, 59)) == date(2025, 9, 6)
    assert chile_date(utc(2025, 9, 7, 4, 0)) == date(2025, 9, 7)
    assert emission_date(utc(2025, 9, 7, 4, 0)) == midnight(date(2025, 9, 7))


def test_bsale_intro_example() -> None:
    # Given the instant of Bsale's own example, 2016-05-06 09:45:31 UTC (05:45 in Chile)
    # Then the emission date is the value Bsale answered: 2016-05-06 00:00 UTC
    assert emission_date(datetime.fromtimestamp(1462527931, tz=UTC)) == 1462492800


def test_any_timezone_is_fine_but_naive_times_are_refused() -> None:
    # Given the same instant written in another offset
    tokyo = datetime(2025, 3, 15, 11, 30, tzinfo=timezone(timedelta(hours=9)))  # = 02:30 UTC
    assert chile_date(tokyo) == date(2025, 3, 14)
    # Given a naive datetime, it has no instant: refused
    with pytest.raises(ValueError, match="timezone"):
        chile_date(datetime(2025, 3, 15, 2, 30))


def test_every_hour_of_two_years_maps_to_a_chilean_midnight() -> None:
    # Given every hour of 2024 and 2025
    start = utc(2024, 1, 1)
    for hour in range(0, 2 * 366 * 24):
        instant = start + timedelta(hours=hour)
        stamp = emission_date(instant)
        # Then the value is a UTC midnight, at most one day before the UTC date, never after it
        assert stamp % 86_400 == 0
        assert date_at_utc_midnight(instant.date()) - 86_400 <= stamp <= date_at_utc_midnight(instant.date())
