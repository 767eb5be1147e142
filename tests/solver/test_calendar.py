from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from taktline.solver.calendar import Calendar, expand_weekly, merge, subtract


def test_intervals_are_merged_sorted_and_touching_ones_joined() -> None:
    assert merge([(10, 20), (0, 5), (5, 8), (15, 30), (40, 40)]) == ((0, 8), (10, 30))
    assert Calendar(((10, 20), (20, 30))).intervals == ((10, 30),)


def test_subtract_cuts_holes() -> None:
    assert subtract([(0, 100)], [(10, 20), (50, 200)]) == ((0, 10), (20, 50))


def test_next_fit_needs_one_stretch_long_enough() -> None:
    cal = Calendar(((0, 10), (20, 25), (30, 60)))
    assert cal.next_fit(0, 10) == 0
    assert cal.next_fit(1, 10) == 30  # 20-25 is too short
    assert cal.next_fit(22, 3) == 22
    assert cal.next_fit(23, 3) == 30
    assert cal.next_fit(0, 31) is None
    assert cal.next_fit(55, 0) == 55


def test_finish_counts_working_minutes_only() -> None:
    cal = Calendar(((0, 10), (20, 25), (30, 60)))
    assert cal.finish(5, 5) == 10
    assert cal.finish(5, 6) == 21
    assert cal.finish(5, 10) == 25
    assert cal.finish(5, 11) == 31
    assert cal.finish(0, 45) == 60
    assert cal.finish(0, 46) is None
    assert cal.working_minutes(5, 31) == 11
    assert cal.next_working(12) == 20
    assert cal.next_working(60) is None


def test_gaps_and_stretches() -> None:
    cal = Calendar(((0, 10), (20, 25)))
    assert cal.gaps(-5, 40) == [(-5, 0), (10, 20), (25, 40)]
    assert cal.stretch_containing(22) == (20, 25)
    assert cal.stretch_containing(15) is None
    assert cal.longest_stretch() == 10
    assert cal.longest_stretch(21) == 4


CHICAGO = ZoneInfo("America/Chicago")


def test_weekly_hours_in_the_facility_time_zone() -> None:
    # Monday 2025-01-06 00:00 Chicago = 06:00 UTC; a 06:00-14:00 shift Monday to Friday.
    origin = datetime(2025, 1, 6, 6, 0, tzinfo=UTC)
    until = datetime(2025, 1, 13, 6, 0, tzinfo=UTC)
    weekday_shift = {d: [(time(6), time(14))] for d in range(5)}
    cal = expand_weekly(weekday_shift, "America/Chicago", origin, until)
    assert len(cal.intervals) == 5
    assert cal.intervals[0] == (6 * 60, 14 * 60)
    assert cal.intervals[4] == (4 * 1440 + 360, 4 * 1440 + 840)


def test_night_shift_runs_past_midnight_and_shifts_touching_merge() -> None:
    origin = datetime(2025, 1, 6, 0, 0, tzinfo=CHICAGO)
    until = datetime(2025, 1, 8, 0, 0, tzinfo=CHICAGO)
    three_shifts = {
        d: [(time(6), time(14)), (time(14), time(22)), (time(22), time(6))] for d in range(7)
    }
    cal = expand_weekly(three_shifts, "America/Chicago", origin, until)
    assert cal.intervals == ((0, 2 * 1440),)


def test_daylight_saving_keeps_local_hours() -> None:
    # 2025-03-09: clocks in Chicago go from 02:00 to 03:00.
    origin = datetime(2025, 3, 8, 0, 0, tzinfo=CHICAGO)
    until = datetime(2025, 3, 11, 0, 0, tzinfo=CHICAGO)
    cal = expand_weekly(
        {d: [(time(6), time(14))] for d in range(7)}, "America/Chicago", origin, until
    )
    # Saturday 06:00 CST, Sunday 06:00 CDT (one hour earlier in UTC), Monday 06:00 CDT.
    assert cal.intervals[0] == (360, 840)
    assert cal.intervals[1] == (1440 + 360 - 60, 1440 + 840 - 60)
    assert cal.intervals[2] == (2880 + 360 - 60, 2880 + 840 - 60)
    # A night shift over the change is one hour shorter: 22:00 to 06:00 is 7 hours.
    night = expand_weekly({5: [(time(22), time(6))]}, "America/Chicago", origin, until)
    ((s, e),) = night.intervals
    assert e - s == 7 * 60


def test_closures_and_openings() -> None:
    origin = datetime(2025, 1, 6, 0, 0, tzinfo=CHICAGO)
    until = datetime(2025, 1, 8, 0, 0, tzinfo=CHICAGO)
    hours = {d: [(time(8), time(16))] for d in range(7)}
    maintenance = (
        datetime(2025, 1, 6, 10, 0, tzinfo=CHICAGO),
        datetime(2025, 1, 6, 11, 30, tzinfo=CHICAGO),
    )
    overtime = (
        datetime(2025, 1, 7, 16, 0, tzinfo=CHICAGO),
        datetime(2025, 1, 7, 18, 0, tzinfo=CHICAGO),
    )
    cal = expand_weekly(
        hours, "America/Chicago", origin, until, closures=[maintenance], openings=[overtime]
    )
    assert cal.intervals == ((480, 600), (690, 960), (1440 + 480, 1440 + 1080))


def test_holiday_removes_a_day_and_the_horizon_clips() -> None:
    origin = datetime(2025, 12, 24, 0, 0, tzinfo=CHICAGO)
    until = datetime(2025, 12, 26, 12, 0, tzinfo=CHICAGO)
    christmas = (
        datetime(2025, 12, 25, 0, 0, tzinfo=CHICAGO),
        datetime(2025, 12, 26, 0, 0, tzinfo=CHICAGO),
    )
    cal = expand_weekly(
        {d: [(time(8), time(16))] for d in range(7)},
        "America/Chicago",
        origin,
        until,
        closures=[christmas],
    )
    assert cal.intervals == ((480, 960), (2880 + 480, 2880 + 720))
