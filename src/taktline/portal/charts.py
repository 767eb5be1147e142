"""Chart layout as plain geometry: a Gantt chart of bookings and a bar chart of load.

Pure functions from plain data (rows, bars, datetimes, numbers) to positioned shapes, in
SVG user units (pixels at 100 %). No web and no database here: a template turns the shapes
into SVG, and the tests check the geometry itself.

Times are aware datetimes; days and ticks follow the wall clock of the zone given, so a
day of a daylight-saving change is 23 or 25 hours long, as it is on the plant floor.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Zoom(StrEnum):
    DAY = "day"
    WEEK = "week"


ZOOM_DAYS = {Zoom.DAY: 1, Zoom.WEEK: 7}

# A generous average advance of a character of the bar labels (11px semibold sans-serif:
# about 6.5 in most system fonts, 8 for the digits of the wide DejaVu Sans), to decide
# whether a label fits inside its bar without measuring text. The template also clips each
# label to its bar, so a wider font cuts a label short rather than spilling over.
CHAR_WIDTH = 7.0
LABEL_PADDING = 4.0


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of `day` on the wall clock of `zone`, in UTC.

    In UTC because Python subtracts two datetimes of one tzinfo by their wall clocks: the
    day of a clock change would seem 24 hours long.
    """
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day_window(first_day: date, days: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From local midnight of `first_day` to local midnight `days` days later, in UTC."""
    return local_midnight(first_day, zone), local_midnight(first_day + timedelta(days=days), zone)


def week_start(day: date) -> date:
    """The Monday of the week of `day`."""
    return day - timedelta(days=day.weekday())


def zoom_window(zoom: Zoom, first_day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return day_window(first_day, ZOOM_DAYS[zoom], zone)


def shift(zoom: Zoom, first_day: date, steps: int) -> date:
    """The first day of the window `steps` windows before (negative) or after this one."""
    return first_day + timedelta(days=ZOOM_DAYS[zoom] * steps)


def fits_text(text: str, width: float) -> bool:
    return len(text) * CHAR_WIDTH + 2 * LABEL_PADDING <= width


def hours_between(start: datetime, end: datetime) -> float:
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600


def overlap_hours(window: tuple[datetime, datetime], start: datetime, end: datetime) -> float:
    """How many hours of [start, end) fall inside `window`."""
    lo, hi = max(window[0], start), min(window[1], end)
    return max(0.0, hours_between(lo, hi))


def hours_per_window(
    windows: Sequence[tuple[datetime, datetime]],
    booked: Sequence[tuple[datetime, datetime]],
) -> list[float]:
    """The booked hours inside each window: every booking clipped to it, summed (a resource
    running two jobs at once counts both)."""
    totals = [0.0] * len(windows)
    for start, end in booked:
        for i, window in enumerate(windows):
            totals[i] += overlap_hours(window, start, end)
    return totals


# --- the Gantt chart ---------------------------------------------------------------------


@dataclass(frozen=True)
class GanttRowIn:
    key: str
    label: str
    sublabel: str = ""
    href: str | None = None


@dataclass(frozen=True)
class GanttBarIn:
    row: str
    """The key of its row."""
    start: datetime
    end: datetime
    labels: tuple[str, ...]
    """Labels from the longest to the shortest ("WO-00012 · AJ-16OZ · 5,000", "WO-00012"):
    the bar shows the first that fits, or none."""
    title: str
    """The tooltip and the accessible name: everything about the bar."""
    href: str
    css: str
    """The state, used as the fill class: "SCHEDULED"."""
    key: str = ""
    hold: bool = False
    count: int = 1
    """How many line items it stands for: more than one for a busy block at coarse zoom."""


@dataclass(frozen=True)
class GanttRow:
    key: str
    label: str
    sublabel: str
    href: str | None
    y: float
    height: float
    lanes: int
    index: int

    @property
    def label_y(self) -> float:
        return self.y + min(self.height, 2 * ROW_PADDING + LANE_HEIGHT) / 2


@dataclass(frozen=True)
class GanttBar:
    x: float
    y: float
    width: float
    height: float
    text: str | None
    """The label drawn inside the bar (the template clips it to the bar, just in case)."""
    title: str
    href: str
    css: str
    key: str
    hold: bool
    lane: int
    clipped_start: bool
    clipped_end: bool
    start: datetime
    end: datetime
    row: str
    count: int = 1


@dataclass(frozen=True)
class Tick:
    x: float
    label: str
    major: bool


@dataclass(frozen=True)
class Gantt:
    width: float
    height: float
    plot_x: float
    plot_width: float
    axis_height: float
    start: datetime
    end: datetime
    rows: list[GanttRow]
    bars: list[GanttBar]
    ticks: list[Tick]
    now_x: float | None
    dropped: int
    """Bars left out beyond `max_bars` (the chart says so; zooming in shows them)."""

    @property
    def plot_right(self) -> float:
        return self.plot_x + self.plot_width

    @property
    def plot_bottom(self) -> float:
        return self.height

    def bars_by_row(self) -> dict[str, list[GanttBar]]:
        """The bars of each row (every row present), each row's in time order."""
        grouped: dict[str, list[GanttBar]] = {r.key: [] for r in self.rows}
        for b in self.bars:
            grouped[b.row].append(b)
        return grouped


LANE_HEIGHT = 26.0
ROW_PADDING = 5.0
BAR_GAP = 3.0
MIN_BAR_WIDTH = 2.0


def assign_lanes(spans: Sequence[tuple[datetime, datetime]]) -> list[int]:
    """A lane for each span so that spans of one lane never overlap: the first lane free at
    its start, taking spans in order of start (the fewest lanes possible)."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], spans[i][1]))
    lane_ends: list[datetime] = []
    lanes = [0] * len(spans)
    for i in order:
        start, end = spans[i]
        for lane, busy_until in enumerate(lane_ends):
            if busy_until <= start:
                lanes[i] = lane
                lane_ends[lane] = end
                break
        else:
            lanes[i] = len(lane_ends)
            lane_ends.append(end)
    return lanes


def time_ticks(
    start: datetime, end: datetime, zone: ZoneInfo, zoom: Zoom
) -> list[tuple[datetime, str, bool]]:
    """The gridlines of the time axis, on whole hours of the zone's wall clock: every hour
    (major every 6) for a day, every 6 hours (major at midnight) for a week."""
    step_hours = 1 if zoom is Zoom.DAY else 6
    ticks: list[tuple[datetime, str, bool]] = []
    at, end = start.astimezone(UTC), end.astimezone(UTC)
    quarter = timedelta(minutes=15)  # whole local hours, in zones off UTC by 30 or 45 min too
    while at <= end:
        local = at.astimezone(zone)
        if local.minute == 0 and local.hour % step_hours == 0:
            if zoom is Zoom.DAY:
                ticks.append((at, local.strftime("%H:%M"), local.hour % 6 == 0))
            elif local.hour == 0:
                ticks.append((at, local.strftime("%a %d %b"), True))
            else:
                ticks.append((at, local.strftime("%H"), False))
        at += quarter
    return ticks


def gantt(
    rows: Sequence[GanttRowIn],
    bars: Sequence[GanttBarIn],
    start: datetime,
    end: datetime,
    now: datetime | None,
    zone: ZoneInfo,
    zoom: Zoom,
    *,
    width: float = 1240,
    label_width: float = 180,
    right_margin: float = 24,
    axis_height: float = 34,
    max_bars: int = 2000,
) -> Gantt:
    """Lays out one row per resource and one bar per booking between `start` and `end`.

    Bars are clipped to the window (and marked so); bars of one row that overlap in time
    (a resource running several jobs at once) go to lanes of their own, and the row grows.
    A bar is at least MIN_BAR_WIDTH wide, so that a short job stays visible; its label is
    the longest of its labels that fits, or none (the title always says it all).
    At most `max_bars` bars are drawn, the earliest first, so the SVG stays bounded.
    """
    if end <= start:
        raise ValueError("the chart's end must be after its start")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    plot_x = label_width
    plot_width = width - label_width - right_margin
    span = (end - start).total_seconds()

    def x_of(t: datetime) -> float:
        return plot_x + (t - start).total_seconds() / span * plot_width

    row_keys = {r.key for r in rows}
    visible = sorted(
        (b for b in bars if b.row in row_keys and b.end > start and b.start < end),
        key=lambda b: (b.start, b.end, b.key),
    )
    dropped = max(0, len(visible) - max_bars)
    visible = visible[:max_bars]

    by_row: dict[str, list[GanttBarIn]] = {r.key: [] for r in rows}
    for b in visible:
        by_row[b.row].append(b)

    laid_rows: list[GanttRow] = []
    laid_bars: list[GanttBar] = []
    y = axis_height
    for index, row in enumerate(rows):
        mine = by_row[row.key]
        lanes = assign_lanes([(max(b.start, start), min(b.end, end)) for b in mine])
        lane_count = max(lanes, default=0) + 1
        height = 2 * ROW_PADDING + lane_count * LANE_HEIGHT
        laid_rows.append(
            GanttRow(row.key, row.label, row.sublabel, row.href, y, height, lane_count, index)
        )
        for b, lane in zip(mine, lanes, strict=True):
            x0 = x_of(max(b.start, start))
            x1 = x_of(min(b.end, end))
            bar_width = max(MIN_BAR_WIDTH, x1 - x0)
            x0 = min(x0, plot_x + plot_width - bar_width)
            bar_y = y + ROW_PADDING + lane * LANE_HEIGHT + BAR_GAP / 2
            bar_height = LANE_HEIGHT - BAR_GAP
            text = next((label for label in b.labels if fits_text(label, bar_width)), None)
            laid_bars.append(
                GanttBar(
                    x=round(x0, 2),
                    y=round(bar_y, 2),
                    width=round(bar_width, 2),
                    height=bar_height,
                    text=text,
                    title=b.title,
                    href=b.href,
                    css=b.css,
                    key=b.key,
                    hold=b.hold,
                    lane=lane,
                    clipped_start=b.start < start,
                    clipped_end=b.end > end,
                    start=b.start,
                    end=b.end,
                    row=b.row,
                    count=b.count,
                )
            )
        y += height

    ticks = [
        Tick(round(x_of(at), 2), label, major)
        for at, label, major in time_ticks(start, end, zone, zoom)
    ]
    now_x = round(x_of(now), 2) if now is not None and start <= now <= end else None
    return Gantt(
        width=width,
        height=max(y, axis_height + LANE_HEIGHT),
        plot_x=plot_x,
        plot_width=plot_width,
        axis_height=axis_height,
        start=start,
        end=end,
        rows=laid_rows,
        bars=laid_bars,
        ticks=ticks,
        now_x=now_x,
        dropped=dropped,
    )


# --- the bar chart -----------------------------------------------------------------------


@dataclass(frozen=True)
class BarIn:
    label: str
    """Under the bar: "Mon 09"."""
    value: float
    title: str
    """The tooltip and the accessible text: "Mon 9 Dec: 12.5 h booked of 24 h"."""
    key: str = ""


@dataclass(frozen=True)
class PlacedBar:
    x: float
    y: float
    width: float
    height: float
    label: str
    label_x: float
    value: float
    value_text: str
    value_y: float
    title: str
    key: str
    over: bool
    """Above the reference line: more booked than the resource has time for."""


@dataclass(frozen=True)
class YTick:
    y: float
    label: str


@dataclass(frozen=True)
class BarChart:
    width: float
    height: float
    plot_x: float
    plot_y: float
    plot_width: float
    plot_height: float
    top: float
    """The value at the top of the plot."""
    bars: list[PlacedBar]
    y_ticks: list[YTick]
    reference_y: float | None
    reference_label: str

    @property
    def plot_bottom(self) -> float:
        return self.plot_y + self.plot_height

    @property
    def plot_right(self) -> float:
        return self.plot_x + self.plot_width


# Steps of the value axis that read well in hours.
NICE_STEPS = (1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 96, 120, 168, 240, 336, 480, 720)


def nice_step(top: float, max_ticks: int = 6) -> float:
    for step in NICE_STEPS:
        if top / step <= max_ticks:
            return float(step)
    magnitude = 10 ** math.floor(math.log10(top / max_ticks))
    return float(math.ceil(top / max_ticks / magnitude) * magnitude)


def format_number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def bar_chart(
    bars: Sequence[BarIn],
    *,
    reference: float | None = None,
    reference_label: str = "",
    width: float = 760,
    height: float = 260,
    margin_left: float = 44,
    margin_right: float = 12,
    margin_top: float = 18,
    margin_bottom: float = 34,
    bar_fraction: float = 0.68,
) -> BarChart:
    """Vertical bars on a value axis from 0 to a round number above both the largest value
    and the reference (the time available), with a line at the reference."""
    plot_width = width - margin_left - margin_right
    plot_height = height - margin_top - margin_bottom
    largest = max([b.value for b in bars] + [reference or 0.0, 1.0])
    step = nice_step(largest)
    top = math.ceil(largest / step) * step
    bottom = margin_top + plot_height

    def y_of(value: float) -> float:
        return bottom - value / top * plot_height

    slot = plot_width / max(1, len(bars))
    bar_width = slot * bar_fraction
    placed = []
    for i, b in enumerate(bars):
        x = margin_left + i * slot + (slot - bar_width) / 2
        value = max(0.0, b.value)
        y = y_of(value)
        placed.append(
            PlacedBar(
                x=round(x, 2),
                y=round(y, 2),
                width=round(bar_width, 2),
                height=round(bottom - y, 2),
                label=b.label,
                label_x=round(x + bar_width / 2, 2),
                value=value,
                value_text=format_number(value) if value else "",
                value_y=round(y - 4, 2),
                title=b.title,
                key=b.key,
                over=reference is not None and value > reference,
            )
        )
    ticks = []
    n = round(top / step)
    for i in range(n + 1):
        value = i * step
        ticks.append(YTick(round(y_of(value), 2), format_number(value)))
    return BarChart(
        width=width,
        height=height,
        plot_x=margin_left,
        plot_y=margin_top,
        plot_width=plot_width,
        plot_height=plot_height,
        top=top,
        bars=placed,
        y_ticks=ticks,
        reference_y=round(y_of(reference), 2) if reference is not None else None,
        reference_label=reference_label,
    )


# --- the trace of a lot --------------------------------------------------------------------


@dataclass(frozen=True)
class TraceNodeIn:
    key: str
    column: int
    """Steps from the traced lot, the way material flows: negative upstream (what went into
    it), 0 the lot itself, positive downstream (what it went into)."""
    lines: tuple[str, ...]
    """Its label (drawn bold), then a line or two beneath: the item, the status."""
    title: str
    """The tooltip and the accessible name: everything about the node."""
    href: str
    css: str
    root: bool = False


@dataclass(frozen=True)
class TraceEdgeIn:
    source: str
    target: str
    label: str
    """What flowed: "120 ea"."""


@dataclass(frozen=True)
class PlacedNode:
    key: str
    x: float
    y: float
    width: float
    height: float
    lines: tuple[str, ...]
    title: str
    href: str
    css: str
    root: bool

    def line_y(self, index: int) -> float:
        return round(self.y + TRACE_PADDING + 12 + index * TRACE_LINE, 2)

    @property
    def text_x(self) -> float:
        return round(self.x + TRACE_PADDING, 2)


@dataclass(frozen=True)
class PlacedEdge:
    path: str
    """The SVG path: a curve from the source's right side to the target's left side."""
    label: str
    label_x: float
    label_y: float
    title: str


@dataclass(frozen=True)
class ColumnLabel:
    x: float
    text: str


@dataclass(frozen=True)
class TraceGraph:
    width: float
    height: float
    nodes: list[PlacedNode]
    edges: list[PlacedEdge]
    columns: list[ColumnLabel]


TRACE_PADDING = 8.0
TRACE_LINE = 15.0
# A generous average advance of a character of 11-12 px text, to cut lines that would not fit.
TRACE_CHAR_WIDTH = 6.6


def fit_text(text: str, width: float) -> str:
    """`text` cut (with an ellipsis) to what fits in `width` pixels."""
    room = max(1, int(width / TRACE_CHAR_WIDTH))
    return text if len(text) <= room else text[: room - 1] + "\N{HORIZONTAL ELLIPSIS}"


def column_name(column: int) -> str:
    """What a column of the trace holds, seen from the traced lot."""
    if column == 0:
        return "this lot"
    if column < 0:
        return "made by" if column % 2 else f"from · {-column // 2} back"
    return "used by" if column % 2 else f"into · {column // 2} on"


def trace_graph(
    nodes: Sequence[TraceNodeIn],
    edges: Sequence[TraceEdgeIn],
    *,
    box_width: float = 176,
    column_gap: float = 72,
    row_gap: float = 14,
    top: float = 26,
    margin: float = 8,
) -> TraceGraph:
    """Lays a genealogy out in columns by steps from the traced lot, upstream on the left:
    material flows left to right. Within a column, nodes are ordered by where their
    neighbours nearer the traced lot stand (the mean of their rows), so that few edges
    cross; ties keep the order given (nearest first, then by label). Edges between nodes
    that are not both drawn are left out."""
    lines = max((len(n.lines) for n in nodes), default=1)
    box_height = 2 * TRACE_PADDING + 12 + (lines - 1) * TRACE_LINE + 4
    by_column: dict[int, list[TraceNodeIn]] = {}
    for n in nodes:
        by_column.setdefault(n.column, []).append(n)
    column_of = {n.key: n.column for n in nodes}
    drawn = [e for e in edges if e.source in column_of and e.target in column_of]
    neighbours: dict[str, list[str]] = {}
    for e in drawn:
        neighbours.setdefault(e.source, []).append(e.target)
        neighbours.setdefault(e.target, []).append(e.source)
    row: dict[str, float] = {}
    columns = sorted(by_column)
    # From the traced lot outwards, each column ordered by its neighbours already placed.
    for column in sorted(columns, key=abs):
        inward = column - 1 if column > 0 else column + 1

        def weight(n: TraceNodeIn, inward: int = inward) -> float:
            near = [
                row[k] for k in neighbours.get(n.key, []) if column_of.get(k) == inward and k in row
            ]
            return sum(near) / len(near) if near else float("inf")

        placed = sorted(enumerate(by_column[column]), key=lambda pair: (weight(pair[1]), pair[0]))
        by_column[column] = [n for _, n in placed]
        for i, n in enumerate(by_column[column]):
            row[n.key] = i
    tallest = max((len(v) for v in by_column.values()), default=1)
    height = top + tallest * (box_height + row_gap) - row_gap + margin
    first = columns[0] if columns else 0
    placed_nodes: dict[str, PlacedNode] = {}
    labels = []
    for column in columns:
        x = margin + (column - first) * (box_width + column_gap)
        labels.append(ColumnLabel(round(x, 2), column_name(column)))
        stack = by_column[column]
        # Each column centred on the height of the tallest.
        offset = (tallest - len(stack)) * (box_height + row_gap) / 2
        for i, n in enumerate(stack):
            y = top + offset + i * (box_height + row_gap)
            placed_nodes[n.key] = PlacedNode(
                key=n.key,
                x=round(x, 2),
                y=round(y, 2),
                width=box_width,
                height=box_height,
                lines=tuple(fit_text(t, box_width - 2 * TRACE_PADDING) for t in n.lines),
                title=n.title,
                href=n.href,
                css=n.css,
                root=n.root,
            )
    placed_edges = []
    for e in drawn:
        a, b = placed_nodes[e.source], placed_nodes[e.target]
        x0, y0 = a.x + a.width, a.y + a.height / 2
        x1, y1 = b.x, b.y + b.height / 2
        bend = (x1 - x0) / 2
        placed_edges.append(
            PlacedEdge(
                path=(
                    f"M {x0:.2f} {y0:.2f} C {x0 + bend:.2f} {y0:.2f}, "
                    f"{x1 - bend:.2f} {y1:.2f}, {x1:.2f} {y1:.2f}"
                ),
                label=e.label,
                label_x=round((x0 + x1) / 2, 2),
                label_y=round((y0 + y1) / 2 - 4, 2),
                title=f"{a.lines[0]} → {b.lines[0]}: {e.label}",
            )
        )
    span = columns[-1] - first + 1 if columns else 1
    return TraceGraph(
        width=round(2 * margin + span * box_width + (span - 1) * column_gap, 2),
        height=round(height, 2),
        nodes=list(placed_nodes.values()),
        edges=placed_edges,
        columns=labels,
    )
