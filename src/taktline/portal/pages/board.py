"""The schedule board: every resource's bookings as a Gantt chart, by day or by week."""

from dataclasses import dataclass
from datetime import date
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


def _bar(line: queries.BookedLine, fmt: Fmt) -> charts.GanttBarIn:
    amount = fmt.quantity(line.quantity)
    state = f"{line.state}, on hold" if line.on_hold else str(line.state)
    title = (
        f"{line.number} · {line.sequence}. {line.operation} · {line.item_name} ({line.item_sku})"
        f" · {amount} {line.unit} · {fmt.window(line.starts_at, line.ends_at)} · {state}"
        f" · line item {line.status}"
    )
    return charts.GanttBarIn(
        row=str(line.resource_id),
        start=line.starts_at,
        end=line.ends_at,
        labels=(
            f"{line.number} · {line.item_sku} · {amount}",
            f"{line.number} · {amount}",
            line.number,
            # the number's digits alone, for short bars at day zoom: "WO-000012" -> "#12"
            "#" + (line.number.rsplit("-", 1)[-1].lstrip("0") or "0"),
        ),
        title=title,
        href=f"/work-orders/{line.work_order_id}",
        css=str(line.state),
        key=str(line.line_item_id),
        hold=line.on_hold,
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
            svg.append(
                f'<a href="{href}" class="bar" data-line-item="{escape(b.key)}">'
                f"<title>{title}</title>"
                f'<svg x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}">'
                f'<rect class="fill-{css}" width="100%" height="100%" rx="3"/>'
                f"{hold if b.hold else ''}{text}</svg></a>"
            )
            number, _, rest = b.title.partition(" · ")
            table.append(
                f'<tr><td>{label}</td><td><a href="{href}">{escape(number)}</a></td>'
                f"<td>{escape(rest)}</td></tr>"
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
    lines = queries.bookings(
        session,
        org,
        start,
        end,
        resource_ids=[r.resource.id for r in rows],
        limit=BOARD_MAX_BARS + 1,
    )
    done = queries.completed_line_items(session, org, start, end, limit=BOARD_MAX_BARS + 1)
    used = {line.resource_id for line in lines} | {line.resource_id for line in done}
    shown = [r for r in rows if r.resource.active or r.resource.id in used]
    # The chart draws the earliest BOARD_MAX_BARS (as charts.gantt orders them): only those
    # are made into bars.
    drawn = sorted([*lines, *done], key=lambda b: (b.starts_at, b.ends_at, str(b.line_item_id)))
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
        [_bar(line, fmt) for line in drawn[:BOARD_MAX_BARS]],
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
        booking_count=len(lines),
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
