"""From the database to the solver: one problem of the work to schedule, read in a fixed
number of queries, used by the preview and the apply alike (the bottleneck analysis reads
the bookings in aggregate instead: scheduling/bottlenecks.py).

- Times are whole minutes from the horizon start (rounded up to a whole UTC minute): a
  line item's duration is the one duration rule of `orders.booking` on the chosen resource.
- Jobs are work orders (by number), operations their line items ("WO-000042/2"),
  resources are named by code, so that the solver's messages read as the plant does.
- Movable work: DRAFT and SCHEDULED work orders that are not pinned (all of them, or those
  of the given production orders or the given work orders). Fixed work, as `Pinned`
  operations at their planned windows: work IN_PROCESS, pinned work with windows, and
  (when only some work is scheduled) the other booked work on the resources it may use.
- Calendars: each resource's weekly hours (its own, else its facility's) in the
  facility's time zone, with the exceptions of both, expanded over a horizon long enough
  for the work (and doubled, up to a limit, when the work does not fit).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from taktline.calendars import service as calendars
from taktline.errors import (
    Conflict,
    NotFound,
)
from taktline.orders import reading
from taktline.orders.booking import duration_minutes
from taktline.orders.lifecycle import BOOKED_STATES, MOVABLE_STATES, OPEN_STATES, State
from taktline.orders.models import (
    LineItem,
    LineItemAlternative,
    ProductionOrder,
    WorkOrder,
    WorkOrderDependency,
)
from taktline.resources.capacity import over_capacity_per_run
from taktline.resources.models import Resource
from taktline.scheduling.snapshots import (
    MAX_CALENDAR_SPAN,
    MAX_DURATION_MINUTES,
    MIN_CALENDAR_SPAN,
    MINUTE,
    WEEK_MINUTES,
    LineItemSnap,
    ModeSnap,
    Plan,
    Scope,
    WorkOrderSnap,
    booked_job,
    job_of,
    op_id,
    snapshot,
    unschedulable,
)
from taktline.solver.problem import (
    Job,
    Mode,
    Objective,
    Operation,
    Pinned,
    Problem,
)
from taktline.solver.problem import Resource as CoreResource

# --- building the problem ------------------------------------------------------------------


def build_plan(
    session: Session,
    org_id: uuid.UUID,
    scope: Scope,
    origin: datetime,
    objective: Objective = Objective.WEIGHTED_TARDINESS,
    *,
    calendar_span: timedelta | None = None,
) -> Plan:
    """The problem of `scope` from `origin` (a whole minute), read in a fixed number of
    queries. Work orders without line items (and the work waiting for them) are left out,
    in `skipped` with the reason. Raises `Unschedulable` (422) for other work that can never
    be placed, `NotFound` for ids not of the organisation, `Conflict` for work orders that
    are not open."""
    movable_rows, in_scope_fixed = _load_movable(session, org_id, scope)
    alternatives = reading.alternatives_of(
        session, [li.id for wo in movable_rows for li in wo.line_items]
    )
    movable_ids = {wo.id for wo in movable_rows}
    edges = load_edges(session, org_id, movable_ids)
    wanted_ids = {b for a, b in edges if a in movable_ids} | {
        a for a, b in edges if b in movable_ids
    }
    mode_resources = {
        li.resource_id for wo in movable_rows for li in wo.line_items if li.resource_id
    }
    mode_resources |= {a.resource_id for alts in alternatives.values() for a in alts}
    context = _load_context(
        session, org_id, scope, origin, movable_ids, wanted_ids - movable_ids, mode_resources
    )
    others = {wo.id: wo for wo in [*in_scope_fixed, *context] if wo.id not in movable_ids}
    missing = (wanted_ids - movable_ids) - set(others)
    states = _states_of(session, org_id, missing)

    resource_ids = set(mode_resources) | {
        li.resource_id for wo in others.values() for li in wo.line_items if li.resource_id
    }
    resources = (
        {
            r.id: r
            for r in session.scalars(
                select(Resource).where(Resource.org_id == org_id, Resource.id.in_(resource_ids))
            )
        }
        if resource_ids
        else {}
    )

    modes: dict[uuid.UUID, tuple[ModeSnap, ...]] = {}
    for row in movable_rows:
        for item in row.line_items:
            modes[item.id] = _eligible_modes(row, item, alternatives.get(item.id, []), resources)
    # A work order without line items has nothing to place, and nor has the work that waits
    # for it (directly or through others): they are left out, and the rest is scheduled.
    snaps = [snapshot(wo, modes) for wo in movable_rows]
    left_out = {s.id: "it has no line items" for s in snaps if not s.line_items}
    number_of = {s.id: s.number for s in snaps}
    waiting = sorted(
        (e for e in edges if e[0] in movable_ids and e[1] in movable_ids),
        key=lambda e: (str(e[0]), str(e[1])),
    )
    grew = bool(left_out)
    while grew:
        grew = False
        for after, before in waiting:
            if before in left_out and after not in left_out:
                left_out[after] = f"it waits for {number_of[before]}, which is left out"
                grew = True
    movable = [s for s in snaps if s.id not in left_out]
    skipped: list[tuple[WorkOrderSnap, str]] = [
        (s, left_out[s.id]) for s in snaps if s.id in left_out
    ]
    movable_ids = {s.id for s in movable}

    fixed: list[tuple[WorkOrderSnap, str]] = []
    for wo in sorted(others.values(), key=lambda w: w.id):
        snap = snapshot(wo)
        if snap.complete_windows:
            fixed.append((snap, _why_fixed(snap, scope)))
        else:
            skipped.append((snap, "pinned, but not every line item has a resource and a window"))
    fixed_ids = {s.id for s, _ in fixed}
    by_id = {s.id: s for s in movable} | {s.id: s for s, _ in fixed} | {s.id: s for s, _ in skipped}

    predecessors: dict[uuid.UUID, list[str]] = defaultdict(list)
    for after, before in sorted(edges, key=lambda e: (str(e[0]), str(e[1]))):
        if after in movable_ids:
            if before in movable_ids:
                predecessors[after].append(by_id[before].number)
            elif before in fixed_ids:
                pred = by_id[before]
                if pred.planned_end is not None and pred.planned_end > origin:
                    predecessors[after].append(pred.number)
            else:
                number, state = (
                    (by_id[before].number, by_id[before].state)
                    if before in by_id
                    else states.get(before, ("?", State.DELETED))
                )
                if state in OPEN_STATES:
                    succ = by_id[after]
                    raise unschedulable(
                        succ,
                        None,
                        f"it waits for {number}, which is {state} and not part of this "
                        "schedule (or pinned without windows): schedule them together",
                    )
        elif after in fixed_ids and before in movable_ids:
            succ = by_id[after]
            if succ.state is not State.IN_PROCESS and (
                succ.planned_start is not None and succ.planned_start >= origin
            ):
                predecessors[after].append(by_id[before].number)

    resources_used = {
        rid: resources[rid]
        for rid in (
            {m.resource_id for s in movable for li in s.line_items for m in li.modes}
            | {li.resource_id for s, _ in fixed for li in s.line_items if li.resource_id}
        )
    }
    code_of = {rid: r.code for rid, r in resources_used.items()}
    hours = calendars.resource_hours(
        session,
        org_id,
        sorted(resources_used.values(), key=lambda r: r.id),
        origin,
        origin + MAX_CALENDAR_SPAN,
    )
    until = origin + (calendar_span or _calendar_span(origin, movable, fixed, hours))
    expanded = calendars.expand_all(hours, origin, until)

    ops: dict[str, tuple[WorkOrderSnap, LineItemSnap]] = {}
    jobs: list[Job] = []
    pinned: list[Pinned] = []
    for snap in movable:
        operations = []
        for li in snap.line_items:
            oid = op_id(snap, li)
            ops[oid] = (snap, li)
            operations.append(
                Operation(
                    oid,
                    tuple(Mode(code_of[m.resource_id], m.minutes) for m in li.modes),
                    li.interruptible,
                )
            )
        jobs.append(job_of(snap, tuple(operations), origin, predecessors.get(snap.id, [])))
    for snap, _ in fixed:
        job, windows = booked_job(snap, origin, code_of, predecessors.get(snap.id, []))
        jobs.append(job)
        for li, pin in windows:
            ops[pin.operation] = (snap, li)
            pinned.append(pin)

    problem = Problem(
        resources=tuple(
            CoreResource(code_of[rid], r.parallel_capacity, expanded[rid])
            for rid, r in sorted(resources_used.items(), key=lambda kv: kv[1].code)
        ),
        jobs=tuple(jobs),
        pinned=_separate_touching(pinned, fixed, origin, code_of),
        objective=objective,
    )
    return Plan(
        org_id=org_id,
        origin=origin,
        scope=scope,
        objective=objective,
        problem=problem,
        movable=movable,
        fixed=fixed,
        skipped=skipped,
        ops=ops,
        resources=resources_used,
        code_of=code_of,
        id_of_code={code: rid for rid, code in code_of.items()},
        calendar_until=until,
        calendars=expanded,
    )


def _load_movable(
    session: Session, org_id: uuid.UUID, scope: Scope
) -> tuple[list[WorkOrder], list[WorkOrder]]:
    """(movable work orders, the scope's own work that stays: in process or pinned)."""
    stmt = select(WorkOrder).where(WorkOrder.org_id == org_id)
    if scope.all_open:
        stmt = stmt.where(WorkOrder.state.in_(MOVABLE_STATES), WorkOrder.pinned.is_(False))
        return list(session.scalars(stmt.order_by(WorkOrder.id))), []
    if scope.production_order_ids:
        found = set(
            session.scalars(
                select(ProductionOrder.id).where(
                    ProductionOrder.org_id == org_id,
                    ProductionOrder.id.in_(scope.production_order_ids),
                )
            )
        )
        for po_id in scope.production_order_ids:
            if po_id not in found:
                raise NotFound("production order", po_id)
    conditions = []
    if scope.production_order_ids:
        conditions.append(WorkOrder.production_order_id.in_(scope.production_order_ids))
    if scope.work_order_ids:
        conditions.append(WorkOrder.id.in_(scope.work_order_ids))
    rows = list(session.scalars(stmt.where(or_(*conditions)).order_by(WorkOrder.id)))
    loaded = {wo.id: wo for wo in rows}
    for wo_id in scope.work_order_ids:
        wo = loaded.get(wo_id)
        if wo is None:
            raise NotFound("work order", wo_id)
        if wo.state not in OPEN_STATES:
            raise Conflict(
                f"{wo.number} is {wo.state}: only DRAFT and SCHEDULED work orders can be "
                "scheduled.",
                current_state=wo.state,
            )
    movable = [wo for wo in rows if wo.state in MOVABLE_STATES and not wo.pinned]
    stays = [
        wo for wo in rows if wo.state in OPEN_STATES and (wo.pinned or wo.state is State.IN_PROCESS)
    ]
    return movable, stays


def load_edges(
    session: Session, org_id: uuid.UUID, movable_ids: set[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(waits, for) pairs touching the movable work orders."""
    if not movable_ids:
        return []
    open_ids = select(WorkOrder.id).where(
        WorkOrder.org_id == org_id, WorkOrder.state.in_(OPEN_STATES)
    )
    rows = session.execute(
        select(WorkOrderDependency.work_order_id, WorkOrderDependency.depends_on_id).where(
            WorkOrderDependency.org_id == org_id,
            WorkOrderDependency.work_order_id.in_(open_ids),
        )
    )
    return [(a, b) for a, b in rows if a in movable_ids or b in movable_ids]


def _load_context(
    session: Session,
    org_id: uuid.UUID,
    scope: Scope,
    origin: datetime,
    movable_ids: set[uuid.UUID],
    related_ids: set[uuid.UUID],
    resource_ids: set[uuid.UUID],
) -> list[WorkOrder]:
    """Work that stays where it is and may be in the way: in process, pinned, and (when only
    some work moves) the other booked work on the resources it may use; plus the work
    orders the movable ones wait for or that wait for them."""
    stays = or_(
        WorkOrder.state.in_(BOOKED_STATES),
        and_(WorkOrder.state == State.DRAFT, WorkOrder.pinned.is_(True)),
    )
    if scope.all_open:
        stays = and_(stays, or_(WorkOrder.state == State.IN_PROCESS, WorkOrder.pinned.is_(True)))
    relevant = WorkOrder.planned_end > origin
    if not scope.all_open:
        on_resources = WorkOrder.id.in_(
            select(LineItem.work_order_id).where(LineItem.resource_id.in_(resource_ids))
        )
        relevant = and_(relevant, on_resources)
    if related_ids:
        relevant = or_(relevant, WorkOrder.id.in_(related_ids))
    if scope.all_open:
        # pinned DRAFT work without windows is reported as skipped
        relevant = or_(relevant, and_(WorkOrder.pinned.is_(True), WorkOrder.planned_end.is_(None)))
    rows = session.scalars(
        select(WorkOrder).where(WorkOrder.org_id == org_id, stays, relevant).order_by(WorkOrder.id)
    )
    return [wo for wo in rows if wo.id not in movable_ids]


def _states_of(
    session: Session, org_id: uuid.UUID, ids: set[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, State]]:
    if not ids:
        return {}
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.number, WorkOrder.state).where(
            WorkOrder.org_id == org_id, WorkOrder.id.in_(ids)
        )
    )
    return {wo_id: (number, state) for wo_id, number, state in rows}


def _why_fixed(snap: WorkOrderSnap, scope: Scope) -> str:
    if snap.state is State.IN_PROCESS:
        return "in process"
    if snap.pinned:
        return "pinned"
    return "booked, and not part of this schedule"


def _eligible_modes(
    wo: WorkOrder,
    li: LineItem,
    alternatives: Sequence[LineItemAlternative],
    resources: dict[uuid.UUID, Resource],
) -> tuple[ModeSnap, ...]:
    """The resources the line item may run on, with its duration there, or a clear 422."""
    candidates = (
        [(li.resource_id, li.setup_minutes, li.run_minutes_per_unit)] if li.resource_id else []
    )
    candidates += [(a.resource_id, a.setup_minutes, a.run_minutes_per_unit) for a in alternatives]
    snap_wo = _snap_head(wo)
    snap_li = LineItemSnap(
        li.id, li.sequence, li.operation, li.resource_id, None, None, li.interruptible
    )
    if not candidates:
        raise unschedulable(snap_wo, snap_li, "it has no resource and no alternative resource")
    modes: list[ModeSnap] = []
    reasons: list[str] = []
    for rid, setup, run in candidates:
        assert rid is not None
        resource = resources[rid]
        minutes = duration_minutes(setup, run, wo.quantity)
        if not resource.active:
            reasons.append(f"{resource.code} is inactive")
        elif over_capacity_per_run(
            resource.capacity_max, resource.capacity_unit, wo.quantity, wo.unit
        ):
            reasons.append(
                f"{wo.quantity} {wo.unit} is more than the {resource.capacity_max} "
                f"{resource.capacity_unit} per run of {resource.code}"
            )
        elif minutes <= 0:
            reasons.append(
                f"it takes no time on {resource.code}: give it setup_minutes or "
                "run_minutes_per_unit"
            )
        elif minutes > MAX_DURATION_MINUTES:
            reasons.append(f"it would take {minutes} minutes on {resource.code}, over a year")
        else:
            modes.append(ModeSnap(rid, minutes))
    if not modes:
        raise unschedulable(snap_wo, snap_li, "; ".join(reasons))
    return tuple(modes)


def _snap_head(wo: WorkOrder) -> WorkOrderSnap:
    return WorkOrderSnap(
        wo.id, wo.number, wo.version, wo.state, wo.pinned, wo.production_order_id,
        wo.quantity, wo.unit, wo.due_date, wo.priority, wo.release_at, wo.planned_start,
        wo.planned_end, (),
    )  # fmt: skip


def _calendar_span(
    origin: datetime,
    movable: Sequence[WorkOrderSnap],
    fixed: Sequence[tuple[WorkOrderSnap, str]],
    hours: dict[uuid.UUID, calendars.ResourceHours],
) -> timedelta:
    """How far to expand the calendars: past every release, due date and fixed work, plus
    all the movable work one job after another, stretched by the scarcest working week."""
    latest = origin
    for snap in movable:
        for moment in (snap.release_at, snap.due_date):
            if moment is not None and moment > latest:
                latest = moment
    for snap, _ in fixed:
        if snap.planned_end is not None and snap.planned_end > latest:
            latest = snap.planned_end
    work = sum(
        max((m.minutes for m in li.modes), default=0) for s in movable for li in s.line_items
    )
    weekly = min((h.weekly_working_minutes for h in hours.values()), default=WEEK_MINUTES)
    stretch = WEEK_MINUTES / max(weekly, 60)
    span = (latest - origin) + timedelta(minutes=work * stretch) + timedelta(days=14)
    return min(MAX_CALENDAR_SPAN, max(MIN_CALENDAR_SPAN, span))


def _separate_touching(
    pinned: list[Pinned],
    fixed: Sequence[tuple[WorkOrderSnap, str]],
    origin: datetime,
    code_of: dict[uuid.UUID, str],
) -> tuple[Pinned, ...]:
    """Fixed windows are rounded outwards to whole minutes; a window that starts within a
    minute after another one on its resource ends would then seem to overlap it: it
    starts at the next whole minute instead (nothing else fits in between anyway). Only
    windows made by hand have seconds."""
    exact: dict[str, tuple[datetime, datetime]] = {}
    ends_by_resource: dict[str, list[datetime]] = defaultdict(list)
    for snap, _ in fixed:
        for li in snap.line_items:
            assert li.resource_id is not None
            assert li.planned_start is not None
            assert li.planned_end is not None
            exact[op_id(snap, li)] = (li.planned_start, li.planned_end)
            ends_by_resource[code_of[li.resource_id]].append(li.planned_end)
    out = []
    for p in pinned:
        start, _ = exact[p.operation]
        floor_start = origin + p.start * MINUTE
        if start != floor_start and any(
            floor_start < e <= start for e in ends_by_resource[p.resource]
        ):
            moved = min(p.end, p.start + 1)
            out.append(Pinned(p.operation, p.resource, moved, max(moved, p.end)))
        else:
            out.append(p)
    return tuple(out)
