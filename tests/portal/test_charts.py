"""The chart layout of the portal, as pure geometry: no web, no database."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taktline.portal import charts
from taktline.portal.charts import BarIn, GanttBarIn, GanttRowIn, Zoom

UTC_ZONE = ZoneInfo("UTC")
CHICAGO = ZoneInfo("America/Chicago")
DAY = date(2030, 1, 7)
START = datetime(2030, 1, 7, tzinfo=UTC)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def bar(row: str, start: float, end: float, key: str = "", number: str = "WO-000001") -> GanttBarIn:
    return GanttBarIn(
        row=row,
        start=at(start),
        end=at(end),
        labels=(f"{number} · SKU-1 · 5,000", number),
        title=f"{number} from {start} to {end}",
        href=f"/work-orders/{number}",
        css="SCHEDULED",
        key=key or f"{row}-{start}-{end}",
    )


ROWS = [GanttRowIn("a", "Line A", "A"), GanttRowIn("b", "Line B", "B")]


def day_chart(bars: list[GanttBarIn], now: datetime | None = None, **kwargs) -> charts.Gantt:
    start, end = charts.zoom_window(Zoom.DAY, DAY, UTC_ZONE)
    return charts.gantt(ROWS, bars, start, end, now, UTC_ZONE, Zoom.DAY, **kwargs)


# --- windows and ticks -----------------------------------------------------------------------


def test_the_day_and_week_windows_run_from_local_midnight() -> None:
    day = charts.zoom_window(Zoom.DAY, DAY, CHICAGO)
    week = charts.zoom_window(Zoom.WEEK, DAY, CHICAGO)

    assert day == (datetime(2030, 1, 7, 6, tzinfo=UTC), datetime(2030, 1, 8, 6, tzinfo=UTC))
    assert week[0] == day[0]
    assert week[1] - week[0] == timedelta(days=7)


def test_a_day_of_the_spring_clock_change_has_23_hours_and_23_hourly_ticks_plus_the_end() -> None:
    start, end = charts.zoom_window(Zoom.DAY, date(2030, 3, 10), CHICAGO)

    ticks = charts.time_ticks(start, end, CHICAGO, Zoom.DAY)

    assert charts.hours_between(start, end) == 23
    assert len(ticks) == 24
    assert [label for _, label, _ in ticks][:4] == ["00:00", "01:00", "03:00", "04:00"]


def test_day_ticks_are_hourly_with_majors_every_six_hours() -> None:
    chart = day_chart([])

    assert len(chart.ticks) == 25
    assert [t.label for t in chart.ticks if t.major] == [
        "00:00",
        "06:00",
        "12:00",
        "18:00",
        "00:00",
    ]
    assert chart.ticks[0].x == chart.plot_x
    assert chart.ticks[-1].x == pytest.approx(chart.plot_right)
    gaps = {round(b.x - a.x, 1) for a, b in zip(chart.ticks, chart.ticks[1:], strict=False)}
    assert gaps == {round(chart.plot_width / 24, 1)}


def test_week_ticks_mark_each_midnight_as_a_major_with_the_day() -> None:
    start, end = charts.zoom_window(Zoom.WEEK, DAY, UTC_ZONE)

    chart = charts.gantt(ROWS, [], start, end, None, UTC_ZONE, Zoom.WEEK)

    majors = [t for t in chart.ticks if t.major]
    assert [t.label for t in majors][:2] == ["Mon 07 Jan", "Tue 08 Jan"]
    assert len(majors) == 8
    assert len(chart.ticks) == 7 * 4 + 1
    assert majors[1].x - majors[0].x == pytest.approx(chart.plot_width / 7)


def test_zoom_shifts_by_a_day_or_a_week() -> None:
    assert charts.shift(Zoom.DAY, DAY, 1) == date(2030, 1, 8)
    assert charts.shift(Zoom.DAY, DAY, -1) == date(2030, 1, 6)
    assert charts.shift(Zoom.WEEK, DAY, 1) == date(2030, 1, 14)
    assert charts.shift(Zoom.WEEK, DAY, -1) == date(2029, 12, 31)
    assert charts.week_start(date(2030, 1, 10)) == DAY


# --- the Gantt chart -------------------------------------------------------------------------


def test_a_bar_spans_its_window_on_its_row() -> None:
    chart = day_chart([bar("b", 6, 12)])

    (placed,) = chart.bars
    row_b = chart.rows[1]
    assert placed.x == pytest.approx(chart.plot_x + chart.plot_width * 6 / 24)
    assert placed.width == pytest.approx(chart.plot_width * 6 / 24, abs=0.02)
    assert row_b.y < placed.y < placed.y + placed.height < row_b.y + row_b.height
    assert not placed.clipped_start
    assert not placed.clipped_end


def test_the_now_line_is_where_now_is_and_absent_outside_the_window() -> None:
    assert day_chart([], now=at(0)).now_x == pytest.approx(day_chart([]).plot_x)
    middle = day_chart([], now=at(12))
    assert middle.now_x == pytest.approx(middle.plot_x + middle.plot_width / 2)
    assert day_chart([], now=at(-1)).now_x is None
    assert day_chart([], now=at(25)).now_x is None


def test_bars_outside_the_window_are_left_out_and_bars_across_its_edges_are_clipped() -> None:
    chart = day_chart([bar("a", -5, -1), bar("a", -2, 3), bar("a", 20, 30), bar("a", 30, 31)])

    assert len(chart.bars) == 2
    first, last = chart.bars
    assert first.x == chart.plot_x
    assert first.clipped_start
    assert last.x + last.width == pytest.approx(chart.plot_right)
    assert last.clipped_end


def test_bars_of_unknown_rows_are_left_out() -> None:
    assert day_chart([bar("nowhere", 1, 2)]).bars == []


def test_overlapping_bars_of_a_row_take_lanes_and_the_row_grows() -> None:
    single = day_chart([bar("a", 1, 3)])
    chart = day_chart([bar("a", 1, 3), bar("a", 2, 4), bar("a", 3, 5), bar("b", 1, 2)])

    lanes = [b.lane for b in chart.bars if b.row == "a"]
    assert sorted(lanes) == [0, 0, 1]  # 1-3 and 3-5 touch, half-open: one lane
    assert chart.rows[0].lanes == 2
    assert chart.rows[0].height > single.rows[0].height
    assert chart.rows[1].y == chart.rows[0].y + chart.rows[0].height
    assert chart.height == chart.rows[1].y + chart.rows[1].height


def test_labels_are_the_longest_that_fits_else_the_number_else_none() -> None:
    wide, medium, narrow = day_chart([bar("a", 0, 10), bar("a", 12, 14), bar("a", 20, 20.2)]).bars

    assert wide.text == "WO-000001 · SKU-1 · 5,000"
    assert medium.text == "WO-000001"
    assert narrow.text is None
    assert narrow.title == "WO-000001 from 20 to 20.2"


def test_a_very_short_bar_stays_visible_and_inside_the_plot() -> None:
    (tiny,) = day_chart([bar("a", 23.999, 24)]).bars

    assert tiny.width == charts.MIN_BAR_WIDTH
    assert tiny.x + tiny.width <= day_chart([]).plot_right + 1e-9


def test_at_most_max_bars_are_drawn_and_the_rest_counted() -> None:
    bars = [bar("a", i * 0.1, i * 0.1 + 0.05, key=str(i)) for i in range(30)]

    chart = day_chart(bars, max_bars=10)

    assert len(chart.bars) == 10
    assert chart.dropped == 20
    assert [b.key for b in chart.bars] == [str(i) for i in range(10)]


def test_bars_by_row_groups_the_bars_of_every_row() -> None:
    chart = day_chart([bar("a", 1, 2), bar("b", 3, 4), bar("a", 5, 6)])

    grouped = chart.bars_by_row()

    assert list(grouped) == ["a", "b"]
    assert [b.start for b in grouped["a"]] == [at(1), at(5)]


def test_the_chart_refuses_an_empty_window() -> None:
    with pytest.raises(ValueError, match="after its start"):
        charts.gantt(ROWS, [], START, START, None, UTC_ZONE, Zoom.DAY)


spans = st.tuples(st.floats(-30, 50), st.floats(0.01, 30)).map(lambda p: (p[0], p[0] + p[1]))


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), spans), max_size=60))
def test_every_bar_stays_inside_the_plot_and_its_row_and_lanes_never_overlap(items) -> None:
    chart = day_chart([bar(row, s, e, key=str(i)) for i, (row, (s, e)) in enumerate(items)])

    rows = {r.key: r for r in chart.rows}
    for b in chart.bars:
        assert chart.plot_x - 1e-6 <= b.x
        assert b.x + b.width <= chart.plot_right + 1e-6
        assert rows[b.row].y <= b.y
        assert b.y + b.height <= rows[b.row].y + rows[b.row].height
        assert b.lane < rows[b.row].lanes
    for one in chart.bars:
        for other in chart.bars:
            if one is not other and one.row == other.row and one.lane == other.lane:
                assert one.end <= other.start or other.end <= one.start


# --- load -------------------------------------------------------------------------------------


def test_hours_per_window_clips_each_booking_to_each_window() -> None:
    windows = [(at(0), at(24)), (at(24), at(48))]

    hours = charts.hours_per_window(windows, [(at(22), at(26)), (at(30), at(31)), (at(50), at(60))])

    assert hours == [2.0, 3.0]


# --- the bar chart ---------------------------------------------------------------------------


def test_bar_heights_follow_the_values_on_an_axis_above_the_reference() -> None:
    chart = charts.bar_chart(
        [BarIn("Mon", 12, "12 h"), BarIn("Tue", 0, "0 h"), BarIn("Wed", 30, "30 h")],
        reference=24,
        reference_label="24 h available",
    )

    mon, tue, wed = chart.bars
    assert chart.top >= 30
    assert mon.height == pytest.approx(chart.plot_height * 12 / chart.top, abs=0.02)
    assert tue.height == 0
    assert tue.value_text == ""
    assert mon.y + mon.height == pytest.approx(chart.plot_bottom)
    assert chart.reference_y == pytest.approx(
        chart.plot_bottom - chart.plot_height * 24 / chart.top
    )
    assert (mon.over, tue.over, wed.over) == (False, False, True)
    assert chart.y_ticks[0].label == "0"
    assert chart.y_ticks[-1].y == pytest.approx(chart.plot_y)


def test_bars_sit_side_by_side_inside_the_plot() -> None:
    chart = charts.bar_chart([BarIn(str(i), i, "") for i in range(14)], reference=24)

    for left, right in zip(chart.bars, chart.bars[1:], strict=False):
        assert left.x + left.width < right.x
    assert chart.bars[0].x >= chart.plot_x
    assert chart.bars[-1].x + chart.bars[-1].width <= chart.plot_right
    assert chart.top == 24


def test_an_empty_load_still_has_an_axis() -> None:
    chart = charts.bar_chart([BarIn("Mon", 0, "")])

    assert chart.top >= 1
    assert chart.reference_y is None
    assert len(chart.y_ticks) >= 2


def test_on_the_day_of_a_clock_change_positions_follow_real_time() -> None:
    start, end = charts.zoom_window(Zoom.DAY, date(2030, 3, 10), CHICAGO)
    noon = datetime(2030, 3, 10, 12, tzinfo=CHICAGO)  # 11 real hours after midnight

    chart = charts.gantt(ROWS, [], start, end, noon, CHICAGO, Zoom.DAY)

    assert chart.now_x == pytest.approx(chart.plot_x + chart.plot_width * 11 / 23, abs=0.01)
    assert [t.x for t in chart.ticks if t.label == "12:00"] == [chart.now_x]
