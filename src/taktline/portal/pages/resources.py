"""The resource screens: every resource with its load this week, and one resource with its
bookings ahead, its load over the next 14 days and what holds work up on it.

The bottleneck and the utilisation are the scheduler's bottleneck analysis, as the API
reports it (its loads summed in SQL; why work is late explained only for the few shown);
the bookings come from `queries`, in a fixed number of statements.
"""

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from taktline.db import utcnow
from taktline.http import SessionDep
from taktline.portal import charts, queries
from taktline.portal.format import Fmt, capacity_text, plant_today, week_label
from taktline.portal.web import UserDep, render
from taktline.scheduling import bottlenecks
from taktline.scheduling.schemas import BottleneckOut

router = APIRouter(include_in_schema=False)

LOAD_DAYS = 14
BOOKINGS_AHEAD = 100
LATE_REASONS_SHOWN = 10


@dataclass(frozen=True)
class ResourceLoad:
    row: queries.ResourceRow
    today: float
    week: float
    # Its working time this week (calendar x parallel capacity), and the share of it booked.
    available_week: float
    utilisation: float


def resource_loads(
    rows: Sequence[queries.ResourceRow],
    hours: dict[uuid.UUID, list[float]],
    report: BottleneckOut,
) -> tuple[list[ResourceLoad], uuid.UUID | None]:
    """Each resource's booked hours today and this week (`hours` per resource: [today,
    week]), with its working time and utilisation this week and the bottleneck as the
    scheduler's bottleneck analysis finds them (`report`, over the week)."""
    analysed = {load.resource.id: load for load in report.resources}
    loads = []
    for row in rows:
        today, this_week = hours.get(row.resource.id, [0.0, 0.0])
        found = analysed.get(row.resource.id)
        available = found.available_minutes / 60 if found else 0.0
        if found is None or not found.booked_minutes:
            utilisation = 0.0
        elif found.utilisation is None:
            utilisation = math.inf
        else:
            utilisation = 100 * found.utilisation
        loads.append(ResourceLoad(row, today, this_week, available, utilisation))
    bottleneck = report.bottlenecks[0].id if report.bottlenecks else None
    return loads, bottleneck


@router.get("/resources", response_class=HTMLResponse)
def resource_list(request: Request, session: SessionDep, user: UserDep) -> Response:
    now = utcnow()
    today = plant_today(now, user.zone)
    day = charts.day_window(today, 1, user.zone)
    week = charts.day_window(charts.week_start(today), 7, user.zone)
    org = user.actor.org_id
    rows = queries.resources(session, org)
    report = bottlenecks.report(session, user.actor, *week, late_limit=0).out
    loads, bottleneck = resource_loads(
        rows,
        queries.booked_hours(session, org, [day, week], resource_ids=[r.resource.id for r in rows]),
        report,
    )
    return render(
        request,
        "resources/list.html",
        user,
        fmt=Fmt(user.zone),
        loads=loads,
        bottleneck=bottleneck,
        week=week,
        week_label=week_label(week, user.zone),
        capacity_text=capacity_text,
    )


@router.get("/resources/{resource_id}", response_class=HTMLResponse)
def resource_detail(
    request: Request, resource_id: uuid.UUID, session: SessionDep, user: UserDep
) -> Response:
    now = utcnow()
    fmt = Fmt(user.zone)
    row = queries.resource(session, user.actor, resource_id)
    resource = row.resource
    ahead = queries.bookings(
        session, user.actor.org_id, now, resource_ids=[resource_id], limit=BOOKINGS_AHEAD + 1
    )
    first = plant_today(now, user.zone)
    days = [first + timedelta(days=i) for i in range(LOAD_DAYS)]
    windows = [charts.day_window(d, 1, user.zone) for d in days]
    hours = queries.booked_hours(session, user.actor.org_id, windows, resource_ids=[resource_id])
    per_day = hours.get(resource_id, [0.0] * LOAD_DAYS)
    reference = 24.0 * resource.parallel_capacity
    load = [
        (d, h, charts.hours_between(*w) * resource.parallel_capacity)
        for d, h, w in zip(days, per_day, windows, strict=True)
    ]
    chart = charts.bar_chart(
        [
            charts.BarIn(
                label=d.strftime("%a %d"),
                value=h,
                title=f"{d:%a %d %b}: {fmt.hours(h)} booked of {fmt.hours(avail)}",
                key=d.isoformat(),
            )
            for d, h, avail in load
        ],
        reference=reference,
        reference_label=f"{fmt.hours(reference)} available",
    )
    analysis = bottlenecks.report(
        session,
        user.actor,
        now,
        now + timedelta(days=7),
        late_limit=LATE_REASONS_SHOWN,
        held_up_limit=bottlenecks.HOLDERS_NAMED,
        waiting_for=resource_id,
    )
    report = analysis.out
    analysed = next((x for x in report.resources if x.resource.id == resource_id), None)
    return render(
        request,
        "resources/detail.html",
        user,
        fmt=fmt,
        analysed=analysed,
        is_bottleneck=any(b.id == resource_id for b in report.bottlenecks),
        held_up=report.late_work_orders,
        held_up_total=analysis.late_count or 0,
        timedelta=timedelta,
        inf=math.inf,
        row=row,
        resource=resource,
        capacity=capacity_text(resource),
        ahead=ahead[:BOOKINGS_AHEAD],
        more_ahead=len(ahead) > BOOKINGS_AHEAD,
        load=load,
        chart=chart,
        total_hours=sum(per_day),
    )
