"""Business time: working hours in a time zone, public holidays by country (from the
``holidays`` package, which also knows China's adjusted working weekends), and explicit
extra working days and days off that override both.

A working weekend day (an adjusted Saturday) uses Monday's hours. All arithmetic is done
in the calendar's local time and returned as aware UTC datetimes."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 800


def _parse_hours(
    raw: Mapping[str, Iterable[Iterable[str]]],
) -> dict[int, tuple[tuple[time, time], ...]]:
    out: dict[int, tuple[tuple[time, time], ...]] = {}
    for index, name in enumerate(WEEKDAYS):
        spans = []
        for start, end in raw.get(name, ()):
            spans.append((time.fromisoformat(start), time.fromisoformat(end)))
        out[index] = tuple(sorted(spans))
    return out


@dataclass(frozen=True)
class Calendar:
    name: str
    timezone: str
    weekly_hours: Mapping[str, Iterable[Iterable[str]]]
    holiday_country: str | None = None
    extra_working_days: frozenset[date] = frozenset()
    days_off: frozenset[date] = frozenset()
    _hours: dict[int, tuple[tuple[time, time], ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hours", _parse_hours(self.weekly_hours))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def spans(self, day: date) -> tuple[tuple[time, time], ...]:
        """The working intervals of a local date (empty on a day off)."""
        if day in self.days_off:
            return ()
        weekly = self._hours[day.weekday()]
        if day in self.extra_working_days:
            return weekly or self._hours[0]
        if self.holiday_country:
            calendar = _country(self.holiday_country, day.year)
            if day in calendar:
                return ()
            if day in calendar.weekend_workdays:
                return weekly or self._hours[0]
        return weekly

    def _intervals(self, start: datetime) -> Iterable[tuple[datetime, datetime]]:
        zone = self.zone
        local = start.astimezone(zone)
        day = local.date()
        for _ in range(MAX_DAYS):
            for begin, end in self.spans(day):
                a = datetime.combine(day, begin, zone)
                b = datetime.combine(day, end, zone)
                if b > local:
                    yield max(a, local), b
            day += timedelta(days=1)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of business time after ``start``."""
        left = seconds
        for a, b in self._intervals(start):
            span = (b - a).total_seconds()
            if left <= span:
                return (a + timedelta(seconds=left)).astimezone(UTC)
            left -= span
        raise ValueError(f"calendar {self.name} has no working time within {MAX_DAYS} days")

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds from ``start`` to ``end`` (0 when end is not later)."""
        if end <= start:
            return 0.0
        total = 0.0
        for a, b in self._intervals(start):
            if a >= end:
                break
            total += (min(b, end) - a).total_seconds()
        return total


@functools.lru_cache(maxsize=64)
def _country(code: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(code, years=year)


ALWAYS = Calendar("24x7", "UTC", {d: [["00:00", "23:59:59.999999"]] for d in WEEKDAYS})
