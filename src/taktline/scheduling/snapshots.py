"""The scheduler's view of the plant: snapshots of work orders and line items, the problem
built from them with the way back from its ids to the records, and the shared conversions
(whole minutes from the horizon start, jobs, booked work at its windows)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from taktline.errors import (
    Unschedulable,
)
from taktline.orders.lifecycle import State
from taktline.orders.models import (
    LineItem,
    WorkOrder,
)
from taktline.resources.models import Resource
from taktline.solver.calendar import Calendar
from taktline.solver.problem import (
    Job,
    Mode,
    Objective,
    Operation,
    Pinned,
    Problem,
)

MINUTE = timedelta(minutes=1)
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
# Calendars are expanded at least this far, and at most this far, from the horizon start.
MIN_CALENDAR_SPAN = timedelta(days=21)
MAX_CALENDAR_SPAN = timedelta(days=3 * 366)
# A single line item longer than this (in minutes) is refused rather than scheduled.
MAX_DURATION_MINUTES = 366 * DAY_MINUTES
MAX_BOTTLENECK_SPAN = timedelta(days=366)

Progress = Callable[[str], None]


def quiet(_: str) -> None:
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


def snapshot(
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
        return floor_minutes(at, self.origin)

    def at(self, minutes: int) -> datetime:
        return self.origin + minutes * MINUTE


def op_id(wo: WorkOrderSnap | WorkOrder, li: LineItemSnap | LineItem) -> str:
    return f"{wo.number}/{li.sequence}"


def floor_minutes(at: datetime, origin: datetime) -> int:
    return int((at - origin).total_seconds() // 60)


def ceil_minutes(at: datetime, origin: datetime) -> int:
    return -int(-(at - origin).total_seconds() // 60)


def whole_minute(at: datetime) -> datetime:
    """`at` in UTC, rounded up to a whole minute."""
    at = at.astimezone(UTC)
    floored = at.replace(second=0, microsecond=0)
    return floored if floored == at else floored + MINUTE


def line_item_label(wo: WorkOrderSnap, li: LineItemSnap) -> str:
    return f"{wo.number} line item {li.sequence} ({li.operation})"


def unschedulable(wo: WorkOrderSnap, li: LineItemSnap | None, reason: str) -> Unschedulable:
    where = line_item_label(wo, li) if li is not None else wo.number
    extensions: dict[str, object] = {
        "work_order_id": str(wo.id),
        "work_order_number": wo.number,
        "reason": reason,
    }
    if li is not None:
        extensions.update(line_item_id=str(li.id), sequence=li.sequence, operation=li.operation)
    return Unschedulable(f"{where} cannot be scheduled: {reason}.", **extensions)


# --- jobs ---------------------------------------------------------------------------------


def job_of(
    snap: WorkOrderSnap, operations: tuple[Operation, ...], origin: datetime, preds: list[str]
) -> Job:
    return Job(
        id=snap.number,
        operations=operations,
        release=max(0, ceil_minutes(snap.release_at, origin)) if snap.release_at else 0,
        due=floor_minutes(snap.due_date, origin) if snap.due_date is not None else None,
        # Priority 0..100 weighs a minute of lateness; even the least urgent work counts.
        weight=max(1, snap.priority),
        predecessors=tuple(dict.fromkeys(preds)),
    )


def booked_job(
    snap: WorkOrderSnap, origin: datetime, code_of: dict[uuid.UUID, str], preds: list[str]
) -> tuple[Job, list[tuple[LineItemSnap, Pinned]]]:
    """Booked work as the solver sees it: a job whose line items with a window each run in
    one mode at that window. Windows are rounded outwards to whole minutes, so that no new
    work touches a window given to the second."""
    operations, windows = [], []
    for li in snap.line_items:
        if not li.has_window:
            continue
        assert li.resource_id is not None
        assert li.planned_start is not None
        assert li.planned_end is not None
        start = floor_minutes(li.planned_start, origin)
        end = max(start, ceil_minutes(li.planned_end, origin))
        code = code_of[li.resource_id]
        oid = op_id(snap, li)
        operations.append(Operation(oid, (Mode(code, end - start),), li.interruptible))
        windows.append((li, Pinned(oid, code, start, end)))
    return job_of(snap, tuple(operations), origin, preds), windows
