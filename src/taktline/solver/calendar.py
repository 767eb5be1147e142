"""Working calendars: when a resource works, as sorted half-open intervals of minutes.

A `Calendar` answers the questions the schedulers ask, each in O(log n) with bisect:
where does an operation of d minutes fit without interruption, and where does an
interruptible one that starts at s end (only working minutes count). A resource without a
calendar always works. Outside the intervals nothing works, also after the last one: the
database layer expands calendars over a horizon long enough for the work.

`expand_weekly` turns the plain description the database keeps (weekly hours per weekday
in the facility's time zone, plus exceptions) into a `Calendar` in minutes from an origin.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[int, int]


def merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, disjoint, non-adjacent intervals: touching ones are one working stretch."""
    out: list[list[int]] = []
    for s, e in sorted(iv for iv in intervals if iv[1] > iv[0]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return tuple((s, e) for s, e in out)


def subtract(intervals: Sequence[Interval], holes: Iterable[Interval]) -> tuple[Interval, ...]:
    result = list(merge(intervals))
    for hs, he in merge(holes):
        nxt: list[Interval] = []
        for s, e in result:
            if he <= s or e <= hs:
                nxt.append((s, e))
                continue
            if s < hs:
                nxt.append((s, hs))
            if he < e:
                nxt.append((he, e))
        result = nxt
    return merge(result)


@dataclass(frozen=True)
class Calendar:
    """Working intervals [start, end) in minutes; normalised (merged and sorted) on creation."""

    intervals: tuple[Interval, ...]
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ends: tuple[int, ...] = field(init=False, repr=False, compare=False)
    # _cum[k]: working minutes before interval k.
    _cum: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ivs = merge(self.intervals)
        object.__setattr__(self, "intervals", ivs)
        object.__setattr__(self, "_starts", tuple(s for s, _ in ivs))
        object.__setattr__(self, "_ends", tuple(e for _, e in ivs))
        cum = [0]
        for s, e in ivs:
            cum.append(cum[-1] + e - s)
        object.__setattr__(self, "_cum", tuple(cum))

    @property
    def start(self) -> int:
        return self._starts[0] if self._starts else 0

    @property
    def end(self) -> int:
        return self._ends[-1] if self._ends else 0

    def is_working(self, t: int) -> bool:
        k = bisect_right(self._starts, t) - 1
        return k >= 0 and t < self._ends[k]

    def worked_before(self, t: int) -> int:
        """Working minutes in (-inf, t)."""
        k = bisect_right(self._starts, t) - 1
        if k < 0:
            return 0
        return self._cum[k] + min(t, self._ends[k]) - self._starts[k]

    def working_minutes(self, a: int, b: int) -> int:
        return max(0, self.worked_before(b) - self.worked_before(a)) if b > a else 0

    def next_working(self, t: int) -> int | None:
        """The first working minute at or after t."""
        k = bisect_right(self._ends, t)
        if k == len(self._ends):
            return None
        return max(t, self._starts[k])

    def next_fit(self, t: int, duration: int) -> int | None:
        """The earliest s >= t with [s, s + duration) inside one working interval."""
        if duration <= 0:
            return t
        k = bisect_right(self._ends, t)
        while k < len(self._ends):
            s = max(t, self._starts[k])
            if s + duration <= self._ends[k]:
                return s
            k += 1
        return None

    def finish(self, start: int, duration: int) -> int | None:
        """Where an interruptible operation that starts at working minute `start` ends."""
        if duration <= 0:
            return start
        target = self.worked_before(start) + duration
        if target > self._cum[-1]:
            return None
        # The interval in which the target-th working minute ends.
        k = bisect_left(self._cum, target) - 1
        return self._starts[k] + target - self._cum[k]

    def stretch_containing(self, t: int) -> Interval | None:
        k = bisect_right(self._starts, t) - 1
        if k >= 0 and t < self._ends[k]:
            return self._starts[k], self._ends[k]
        return None

    def longest_stretch(self, t: int = 0) -> int:
        return max((e - max(s, t) for s, e in self.intervals if e > t), default=0)

    def gaps(self, a: int, b: int) -> list[Interval]:
        """The non-working intervals inside [a, b)."""
        out: list[Interval] = []
        at = a
        for s, e in self.intervals:
            if e <= at:
                continue
            if s >= b:
                break
            if s > at:
                out.append((at, s))
            at = max(at, e)
        if at < b:
            out.append((at, b))
        return out


def always_working(start: int, end: int) -> Calendar:
    return Calendar(((start, end),))


# ---- from weekly hours in a time zone ------------------------------------------------------


def to_minutes(at: datetime, origin: datetime) -> int:
    """Whole minutes from `origin` (both aware), rounded down."""
    return int((at - origin).total_seconds() // 60)


def from_minutes(minutes: int, origin: datetime) -> datetime:
    return origin + timedelta(minutes=minutes)


def _ceil_minutes(at: datetime, origin: datetime) -> int:
    return -int(-(at - origin).total_seconds() // 60)


WeeklyHours = Mapping[int, Sequence[tuple[time, time]]]
"""Weekday (0 = Monday .. 6 = Sunday) -> working hours (from, to) in local time. A `to` at or
before `from` runs past midnight into the next day (a night shift; 00:00 means midnight)."""


def expand_weekly(
    weekly: WeeklyHours,
    time_zone: str,
    origin: datetime,
    until: datetime,
    closures: Sequence[tuple[datetime, datetime]] = (),
    openings: Sequence[tuple[datetime, datetime]] = (),
) -> Calendar:
    """Working intervals in minutes from `origin` (UTC) up to `until`.

    Weekly hours are read in the facility's time zone, so a shift from 06:00 to 14:00 stays
    06:00-14:00 local across daylight-saving changes (and is 7 or 9 hours long on the night
    the clocks change, if it spans 02:00). `closures` (holidays, maintenance) are taken out
    and `openings` (extra shifts) added, both as aware datetimes. Working time is rounded
    inwards to whole minutes, so no minute counted as working is outside the hours given.
    """
    if origin.tzinfo is None or until.tzinfo is None:
        raise ValueError("origin and until must be time-zone aware datetimes")
    zone = ZoneInfo(time_zone)
    origin_utc = origin.astimezone(UTC)
    first: date = origin.astimezone(zone).date() - timedelta(days=1)
    last: date = until.astimezone(zone).date()
    raw: list[Interval] = []
    day = first
    while day <= last:
        for start_t, end_t in weekly.get(day.weekday(), ()):
            begin = datetime.combine(day, start_t, zone)
            finish_day = day if end_t > start_t else day + timedelta(days=1)
            finish = datetime.combine(finish_day, end_t, zone)
            raw.append(
                (
                    _ceil_minutes(begin.astimezone(UTC), origin_utc),
                    to_minutes(finish.astimezone(UTC), origin_utc),
                )
            )
        day += timedelta(days=1)
    extra = [(_ceil_minutes(s, origin_utc), to_minutes(e, origin_utc)) for s, e in openings]
    holes = [(to_minutes(s, origin_utc), _ceil_minutes(e, origin_utc)) for s, e in closures]
    limit = to_minutes(until.astimezone(UTC), origin_utc)
    working = subtract(merge(raw + extra), [*holes, (-(10**12), 0), (limit, 10**12)])
    return Calendar(working)
