"""The schedule board: every resource's bookings as a Gantt chart, by day or by week.

A day draws one bar per line item. A week, where an hour is 6 pixels and a line item often
fewer, draws what can be seen: each resource's busy blocks, one for the line items that
start on a day in one state (from the first start to the last end, saying how many and how
many hours), linked to that day's board; a line item alone is its own bar, linked to its
work order.
"""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from taktline.db import utcnow
from taktline.http import SessionDep
from taktline.orders.lifecycle import State
from taktline.portal import charts, queries
from taktline.portal.format import Fmt, plant_today, week_label
from taktline.portal.web import UserDep, render
from taktline.schemas import Day

router = APIRouter(include_in_schema=False)

BOARD_MAX_BARS = 2000


class _Bars:
    """Line items as bars: what their work order gives each of its bars is made once (a
    day holds about a thousand bars of a few hundred work orders)."""

    def __init__(self, fmt: Fmt) -> None:
        self.fmt = fmt
        self.orders: dict[uuid.UUID, tuple[str, str, tuple[str, ...], str, str]] = {}
        self.rows: dict[uuid.UUID, str] = {}

    def bar(self, line: queries.BookedLine) -> charts.GanttBarIn:
        made = self.orders.get(line.work_order_id)
        if made is None:
            amount = self.fmt.quantity(line.quantity)
            number = line.number
            made = self.orders[line.work_order_id] = (
                f"{line.item_name} ({line.item_sku}) · {amount} {line.unit}",
                f"{line.state}, on hold" if line.on_hold else str(line.state),
                (
                    f"{number} · {line.item_sku} · {amount}",
                    f"{number} · {amount}",
                    number,
                    # the number's digits alone, for short bars at day zoom: "#12"
                    "#" + (number.rsplit("-", 1)[-1].lstrip("0") or "0"),
                ),
                f"/work-orders/{line.work_order_id}",
                str(line.state),
            )
        what, state, labels, href, css = made
        row = self.rows.get(line.resource_id) or self.rows.setdefault(
            line.resource_id, str(line.resource_id)
        )
        return charts.GanttBarIn(
            row=row,
            start=line.starts_at,
            end=line.ends_at,
            labels=labels,
            title=(
                f"{line.number} · {line.sequence}. {line.operation} · {what}"
                f" · {self.fmt.window(line.starts_at, line.ends_at)} · {state}"
                f" · line item {line.status}"
            ),
            href=href,
            css=css,
            key=str(line.line_item_id),
            hold=line.on_hold,
        )


def _block_bar(block: queries.BusyBlock, day: date, fmt: Fmt, bars: _Bars) -> charts.GanttBarIn:
    """A busy block as a bar: its line item's when it holds one, else one that says how
    many and links to the board of that day."""
    if block.line is not None:
        return bars.bar(block.line)
    n = block.line_items
    state = f"{block.state}, on hold" if block.on_hold else str(block.state)
    return charts.GanttBarIn(
        row=str(block.resource_id),
        start=block.starts_at,
        end=block.ends_at,
        labels=(f"{n} line items · {fmt.hours(block.hours)}", f"{n} line items", str(n)),
        title=(
            f"{n} line items of {' to '.join(dict.fromkeys(block.numbers))}"
            f" · {fmt.hours(block.hours)} booked"
            f" · {fmt.window(block.starts_at, block.ends_at)} · {state}"
        ),
        href=f"/board?zoom=day&from={day.isoformat()}",
        css=str(block.state),
        key=f"{block.resource_id}:{day.isoformat()}:{block.state}:{block.on_hold}",
        hold=block.on_hold,
        count=n,
    )


@dataclass(frozen=True)
class RowMarkup:
    """A row's bars as SVG and as rows of the table, made in one pass: at a thousand bars a
    day, a template loop per bar would be most of the page's time."""

    bars: Markup
    table: Markup
    count: int


def _markup(chart: charts.Gantt) -> dict[str, RowMarkup]:
    by_row = chart.bars_by_row()
    out = {}
    for r in chart.rows:
        svg, table = [], []
        label = escape(r.label)
        for b in by_row[r.key]:
            href, css, title = escape(b.href), escape(b.css), escape(b.title)
            hold = '<rect width="100%" height="100%" rx="3" fill="url(#hold-stripes)"/>'
            text = (
                f'<text class="on-{css}" x="4" y="50%" dominant-baseline="central">'
                f"{escape(b.text)}</text>"
                if b.text
                else ""
            )
            what = (
                f'class="bar block" data-line-items="{b.count}"'
                if b.count > 1
                else f'class="bar" data-line-item="{escape(b.key)}"'
            )
            svg.append(
                f'<a href="{href}" {what}>'
                f"<title>{title}</title>"
                f'<svg x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}">'
                f'<rect class="fill-{css}" width="100%" height="100%" rx="3"/>'
                f"{hold if b.hold else ''}{text}</svg></a>"
            )
            number, _, rest = title.partition(" · ")
            table.append(
                f'<tr><td>{label}</td><td><a href="{href}">{number}</a></td><td>{rest}</td></tr>'
            )
        out[r.key] = RowMarkup(Markup("\n".join(svg)), Markup("\n".join(table)), len(svg))
    return out


@router.get("/board", response_class=HTMLResponse)
def board(
    request: Request,
    session: SessionDep,
    user: UserDep,
    zoom: charts.Zoom = charts.Zoom.DAY,
    first_day: Annotated[Day | None, Query(alias="from")] = None,
) -> Response:
    now = utcnow()
    fmt = Fmt(user.zone)
    today = plant_today(now, user.zone)
    if first_day is None:
        first_day = today if zoom is charts.Zoom.DAY else charts.week_start(today)
    start, end = charts.zoom_window(zoom, first_day, user.zone)
    org = user.actor.org_id
    rows = queries.resources(session, org)
    ids = [r.resource.id for r in rows]
    if zoom is charts.Zoom.WEEK:
        days = [first_day + timedelta(days=i) for i in range(charts.ZOOM_DAYS[zoom])]
        blocks = queries.busy_blocks(
            session, org, [charts.day_window(d, 1, user.zone) for d in days], resource_ids=ids
        )
        used = {b.resource_id for b in blocks}
        bars = _Bars(fmt)
        drawn = [_block_bar(b, days[b.day], fmt, bars) for b in blocks]
        booking_count = sum(b.bookings for b in blocks)
    else:
        lines = queries.bookings(
            session, org, start, end, resource_ids=ids, limit=BOARD_MAX_BARS + 1
        )
        done = queries.completed_line_items(session, org, start, end, limit=BOARD_MAX_BARS + 1)
        used = {line.resource_id for line in lines} | {line.resource_id for line in done}
        # The chart draws the earliest BOARD_MAX_BARS (as charts.gantt orders them): only
        # those are made into bars.
        found = sorted([*lines, *done], key=lambda b: (b.starts_at, b.ends_at, str(b.line_item_id)))
        bars = _Bars(fmt)
        drawn = [bars.bar(line) for line in found[: BOARD_MAX_BARS + 1]]
        booking_count = len(lines)
    shown = [r for r in rows if r.resource.active or r.resource.id in used]
    over = len(drawn) > BOARD_MAX_BARS
    chart = charts.gantt(
        [
            charts.GanttRowIn(
                key=str(r.resource.id),
                label=r.resource.name,
                sublabel=r.resource.code + ("" if r.resource.active else " · inactive"),
                href=f"/resources/{r.resource.id}",
            )
            for r in shown
        ],
        drawn[:BOARD_MAX_BARS],
        start,
        end,
        now,
        user.zone,
        zoom,
        max_bars=BOARD_MAX_BARS,
    )
    truncated = chart.dropped > 0 or over

    def link(z: charts.Zoom, d: date) -> str:
        return f"/board?zoom={z}&from={d.isoformat()}"

    names = {str(r.resource.id): r.resource.name for r in shown}
    return render(
        request,
        "board.html",
        user,
        fmt=fmt,
        chart=chart,
        marks=_markup(chart),
        zoom=zoom,
        first_day=first_day,
        period_label=(
            f"{first_day:%A %d %B %Y}"
            if zoom is charts.Zoom.DAY
            else f"{week_label((start, end), user.zone)} {first_day:%Y}"
        ),
        start=start,
        end=end,
        booking_count=booking_count,
        truncated=truncated,
        max_bars=BOARD_MAX_BARS,
        names=names,
        prev_url=link(zoom, charts.shift(zoom, first_day, -1)),
        next_url=link(zoom, charts.shift(zoom, first_day, 1)),
        today_url=link(zoom, today if zoom is charts.Zoom.DAY else charts.week_start(today)),
        day_url=link(charts.Zoom.DAY, today if start <= now < end else first_day),
        week_url=link(charts.Zoom.WEEK, charts.week_start(first_day)),
        states=[s for s in State if s not in (State.DRAFT, State.CANCELED, State.DELETED)],
    )
