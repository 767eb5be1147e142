"""Scheduling use cases: build one problem from the database, solve it with the pure core,
propose; apply a proposal in one transaction; analyse the bottleneck of the bookings.

From the database to the core and back:

- Times are whole minutes from the horizon start (rounded up to a whole UTC minute): a
  line item's duration is setup + run per unit x quantity on the chosen resource, rounded
  up to whole minutes.
- Jobs are work orders (by number), operations their line items ("WO-000042/2"),
  resources are named by code, so that the core's messages read as the plant does.
- Movable work: DRAFT and SCHEDULED work orders that are not pinned (all of them, or those
  of the given production orders or the given work orders). Fixed work, as `Pinned`
  operations at their planned windows: work IN_PROCESS, pinned work with windows, and
  (when only some work is scheduled) the other booked work on the resources it may use.
- Calendars: each resource's weekly hours (its own, else its facility's) in the
  facility's time zone, with the exceptions of both, expanded over a horizon long enough
  for the work (and doubled, up to a limit, when the work does not fit).

`build_plan` reads in a fixed number of queries whatever the amount of work. `preview` ends
its read transaction before solving, so that a long solve holds no lock; `apply` checks the
proposal against the plant as it is, under locks, with the core's checker, and writes
everything or nothing.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from taktline.calendars import service as calendars
from taktline.db import transaction, utcnow
from taktline.errors import (
    Conflict,
    FieldError,
    NotFound,
    PreconditionFailed,
    Unschedulable,
    ValidationProblem,
)
from taktline.orders import actions, booking, reading
from taktline.orders.actions import follow_work_orders
from taktline.orders.lifecycle import State
from taktline.orders.models import (
    LineItem,
    LineItemAlternative,
    ProductionOrder,
    WorkOrder,
    WorkOrderDependency,
)
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource
from taktline.scheduling.schemas import (
    ApplyOut,
    ApplyRequest,
    BottleneckOut,
    HeldWorkOrder,
    LateWorkOrderOut,
    LineItemBrief,
    PlannedLineItem,
    PlannedWorkOrder,
    ProposalOut,
    ProposalSummary,
    ResourceBrief,
    ResourceLoadOut,
    ScheduleRequest,
)
from taktline.solver import bottleneck as core_bottleneck
from taktline.solver.calendar import Calendar
from taktline.solver.checker import check
from taktline.solver.problem import (
    Assignment,
    Job,
    Method,
    Mode,
    NoEligibleResource,
    Objective,
    Operation,
    OperationDoesNotFit,
    Pinned,
    Problem,
    Proposal,
    SchedulingError,
)
from taktline.solver.problem import Resource as CoreResource
from taktline.solver.solve import solve

MINUTE = timedelta(minutes=1)
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
# Calendars are expanded at least this far, and at most this far, from the horizon start.
MIN_CALENDAR_SPAN = timedelta(days=21)
MAX_CALENDAR_SPAN = timedelta(days=3 * 366)
# A single line item longer than this (in minutes) is refused rather than scheduled.
MAX_DURATION_MINUTES = 366 * DAY_MINUTES
MOVABLE_STATES = (State.DRAFT, State.SCHEDULED)
BOOKED = (State.SCHEDULED, State.IN_PROCESS)
OPEN = (State.DRAFT, State.SCHEDULED, State.IN_PROCESS)
MAX_BOTTLENECK_SPAN = timedelta(days=366)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# --- what is read from the database ----------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which work may move: all open work, or that of some production or work orders."""

    production_order_ids: tuple[uuid.UUID, ...] = ()
    work_order_ids: tuple[uuid.UUID, ...] = ()

    @property
    def all_open(self) -> bool:
        return not (self.production_order_ids or self.work_order_ids)


@dataclass(frozen=True)
class ModeSnap:
    resource_id: uuid.UUID
    minutes: int


@dataclass(frozen=True)
class LineItemSnap:
    id: uuid.UUID
    sequence: int
    operation: str
    resource_id: uuid.UUID | None
    planned_start: datetime | None
    planned_end: datetime | None
    interruptible: bool
    # Eligible modes, the line item's own resource first (movable work only).
    modes: tuple[ModeSnap, ...] = ()

    @property
    def has_window(self) -> bool:
        return (
            self.resource_id is not None
            and self.planned_start is not None
            and self.planned_end is not None
        )


@dataclass(frozen=True)
class WorkOrderSnap:
    id: uuid.UUID
    number: str
    version: int
    state: State
    pinned: bool
    production_order_id: uuid.UUID | None
    quantity: Decimal
    unit: str
    due_date: datetime | None
    priority: int
    release_at: datetime | None
    planned_start: datetime | None
    planned_end: datetime | None
    line_items: tuple[LineItemSnap, ...]

    @property
    def complete_windows(self) -> bool:
        return bool(self.line_items) and all(li.has_window for li in self.line_items)


def _snap(
    wo: WorkOrder, modes: dict[uuid.UUID, tuple[ModeSnap, ...]] | None = None
) -> WorkOrderSnap:
    return WorkOrderSnap(
        id=wo.id,
        number=wo.number,
        version=wo.version,
        state=wo.state,
        pinned=wo.pinned,
        production_order_id=wo.production_order_id,
        quantity=wo.quantity,
        unit=wo.unit,
        due_date=wo.due_date,
        priority=wo.priority,
        release_at=wo.release_at,
        planned_start=wo.planned_start,
        planned_end=wo.planned_end,
        line_items=tuple(
            LineItemSnap(
                id=li.id,
                sequence=li.sequence,
                operation=li.operation,
                resource_id=li.resource_id,
                planned_start=li.planned_start,
                planned_end=li.planned_end,
                interruptible=li.interruptible,
                modes=(modes or {}).get(li.id, ()),
            )
            for li in wo.line_items
        ),
    )


@dataclass
class Plan:
    """A problem built from the database, with the way back from its ids to the records."""

    org_id: uuid.UUID
    origin: datetime
    scope: Scope
    objective: Objective
    problem: Problem
    movable: list[WorkOrderSnap]
    fixed: list[tuple[WorkOrderSnap, str]]
    skipped: list[tuple[WorkOrderSnap, str]]
    # operation id -> its work order and line item
    ops: dict[str, tuple[WorkOrderSnap, LineItemSnap]]
    resources: dict[uuid.UUID, Resource]
    code_of: dict[uuid.UUID, str]
    id_of_code: dict[str, uuid.UUID]
    calendar_until: datetime
    calendars: dict[uuid.UUID, Calendar | None] = field(default_factory=dict)

    def minutes(self, at: datetime) -> int:
        return _floor_minutes(at, self.origin)

    def at(self, minutes: int) -> datetime:
        return self.origin + minutes * MINUTE


def op_id(wo: WorkOrderSnap | WorkOrder, li: LineItemSnap | LineItem) -> str:
    return f"{wo.number}/{li.sequence}"


def _floor_minutes(at: datetime, origin: datetime) -> int:
    return int((at - origin).total_seconds() // 60)


def _ceil_minutes(at: datetime, origin: datetime) -> int:
    return -int(-(at - origin).total_seconds() // 60)


def whole_minute(at: datetime) -> datetime:
    """`at` in UTC, rounded up to a whole minute."""
    at = at.astimezone(UTC)
    floored = at.replace(second=0, microsecond=0)
    return floored if floored == at else floored + MINUTE


def _duration_minutes(setup: Decimal, run: Decimal, quantity: Decimal) -> int:
    return int((setup + run * quantity).to_integral_value(rounding=ROUND_CEILING))


def _label(wo: WorkOrderSnap, li: LineItemSnap) -> str:
    return f"{wo.number} line item {li.sequence} ({li.operation})"


def _unschedulable(wo: WorkOrderSnap, li: LineItemSnap | None, reason: str) -> Unschedulable:
    where = _label(wo, li) if li is not None else wo.number
    extensions: dict[str, object] = {
        "work_order_id": str(wo.id),
        "work_order_number": wo.number,
        "reason": reason,
    }
    if li is not None:
        extensions.update(line_item_id=str(li.id), sequence=li.sequence, operation=li.operation)
    return Unschedulable(f"{where} cannot be scheduled: {reason}.", **extensions)


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
    queries. Raises `Unschedulable` (422) for work that can never be placed, `NotFound` for
    ids not of the organisation, `Conflict` for work orders that are not open."""
    movable_rows, in_scope_fixed = _load_movable(session, org_id, scope)
    alternatives = reading.alternatives_of(
        session, [li.id for wo in movable_rows for li in wo.line_items]
    )
    movable_ids = {wo.id for wo in movable_rows}
    edges = _load_edges(session, org_id, movable_ids)
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
    movable = [_snap(wo, modes) for wo in movable_rows]
    for snap in movable:
        if not snap.line_items:
            raise _unschedulable(snap, None, "it has no line items")

    fixed: list[tuple[WorkOrderSnap, str]] = []
    skipped: list[tuple[WorkOrderSnap, str]] = []
    for wo in sorted(others.values(), key=lambda w: w.id):
        snap = _snap(wo)
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
                if state in (State.DRAFT, State.SCHEDULED, State.IN_PROCESS):
                    succ = by_id[after]
                    raise _unschedulable(
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
        jobs.append(_job(snap, tuple(operations), origin, predecessors.get(snap.id, [])))
    for snap, _ in fixed:
        operations = []
        for li in snap.line_items:
            oid = op_id(snap, li)
            ops[oid] = (snap, li)
            assert li.resource_id is not None
            assert li.planned_start is not None
            assert li.planned_end is not None
            # Rounded outwards, so that no new work touches a window given to the second.
            start = _floor_minutes(li.planned_start, origin)
            end = max(start, _ceil_minutes(li.planned_end, origin))
            code = code_of[li.resource_id]
            operations.append(Operation(oid, (Mode(code, end - start),), li.interruptible))
            pinned.append(Pinned(oid, code, start, end))
        jobs.append(_job(snap, tuple(operations), origin, predecessors.get(snap.id, [])))

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
        if wo.state not in OPEN:
            raise Conflict(
                f"{wo.number} is {wo.state}: only DRAFT and SCHEDULED work orders can be "
                "scheduled.",
                current_state=wo.state,
            )
    movable = [wo for wo in rows if wo.state in MOVABLE_STATES and not wo.pinned]
    stays = [wo for wo in rows if wo.state in OPEN and (wo.pinned or wo.state is State.IN_PROCESS)]
    return movable, stays


def _load_edges(
    session: Session, org_id: uuid.UUID, movable_ids: set[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(waits, for) pairs touching the movable work orders."""
    if not movable_ids:
        return []
    open_ids = select(WorkOrder.id).where(WorkOrder.org_id == org_id, WorkOrder.state.in_(OPEN))
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
        WorkOrder.state.in_(BOOKED),
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
        raise _unschedulable(snap_wo, snap_li, "it has no resource and no alternative resource")
    modes: list[ModeSnap] = []
    reasons: list[str] = []
    for rid, setup, run in candidates:
        assert rid is not None
        resource = resources[rid]
        minutes = _duration_minutes(setup, run, wo.quantity)
        if not resource.active:
            reasons.append(f"{resource.code} is inactive")
        elif (
            resource.capacity_max is not None
            and resource.capacity_unit == wo.unit
            and wo.quantity > resource.capacity_max
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
        raise _unschedulable(snap_wo, snap_li, "; ".join(reasons))
    return tuple(modes)


def _snap_head(wo: WorkOrder) -> WorkOrderSnap:
    return WorkOrderSnap(
        wo.id, wo.number, wo.version, wo.state, wo.pinned, wo.production_order_id,
        wo.quantity, wo.unit, wo.due_date, wo.priority, wo.release_at, wo.planned_start,
        wo.planned_end, (),
    )  # fmt: skip


def _job(
    snap: WorkOrderSnap, operations: tuple[Operation, ...], origin: datetime, preds: list[str]
) -> Job:
    return Job(
        id=snap.number,
        operations=operations,
        release=max(0, _ceil_minutes(snap.release_at, origin)) if snap.release_at else 0,
        due=_floor_minutes(snap.due_date, origin) if snap.due_date is not None else None,
        # Priority 0..100 weighs a minute of lateness; even the least urgent work counts.
        weight=max(1, snap.priority),
        predecessors=tuple(dict.fromkeys(preds)),
    )


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


# --- solving and proposing -----------------------------------------------------------------


@dataclass
class Preview:
    """A solved plan: the core's proposal and the answer's body."""

    plan: Plan
    proposal: Proposal
    out: ProposalOut


def scope_of(body: ScheduleRequest) -> Scope:
    return Scope(tuple(body.production_order_ids), tuple(body.work_order_ids))


def preview(
    session: Session, actor: Actor, body: ScheduleRequest, progress: Progress = _quiet
) -> Preview:
    """Solves the work of `body` and proposes a schedule; changes nothing.

    The database is read in one short transaction, ended before the solver starts."""
    authorize(actor, "schedule.preview")
    origin = whole_minute(body.horizon_start or utcnow())
    scope = scope_of(body)
    progress("Reading the work to schedule")
    span: timedelta | None = None
    while True:
        with transaction(session):
            plan = build_plan(
                session, actor.org_id, scope, origin, body.objective, calendar_span=span
            )
        progress(
            f"Solving {len(plan.movable)} work orders "
            f"({sum(len(s.line_items) for s in plan.movable)} line items) on "
            f"{len(plan.resources)} resources, {len(plan.fixed)} fixed, "
            f"time limit {body.time_limit_seconds:g} s"
        )
        try:
            proposal = _solve(plan, body)
            break
        except OperationDoesNotFit as exc:
            span = plan.calendar_until - origin
            if span >= MAX_CALENDAR_SPAN or all(c is None for c in plan.calendars.values()):
                raise _core_error(plan, exc) from None
            # The work ran past the end of the expanded calendars: look further ahead.
            span = min(MAX_CALENDAR_SPAN, span * 2)
        except SchedulingError as exc:
            raise _core_error(plan, exc) from None
    return Preview(plan, proposal, _present(plan, proposal, body))


def _solve(plan: Plan, body: ScheduleRequest) -> Proposal:
    if not plan.movable:
        return Proposal(
            assignments=tuple(
                Assignment(p.operation, p.resource, p.start, p.end) for p in plan.problem.pinned
            ),
            objective=body.objective, value=0, bound=0, gap=0.0, optimal=True, makespan=0,
            weighted_tardiness=0, seconds=0.0, status="OPTIMAL", method=Method.HEURISTIC,
            note="nothing to schedule", heuristic_value=None,
        )  # fmt: skip
    return solve(
        plan.problem,
        time_limit_s=float(body.time_limit_seconds),
        seed=body.seed,
        objective=body.objective,
    )


_OP_ID = re.compile(r"[^\s,()]+/\d+")


def _core_error(plan: Plan, exc: SchedulingError) -> Unschedulable:
    """The core's error as a 422 that names the line item the way the plant does."""
    if isinstance(exc, NoEligibleResource | OperationDoesNotFit) and exc.operation in plan.ops:
        wo, li = plan.ops[exc.operation]
        return _unschedulable(wo, li, exc.reason)

    def readable(match: re.Match[str]) -> str:
        found = plan.ops.get(match.group(0))
        return _label(*found) if found else match.group(0)

    return Unschedulable(f"The work cannot be scheduled: {_OP_ID.sub(readable, str(exc))}.")


def _present(plan: Plan, proposal: Proposal, body: ScheduleRequest) -> ProposalOut:
    placed = {a.operation: a for a in proposal.assignments}
    planned: list[PlannedWorkOrder] = []
    for snap in plan.movable:
        lines = []
        for li in snap.line_items:
            a = placed[op_id(snap, li)]
            start, end = plan.at(a.start), plan.at(a.end)
            resource_id = plan.id_of_code[a.resource]
            lines.append(
                PlannedLineItem(
                    id=li.id,
                    sequence=li.sequence,
                    operation=li.operation,
                    resource_id=resource_id,
                    resource_code=a.resource,
                    planned_start=start,
                    planned_end=end,
                    previous_resource_id=li.resource_id,
                    previous_start=li.planned_start,
                    previous_end=li.planned_end,
                    moved=(resource_id, start, end)
                    != (li.resource_id, li.planned_start, li.planned_end),
                )
            )
        end = max(line.planned_end for line in lines)
        late = snap.due_date is not None and end > snap.due_date
        was_late = (
            snap.state is State.SCHEDULED
            and snap.due_date is not None
            and snap.planned_end is not None
            and snap.planned_end > snap.due_date
        )
        moved = any(line.moved for line in lines)
        planned.append(
            PlannedWorkOrder(
                id=snap.id,
                number=snap.number,
                version=snap.version,
                state=snap.state,
                action="schedule"
                if snap.state is State.DRAFT
                else ("reschedule" if moved else "keep"),
                production_order_id=snap.production_order_id,
                due_date=snap.due_date,
                priority=snap.priority,
                planned_start=min(line.planned_start for line in lines),
                planned_end=end,
                previous_start=snap.planned_start,
                previous_end=snap.planned_end,
                late=late,
                lateness_minutes=_ceil_minutes(end, snap.due_date) if late and snap.due_date else 0,
                was_late=was_late,
                becomes_late=late and not was_late,
                line_items=lines,
            )
        )
    fixed = [
        HeldWorkOrder(id=s.id, number=s.number, state=s.state, reason=r) for s, r in plan.fixed
    ]
    skipped = [
        HeldWorkOrder(id=s.id, number=s.number, state=s.state, reason=r) for s, r in plan.skipped
    ]
    movable_ends = [w.planned_end for w in planned]
    return ProposalOut(
        horizon_start=plan.origin,
        objective=proposal.objective,
        production_order_ids=list(plan.scope.production_order_ids),
        work_order_ids=list(plan.scope.work_order_ids),
        time_limit_seconds=float(body.time_limit_seconds),
        seed=body.seed,
        value=proposal.value,
        bound=proposal.bound,
        gap=proposal.gap,
        optimal=proposal.optimal,
        status=proposal.status,
        method=proposal.method,
        note=proposal.note,
        seconds=round(proposal.seconds, 3),
        heuristic_value=proposal.heuristic_value,
        weighted_tardiness=proposal.weighted_tardiness,
        makespan_minutes=proposal.makespan,
        work_end=max(movable_ends) if movable_ends else None,
        summary=ProposalSummary(
            work_orders=len(planned),
            line_items=sum(len(w.line_items) for w in planned),
            to_schedule=sum(1 for w in planned if w.action == "schedule"),
            to_reschedule=sum(1 for w in planned if w.action == "reschedule"),
            unchanged=sum(1 for w in planned if w.action == "keep"),
            fixed=len(fixed),
            skipped=len(skipped),
            late=sum(1 for w in planned if w.late),
            becomes_late=sum(1 for w in planned if w.becomes_late),
        ),
        work_orders=planned,
        fixed=fixed,
        skipped=skipped,
    )


# --- applying ------------------------------------------------------------------------------


@dataclass
class Applied:
    out: ApplyOut
    preview: Preview | None  # when solved here


@dataclass(frozen=True)
class PlannedWork:
    """What applying needs of a proposal for one work order: the version it was made from
    and where each of its line items goes."""

    work_order_id: uuid.UUID
    version: int
    placements: tuple[booking.Placement, ...]


def planned_work(proposal: ProposalOut) -> list[PlannedWork]:
    return [
        PlannedWork(
            w.id,
            w.version,
            tuple(
                booking.Placement(li.id, li.resource_id, li.planned_start, li.planned_end)
                for li in w.line_items
            ),
        )
        for w in proposal.work_orders
    ]


def apply(
    session: Session, actor: Actor, body: ApplyRequest, progress: Progress = _quiet
) -> Applied:
    """Applies a proposal (from `preview`), or solves and applies in one step: in one
    transaction, DRAFT work orders are scheduled through the lifecycle and SCHEDULED ones
    that move are released and booked again (a `reschedule` event); all or nothing."""
    authorize(actor, "schedule.apply")
    solved: Preview | None = None
    if body.proposal is None:
        solved = preview(session, actor, body, progress)
        proposal = solved.out
    else:
        proposal = body.proposal
    progress("Applying the schedule")
    scheduled, rescheduled, unchanged = apply_planned(
        session, actor, proposal.horizon_start, proposal.objective, planned_work(proposal)
    )
    return Applied(
        ApplyOut(
            proposal=proposal, scheduled=scheduled, rescheduled=rescheduled, unchanged=unchanged
        ),
        solved,
    )


def apply_planned(
    session: Session,
    actor: Actor,
    origin: datetime,
    objective: Objective,
    work: Sequence[PlannedWork],
) -> tuple[list[str], list[str], list[str]]:
    """Applies planned windows (made from `origin`) in one transaction, or nothing: checks
    that the work orders are at the versions planned from and that the windows fit the
    plant as it is now (the core's checker), then schedules DRAFT work through the lifecycle
    and books moved SCHEDULED work again. Returns the numbers of the work orders scheduled,
    rescheduled and left as they were."""
    authorize(actor, "schedule.apply")
    with transaction(session):
        return _apply_locked(session, actor, origin, objective, work)


def _apply_locked(
    session: Session,
    actor: Actor,
    origin: datetime,
    objective: Objective,
    work: Sequence[PlannedWork],
) -> tuple[list[str], list[str], list[str]]:
    planned = {w.work_order_id: w for w in work}
    if not planned:
        return [], [], []
    wos, pos = _lock(session, actor, list(planned))
    stale = [
        f"{wo.number} is at version {wo.version}, not {planned[wo.id].version}"
        for wo in wos
        if wo.version != planned[wo.id].version
    ]
    if stale:
        raise PreconditionFailed(
            "The work changed since the proposal was made: "
            + "; ".join(stale)
            + ". Preview again.",
            stale=stale,
        )
    if whole_minute(origin) != origin:
        raise ValidationProblem(
            [FieldError(["body", "proposal", "horizon_start"], "must be a whole minute")]
        )
    plan = build_plan(
        session, actor.org_id, Scope(work_order_ids=tuple(planned)), origin, objective
    )
    assignments = _assignments(plan, planned)
    violations = check(plan.problem, assignments)
    if violations:
        shown = "; ".join(violations[:5]) + ("; ..." if len(violations) > 5 else "")
        raise Conflict(
            f"The proposal does not fit the plant as it is now: {shown}. Preview again.",
            violations=violations,
        )

    placements = {w.work_order_id: w.placements for w in work}
    drafts = [wo for wo in wos if wo.state is State.DRAFT]
    scheduled_moving = [
        wo for wo in wos if wo.state is State.SCHEDULED and _moves(wo, placements[wo.id])
    ]
    unchanged = [
        wo.number for wo in wos if wo.state is State.SCHEDULED and wo not in scheduled_moving
    ]
    booking.release_bookings(session, [wo.id for wo in scheduled_moving])
    session.flush()
    alternatives = reading.alternatives_of(
        session, [li.id for wo in [*drafts, *scheduled_moving] for li in wo.line_items]
    )
    changes = {
        wo.id: booking.place_locked(session, wo, placements[wo.id], alternatives)
        for wo in [*drafts, *scheduled_moving]
    }
    session.flush()
    ledger = booking.BookingLedger.load(session, actor, [*drafts, *scheduled_moving], origin)
    for wo in sorted([*drafts, *scheduled_moving], key=lambda w: w.number):
        po = pos.get(wo.production_order_id) if wo.production_order_id else None
        if wo.state is State.DRAFT:
            actions.schedule_locked(session, actor, wo, po, ledger=ledger)
        else:
            actions.reschedule_locked(
                session, actor, wo, ledger, changes[wo.id], reason="moved by the scheduler"
            )
    session.flush()
    for po in sorted(pos.values(), key=lambda p: p.id):
        follow_work_orders(session, actor, po, "the scheduler placed its work orders")
    return (
        sorted(wo.number for wo in drafts),
        sorted(wo.number for wo in scheduled_moving),
        sorted(unchanged),
    )


def _moves(wo: WorkOrder, placements: Sequence[booking.Placement]) -> bool:
    now = {li.id: (li.resource_id, li.planned_start, li.planned_end) for li in wo.line_items}
    return any(now.get(p.line_item_id) != (p.resource_id, p.start, p.end) for p in placements)


def _lock(
    session: Session, actor: Actor, ids: list[uuid.UUID]
) -> tuple[list[WorkOrder], dict[uuid.UUID, ProductionOrder]]:
    """Locks the production orders, then the work orders, each in id order: the order
    every use case locks in, so that none deadlocks another."""
    po_ids = sorted(
        {
            po_id
            for po_id in session.scalars(
                select(WorkOrder.production_order_id).where(
                    WorkOrder.org_id == actor.org_id, WorkOrder.id.in_(ids)
                )
            )
            if po_id is not None
        }
    )
    pos = (
        {
            po.id: po
            for po in session.scalars(
                select(ProductionOrder)
                .where(ProductionOrder.org_id == actor.org_id, ProductionOrder.id.in_(po_ids))
                .order_by(ProductionOrder.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        if po_ids
        else {}
    )
    wos = list(
        session.scalars(
            select(WorkOrder)
            .where(WorkOrder.org_id == actor.org_id, WorkOrder.id.in_(ids))
            .order_by(WorkOrder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    found = {wo.id for wo in wos}
    for wo_id in ids:
        if wo_id not in found:
            raise NotFound("work order", wo_id)
    return wos, pos


def _assignments(plan: Plan, planned: dict[uuid.UUID, PlannedWork]) -> list[Assignment]:
    """The planned windows as the core's assignments (fixed work as it is now)."""
    out = [Assignment(p.operation, p.resource, p.start, p.end) for p in plan.problem.pinned]
    movable = {s.id: s for s in plan.movable}
    others = {s.id: s for s, _ in [*plan.fixed, *plan.skipped]}
    problems: list[str] = []
    for wo_id, w in planned.items():
        snap = movable.get(wo_id)
        if snap is None:
            name = others[wo_id].number if wo_id in others else str(wo_id)
            problems.append(f"{name} is no longer work that may move")
            continue
        given = {p.line_item_id: p for p in w.placements}
        if set(given) != {li.id for li in snap.line_items} or len(given) != len(w.placements):
            problems.append(f"{snap.number} has other line items now")
            continue
        for li in snap.line_items:
            g = given[li.id]
            start, end = plan.minutes(g.start), plan.minutes(g.end)
            if plan.at(start) != g.start or plan.at(end) != g.end:
                problems.append(f"{_label(snap, li)} has a window of other than whole minutes")
            code = plan.code_of.get(g.resource_id)
            if code is None:
                problems.append(f"{_label(snap, li)} is on a resource it may not use")
                continue
            out.append(Assignment(op_id(snap, li), code, start, end))
    if problems:
        raise Conflict(
            "The proposal does not match the work as it is now: "
            + "; ".join(problems)
            + ". Preview again.",
            violations=problems,
        )
    return out


# --- the bottleneck ------------------------------------------------------------------------


def bottlenecks(
    session: Session, actor: Actor, start: datetime | None = None, end: datetime | None = None
) -> BottleneckOut:
    """Loads of every active resource over [start, end) (default: the next 7 days) from the
    current bookings, the bottleneck resource(s), and the booked work orders that end after
    their due date, each with the resource and the work that held it up. Fixed queries."""
    authorize(actor, "bottleneck.read")
    start = (start or utcnow()).astimezone(UTC).replace(second=0, microsecond=0)
    end = end.astimezone(UTC) if end is not None else start + timedelta(days=7)
    if end <= start:
        raise ValidationProblem([FieldError(["query", "to"], "must be after from")])
    if end - start > MAX_BOTTLENECK_SPAN:
        raise ValidationProblem([FieldError(["query", "to"], "at most 366 days after from")])
    with transaction(session):
        booked = list(
            session.scalars(
                select(WorkOrder)
                .where(
                    WorkOrder.org_id == actor.org_id,
                    WorkOrder.state.in_(BOOKED),
                    WorkOrder.planned_end > start,
                    WorkOrder.planned_start < end,
                )
                .order_by(WorkOrder.id)
            )
        )
        ids = {wo.id for wo in booked}
        edges = [
            (a, b) for a, b in _load_edges(session, actor.org_id, ids) if a in ids and b in ids
        ]
        used = {li.resource_id for wo in booked for li in wo.line_items if li.resource_id}
        resources = list(
            session.scalars(
                select(Resource)
                .where(
                    Resource.org_id == actor.org_id,
                    or_(Resource.active.is_(True), Resource.id.in_(used)),
                )
                .order_by(Resource.code)
            )
        )
        latest = max([end, *(wo.planned_end for wo in booked if wo.planned_end)])
        until = min(latest, start + 2 * MAX_BOTTLENECK_SPAN) + timedelta(days=1)
        hours = calendars.resource_hours(session, actor.org_id, resources, start, until)
    expanded = calendars.expand_all(hours, start, until)
    snaps = [_snap(wo) for wo in booked]
    by_id = {s.id: s for s in snaps}
    preds: dict[uuid.UUID, list[str]] = defaultdict(list)
    for waits, waited_for in edges:
        preds[waits].append(by_id[waited_for].number)
    code_of = {r.id: r.code for r in resources}
    ops: dict[str, tuple[WorkOrderSnap, LineItemSnap]] = {}
    jobs, assignments = [], []
    for s in snaps:
        operations = []
        for li in s.line_items:
            if not li.has_window:
                continue
            assert li.resource_id is not None
            assert li.planned_start is not None
            assert li.planned_end is not None
            a, b = _floor_minutes(li.planned_start, start), _ceil_minutes(li.planned_end, start)
            oid = op_id(s, li)
            ops[oid] = (s, li)
            operations.append(
                Operation(oid, (Mode(code_of[li.resource_id], b - a),), li.interruptible)
            )
            assignments.append(Assignment(oid, code_of[li.resource_id], a, b))
        if operations:
            jobs.append(_job(s, tuple(operations), start, preds.get(s.id, [])))
    problem = Problem(
        tuple(CoreResource(r.code, r.parallel_capacity, expanded[r.id]) for r in resources),
        tuple(jobs),
    )
    report = core_bottleneck.analyse(problem, assignments, 0, _floor_minutes(end, start))
    brief = {r.code: ResourceBrief(id=r.id, code=r.code, name=r.name) for r in resources}

    def line(oid: str) -> LineItemBrief:
        wo, li = ops[oid]
        return LineItemBrief(
            work_order_id=wo.id,
            work_order_number=wo.number,
            line_item_id=li.id,
            sequence=li.sequence,
            operation=li.operation,
        )

    by_number = {s.number: s for s in snaps}
    late = []
    for lj in report.late_jobs:
        wo = by_number[lj.job]
        assert wo.due_date is not None
        assert wo.planned_end is not None
        held = [line(o) for o in lj.held_up_by]
        late.append(
            LateWorkOrderOut(
                id=wo.id,
                number=wo.number,
                due_date=wo.due_date,
                planned_end=wo.planned_end,
                lateness_minutes=lj.lateness,
                weighted_lateness=lj.weighted_lateness,
                resource=brief.get(lj.resource) if lj.resource else None,
                line_item=line(lj.operation) if lj.operation else None,
                waited_minutes=lj.waited,
                held_up_by=held,
                reason=_late_reason(lj, ops, held),
            )
        )
    return BottleneckOut(
        start=start,
        end=end,
        resources=[
            ResourceLoadOut(
                resource=brief[load.resource],
                available_minutes=load.available,
                booked_minutes=load.booked,
                utilisation=None if math.isinf(load.utilisation) else round(load.utilisation, 4),
            )
            for load in report.loads
        ],
        bottlenecks=[brief[code] for code in report.bottlenecks],
        late_work_orders=late,
    )


def _late_reason(
    lj: core_bottleneck.LateJob,
    ops: dict[str, tuple[WorkOrderSnap, LineItemSnap]],
    held: Iterable[LineItemBrief],
) -> str:
    if lj.operation is None:
        return lj.reason.replace("job(s)", "work order(s)")
    _, li = ops[lj.operation]
    holders = ", ".join(f"{h.work_order_number} ({h.operation})" for h in held)
    text = f"line item {li.sequence} ({li.operation}) waited {lj.waited} minutes for {lj.resource}"
    return text + (f", busy with {holders}" if holders else "")
