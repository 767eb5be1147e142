"""Resource bookings of work orders: the duration rule, laying line items out, booking
them within their resources' capacity, releasing them, and placing what the scheduler chose.

The duration of a line item is one rule for the planner's hand and the scheduler alike:
setup plus run time per unit times the quantity, rounded up to whole minutes.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from taktline import records
from taktline.errors import BookingConflict, Conflict, FieldError, Loc, ValidationProblem
from taktline.orders.models import LineItem, LineItemAlternative, WorkOrder
from taktline.orders.schemas import LineItemWindow
from taktline.permissions import Actor
from taktline.resources.capacity import Window, earliest_fit, fits, over_capacity_per_run, overlaps
from taktline.resources.models import Resource, ResourceBooking


def duration_minutes(
    setup_minutes: Decimal, run_minutes_per_unit: Decimal, quantity: Decimal
) -> int:
    """How long a line item takes: setup plus run time per unit times the quantity, in whole
    minutes, rounded up (a plan never promises a fraction of a minute it cannot keep)."""
    minutes = setup_minutes + run_minutes_per_unit * quantity
    return int(minutes.to_integral_value(rounding=ROUND_CEILING))


def line_item_duration(li: LineItem, quantity: Decimal) -> timedelta:
    """The duration rule for a line item on its own resource; OverflowError past any calendar."""
    return timedelta(minutes=duration_minutes(li.setup_minutes, li.run_minutes_per_unit, quantity))


def _duration_or_none(li: LineItem, quantity: Decimal) -> timedelta | None:
    try:
        return line_item_duration(li, quantity)
    except OverflowError:
        return None


def refresh_planned_window(wo: WorkOrder) -> None:
    starts = [li.planned_start for li in wo.line_items if li.planned_start]
    ends = [li.planned_end for li in wo.line_items if li.planned_end]
    wo.planned_start = min(starts) if starts else None
    wo.planned_end = max(ends) if ends else None


def windows_of(wo: WorkOrder) -> dict[str, Any]:
    return {
        "line_items": [
            {
                "sequence": li.sequence,
                "resource_id": str(li.resource_id),
                "planned_start": li.planned_start.isoformat() if li.planned_start else None,
                "planned_end": li.planned_end.isoformat() if li.planned_end else None,
            }
            for li in wo.line_items
        ]
    }


def apply_windows(
    session: Session, actor: Actor, wo: WorkOrder, windows: Sequence[LineItemWindow], loc: Loc
) -> None:
    by_id = {li.id: li for li in wo.line_items}
    unknown = [
        FieldError([*loc, "line_items", i, "id"], f"no line item of {wo.number} with this id")
        for i, w in enumerate(windows)
        if w.id not in by_id
    ]
    if unknown:
        raise ValidationProblem(unknown)
    records.resolve_refs(
        session,
        Resource,
        actor.org_id,
        [
            ([*loc, "line_items", i, "resource_id"], w.resource_id)
            for i, w in enumerate(windows)
            if w.resource_id is not None
        ],
        kind="resource",
    )
    for w in windows:
        li = by_id[w.id]
        li.planned_start, li.planned_end = w.planned_start, w.planned_end
        if w.resource_id is not None:
            li.resource_id = w.resource_id


@dataclass
class _Booked:
    window: Window
    number: str
    operation: str


@dataclass
class _ResourceLoad:
    resource: Resource
    booked: list[_Booked] = field(default_factory=list)

    def windows(self) -> list[Window]:
        return [b.window for b in self.booked]


class BookingLedger:
    """The resources some work orders need, locked, with their bookings from a time on.

    Locking the resources (in id order, all up front) makes concurrent bookings of one
    resource take turns, so the capacity check sees every booking committed before it, and
    two use cases never wait on each other; the exclusion constraint on PostgreSQL backs the
    check up for single-capacity resources. Loaded once, the ledger then serves every work
    order of a bulk schedule from memory, adding each booking as it is made.
    """

    def __init__(self, loads: dict[uuid.UUID, _ResourceLoad]) -> None:
        self.loads = loads

    @classmethod
    def load(
        cls,
        session: Session,
        actor: Actor,
        work_orders: Sequence[WorkOrder],
        since: datetime | None,
    ) -> "BookingLedger":
        ids = sorted(
            {li.resource_id for wo in work_orders for li in wo.line_items if li.resource_id}
        )
        resources = session.scalars(
            select(Resource)
            .where(Resource.id.in_(ids), Resource.org_id == actor.org_id)
            .order_by(Resource.id)
            .with_for_update()
        ).all()
        loads = {r.id: _ResourceLoad(r) for r in resources}
        stmt = (
            select(
                ResourceBooking.resource_id,
                ResourceBooking.starts_at,
                ResourceBooking.ends_at,
                WorkOrder.number,
                LineItem.operation,
            )
            .join(WorkOrder, WorkOrder.id == ResourceBooking.work_order_id)
            .join(LineItem, LineItem.id == ResourceBooking.line_item_id)
            .where(ResourceBooking.resource_id.in_(ids))
        )
        if since is not None:
            stmt = stmt.where(ResourceBooking.ends_at > since)
        for rid, s, e, number, operation in session.execute(stmt):
            loads[rid].booked.append(_Booked((s, e), number, operation))
        return cls(loads)

    def lay_out(self, wo: WorkOrder, start: datetime) -> None:
        """Back to back from `start`, each line item at the earliest time its resource is
        free (and after the line item before it)."""
        own: dict[uuid.UUID, list[Window]] = defaultdict(list)
        cursor = start
        for li in wo.line_items:
            assert li.resource_id is not None
            load = self.loads[li.resource_id]
            window = earliest_fit(
                cursor,
                line_item_duration(li, wo.quantity),
                load.windows() + own[li.resource_id],
                load.resource.parallel_capacity,
            )
            li.planned_start, li.planned_end = window
            own[li.resource_id].append(window)
            cursor = window[1]

    def book(self, session: Session, actor: Actor, wo: WorkOrder) -> None:
        """Books every line item on its window, or refuses the lot naming what is in the way."""
        conflicts: list[str] = []
        details: list[dict[str, Any]] = []
        for li in wo.line_items:
            assert li.resource_id is not None
            assert li.planned_start is not None
            assert li.planned_end is not None
            load = self.loads[li.resource_id]
            resource = load.resource
            window = (li.planned_start, li.planned_end)
            label = f"line item {li.sequence} ({li.operation}) on {resource.name}"
            if not resource.active:
                conflicts.append(f"{label}: the resource is inactive")
                continue
            if over_capacity_per_run(
                resource.capacity_max, resource.capacity_unit, wo.quantity, wo.unit
            ):
                conflicts.append(
                    f"{label}: {wo.quantity} {wo.unit} is more than its capacity of "
                    f"{resource.capacity_max} {resource.capacity_unit} per run"
                )
                continue
            if not fits(window, load.windows(), resource.parallel_capacity):
                clashing = [b for b in load.booked if overlaps(b.window, window)]
                names = ", ".join(
                    f"{b.number} ({b.operation}, {b.window[0]:%Y-%m-%d %H:%M} to "
                    f"{b.window[1]:%Y-%m-%d %H:%M} UTC)"
                    for b in clashing
                )
                conflicts.append(f"{label} overlaps {names}")
                details.extend(
                    {
                        "line_item_id": str(li.id),
                        "resource_id": str(resource.id),
                        "work_order_number": b.number,
                    }
                    for b in clashing
                )
                continue
            load.booked.append(_Booked(window, wo.number, li.operation))
            session.add(
                ResourceBooking(
                    org_id=actor.org_id,
                    resource_id=resource.id,
                    work_order_id=wo.id,
                    line_item_id=li.id,
                    starts_at=li.planned_start,
                    ends_at=li.planned_end,
                    exclusive=resource.parallel_capacity == 1,
                )
            )
        if conflicts:
            raise BookingConflict(
                f"Cannot schedule {wo.number}: " + "; ".join(conflicts) + ".", conflicts=details
            )


def earliest_planned_start(work_orders: Sequence[WorkOrder]) -> datetime | None:
    starts = [li.planned_start for wo in work_orders for li in wo.line_items if li.planned_start]
    return min(starts) if starts else None


def check_can_lay_out(wo: WorkOrder) -> None:
    problems = []
    for li in wo.line_items:
        if li.resource_id is None:
            problems.append(f"line item {li.sequence} ({li.operation}) has no resource")
        elif _duration_or_none(li, wo.quantity) is None:
            problems.append(
                f"line item {li.sequence} ({li.operation}) would take longer than any calendar"
            )
        elif line_item_duration(li, wo.quantity) <= timedelta(0):
            problems.append(
                f"line item {li.sequence} ({li.operation}) takes no time: give it setup_minutes"
                " or run_minutes_per_unit"
            )
    if problems:
        raise ValidationProblem([FieldError(["body", "start"], "; ".join(problems))])


def release_bookings(session: Session, work_order_ids: Sequence[uuid.UUID]) -> None:
    if work_order_ids:
        session.execute(
            delete(ResourceBooking)
            .where(ResourceBooking.work_order_id.in_(work_order_ids))
            # No use case releases bookings it holds as records (the ledger reads columns),
            # so there is nothing in the session to keep in step: a plain DELETE.
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class Placement:
    """Where and when the scheduler runs one line item."""

    line_item_id: uuid.UUID
    resource_id: uuid.UUID
    start: datetime
    end: datetime


def place_locked(
    session: Session,
    wo: WorkOrder,
    placements: Sequence[Placement],
    alternatives: dict[uuid.UUID, list[LineItemAlternative]],
) -> list[dict[str, Any]]:
    """Sets the windows and resources the scheduler chose on a work order the caller has
    locked, and returns what changed, line item by line item, for the audit trail.

    A line item moved to one of its alternative resources swaps places with it: the
    alternative's setup and run time become the line item's, and its old resource (with its
    times) becomes an alternative, so the choices stay the same for the next schedule."""
    by_id = {li.id: li for li in wo.line_items}
    changes: list[dict[str, Any]] = []
    for p in placements:
        li = by_id[p.line_item_id]
        old = (li.resource_id, li.planned_start, li.planned_end)
        if p.resource_id != li.resource_id:
            alt = next(
                (a for a in alternatives.get(li.id, []) if a.resource_id == p.resource_id), None
            )
            if alt is None:
                raise Conflict(
                    f"{wo.number} line item {li.sequence} ({li.operation}) cannot run on "
                    f"resource {p.resource_id}: it is not one of its resources."
                )
            if li.resource_id is None:
                li.resource_id = alt.resource_id
                li.setup_minutes, li.run_minutes_per_unit = (
                    alt.setup_minutes,
                    alt.run_minutes_per_unit,
                )
                session.delete(alt)
            else:
                li.resource_id, alt.resource_id = alt.resource_id, li.resource_id
                li.setup_minutes, alt.setup_minutes = alt.setup_minutes, li.setup_minutes
                li.run_minutes_per_unit, alt.run_minutes_per_unit = (
                    alt.run_minutes_per_unit,
                    li.run_minutes_per_unit,
                )
        li.planned_start, li.planned_end = p.start, p.end
        if old != (li.resource_id, li.planned_start, li.planned_end):
            changes.append(
                {
                    "sequence": li.sequence,
                    "operation": li.operation,
                    "resource_id": [_text(old[0]), _text(li.resource_id)],
                    "planned_start": [_text(old[1]), _text(li.planned_start)],
                    "planned_end": [_text(old[2]), _text(li.planned_end)],
                }
            )
    refresh_planned_window(wo)
    return changes


def _text(value: uuid.UUID | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
