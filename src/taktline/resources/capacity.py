"""How many jobs a resource runs at a time, as pure functions over windows.

Used to refuse a booking that would put a resource beyond its parallel capacity, and to
find the earliest window where a job fits. Windows are half-open: [start, end).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

Window = tuple[datetime, datetime]


def overlaps(a: Window, b: Window) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def peak_load(window: Window, booked: Iterable[Window]) -> int:
    """The most booked windows running at one instant inside `window`."""
    inside = [(max(s, window[0]), min(e, window[1])) for s, e in booked if overlaps((s, e), window)]
    points = sorted([(s, 1) for s, _ in inside] + [(e, -1) for _, e in inside])
    peak = running = 0
    for _, delta in points:  # ends sort before starts at the same instant: half-open windows
        running += delta
        peak = max(peak, running)
    return peak


def fits(window: Window, booked: Sequence[Window], capacity: int) -> bool:
    return peak_load(window, booked) < capacity


def earliest_fit(
    not_before: datetime, duration: timedelta, booked: Sequence[Window], capacity: int
) -> Window:
    """The earliest window of `duration` starting at or after `not_before` that fits.

    One sweep over the booked windows in time order (O(n log n)): it tracks since when the
    load has stayed below `capacity`, and answers as soon as such a stretch is long enough.
    """
    points = sorted([(s, 1) for s, _ in booked] + [(e, -1) for _, e in booked])
    load = 0
    free_since: datetime | None = not_before
    for at, delta in points:  # ends sort before starts at one instant: windows are half-open
        if free_since is not None and at - max(free_since, not_before) >= duration:
            start = max(free_since, not_before)
            return start, start + duration
        load += delta
        if load >= capacity:
            free_since = None
        elif free_since is None:
            free_since = at
    start = max(free_since or not_before, not_before)
    return start, start + duration


def over_capacity_per_run(
    capacity_max: Decimal | None, capacity_unit: str | None, quantity: Decimal, unit: str
) -> bool:
    """Whether one run of `quantity` exceeds what the resource takes per run. A capacity in
    another unit than the work's says nothing about it."""
    return capacity_max is not None and capacity_unit == unit and quantity > capacity_max
