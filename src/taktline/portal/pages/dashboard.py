"""The dashboard: work orders by state, the late and at risk ones, each resource's load this
week with the bottleneck, and the open production orders with their progress."""

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
DUE_SHOWN = 50


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, user: UserDep) -> Response:
    now = utcnow()
    today = plant_today(now, user.zone)
    day = charts.day_window(today, 1, user.zone)
    week = charts.day_window(charts.week_start(today), 7, user.zone)
    org = user.actor.org_id
    counts = queries.state_counts(session, org)
    due = queries.late_and_at_risk(session, org, now)
    rows = queries.resources(session, org, active_only=True)
    report = bottlenecks.bottlenecks(session, user.actor, *week)
    loads, bottleneck = resource_loads(
        rows, queries.booked_hours(session, org, [day, week]), report
    )
    orders, orders_total = queries.open_production_orders(session, user.actor, OPEN_ORDERS_SHOWN)
    return render(
        request,
        "dashboard.html",
        user,
        fmt=Fmt(user.zone),
        counts=counts,
        due=due,
        late_count=sum(1 for d in due if d.late),
        due_shown=DUE_SHOWN,
        margin=AT_RISK_MARGIN,
        loads=loads,
        bottleneck=bottleneck,
        late_reasons=report.late_work_orders[:LATE_REASONS_SHOWN],
        timedelta=timedelta,
        week=week,
        week_label=week_label(week, user.zone),
        today=today,
        orders=orders,
        orders_total=orders_total,
    )
