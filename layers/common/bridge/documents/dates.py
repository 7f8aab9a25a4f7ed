"""The emission date Bsale must receive: the Chilean calendar date, written as that date at 00:00 UTC.

Bsale keeps only the UTC date of `emissionDate` (it answered 1462492800 = 2016-05-06 00:00 UTC to a request
of 1462527931 = 09:45:31 UTC; reference/bsale.md §1.3). A Chilean evening is already the next day in UTC
(Chile is UTC-3 or UTC-4), so sending the real instant would date evening sales tomorrow. The fix: take the
local date in America/Santiago (daylight saving handled by zoneinfo) and send midnight UTC of that date.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

CHILE = ZoneInfo("America/Santiago")


def chile_date(instant: datetime) -> date:
    """The calendar date in continental Chile at `instant`. A naive datetime is refused: it has no instant."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required (naive times are ambiguous)")
    return instant.astimezone(CHILE).date()


def date_at_utc_midnight(day: date) -> int:
    """Unix seconds of `day` at 00:00 UTC: what Bsale stores for a date."""
    return calendar.timegm(day.timetuple())


def emission_date(instant: datetime) -> int:
    """Bsale `emissionDate` for a document emitted at `instant`."""
    return date_at_utc_midnight(chile_date(instant))
