"""Read-only queries of the plant pages (dashboard, resources, board, shop floor).

Each function runs a fixed number of statements however many rows there are, always within
the actor's organisation. They only read: every change goes through the services.
"""

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from taktline.errors import NotFound
from taktline.items.models import Item
from taktline.orders import reading
from taktline.orders.lifecycle import BOOKED_STATES, LineItemStatus, State
from taktline.orders.models import LineItem, ProductionOrder, WorkOrder
from taktline.orders.schemas import LineItemOut, ProductionOrderOut, WorkOrderOut
from taktline.orgs.models import Customer, Facility
from taktline.permissions import Actor
from taktline.portal.charts import hours_per_window
from taktline.resources.capacity import Window
from taktline.resources.models import Resource, ResourceBooking

OPEN_STATES = (State.DRAFT, State.SCHEDULED, State.IN_PROCESS)
# States shown on the dashboard: DELETED work orders are gone from totals.
COUNTED_STATES = (
    State.DRAFT,
    State.SCHEDULED,
    State.IN_PROCESS,
    State.COMPLETED,
    State.CANCELED,
)

# --- work orders by state, late and at risk ------------------------------------------------


def state_counts(session: Session, org_id: uuid.UUID) -> dict[State, int]:
    rows = session.execute(
        select(WorkOrder.state, func.count())
        .where(WorkOrder.org_id == org_id, WorkOrder.state != State.DELETED)
        .group_by(WorkOrder.state)
    )
    found = dict(rows.all())
    return {state: int(found.get(state, 0)) for state in COUNTED_STATES}


@dataclass(frozen=True)
class DueRow:
    id: uuid.UUID
    number: str
    state: State
    on_hold: bool
    item_sku: str
    item_name: str
    quantity: Decimal
    unit: str
    due_date: datetime
    planned_end: datetime | None
    late: bool
    """Planned to end after its due date, or due already and not finished."""
    slack: timedelta
    """Due date minus the planned end (or now, without a planned end): negative when late."""


def late_and_at_risk(
    session: Session, org_id: uuid.UUID, now: datetime, margin: timedelta
) -> list[DueRow]:
    """Open work orders that will miss their due date (late) or end within `margin` of it
    (at risk), the latest first.

    Late: planned end after the due date, or the due date passed while it is still open.
    At risk: not late, and the planned end (or, unplanned, now) is within `margin` of the
    due date. One query over the open work orders with a due date: their count is bounded
    by what a plant has in progress, and the arithmetic is done here, the same on every
    database.
    """
    rows = session.execute(
        select(
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.state,
            WorkOrder.on_hold,
            Item.sku,
            Item.name,
            WorkOrder.quantity,
            WorkOrder.unit,
            WorkOrder.due_date,
            WorkOrder.planned_end,
        )
        .join(Item, Item.id == WorkOrder.item_id)
        .where(
            WorkOrder.org_id == org_id,
            WorkOrder.state.in_(OPEN_STATES),
            WorkOrder.due_date.is_not(None),
        )
    )
    found = []
    for wo_id, number, state, hold, sku, name, quantity, unit, due, planned_end in rows:
        assert due is not None
        finish = max(planned_end, now) if planned_end is not None else now
        slack = due - finish
        late = (planned_end is not None and planned_end > due) or due < now
        if late or slack <= margin:
            found.append(
                DueRow(
                    wo_id,
                    number,
                    state,
                    hold,
                    sku,
                    name,
                    quantity,
                    unit,
                    due,
                    planned_end,
                    late,
                    slack,
                )
            )
    found.sort(key=lambda r: (r.slack, r.number))
    return found


# --- resources and their load --------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRow:
    resource: Resource
    facility_name: str
    facility_zone: str


def resources(
    session: Session, org_id: uuid.UUID, *, active_only: bool = False
) -> list[ResourceRow]:
    stmt = (
        select(Resource, Facility.name, Facility.timezone)
        .join(Facility, Facility.id == Resource.facility_id)
        .where(Resource.org_id == org_id)
        .order_by(Facility.name, Resource.code)
    )
    if active_only:
        stmt = stmt.where(Resource.active.is_(True))
    return [ResourceRow(r, name, zone) for r, name, zone in session.execute(stmt)]


def resource(session: Session, actor: Actor, resource_id: uuid.UUID) -> ResourceRow:
    row = session.execute(
        select(Resource, Facility.name, Facility.timezone)
        .join(Facility, Facility.id == Resource.facility_id)
        .where(Resource.id == resource_id, Resource.org_id == actor.org_id)
    ).first()
    if row is None:
        raise NotFound("resource", resource_id)
    return ResourceRow(row[0], row[1], row[2])


def booked_hours(
    session: Session,
    org_id: uuid.UUID,
    windows: Sequence[Window],
    *,
    resource_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, list[float]]:
    """Booked hours of each resource inside each window (bookings clipped to it), from one
    query of the bookings that overlap any of the windows. Resources without bookings are
    left out: read with `.get(id, zeros)`."""
    if not windows:
        return {}
    lo = min(w[0] for w in windows)
    hi = max(w[1] for w in windows)
    stmt = select(
        ResourceBooking.resource_id, ResourceBooking.starts_at, ResourceBooking.ends_at
    ).where(
        ResourceBooking.org_id == org_id,
        ResourceBooking.starts_at < hi,
        ResourceBooking.ends_at > lo,
    )
    if resource_id is not None:
        stmt = stmt.where(ResourceBooking.resource_id == resource_id)
    spans: dict[uuid.UUID, list[Window]] = {}
    for rid, start, end in session.execute(stmt):
        spans.setdefault(rid, []).append((start, end))
    return {rid: hours_per_window(windows, booked) for rid, booked in spans.items()}


# --- bookings with their work orders ---------------------------------------------------------


@dataclass(frozen=True)
class BookedLine:
    """A line item's window on a resource, with what the board and the lists show of it."""

    resource_id: uuid.UUID
    booking_id: uuid.UUID | None
    """None for a COMPLETED work order's line item: its booking was released on completion,
    its planned window is shown as history."""
    work_order_id: uuid.UUID
    number: str
    state: State
    on_hold: bool
    line_item_id: uuid.UUID
    sequence: int
    operation: str
    status: LineItemStatus
    item_sku: str
    item_name: str
    quantity: Decimal
    unit: str
    starts_at: datetime
    ends_at: datetime


_BOOKED_COLUMNS = (
    WorkOrder.id,
    WorkOrder.number,
    WorkOrder.state,
    WorkOrder.on_hold,
    LineItem.id,
    LineItem.sequence,
    LineItem.operation,
    LineItem.status,
    Item.sku,
    Item.name,
    WorkOrder.quantity,
    WorkOrder.unit,
)


def _booked_line(
    resource_id: uuid.UUID,
    booking_id: uuid.UUID | None,
    columns: Sequence[Any],
    starts_at: datetime,
    ends_at: datetime,
) -> BookedLine:
    """A BookedLine from the values of _BOOKED_COLUMNS, in their order."""
    wo_id, number, state, on_hold, li_id, sequence, operation, status, sku, name, qty, unit = (
        columns
    )
    return BookedLine(
        resource_id=resource_id,
        booking_id=booking_id,
        work_order_id=wo_id,
        number=number,
        state=state,
        on_hold=on_hold,
        line_item_id=li_id,
        sequence=sequence,
        operation=operation,
        status=status,
        item_sku=sku,
        item_name=name,
        quantity=qty,
        unit=unit,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def bookings(
    session: Session,
    org_id: uuid.UUID,
    start: datetime,
    end: datetime | None = None,
    *,
    resource_id: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[BookedLine]:
    """The bookings overlapping [start, end) (end None: every one after start), joined to
    their line items, work orders and items, in time order; one query."""
    stmt = (
        select(
            ResourceBooking.resource_id,
            ResourceBooking.id,
            *_BOOKED_COLUMNS,
            ResourceBooking.starts_at,
            ResourceBooking.ends_at,
        )
        .join(LineItem, LineItem.id == ResourceBooking.line_item_id)
        .join(WorkOrder, WorkOrder.id == ResourceBooking.work_order_id)
        .join(Item, Item.id == WorkOrder.item_id)
        .where(ResourceBooking.org_id == org_id, ResourceBooking.ends_at > start)
        .order_by(ResourceBooking.starts_at, ResourceBooking.id)
    )
    if end is not None:
        stmt = stmt.where(ResourceBooking.starts_at < end)
    if resource_id is not None:
        stmt = stmt.where(ResourceBooking.resource_id == resource_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        _booked_line(rid, booking_id, rest[:-2], rest[-2], rest[-1])
        for rid, booking_id, *rest in session.execute(stmt)
    ]


def completed_line_items(
    session: Session, org_id: uuid.UUID, start: datetime, end: datetime, *, limit: int
) -> list[BookedLine]:
    """Line items of COMPLETED work orders whose planned window overlaps [start, end): the
    work just done, which holds no booking any more. One query."""
    stmt = (
        select(
            LineItem.resource_id,
            *_BOOKED_COLUMNS,
            LineItem.planned_start,
            LineItem.planned_end,
        )
        .join(WorkOrder, WorkOrder.id == LineItem.work_order_id)
        .join(Item, Item.id == WorkOrder.item_id)
        .where(
            LineItem.org_id == org_id,
            WorkOrder.state == State.COMPLETED,
            LineItem.resource_id.is_not(None),
            LineItem.planned_start < end,
            LineItem.planned_end > start,
        )
        .order_by(LineItem.planned_start, LineItem.id)
        .limit(limit)
    )
    found = []
    for rid, *rest, planned_start, planned_end in session.execute(stmt):
        assert rid is not None
        assert planned_start is not None
        assert planned_end is not None
        found.append(_booked_line(rid, None, rest, planned_start, planned_end))
    return found


# --- open production orders ----------------------------------------------------------------


@dataclass(frozen=True)
class OrderProgress:
    order: ProductionOrderOut
    owner_name: str | None

    @property
    def percent(self) -> float:
        return float(self.order.summary.progress_percent)

    @property
    def unit(self) -> str:
        units = {i.unit for i in self.order.items}
        return units.pop() if len(units) == 1 else ""


def open_production_orders(
    session: Session, actor: Actor, limit: int = 50
) -> tuple[list[OrderProgress], int]:
    """The open production orders (DRAFT, SCHEDULED, IN_PROCESS), soonest due first, with
    their progress as the API reports it; and how many there are in all."""
    where = (ProductionOrder.org_id == actor.org_id, ProductionOrder.state.in_(OPEN_STATES))
    total = session.scalar(select(func.count()).select_from(ProductionOrder).where(*where)) or 0
    orders = session.scalars(
        select(ProductionOrder)
        .where(*where)
        .order_by(ProductionOrder.due_date.is_(None), ProductionOrder.due_date, ProductionOrder.id)
        .limit(limit)
    ).all()
    if not orders:
        return [], int(total)
    presented = reading.present_production_orders(session, orders, with_work_orders=False)
    owner_ids = {po.owner_id for po in orders if po.owner_id}
    owners = (
        dict(
            session.execute(
                select(Customer.id, Customer.name).where(Customer.id.in_(owner_ids))
            ).all()
        )
        if owner_ids
        else {}
    )
    return [
        OrderProgress(out, owners.get(out.owner_id) if out.owner_id else None) for out in presented
    ], int(total)


# --- the shop floor --------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    """One line item in a resource's queue, with its work order as the API presents it."""

    work_order: WorkOrderOut
    line_item: LineItemOut
    item_sku: str
    item_name: str

    @property
    def finished(self) -> bool:
        return self.line_item.status in (LineItemStatus.DONE, LineItemStatus.SKIPPED)

    def may(self, action: str) -> bool:
        """Whether the lifecycle allows `action` on its work order now."""
        return action in self.work_order.allowed_actions


def _on_resource(resource_id: uuid.UUID) -> ColumnElement[bool]:
    return WorkOrder.id.in_(
        select(LineItem.work_order_id).where(LineItem.resource_id == resource_id)
    )


def queue(session: Session, actor: Actor, resource_id: uuid.UUID) -> list[QueueEntry]:
    """The line items on a resource of its SCHEDULED and IN_PROCESS work orders, by planned
    start. Each work order comes with all its line items and its allowed actions (the
    lifecycle needs them all: completing needs every line item finished)."""
    orders = session.scalars(
        select(WorkOrder).where(
            WorkOrder.org_id == actor.org_id,
            WorkOrder.state.in_(BOOKED_STATES),
            _on_resource(resource_id),
        )
    ).all()
    if not orders:
        return []
    presented = reading.present_work_orders(session, orders)
    items = {
        i: (sku, name)
        for i, sku, name in session.execute(
            select(Item.id, Item.sku, Item.name).where(Item.id.in_({o.item_id for o in orders}))
        )
    }
    entries = [
        QueueEntry(out, li, *items[out.item_id])
        for out in presented
        for li in out.line_items
        if li.resource_id == resource_id
    ]
    far = datetime.max.replace(tzinfo=None)
    entries.sort(
        key=lambda e: (
            e.line_item.planned_start.replace(tzinfo=None) if e.line_item.planned_start else far,
            e.work_order.number,
            e.line_item.sequence,
        )
    )
    return entries


def stamp_of(versions: Iterable[tuple[uuid.UUID, int]]) -> str:
    """A short hash of work orders' ids and versions: it changes whenever one of them changes
    (every action bumps the version), joins or leaves the set."""
    digest = hashlib.sha256()
    for wo_id, version in sorted(set(versions)):
        digest.update(f"{wo_id}:{version};".encode())
    return digest.hexdigest()[:16]


def queue_stamp(session: Session, actor: Actor, resource_id: uuid.UUID) -> str:
    """The stamp of a resource's queue, from two small queries: the page polls it and
    reloads when it changes. Another organisation's resource is not found."""
    owned = session.scalar(
        select(Resource.id).where(Resource.id == resource_id, Resource.org_id == actor.org_id)
    )
    if owned is None:
        raise NotFound("resource", resource_id)
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.version).where(
            WorkOrder.org_id == actor.org_id,
            WorkOrder.state.in_(BOOKED_STATES),
            _on_resource(resource_id),
        )
    )
    return stamp_of(rows)


def queue_sizes(session: Session, org_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """How many unfinished line items each resource has queued, in one query."""
    rows = session.execute(
        select(LineItem.resource_id, func.count())
        .join(WorkOrder, WorkOrder.id == LineItem.work_order_id)
        .where(
            WorkOrder.org_id == org_id,
            WorkOrder.state.in_(BOOKED_STATES),
            LineItem.status.in_((LineItemStatus.PENDING, LineItemStatus.IN_PROCESS)),
            LineItem.resource_id.is_not(None),
        )
        .group_by(LineItem.resource_id)
    )
    return {rid: int(n) for rid, n in rows if rid is not None}
