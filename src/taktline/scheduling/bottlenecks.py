"""The bottleneck analysis of the current bookings: loads per resource over a window, the
bottleneck resource(s), and why late work is late. Computed for what is shown, in a fixed
number of queries however much is booked:

- Loads: one aggregate query over the bookings that overlap the window, each rounded
  outwards to whole minutes from the window's start as the scheduler sees them, summed per
  resource in SQL; only interruptible line items on resources with a calendar are read as
  rows (their working minutes need the calendar).
- Late work: the booked work orders overlapping the window that are late by the one
  definition (`orders.lifecycle.punctuality`, as SQL: `late_sql`), counted and ranked by
  weighted lateness in SQL (late by their plan: the minutes from the due date to the
  planned end; past their due date only: the minutes since it; times the priority, at
  least 1), the most first; only the first `late_limit` are explained, from their own line
  items, the booked work they wait for and the bookings that held their resource meanwhile
  (in time order, the first `held_up_limit`, and how many there were). The API lists the
  first LATE_LIMIT, each with the first HELD_UP_LIMIT line items in its way; its reason
  names HOLDERS_NAMED of them and says how many more.
- What the solver's `analyse` does with the whole plan, for those few: its parts
  (`summarise`, `worst_wait`, `holds_up`, `late_job`) take what was read.

The SQL form of late and at risk lives here too (`late_sql`, `at_risk_sql`,
`late_or_at_risk_sql`, `slack_us_sql`, with exact time arithmetic on both databases:
`epoch_us`, `epoch_minute`, `moved`): the dashboard counts with it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    Integer,
    and_,
    bindparam,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from taktline.calendars import service as calendars
from taktline.db import Id, UTCDateTime, utcnow
from taktline.errors import FieldError, ValidationProblem
from taktline.inventory import reading as stock
from taktline.orders.lifecycle import AT_RISK_MARGIN, BOOKED_STATES, OPEN_STATES, State
from taktline.orders.models import LineItem, WorkOrder, WorkOrderDependency
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource, ResourceBooking
from taktline.scheduling.schemas import (
    BottleneckOut,
    LateWorkOrderOut,
    LineItemBrief,
    MaterialShortOut,
    ResourceBrief,
    ResourceLoadOut,
)
from taktline.scheduling.snapshots import (
    MAX_BOTTLENECK_SPAN,
    MIN_CALENDAR_SPAN,
    LineItemSnap,
    WorkOrderSnap,
    booked_job,
    ceil_minutes,
    floor_minutes,
)
from taktline.solver import bottleneck as core
from taktline.solver.calendar import Calendar
from taktline.solver.problem import Assignment

# The late work orders the API lists, the most weighted lateness first (and how many there
# are in all).
LATE_LIMIT = 50
# ... and at most this many when asked for more: each is explained from its own line items.
MAX_LATE_LIMIT = 500
# A reason names this many of the line items that held the work up, then says how many more.
HOLDERS_NAMED = 5
# The line items that held each late work order up the API lists (the first, in time order).
HELD_UP_LIMIT = 20

_MINUTE_US = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# --- time arithmetic in SQL, on both databases ---------------------------------------------
# PostgreSQL keeps timestamptz; SQLite the text `taktline.db.UTCDateTime` stores, always
# "YYYY-MM-DD HH:MM:SS.ffffff" in UTC: read by its whole-second part (julianday of 19 or 16
# characters is exact) and its six digits of fraction, never through a float of them.


class epoch_us(FunctionElement[int]):  # noqa: N801 - reads as the SQL function it is
    """Microseconds since 1970 of a timestamp, exactly."""

    type = BigInteger()
    name = "epoch_us"
    inherit_cache = True


@compiles(epoch_us)
def _epoch_us_postgresql(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    at = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(EPOCH FROM {at}) * 1000000 AS BIGINT)"


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    at = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(round((julianday(substr({at}, 1, 19)) - 2440587.5) * 86400) AS INTEGER)"
        f" * 1000000 + CAST(substr({at}, 21, 6) AS INTEGER))"
    )


class epoch_minute(FunctionElement[int]):  # noqa: N801
    """Whole minutes since 1970 of a timestamp, rounded down (`epoch_minute(x, up=True)`:
    rounded up), exactly."""

    type = BigInteger()
    name = "epoch_minute"
    inherit_cache = True

    def __init__(self, at: Any, *, up: bool = False) -> None:
        self.up = up
        super().__init__(at)


@compiles(epoch_minute)
def _epoch_minute_postgresql(element: epoch_minute, compiler: SQLCompiler, **kw: Any) -> str:
    at = compiler.process(element.clauses, **kw)
    return f"CAST({'CEIL' if element.up else 'FLOOR'}(EXTRACT(EPOCH FROM {at}) / 60) AS BIGINT)"


@compiles(epoch_minute, "sqlite")
def _epoch_minute_sqlite(element: epoch_minute, compiler: SQLCompiler, **kw: Any) -> str:
    at = compiler.process(element.clauses, **kw)
    down = f"CAST(round((julianday(substr({at}, 1, 16)) - 2440587.5) * 1440) AS INTEGER)"
    if not element.up:
        return down
    # up: one more unless the seconds and their fraction are all zeros
    rest = f"CAST(substr({at}, 18, 2) AS INTEGER) + CAST(substr({at}, 21, 6) AS INTEGER)"
    return f"({down} + ({rest} > 0))"


class days_between(FunctionElement[float]):  # noqa: N801
    """end - start in days, as a float (to the millisecond on SQLite)."""

    type = Float()
    name = "days_between"
    inherit_cache = True


@compiles(days_between)
def _days_between_postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    end, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    end, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


class moved(FunctionElement[datetime]):  # noqa: N801
    """A timestamp moved by a whole number of seconds, exactly."""

    type = UTCDateTime()
    name = "moved"
    inherit_cache = True

    def __init__(self, at: Any, by: timedelta) -> None:
        if by % timedelta(seconds=1):
            raise ValueError(f"moved() moves by whole seconds, not {by}")
        self.seconds = int(by.total_seconds())
        super().__init__(at)


@compiles(moved)
def _moved_postgresql(element: moved, compiler: SQLCompiler, **kw: Any) -> str:
    at = compiler.process(element.clauses, **kw)
    return f"({at} + INTERVAL '{element.seconds} seconds')"


@compiles(moved, "sqlite")
def _moved_sqlite(element: moved, compiler: SQLCompiler, **kw: Any) -> str:
    # the whole seconds moved by datetime(), then the same fraction
    at = compiler.process(element.clauses, **kw)
    return f"(datetime(substr({at}, 1, 19), '{element.seconds:+d} seconds') || substr({at}, 20))"


class not_before(FunctionElement[bool]):  # noqa: N801
    """`at >= base - by`, exactly."""

    type = Boolean()
    name = "not_before"
    inherit_cache = True
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("by", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, at: Any, base: Any, by: timedelta) -> None:
        self.by = by
        super().__init__(at, base)


@compiles(not_before)
def _not_before_postgresql(element: not_before, compiler: SQLCompiler, **kw: Any) -> str:
    at, base = element.clauses
    return compiler.process(at >= moved(base, -element.by), **kw)


@compiles(not_before, "sqlite")
def _not_before_sqlite(element: not_before, compiler: SQLCompiler, **kw: Any) -> str:
    # What is clearly earlier (by days_between, cheaper than moving text, with 2 ms of
    # leeway for SQLite's milliseconds) is ruled out before `base` is moved.
    at, base = element.clauses
    leeway = (element.by + timedelta(milliseconds=2)) / timedelta(days=1)
    return compiler.process(
        and_(days_between(base, at) <= leeway, at >= moved(base, -element.by)), **kw
    )


class micros_between(FunctionElement[int]):  # noqa: N801
    """end - start in microseconds, exactly (on PostgreSQL one interval's epoch rather than
    two timestamps': the arithmetic of numeric is what costs)."""

    type = BigInteger()
    name = "micros_between"
    inherit_cache = True


@compiles(micros_between)
def _micros_between_postgresql(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    end, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) * 1000000 AS BIGINT)"


@compiles(micros_between, "sqlite")
def _micros_between_sqlite(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    end, start = element.clauses
    return compiler.process(epoch_us(end) - epoch_us(start), **kw)


class hours_between(FunctionElement[float]):  # noqa: N801
    """end - start in hours, as a float (to the millisecond on SQLite): for sums shown."""

    type = Float()
    name = "hours_between"
    inherit_cache = True


@compiles(hours_between)
def _hours_between_postgresql(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    end, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


@compiles(hours_between, "sqlite")
def _hours_between_sqlite(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    end, start = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 24.0)"


def micros(at: datetime) -> int:
    """`epoch_us` of a datetime, in Python."""
    return (at - _EPOCH) // timedelta(microseconds=1)


class greatest(FunctionElement[int]):  # noqa: N801
    """The larger of integers, each computed once (a CASE would repeat them)."""

    type = BigInteger()
    name = "greatest"
    inherit_cache = True


class least(FunctionElement[int]):  # noqa: N801
    type = BigInteger()
    name = "least"
    inherit_cache = True


@compiles(greatest)
def _greatest_postgresql(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(least)
def _least_postgresql(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


# --- late and at risk in SQL: orders.lifecycle.punctuality, row by row -----------------------


def open_sql() -> ColumnElement[bool]:
    """Open work orders (`OPEN_STATES`), written as the partial index of open work is
    (`orders.models.OPEN_STATES_SQL`: the states as literals, sorted), so that SQLite takes
    that index too."""
    states: Any = bindparam(
        "open_states", sorted(OPEN_STATES), expanding=True, literal_execute=True, unique=True
    )
    return WorkOrder.state.in_(states)


def _late_by_plan() -> ColumnElement[bool]:
    return and_(WorkOrder.planned_end.is_not(None), WorkOrder.planned_end > WorkOrder.due_date)


def late_sql(now: datetime) -> ColumnElement[bool]:
    """Work orders that `punctuality` says are LATE: open, with a due date, and planned to
    end after it or past it."""
    return and_(
        WorkOrder.due_date.is_not(None),
        open_sql(),
        or_(_late_by_plan(), WorkOrder.due_date < now),
    )


def at_risk_sql(now: datetime, margin: timedelta = AT_RISK_MARGIN) -> ColumnElement[bool]:
    """Work orders that `punctuality` says are AT_RISK: open, not late, and the slack (the
    due date minus the planned end, never before now) within `margin`: due within `margin`
    of now, or planned to end within `margin` of the due date."""
    return and_(
        WorkOrder.due_date.is_not(None),
        open_sql(),
        not_(or_(_late_by_plan(), WorkOrder.due_date < now)),
        or_(
            WorkOrder.due_date <= now + margin,
            and_(
                WorkOrder.planned_end.is_not(None),
                not_before(WorkOrder.planned_end, WorkOrder.due_date, margin),
            ),
        ),
    )


def late_or_at_risk_sql(now: datetime, margin: timedelta = AT_RISK_MARGIN) -> ColumnElement[bool]:
    """`late_sql | at_risk_sql`, with fewer terms (for a WHERE over many rows): open, and
    the slack within `margin` (planned to end after the due date, or within `margin` before
    it; or due within `margin` of now). Without a due date every comparison is NULL, so the
    row is not selected; no term on the due date alone, so that no index of it is walked."""
    return and_(
        open_sql(),
        or_(
            _late_by_plan(),
            WorkOrder.due_date <= now + margin,
            and_(
                WorkOrder.planned_end.is_not(None),
                not_before(WorkOrder.planned_end, WorkOrder.due_date, margin),
            ),
        ),
    )


def slack_us_sql(now: datetime) -> ColumnElement[int]:
    """`orders.lifecycle.slack` in microseconds: the due date minus the planned end, or
    minus now when that is later (or there is no plan)."""
    ends = case(
        (
            and_(WorkOrder.planned_end.is_not(None), WorkOrder.planned_end > now),
            WorkOrder.planned_end,
        ),
        else_=literal(now, UTCDateTime()),
    )
    return micros_between(WorkOrder.due_date, ends)


# --- the analysis ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """The answer of GET /bottlenecks (`out.late_count`: how many late work orders there are
    in all, of which it lists the first `late_limit`; 0 when none were asked for)."""

    out: BottleneckOut

    @property
    def late_count(self) -> int:
        return self.out.late_count


def bottlenecks(
    session: Session,
    actor: Actor,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    late_limit: int = LATE_LIMIT,
    held_up_limit: int = HELD_UP_LIMIT,
) -> BottleneckOut:
    """Loads of every active resource over [start, end) (default: the next 7 days) from the
    current bookings, the bottleneck resource(s), and the first `late_limit` booked work
    orders that are late, the most weighted lateness first, each with the resource and the
    first `held_up_limit` line items of the work that held it up (its reason says how many
    there were). Fixed queries."""
    return report(
        session, actor, start, end, late_limit=late_limit, held_up_limit=held_up_limit
    ).out


def report(
    session: Session,
    actor: Actor,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    late_limit: int = LATE_LIMIT,
    held_up_limit: int | None = None,
    waiting_for: uuid.UUID | None = None,
) -> Report:
    """`bottlenecks`, with the count of late work orders. `late_limit` 0: the loads and the
    bottleneck only. `held_up_limit`: list at most this many of the line items that held each
    late work order up (its reason still says how many there were). `waiting_for`: only the
    late work that waited longest for that resource, and how much of it there is."""
    authorize(actor, "bottleneck.read")
    start = (start or utcnow()).astimezone(UTC).replace(second=0, microsecond=0)
    end = end.astimezone(UTC) if end is not None else start + timedelta(days=7)
    if end <= start:
        raise ValidationProblem([FieldError(["query", "to"], "must be after from")])
    if end - start > MAX_BOTTLENECK_SPAN:
        raise ValidationProblem([FieldError(["query", "to"], "at most 366 days after from")])
    # Reads only, in the caller's transaction.
    return _Analysis(session, actor.org_id, start, end, utcnow()).run(
        late_limit, held_up_limit, waiting_for
    )


@dataclass(frozen=True)
class _Late:
    """A late work order as the ranking query finds it."""

    id: uuid.UUID
    number: str
    state: State
    due_date: datetime
    planned_end: datetime
    by_plan: bool
    lateness: int
    weighted: int


@dataclass(frozen=True)
class _Explained:
    late: _Late
    ops: dict[str, LineItemSnap]
    lj: core.LateJob
    wait: core.Wait | None


class _Analysis:
    def __init__(
        self, session: Session, org_id: uuid.UUID, start: datetime, end: datetime, now: datetime
    ) -> None:
        self.session, self.org_id = session, org_id
        self.start, self.end, self.now = start, end, now
        self.origin_us = micros(start)
        self.origin_min = self.origin_us // _MINUTE_US
        self.horizon = floor_minutes(end, start)  # minutes, as the solver counts them

    def run(
        self, late_limit: int, held_up_limit: int | None, waiting_for: uuid.UUID | None
    ) -> Report:
        every = self.session.scalars(
            select(Resource).where(Resource.org_id == self.org_id).order_by(Resource.code)
        ).all()
        self.code_of = {r.id: r.code for r in every}
        self.id_of = {r.code: r.id for r in every}
        self.brief = {r.code: ResourceBrief(id=r.id, code=r.code, name=r.name) for r in every}
        shown = self._resources(every)
        ranked: list[_Late] = []
        count: int | None = None
        if not late_limit:
            pass
        elif waiting_for is None:
            ranked, count = self._ranked(limit=late_limit)
        else:
            ranked, _ = self._ranked(on_resource=waiting_for)
        # Calendars three weeks past the work explained: where its line items could have
        # started instead lies before them, or soon after.
        latest = max([self.end, *(r.planned_end for r in ranked)])
        until = min(latest, self.start + 2 * MAX_BOTTLENECK_SPAN) + MIN_CALENDAR_SPAN
        cals = calendars.expand_all(
            calendars.resource_hours(self.session, self.org_id, every, self.start, until),
            self.start,
            until,
        )
        self.calendar_of = {self.code_of[rid]: cal for rid, cal in cals.items()}
        calendared = {rid for rid, cal in cals.items() if cal is not None}
        loads, bottlenecks = core.summarise(self._loads(shown, calendared, cals))
        explained = self._explain([r for r in ranked if r.by_plan])
        if late_limit and waiting_for is not None:
            code = self.code_of.get(waiting_for)
            ranked = [r for r in ranked if (w := explained[r.id].wait) and w.resource == code]
            count, ranked = len(ranked), ranked[:late_limit]
        shown_ids = {r.id for r in ranked}
        held = self._held_up(
            [e for e in explained.values() if e.late.id in shown_ids and e.wait], held_up_limit
        )
        waits = stock.material_waits(self.session, self.org_id, [r.id for r in ranked])
        out = BottleneckOut.model_validate(
            {
                "start": self.start,
                "end": self.end,
                "resources": [
                    ResourceLoadOut(
                        resource=self.brief[rl.resource],
                        available_minutes=rl.available,
                        booked_minutes=rl.booked,
                        utilisation=None
                        if math.isinf(rl.utilisation)
                        else round(rl.utilisation, 4),
                    )
                    for rl in loads
                ],
                "bottlenecks": [self.brief[code] for code in bottlenecks],
                "late_work_orders": [
                    self._late_out(
                        r,
                        explained.get(r.id),
                        held.get(r.id, ([], 0)),
                        held_up_limit,
                        waits.get(r.id, []),
                    )
                    for r in ranked
                ],
                "late_count": count or 0,
            }
        )
        return Report(out)

    # --- resources and their loads

    def _resources(self, every: Sequence[Resource]) -> list[Resource]:
        """The active resources, and the inactive ones with bookings in the window."""
        inactive = [r.id for r in every if not r.active]
        used: set[uuid.UUID] = set()
        if inactive:
            used = set(
                self.session.scalars(
                    select(ResourceBooking.resource_id)
                    .where(ResourceBooking.resource_id.in_(inactive), self._booking_in_window())
                    .distinct()
                )
            )
        return [r for r in every if r.active or r.id in used]

    def _booking_in_window(self) -> ColumnElement[bool]:
        # (the resources are the organisation's: along their (resource, start) index)
        return and_(ResourceBooking.starts_at < self.end, ResourceBooking.ends_at > self.start)

    def _loads(
        self,
        resources: Sequence[Resource],
        calendared: set[uuid.UUID],
        cals: dict[uuid.UUID, Calendar | None],
    ) -> list[tuple[str, int, int]]:
        """(code, available, booked minutes) of each resource over the window."""
        ids = [r.id for r in resources]
        b = ResourceBooking
        lo = greatest(epoch_minute(b.starts_at) - self.origin_min, 0)
        hi = least(epoch_minute(b.ends_at, up=True) - self.origin_min, self.horizon)
        minutes = greatest(hi - lo, 0)
        where = [b.resource_id.in_(ids), self._booking_in_window()]
        stmt = select(b.resource_id, func.sum(minutes)).where(*where).group_by(b.resource_id)
        if calendared:
            # Interruptible work on a resource with a calendar counts its working minutes.
            stmt = stmt.join(LineItem, LineItem.id == b.line_item_id).where(
                or_(LineItem.interruptible.is_(False), b.resource_id.not_in(calendared))
            )
        booked = {rid: int(n or 0) for rid, n in self.session.execute(stmt)}
        if calendared:
            rows = self.session.execute(
                select(b.resource_id, b.starts_at, b.ends_at)
                .join(LineItem, LineItem.id == b.line_item_id)
                .where(*where, LineItem.interruptible.is_(True), b.resource_id.in_(calendared))
            )
            for rid, starts, ends in rows:
                first = floor_minutes(starts, self.start)
                last = max(first, ceil_minutes(ends, self.start))
                booked[rid] = booked.get(rid, 0) + core.working(
                    cals.get(rid), max(first, 0), min(last, self.horizon)
                )
        return [
            (
                r.code,
                core.working(cals.get(r.id), 0, self.horizon) * r.parallel_capacity,
                booked.get(r.id, 0),
            )
            for r in resources
        ]

    # --- late work, ranked in SQL

    def _late_where(self) -> list[ColumnElement[bool]]:
        return [
            WorkOrder.org_id == self.org_id,
            WorkOrder.state.in_(BOOKED_STATES),
            WorkOrder.planned_end > self.start,
            WorkOrder.planned_start < self.end,
            late_sql(self.now),
        ]

    def _ranked(
        self, *, limit: int | None = None, on_resource: uuid.UUID | None = None
    ) -> tuple[list[_Late], int]:
        """The late work orders (the first `limit`), and how many there are in all; the
        most weighted lateness first: late by their plan, by
        the minutes from the due date to the planned end (both rounded as the solver rounds
        them: the end up, the due date down); past their due date only, by the minutes since
        it; each minute weighed by the priority (at least 1)."""
        by_plan = _late_by_plan()
        due_min = epoch_minute(WorkOrder.due_date)
        end_min = epoch_minute(WorkOrder.planned_end, up=True)
        # ceil((now - due) / 1 min) = -floor((due - now) / 1 min), in whole microseconds
        behind = epoch_us(WorkOrder.due_date) - micros(self.now)
        overdue = -((behind - ((behind % _MINUTE_US) + _MINUTE_US) % _MINUTE_US) // _MINUTE_US)
        lateness = case((by_plan, end_min - due_min), else_=overdue)
        weighted = lateness * case((WorkOrder.priority > 1, WorkOrder.priority), else_=1)
        stmt = select(
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.state,
            WorkOrder.due_date,
            WorkOrder.planned_end,
            by_plan,
            lateness,
            weighted,
            func.count().over(),
        ).where(*self._late_where())
        if on_resource is not None:
            # Only work late by its plan waited for a resource; it has a line item there.
            stmt = stmt.where(
                by_plan,
                WorkOrder.id.in_(
                    select(ResourceBooking.work_order_id).where(
                        ResourceBooking.resource_id == on_resource
                    )
                ),
            )
        stmt = stmt.order_by(weighted.desc(), WorkOrder.number)
        if limit is not None:
            stmt = stmt.limit(limit)
        found, total = [], 0
        for wid, number, state, due, end, plan, n, w, over in self.session.execute(stmt):
            found.append(_Late(wid, number, state, due, end, bool(plan), int(n), int(w)))
            total = int(over)
        return found, total

    # --- why: the wait of each work order shown, from its own line items

    def _explain(self, late: Sequence[_Late]) -> dict[uuid.UUID, _Explained]:
        if not late:
            return {}
        ids = [r.id for r in late]
        heads = {
            wo.id: wo
            for wo in self.session.execute(
                select(
                    WorkOrder.id,
                    WorkOrder.number,
                    WorkOrder.version,
                    WorkOrder.state,
                    WorkOrder.pinned,
                    WorkOrder.production_order_id,
                    WorkOrder.quantity,
                    WorkOrder.unit,
                    WorkOrder.due_date,
                    WorkOrder.priority,
                    WorkOrder.release_at,
                    WorkOrder.planned_start,
                    WorkOrder.planned_end,
                ).where(WorkOrder.id.in_(ids))
            )
        }
        lines: dict[uuid.UUID, list[LineItemSnap]] = {i: [] for i in ids}
        for row in self.session.execute(
            select(
                LineItem.work_order_id,
                LineItem.id,
                LineItem.sequence,
                LineItem.operation,
                LineItem.resource_id,
                LineItem.planned_start,
                LineItem.planned_end,
                LineItem.interruptible,
            )
            .where(LineItem.work_order_id.in_(ids))
            .order_by(LineItem.work_order_id, LineItem.sequence)
        ):
            lines[row[0]].append(LineItemSnap(*row[1:]))
        # The work orders they wait for that are in the analysis (booked, in the window),
        # with when each ends.
        pred = aliased(WorkOrder)
        preds: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
        finish_of: dict[str, int] = {}
        for wo_id, number, pred_end in self.session.execute(
            select(WorkOrderDependency.work_order_id, pred.number, pred.planned_end)
            .join(pred, pred.id == WorkOrderDependency.depends_on_id)
            .where(
                WorkOrderDependency.work_order_id.in_(ids),
                pred.state.in_(BOOKED_STATES),
                pred.planned_end > self.start,
                pred.planned_start < self.end,
            )
            .order_by(WorkOrderDependency.work_order_id, pred.number)
        ):
            assert pred_end is not None
            preds[wo_id].append(number)
            finish_of[number] = ceil_minutes(pred_end, self.start)
        out = {}
        for r in late:
            snap = WorkOrderSnap(**heads[r.id]._asdict(), line_items=tuple(lines[r.id]))
            job, windows = booked_job(snap, self.start, self.code_of, preds[r.id])
            by_op = {
                p.operation: Assignment(p.operation, p.resource, p.start, p.end) for _, p in windows
            }
            wait, waited_for = core.worst_wait(job, by_op, self.calendar_of, finish_of)
            finish = ceil_minutes(r.planned_end, self.start)
            lj = core.late_job(job, finish, wait, waited_for, [])
            out[r.id] = _Explained(r, {p.operation: li for li, p in windows}, lj, wait)
        return out

    def _held_up(
        self, explained: Sequence[_Explained], limit: int | None
    ) -> dict[uuid.UUID, tuple[list[LineItemBrief], int]]:
        """For each explained wait, the line items of other booked work in the window that
        occupied its resource meanwhile, in time order (the first `limit`, or as many as a
        reason names if more), and how many there were: the bookings along their (resource,
        start) index, counted there, then the line items and work orders of those listed."""
        if not explained:
            return {}
        b = ResourceBooking
        minute = timedelta(minutes=1)
        at = UTCDateTime()
        # The waits as rows of their own (one statement whatever their number, made of
        # literals rather than of a subquery each), each joined to the bookings that
        # occupied its resource meanwhile: core.holds_up, in the solver's whole minutes from
        # the window's start.
        waits: list[Any] = []
        for k, e in enumerate(explained):
            assert e.wait is not None
            before, after = self.start + e.wait.start * minute, self.start + e.wait.since * minute
            waits.append(
                select(
                    literal(k, Integer).label("k"),
                    literal(self.id_of[e.wait.resource], Id()).label("resource_id"),
                    literal(before, at).label("before"),
                    literal(after, at).label("after"),
                    literal(e.late.id, Id()).label("late_id"),
                    # Work in the way that starts after the window is the window's only if
                    # its work order overlaps it (a booking before `before` ends after the
                    # start).
                    literal(before > self.end, Boolean()).label("beyond"),
                )
            )
        rows_of: Any = waits[0] if len(waits) == 1 else union_all(*waits)
        w = rows_of.subquery("waits").c
        held = (
            select(
                w.k,
                b.id,
                b.work_order_id,
                b.line_item_id,
                b.starts_at,
                func.count().over(partition_by=w.k).label("n"),
                func.row_number().over(partition_by=w.k, order_by=(b.starts_at, b.id)).label("rn"),
            )
            .join(
                b,
                and_(
                    b.resource_id == w.resource_id,
                    b.starts_at < w.before,
                    b.ends_at > w.after,
                    b.work_order_id != w.late_id,
                ),
            )
            .where(
                or_(
                    w.beyond.is_(False),
                    select(WorkOrder.id)
                    .where(WorkOrder.id == b.work_order_id, WorkOrder.planned_start < self.end)
                    .exists(),
                )
            )
            .subquery("held")
        ).c
        query = select(
            held.k, held.id, held.work_order_id, held.line_item_id, held.starts_at, held.n
        )
        if limit is not None:
            # as many as asked for, and as many as a reason names
            query = query.where(held.rn <= max(limit, HOLDERS_NAMED))
        rows: Sequence[Any] = self.session.execute(query).all()
        if not rows:
            return {}
        names = {
            li_id: (wo_id, number, sequence, operation)
            for li_id, wo_id, number, sequence, operation in self.session.execute(
                select(
                    LineItem.id,
                    WorkOrder.id,
                    WorkOrder.number,
                    LineItem.sequence,
                    LineItem.operation,
                )
                .join(WorkOrder, WorkOrder.id == LineItem.work_order_id)
                .where(LineItem.id.in_({row[3] for row in rows}))
            )
        }
        found: dict[int, list[tuple[datetime, uuid.UUID, LineItemBrief]]] = {}
        totals: dict[int, int] = {}
        for k, booking_id, _wo, li_id, starts, n in rows:
            totals[k] = int(n)
            wo_id, number, sequence, operation = names[li_id]
            brief = LineItemBrief(
                work_order_id=wo_id,
                work_order_number=number,
                line_item_id=li_id,
                sequence=sequence,
                operation=operation,
            )
            found.setdefault(k, []).append((starts, booking_id, brief))
        return {
            e.late.id: (
                [brief for *_, brief in sorted(found.get(k, []), key=lambda f: (f[0], f[1]))],
                totals.get(k, 0),
            )
            for k, e in enumerate(explained)
        }

    def _late_out(
        self,
        r: _Late,
        e: _Explained | None,
        held: tuple[list[LineItemBrief], int],
        held_up_limit: int | None,
        waits: Sequence[stock.MaterialWait],
    ) -> LateWorkOrderOut:
        short = [MaterialShortOut(item_sku=w.item_sku, unit=w.unit, short=w.short) for w in waits]
        lacking = (
            "; short of " + ", ".join(f"{_qty(w.short)} {w.unit} of {w.item_sku}" for w in waits)
            if waits
            else ""
        )
        base = {
            "id": r.id,
            "number": r.number,
            "due_date": r.due_date,
            "planned_end": r.planned_end,
            "lateness_minutes": r.lateness,
            "weighted_lateness": r.weighted,
        }
        if e is None:
            return LateWorkOrderOut.model_validate(
                {
                    **base,
                    "reason": f"its due date has passed and it is still {r.state}{lacking}",
                    "short_materials": short,
                }
            )
        holders, total = held
        line = None
        if e.lj.operation is not None:
            li = e.ops[e.lj.operation]
            line = LineItemBrief(
                work_order_id=r.id,
                work_order_number=r.number,
                line_item_id=li.id,
                sequence=li.sequence,
                operation=li.operation,
            )
        return LateWorkOrderOut.model_validate(
            {
                **base,
                "resource": self.brief.get(e.lj.resource) if e.lj.resource else None,
                "line_item": line,
                "waited_minutes": e.lj.waited,
                "held_up_by": holders if held_up_limit is None else holders[:held_up_limit],
                "reason": _late_reason(e.lj, line, holders, total) + lacking,
                "short_materials": short,
            }
        )


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _late_reason(
    lj: core.LateJob, line: LineItemBrief | None, held: Sequence[LineItemBrief], total: int
) -> str:
    if line is None:
        return lj.reason.replace("job(s)", "work order(s)")
    named = ", ".join(f"{h.work_order_number} ({h.operation})" for h in held[:HOLDERS_NAMED])
    more = total - min(len(held), HOLDERS_NAMED)
    text = (
        f"line item {line.sequence} ({line.operation}) waited {lj.waited} minutes for {lj.resource}"
    )
    if named:
        text += f", busy with {named}" + (f" and {more} more" if more > 0 else "")
    return text
