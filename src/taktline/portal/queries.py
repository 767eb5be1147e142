"""Every query of the portal's own: the options of the forms' selects, the names a page
shows, the plant pages' (dashboard, resources, board, shop floor) tables.

Each function runs a fixed number of statements however many rows there are, always within
the actor's organisation. They only read: every change goes through the use cases.
"""

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from taktline.errors import NotFound
from taktline.items.models import Item
from taktline.orders import reading
from taktline.orders.lifecycle import (
    ACCEPTS_WORK_ORDERS,
    BOOKED_STATES,
    OPEN_STATES,
    LineItemStatus,
    Punctuality,
    State,
    punctuality,
    slack,
)
from taktline.orders.models import LineItem, ProductionOrder, WorkOrder
from taktline.orders.schemas import LineItemOut, ProductionOrderOut, WorkOrderOut
from taktline.orgs.models import Customer, Facility, Organisation
from taktline.permissions import Actor
from taktline.portal.charts import hours_per_window
from taktline.resources.capacity import Window
from taktline.resources.models import Resource, ResourceBooking

Options = list[tuple[str, str]]
# States shown on the dashboard: DELETED work orders are gone from totals.
COUNTED_STATES = tuple(s for s in State if s is not State.DELETED)

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
    slack: timedelta
    """Due date minus the planned end (or now, without a planned end): negative when late."""


def late_and_at_risk(session: Session, org_id: uuid.UUID, now: datetime) -> list[DueRow]:
    """Open work orders that are late or at risk, as `orders.lifecycle.punctuality` says, the
    latest first. One query over the open work orders with a due date (their count is
    bounded by what a plant has in progress); each is judged by the one definition."""
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
    for wo_id, number, state, hold, sku, name, qty, unit, due, planned_end in rows:
        assert due is not None
        judged = punctuality(state, due, planned_end, now)
        if judged in (Punctuality.LATE, Punctuality.AT_RISK):
            late = judged is Punctuality.LATE
            left = slack(due, planned_end, now)
            found.append(
                DueRow(
                    wo_id, number, state, hold, sku, name, qty, unit, due, planned_end, late, left
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


# The columns of a BookedLine, by its field names.
_BOOKED_COLUMNS = {
    "work_order_id": WorkOrder.id,
    "number": WorkOrder.number,
    "state": WorkOrder.state,
    "on_hold": WorkOrder.on_hold,
    "line_item_id": LineItem.id,
    "sequence": LineItem.sequence,
    "operation": LineItem.operation,
    "status": LineItem.status,
    "item_sku": Item.sku,
    "item_name": Item.name,
    "quantity": WorkOrder.quantity,
    "unit": WorkOrder.unit,
}


def _booked_line(
    resource_id: uuid.UUID,
    booking_id: uuid.UUID | None,
    columns: Sequence[Any],
    starts_at: datetime,
    ends_at: datetime,
) -> BookedLine:
    """A BookedLine from the values of _BOOKED_COLUMNS, in their order."""
    named = dict(zip(_BOOKED_COLUMNS, columns, strict=True))
    return BookedLine(resource_id, booking_id, starts_at=starts_at, ends_at=ends_at, **named)


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
            *_BOOKED_COLUMNS.values(),
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
            *_BOOKED_COLUMNS.values(),
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


# --- the organisation --------------------------------------------------------------------------


def org_name(session: Session, org_id: uuid.UUID) -> str:
    return session.scalar(select(Organisation.name).where(Organisation.id == org_id)) or ""


def plant_zone_name(session: Session, org_id: uuid.UUID) -> str | None:
    """The time zone of the organisation's (first) facility: the plant's clock."""
    return session.scalar(
        select(Facility.timezone).where(Facility.org_id == org_id).order_by(Facility.id).limit(1)
    )


# --- the order pages: options of the selects, and the names a page shows --------------------


def customer_options(session: Session, org_id: uuid.UUID) -> Options:
    rows = session.execute(
        select(Customer.id, Customer.name).where(Customer.org_id == org_id).order_by(Customer.name)
    )
    return [(str(i), name) for i, name in rows]


def item_options(session: Session, org_id: uuid.UUID) -> Options:
    rows = session.execute(
        select(Item.id, Item.sku, Item.name, Item.unit)
        .where(Item.org_id == org_id)
        .order_by(Item.sku)
    )
    return [(str(i), f"{sku} · {name} ({unit})") for i, sku, name, unit in rows]


def resource_options(session: Session, org_id: uuid.UUID) -> Options:
    rows = session.execute(
        select(Resource.id, Resource.code, Resource.name, Resource.active)
        .where(Resource.org_id == org_id)
        .order_by(Resource.code)
    )
    return [
        (str(i), f"{code} · {name}" + ("" if active else " (inactive)"))
        for i, code, name, active in rows
    ]


def open_order_options(session: Session, org_id: uuid.UUID) -> Options:
    """The production orders a new work order may join."""
    rows = session.execute(
        select(ProductionOrder.id, ProductionOrder.number, ProductionOrder.reference)
        .where(
            ProductionOrder.org_id == org_id,
            ProductionOrder.state.in_(ACCEPTS_WORK_ORDERS),
        )
        .order_by(ProductionOrder.id.desc())
    )
    return [(str(i), number + (f" · {ref}" if ref else "")) for i, number, ref in rows]


def items_by_id(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Item]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(wanted)))}


def customer(session: Session, org_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
    return session.scalar(
        select(Customer).where(Customer.id == customer_id, Customer.org_id == org_id)
    )


@dataclass(frozen=True)
class OrderRef:
    id: uuid.UUID
    number: str
    state: State


def order_ref(session: Session, org_id: uuid.UUID, po_id: uuid.UUID) -> OrderRef | None:
    """The number and state of a work order's production order."""
    row = session.execute(
        select(ProductionOrder.id, ProductionOrder.number, ProductionOrder.state).where(
            ProductionOrder.id == po_id, ProductionOrder.org_id == org_id
        )
    ).first()
    return OrderRef(*row) if row else None


def order_id_numbered(session: Session, org_id: uuid.UUID, number: str) -> uuid.UUID | None:
    return session.scalar(
        select(ProductionOrder.id).where(
            ProductionOrder.org_id == org_id, ProductionOrder.number == number.upper()
        )
    )


def order_numbers(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(ProductionOrder.id, ProductionOrder.number).where(ProductionOrder.id.in_(wanted))
    )
    return dict(rows.all())


def work_order_numbers(session: Session, po_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Every work order of a production order, DELETED ones too: its timeline names them."""
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.number).where(WorkOrder.production_order_id == po_id)
    )
    return dict(rows.all())


def live_work_orders(session: Session, po_id: uuid.UUID) -> Sequence[WorkOrder]:
    return session.scalars(
        select(WorkOrder)
        .where(WorkOrder.production_order_id == po_id, WorkOrder.state != State.DELETED)
        .order_by(WorkOrder.id)
    ).all()


@dataclass(frozen=True)
class OpenWork:
    """What a list of production orders shows of their open work orders."""

    latest_end: datetime | None
    on_hold: int


def open_work(session: Session, po_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, OpenWork]:
    """The latest planned end of each order's open work orders, and how many are on hold, in
    one query; orders without open work are left out."""
    if not po_ids:
        return {}
    rows = session.execute(
        select(
            WorkOrder.production_order_id,
            func.max(WorkOrder.planned_end),
            func.sum(case((WorkOrder.on_hold.is_(True), 1), else_=0)),
        )
        .where(WorkOrder.production_order_id.in_(po_ids), WorkOrder.state.in_(OPEN_STATES))
        .group_by(WorkOrder.production_order_id)
    )
    return {po_id: OpenWork(end, int(held or 0)) for po_id, end, held in rows if po_id}
