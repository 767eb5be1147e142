"""The plant pages: the dashboard, resources, the schedule board and the shop floor.

Reading goes through `queries` (a fixed number of statements per page); every change goes
through the work order service, exactly as the API calls it, so the portal refuses what the
API refuses, with the same message.
"""

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from taktline.db import utcnow
from taktline.errors import NotFound, Problem, ValidationProblem
from taktline.http import SessionDep, field_errors_of, parse_version
from taktline.orders import actions
from taktline.orders.lifecycle import State
from taktline.orders.schemas import CompleteRequest, ReasonRequest, ReportRequest
from taktline.portal import charts, queries
from taktline.portal.web import FormDep, PortalUser, UserDep, field_errors, local, redirect, render
from taktline.portal.web import quantity as fmt_quantity
from taktline.resources.models import Resource
from taktline.scheduling import bottlenecks
from taktline.scheduling.schemas import BottleneckOut

router = APIRouter(include_in_schema=False)

DASH = "\N{EN DASH}"

# A work order whose planned end comes this close to its due date is at risk.
AT_RISK_MARGIN = timedelta(hours=4)
LOAD_DAYS = 14
BOOKINGS_AHEAD = 100
BOARD_MAX_BARS = 2000
OPEN_ORDERS_SHOWN = 50
LATE_REASONS_SHOWN = 10
DUE_SHOWN = 50
FLOOR_ACTIONS = ("start", "pause", "resume", "complete")
# How often the shop floor asks whether its queue changed.
POLL_SECONDS = 5
PAUSE_REASONS = (
    "Changeover",
    "Breakdown",
    "Material shortage",
    "Quality check",
    "Cleaning",
    "Break",
)


class Fmt:
    """Formatting for the plant templates, in the plant's time zone."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    def hours(self, value: float) -> str:
        return f"{value:,.1f} h".replace(".0 h", " h")

    def window(self, start: datetime | None, end: datetime | None) -> str:
        if start is None or end is None:
            return "not planned"
        s, e = start.astimezone(self.zone), end.astimezone(self.zone)
        if s.date() == e.date():
            return f"{s:%a %d %b %H:%M}{DASH}{e:%H:%M}"
        return f"{s:%a %d %b %H:%M} {DASH} {e:%a %d %b %H:%M}"

    def when(self, value: datetime | None) -> str:
        return local(value, self.zone)

    def duration(self, value: timedelta) -> str:
        minutes = int(abs(value.total_seconds()) // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return f"{days} d {hours} h"
        if hours:
            return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
        return f"{minutes} min"

    def percent(self, value: float) -> str:
        return "booked outside working time" if math.isinf(value) else f"{value:.0f} %"

    def quantity(self, value: Decimal | None) -> str:
        return fmt_quantity(value)


def _today(user: PortalUser, now: datetime) -> date:
    return now.astimezone(user.zone).date()


def _week_label(week: tuple[datetime, datetime], zone: ZoneInfo) -> str:
    first = week[0].astimezone(zone)
    last = (week[1] - timedelta(seconds=1)).astimezone(zone)
    return f"{first:%a %d %b} {DASH} {last:%a %d %b}"


# --- the dashboard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceLoad:
    row: queries.ResourceRow
    today: float
    week: float
    # Its working time this week (calendar x parallel capacity), and the share of it booked.
    available_week: float
    utilisation: float


def _loads(
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


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, user: UserDep) -> Response:
    now = utcnow()
    today = _today(user, now)
    day = charts.day_window(today, 1, user.zone)
    week = charts.day_window(charts.week_start(today), 7, user.zone)
    org = user.actor.org_id
    counts = queries.state_counts(session, org)
    due = queries.late_and_at_risk(session, org, now, AT_RISK_MARGIN)
    rows = queries.resources(session, org, active_only=True)
    report = bottlenecks.bottlenecks(session, user.actor, *week)
    loads, bottleneck = _loads(rows, queries.booked_hours(session, org, [day, week]), report)
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
        week_label=_week_label(week, user.zone),
        today=today,
        orders=orders,
        orders_total=orders_total,
    )


# --- resources -------------------------------------------------------------------------------


def capacity_text(resource: Resource) -> str:
    low, high, unit = resource.capacity_min, resource.capacity_max, resource.capacity_unit or ""
    if low is None and high is None:
        text = "—"
    elif low is not None and high is not None:
        text = f"{fmt_quantity(low)}{DASH}{fmt_quantity(high)} {unit}".strip()
    elif high is not None:
        text = f"up to {fmt_quantity(high)} {unit}".strip()
    else:
        text = f"at least {fmt_quantity(low)} {unit}".strip()
    return text


@router.get("/resources", response_class=HTMLResponse)
def resource_list(request: Request, session: SessionDep, user: UserDep) -> Response:
    now = utcnow()
    today = _today(user, now)
    day = charts.day_window(today, 1, user.zone)
    week = charts.day_window(charts.week_start(today), 7, user.zone)
    org = user.actor.org_id
    rows = queries.resources(session, org)
    report = bottlenecks.bottlenecks(session, user.actor, *week)
    loads, bottleneck = _loads(rows, queries.booked_hours(session, org, [day, week]), report)
    return render(
        request,
        "resources/list.html",
        user,
        fmt=Fmt(user.zone),
        loads=loads,
        bottleneck=bottleneck,
        week=week,
        week_label=_week_label(week, user.zone),
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
        session, user.actor.org_id, now, resource_id=resource_id, limit=BOOKINGS_AHEAD + 1
    )
    first = _today(user, now)
    days = [first + timedelta(days=i) for i in range(LOAD_DAYS)]
    windows = [charts.day_window(d, 1, user.zone) for d in days]
    hours = queries.booked_hours(session, user.actor.org_id, windows, resource_id=resource_id)
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
    report = bottlenecks.bottlenecks(session, user.actor, now, now + timedelta(days=7))
    analysed = next((x for x in report.resources if x.resource.id == resource_id), None)
    waiting = [w for w in report.late_work_orders if w.resource and w.resource.id == resource_id]
    return render(
        request,
        "resources/detail.html",
        user,
        fmt=fmt,
        analysed=analysed,
        is_bottleneck=any(b.id == resource_id for b in report.bottlenecks),
        held_up=waiting[:LATE_REASONS_SHOWN],
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


# --- the schedule board ----------------------------------------------------------------------


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


@router.get("/board", response_class=HTMLResponse)
def board(
    request: Request,
    session: SessionDep,
    user: UserDep,
    zoom: charts.Zoom = charts.Zoom.DAY,
    first_day: Annotated[date | None, Query(alias="from")] = None,
) -> Response:
    now = utcnow()
    fmt = Fmt(user.zone)
    today = _today(user, now)
    if first_day is None:
        first_day = today if zoom is charts.Zoom.DAY else charts.week_start(today)
    start, end = charts.zoom_window(zoom, first_day, user.zone)
    org = user.actor.org_id
    rows = queries.resources(session, org)
    lines = queries.bookings(session, org, start, end, limit=BOARD_MAX_BARS + 1)
    done = queries.completed_line_items(session, org, start, end, limit=BOARD_MAX_BARS + 1)
    used = {line.resource_id for line in lines} | {line.resource_id for line in done}
    shown = [r for r in rows if r.resource.active or r.resource.id in used]
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
        [_bar(line, fmt) for line in [*lines, *done]],
        start,
        end,
        now,
        user.zone,
        zoom,
        max_bars=BOARD_MAX_BARS,
    )
    truncated = chart.dropped > 0 or len(lines) > BOARD_MAX_BARS or len(done) > BOARD_MAX_BARS

    def link(z: charts.Zoom, d: date) -> str:
        return f"/board?zoom={z}&from={d.isoformat()}"

    names = {str(r.resource.id): r.resource.name for r in shown}
    return render(
        request,
        "board.html",
        user,
        fmt=fmt,
        chart=chart,
        zoom=zoom,
        first_day=first_day,
        period_label=(
            f"{first_day:%A %d %B %Y}"
            if zoom is charts.Zoom.DAY
            else f"{_week_label((start, end), user.zone)} {first_day:%Y}"
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


# --- the shop floor --------------------------------------------------------------------------


@router.get("/floor", response_class=HTMLResponse)
def floor_index(request: Request, session: SessionDep, user: UserDep) -> Response:
    org = user.actor.org_id
    rows = queries.resources(session, org, active_only=True)
    return render(
        request,
        "floor/index.html",
        user,
        rows=rows,
        sizes=queries.queue_sizes(session, org),
    )


def _floor_page(
    request: Request,
    session: SessionDep,
    user: PortalUser,
    resource_id: uuid.UUID,
    *,
    status_code: int = 200,
    problem: Problem | None = None,
    problem_for: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    row = queries.resource(session, user.actor, resource_id)
    entries = queries.queue(session, user.actor, resource_id)
    stamp = queries.stamp_of((e.work_order.id, e.work_order.version) for e in entries)
    # The first card of each work order carries its anchor: actions return to it.
    anchors: dict[uuid.UUID, uuid.UUID] = {}
    for e in entries:
        anchors.setdefault(e.work_order.id, e.line_item.id)
    return render(
        request,
        "floor/resource.html",
        user,
        status_code=status_code,
        fmt=Fmt(user.zone),
        row=row,
        resource=row.resource,
        entries=entries,
        waiting=sum(1 for e in entries if not e.finished),
        stamp=stamp,
        anchors=anchors,
        poll_ms=POLL_SECONDS * 1000,
        may_operate=user.may("start"),
        problem=problem,
        problem_for=problem_for,
        errors=field_errors(problem) if problem else {},
        typed=typed or {},
        reasons=PAUSE_REASONS,
        now=utcnow(),
    )


@router.get("/floor/{resource_id}", response_class=HTMLResponse)
def floor(request: Request, resource_id: uuid.UUID, session: SessionDep, user: UserDep) -> Response:
    return _floor_page(request, session, user, resource_id)


@router.get("/floor/{resource_id}/stamp")
def floor_stamp(resource_id: uuid.UUID, session: SessionDep, user: UserDep) -> JSONResponse:
    """A hash of the queue's work orders and their versions: the page polls it and reloads
    itself when it changes (someone else started, reported or scheduled something)."""
    stamp = queries.queue_stamp(session, user.actor, resource_id)
    return JSONResponse({"stamp": stamp}, headers={"Cache-Control": "no-store"})


def _version(form: dict[str, str]) -> int | None:
    return parse_version(form.get("version"), ["form", "version"])


def _validated(model: Any, data: dict[str, Any]) -> Any:
    """The form's fields as the API's request body, or the API's validation problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors_of(exc.errors())
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"] for e in errors
        )
        raise ValidationProblem(errors, detail=detail) from None


@router.post("/floor/{resource_id}/work-orders/{work_order_id}/{action}")
def floor_action(
    request: Request,
    resource_id: uuid.UUID,
    work_order_id: uuid.UUID,
    action: str,
    session: SessionDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    """Start, pause (with a reason), resume or complete a work order from the shop floor."""
    if action not in FLOOR_ACTIONS:
        raise NotFound("shop floor action", action)
    actor = user.actor
    try:
        version = _version(form)
        if action == "start":
            wo = actions.start(session, actor, work_order_id, version)
            done = "started"
        elif action == "pause":
            body = _validated(ReasonRequest, {"reason": form.get("reason", "")})
            wo = actions.pause(session, actor, work_order_id, body.reason, version)
            done = f"paused: {body.reason}"
        elif action == "resume":
            wo = actions.resume(session, actor, work_order_id, version)
            done = "resumed"
        else:
            wo = actions.complete(session, actor, work_order_id, CompleteRequest(), version)
            done = "completed"
    except Problem as problem:
        return _floor_page(
            request,
            session,
            user,
            resource_id,
            status_code=problem.status,
            problem=problem,
            problem_for=str(work_order_id),
            typed=form,
        )
    return redirect(f"/floor/{resource_id}#wo-{wo.id}", f"{wo.number} {done}.")


@router.post("/floor/{resource_id}/work-orders/{work_order_id}/line-items/{line_item_id}/report")
def floor_report(
    request: Request,
    resource_id: uuid.UUID,
    work_order_id: uuid.UUID,
    line_item_id: uuid.UUID,
    session: SessionDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    """Reports quantities completed and scrapped on a line item (they add up), and done."""
    actor = user.actor
    fields = {
        k: v.strip()
        for k, v in form.items()
        if k in ("quantity_completed", "quantity_scrapped", "note") and v.strip()
    }
    if form.get("done"):
        fields["done"] = "true"
    try:
        body = _validated(ReportRequest, fields)
        wo = actions.report(session, actor, work_order_id, line_item_id, body, _version(form))
    except Problem as problem:
        return _floor_page(
            request,
            session,
            user,
            resource_id,
            status_code=problem.status,
            problem=problem,
            problem_for=str(line_item_id),
            typed=form,
        )
    li = next(li for li in wo.line_items if li.id == line_item_id)
    parts = [
        f"{fmt_quantity(body.quantity_completed)} completed" if body.quantity_completed else "",
        f"{fmt_quantity(body.quantity_scrapped)} scrapped" if body.quantity_scrapped else "",
        "done" if body.done else "",
    ]
    said = ", ".join(p for p in parts if p)
    return redirect(
        f"/floor/{resource_id}#li-{line_item_id}",
        f"{wo.number} {li.operation}: reported {said}.",
    )
