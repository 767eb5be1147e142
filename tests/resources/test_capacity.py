"""Resource capacity as pure functions over half-open windows [start, end)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from taktline.resources.capacity import Window, earliest_fit, fits, overlaps, peak_load

T0 = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def w(start: float, end: float) -> Window:
    return (at(start), at(end))


# --- overlaps ------------------------------------------------------------------------------


def test_windows_that_share_an_instant_overlap() -> None:
    assert overlaps(w(0, 2), w(1, 3))
    assert overlaps(w(1, 3), w(0, 2))
    assert overlaps(w(0, 4), w(1, 2))


def test_windows_that_only_touch_do_not_overlap() -> None:
    assert not overlaps(w(0, 1), w(1, 2))
    assert not overlaps(w(1, 2), w(0, 1))


def test_disjoint_windows_do_not_overlap() -> None:
    assert not overlaps(w(0, 1), w(2, 3))


# --- peak_load -----------------------------------------------------------------------------


def test_peak_load_of_nothing_booked_is_zero() -> None:
    assert peak_load(w(0, 8), []) == 0


def test_peak_load_ignores_bookings_outside_the_window() -> None:
    assert peak_load(w(2, 4), [w(0, 1), w(5, 6)]) == 0


def test_peak_load_ignores_bookings_that_only_touch_the_window() -> None:
    assert peak_load(w(2, 4), [w(0, 2), w(4, 6)]) == 0


def test_back_to_back_bookings_never_run_at_the_same_instant() -> None:
    assert peak_load(w(0, 8), [w(0, 1), w(1, 2), w(2, 3)]) == 1


def test_peak_load_counts_bookings_running_at_the_same_instant() -> None:
    assert peak_load(w(0, 8), [w(0, 3), w(1, 4), w(2, 5)]) == 3


def test_peak_load_counts_only_what_runs_together_not_everything_in_the_window() -> None:
    # Three bookings in the window, but never more than two at once.
    assert peak_load(w(0, 8), [w(0, 2), w(1, 3), w(2, 4)]) == 2


def test_peak_load_counts_only_the_part_inside_the_window() -> None:
    # [0, 4) and [3, 6) run together only in [3, 4), which lies outside [4, 8).
    assert peak_load(w(4, 8), [w(0, 4), w(3, 6)]) == 1
    assert peak_load(w(0, 3), [w(0, 4), w(3, 6)]) == 1


def test_identical_bookings_all_count() -> None:
    assert peak_load(w(0, 8), [w(1, 2)] * 4) == 4


# --- fits ----------------------------------------------------------------------------------


def test_a_window_fits_a_free_resource() -> None:
    assert fits(w(0, 1), [], capacity=1)


def test_an_overlapping_window_does_not_fit_a_single_capacity_resource() -> None:
    assert not fits(w(1, 3), [w(0, 2)], capacity=1)


def test_a_window_fits_right_after_a_booking_ends() -> None:
    assert fits(w(2, 3), [w(0, 2)], capacity=1)
    assert fits(w(0, 2), [w(2, 3)], capacity=1)


def test_an_overlapping_window_fits_while_parallel_capacity_is_left() -> None:
    assert fits(w(1, 3), [w(0, 2)], capacity=2)
    assert not fits(w(1, 3), [w(0, 2), w(1, 2)], capacity=2)
    # Two bookings, but they do not run together: the new one makes at most two at once.
    assert fits(w(0, 4), [w(0, 2), w(2, 4)], capacity=2)


# --- earliest_fit --------------------------------------------------------------------------


def test_earliest_fit_on_a_free_resource_starts_at_once() -> None:
    assert earliest_fit(at(1), timedelta(hours=2), [], capacity=1) == w(1, 3)


def test_earliest_fit_waits_for_the_booking_in_the_way() -> None:
    assert earliest_fit(at(1), timedelta(hours=2), [w(0, 2)], capacity=1) == w(2, 4)


def test_earliest_fit_uses_a_gap_long_enough() -> None:
    booked = [w(0, 1), w(3, 5)]
    assert earliest_fit(at(0), timedelta(hours=2), booked, capacity=1) == w(1, 3)


def test_earliest_fit_skips_a_gap_too_short() -> None:
    booked = [w(0, 1), w(2, 5)]
    assert earliest_fit(at(0), timedelta(hours=2), booked, capacity=1) == w(5, 7)


def test_earliest_fit_runs_alongside_while_parallel_capacity_is_left() -> None:
    assert earliest_fit(at(0), timedelta(hours=2), [w(0, 4)], capacity=2) == w(0, 2)
    assert earliest_fit(at(0), timedelta(hours=2), [w(0, 4), w(1, 3)], capacity=2) == w(3, 5)


def test_earliest_fit_ignores_bookings_that_ended_before_not_before() -> None:
    assert earliest_fit(at(5), timedelta(hours=1), [w(0, 4)], capacity=1) == w(5, 6)


@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_earliest_fit_after_a_full_stack_starts_when_the_first_one_frees_a_slot(
    capacity: int,
) -> None:
    booked = [w(0, 1 + i) for i in range(capacity)]
    assert earliest_fit(at(0), timedelta(hours=1), booked, capacity) == w(1, 2)


# --- earliest_fit, as a property -----------------------------------------------------------

MINUTES = st.integers(min_value=0, max_value=24 * 60)
bookings = st.lists(
    st.tuples(MINUTES, st.integers(min_value=1, max_value=6 * 60)).map(
        lambda sd: (T0 + timedelta(minutes=sd[0]), T0 + timedelta(minutes=sd[0] + sd[1]))
    ),
    max_size=12,
)


def _load_at(instant: datetime, booked: list[Window]) -> int:
    """How many bookings run at `instant` (computed independently of the code under test)."""
    return sum(1 for s, e in booked if s <= instant < e)


def _brute_fits(window: Window, booked: list[Window], capacity: int) -> bool:
    # The load only changes at a booking's start or end: checking the window's start and
    # every such instant inside it checks every instant.
    instants = {window[0]} | {t for s, e in booked for t in (s, e) if window[0] <= t < window[1]}
    return all(_load_at(t, booked) < capacity for t in instants)


@given(
    booked=bookings,
    not_before=MINUTES.map(lambda m: T0 + timedelta(minutes=m)),
    minutes=st.integers(min_value=1, max_value=8 * 60),
    capacity=st.integers(min_value=1, max_value=3),
)
def test_earliest_fit_always_fits_and_nothing_earlier_does(
    booked: list[Window], not_before: datetime, minutes: int, capacity: int
) -> None:
    duration = timedelta(minutes=minutes)
    start, end = earliest_fit(not_before, duration, booked, capacity)

    assert start >= not_before
    assert end - start == duration
    assert fits((start, end), booked, capacity)
    assert _brute_fits((start, end), booked, capacity)

    # No candidate start before it fits: neither `not_before` nor any booking's end...
    candidates = {not_before} | {e for _, e in booked if e >= not_before}
    for candidate in sorted(c for c in candidates if c < start):
        assert not _brute_fits((candidate, candidate + duration), booked, capacity), candidate
    # ...nor any whole minute in between (the bookings are on whole minutes too).
    t = not_before
    while t < start:
        assert not _brute_fits((t, t + duration), booked, capacity), t
        t += timedelta(minutes=1)


@given(
    booked=bookings,
    window=st.tuples(MINUTES, st.integers(min_value=1, max_value=8 * 60)).map(
        lambda sd: (T0 + timedelta(minutes=sd[0]), T0 + timedelta(minutes=sd[0] + sd[1]))
    ),
    capacity=st.integers(min_value=1, max_value=3),
)
def test_fits_agrees_with_counting_bookings_at_every_instant(
    booked: list[Window], window: Window, capacity: int
) -> None:
    assert fits(window, booked, capacity) is _brute_fits(window, booked, capacity)


@given(booked=bookings, window=bookings.filter(bool).map(lambda ws: ws[0]))
def test_peak_load_never_exceeds_the_bookings_that_overlap_the_window(
    booked: list[Window], window: Window
) -> None:
    overlapping = [b for b in booked if overlaps(b, window)]
    assume(overlapping)
    assert 1 <= peak_load(window, booked) <= len(overlapping)
