"""Calendar dates, partial dates and calendar-month arithmetic.

Pure functions, no I/O. A partial date (``YYYY-MM``) stands for a whole month; the rules read it at
whichever end of the month gives the safer conclusion, so it exposes both ends.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_FULL = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def add_months(day: date, months: int) -> date:
    """Calendar arithmetic: Aug 31 + 6 months = Feb 28 (29 in a leap year)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def whole_months_between(start: date, end: date) -> int:
    """The largest m with ``add_months(start, m) <= end`` (0 when end is before start + 1 month)."""
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + (end.month - start.month)
    while months > 0 and add_months(start, months) > end:
        months -= 1
    return months


def parse_full_date(text: str) -> date:
    """``YYYY-MM-DD`` only; raises ValueError with a plain reason."""
    match = _FULL.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a date in the form YYYY-MM-DD")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a real calendar date") from None


@dataclass(frozen=True)
class PartialDate:
    """A date known to the day, or only to the month (``day`` is None).

    Deliberately not orderable: comparing a month with a day has no safe answer, so callers compare
    ``earliest`` or ``latest()``, choosing the end that gives the safer conclusion."""

    year: int
    month: int
    day: int | None = None

    @classmethod
    def parse(cls, text: str) -> "PartialDate":
        if _FULL.match(text):
            full = parse_full_date(text)
            return cls(full.year, full.month, full.day)
        match = _MONTH.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a date in the form YYYY-MM-DD or YYYY-MM")
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12 or year < 1:
            raise ValueError(f"{text!r} is not a real calendar month")
        return cls(year, month, None)

    @property
    def earliest(self) -> date:
        return date(self.year, self.month, self.day or 1)

    def latest(self, not_after: date | None = None) -> date:
        """The last day this date can be; a month is capped at ``not_after`` (it cannot be later)."""
        if self.day is not None:
            return date(self.year, self.month, self.day)
        last = date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])
        return min(last, not_after) if not_after else last

    def __str__(self) -> str:
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
