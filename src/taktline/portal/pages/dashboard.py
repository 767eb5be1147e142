"""The dashboard: work orders by state, the late and at risk ones (the worst few, and how
many), each resource's load this week with the bottleneck and why the latest work is late,
and the open production orders with their progress. Each part is counted or ranked in SQL:
the page reads what it shows, however large the plant."""

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from taktline.db import utcnow
from taktline.http import SessionDep
from taktline.orders.lifecycle import AT_RISK_MARGIN
from taktline.portal import charts, queries
from taktline.portal.format import Fmt, plant_today, week_label
from taktline.portal.pages.resources import LATE_REASONS_SHOWN, resource_loads
from taktline.portal.web import UserDep, render
from taktline.scheduling import bottlenecks

router = APIRouter(include_in_schema=False)

OPEN_ORDERS_SHOWN = 50
DUE_SHOWN = 20


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, user: UserDep) -> Response:
    now = utcnow()
    today = plant_today(now, user.zone)
    day = charts.day_window(today, 1, user.zone)
    week = charts.day_window(charts.week_start(today), 7, user.zone)
    org = user.actor.org_id
    counts = queries.state_counts(session, org)
    due = queries.late_and_at_risk(session, org, now, DUE_SHOWN)
    rows = queries.resources(session, org, active_only=True)
    analysis = bottlenecks.report(
        session,
        user.actor,
        *week,
        late_limit=LATE_REASONS_SHOWN,
        held_up_limit=bottlenecks.HOLDERS_NAMED,
    )
    report = analysis.out
    loads, bottleneck = resource_loads(
        rows,
        queries.booked_hours(session, org, [day, week], resource_ids=[r.resource.id for r in rows]),
        report,
    )
    orders, orders_total = queries.open_production_orders(session, user.actor, OPEN_ORDERS_SHOWN)
    return render(
        request,
        "dashboard.html",
        user,
        fmt=Fmt(user.zone),
        counts=counts,
        due=due.rows,
        late_count=due.late,
        at_risk_count=due.at_risk,
        margin=AT_RISK_MARGIN,
        loads=loads,
        bottleneck=bottleneck,
        late_reasons=report.late_work_orders,
        late_total=analysis.late_count or 0,
        timedelta=timedelta,
        week=week,
        week_label=week_label(week, user.zone),
        today=today,
        orders=orders,
        orders_total=orders_total,
    )
