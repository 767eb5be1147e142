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

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from taktline.boms.models import BomInput, BomOperation, BomVersion, VersionStatus
from taktline.db import Quantity, UTCDateTime
from taktline.errors import NotFound
from taktline.inventory.kinds import LotStatus
from taktline.inventory.models import InventoryEntry, Lot
from taktline.inventory.schemas import EntryOut
from taktline.items.models import Item
from taktline.orders import reading
from taktline.orders.lifecycle import (
    ACCEPTS_WORK_ORDERS,
    BOOKED_STATES,
    FINISHED_LINE_ITEM,
    OPEN_STATES,
    LineItemStatus,
    State,
)
from taktline.orders.models import LineItem, ProductionOrder, WorkOrder
from taktline.orders.schemas import LineItemOut, ProductionOrderOut, WorkOrderOut
from taktline.orgs.models import Customer, Facility, Organisation
from taktline.permissions import Actor
from taktline.resources.capacity import Window
from taktline.resources.models import Resource, ResourceBooking
from taktline.scheduling.bottlenecks import (
    hours_between,
    late_or_at_risk_sql,
    late_sql,
    slack_us_sql,
)

Options = list[tuple[str, str]]
# States shown on the dashboard: DELETED work orders are gone from totals.
COUNTED_STATES = tuple(s for s in State if s is not State.DELETED)

# --- work orders by state, late and at risk ------------------------------------------------


def state_counts(session: Session, org_id: uuid.UUID) -> dict[State, int]:
    """How many work orders are in each state (DELETED left out), in one statement: a count
    per state, each along the narrowest index, (organisation, state), never the table."""
    counts = session.execute(
        select(
            *(
                select(func.count())
                .where(WorkOrder.org_id == org_id, WorkOrder.state == state)
                .scalar_subquery()
                for state in COUNTED_STATES
            )
        )
    ).one()
    return {state: int(n) for state, n in zip(COUNTED_STATES, counts, strict=True)}


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


@dataclass(frozen=True)
class DueList:
    rows: list[DueRow]
    """The least slack first, at most the limit asked for."""
    late: int
    at_risk: int


def late_and_at_risk(session: Session, org_id: uuid.UUID, now: datetime, limit: int) -> DueList:
    """The open work orders that are late or at risk, as `orders.lifecycle.punctuality`
    says (in SQL: `late_sql`, `late_or_at_risk_sql`): how many of each, and the `limit` with
    the least slack (the latest first). Two queries, inside the partial index of open work
    (which `late_or_at_risk_sql` and `late_sql` name): the counts, then the few."""
    late = late_sql(now)
    n_late, n_all = session.execute(
        select(func.coalesce(func.sum(case((late, 1), else_=0)), 0), func.count()).where(
            WorkOrder.org_id == org_id, late_or_at_risk_sql(now)
        )
    ).one()
    # Late work has negative slack and work at risk none (`orders.lifecycle.slack`): with
    # `limit` late, the few are all late, and only the late are ranked.
    which = late if n_late >= limit else late_or_at_risk_sql(now)
    slack_us = slack_us_sql(now).label("slack_us")
    worst = (
        select(WorkOrder.id, WorkOrder.number, late.label("late"), slack_us)
        .where(WorkOrder.org_id == org_id, which)
        .order_by(slack_us, WorkOrder.number)
        .limit(limit)
        .subquery()
    )
    w = worst.c
    rows: Sequence[Any] = session.execute(
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
            w.late,
            w.slack_us,
        )
        .select_from(worst)
        .join(WorkOrder, WorkOrder.id == w.id)
        .join(Item, Item.id == WorkOrder.item_id)
        .order_by(w.slack_us, w.number)
    ).all()
    found = []
    for wo_id, number, state, hold, sku, name, qty, unit, due, end, is_late, left in rows:
        assert due is not None
        found.append(
            DueRow(
                wo_id,
                number,
                state,
                hold,
                sku,
                name,
                qty,
                unit,
                due,
                end,
                bool(is_late),
                timedelta(microseconds=int(left)),
            )
        )
    return DueList(found, int(n_late), int(n_all) - int(n_late))


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


def _org_resources(org_id: uuid.UUID) -> ColumnElement[bool]:
    """Bookings of the organisation's resources: by the (resource, window) index."""
    return ResourceBooking.resource_id.in_(select(Resource.id).where(Resource.org_id == org_id))


def booked_hours(
    session: Session,
    org_id: uuid.UUID,
    windows: Sequence[Window],
    *,
    resource_ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, list[float]]:
    """Booked hours of each resource (of the organisation's, or of `resource_ids`) inside
    each window (bookings clipped to it, a resource running two jobs at once counting
    both), summed in one aggregate query. Resources without bookings are left out: read
    with `.get(id, zeros)`."""
    if not windows:
        return {}
    b = ResourceBooking
    sums = []
    for lo, hi in windows:
        starts = case((b.starts_at > lo, b.starts_at), else_=literal(lo, UTCDateTime()))
        ends = case((b.ends_at < hi, b.ends_at), else_=literal(hi, UTCDateTime()))
        inside = and_(b.starts_at < hi, b.ends_at > lo)
        sums.append(func.sum(case((inside, hours_between(ends, starts)), else_=0.0)))
    stmt = (
        select(b.resource_id, *sums)
        .where(
            _on_resources(org_id, resource_ids),
            b.starts_at < max(w[1] for w in windows),
            b.ends_at > min(w[0] for w in windows),
        )
        .group_by(b.resource_id)
    )
    return {
        rid: [float(h or 0.0) for h in per_window] for rid, *per_window in session.execute(stmt)
    }


# --- bookings with their work orders ---------------------------------------------------------


@dataclass(frozen=True)
class BookedLine:
    """A line item's window on a resource, with what the board and the lists show of it:
    its booking's window, or, for a COMPLETED work order's line item (its booking released
    on completion), its planned window, shown as history."""

    resource_id: uuid.UUID
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


def _named(windows: Any) -> Any:
    """The windows of line items (a subquery of resource_id, work_order_id, line_item_id,
    starts_at, ends_at), joined by key to what a BookedLine shows of each."""
    w = windows.c
    return (
        select(
            w.resource_id,
            w.work_order_id,
            WorkOrder.number,
            WorkOrder.state,
            WorkOrder.on_hold,
            w.line_item_id,
            LineItem.sequence,
            LineItem.operation,
            LineItem.status,
            Item.sku,
            Item.name,
            WorkOrder.quantity,
            WorkOrder.unit,
            w.starts_at,
            w.ends_at,
        )
        .select_from(windows)
        .join(WorkOrder, WorkOrder.id == w.work_order_id)
        .join(LineItem, LineItem.id == w.line_item_id)
        .join(Item, Item.id == WorkOrder.item_id)
    )


def _booked_lines(session: Session, windows: Any) -> list[BookedLine]:
    """BookedLines of the windows (see `_named`), in their order, in one query: each row
    found by its window, then its work order, line item and item by their keys."""
    w = windows.c
    stmt = _named(windows).order_by(w.starts_at, w.ends_at, w.line_item_id)
    return [BookedLine(*row) for row in session.execute(stmt)]


def _on_resources(
    org_id: uuid.UUID, resource_ids: Sequence[uuid.UUID] | None
) -> ColumnElement[bool]:
    """Bookings of these resources (of the organisation's, when None): along the bookings'
    (resource, start) index."""
    if resource_ids is None:
        return _org_resources(org_id)
    return ResourceBooking.resource_id.in_(list(resource_ids))


def bookings(
    session: Session,
    org_id: uuid.UUID,
    start: datetime,
    end: datetime | None = None,
    *,
    resource_ids: Sequence[uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[BookedLine]:
    """The bookings of the organisation's resources (or of `resource_ids`, which the caller
    found to be its own) overlapping [start, end) (end None: every one after start), the
    first `limit` in time order, with their line items, work orders and items; one query."""
    b = ResourceBooking
    stmt = select(b.resource_id, b.work_order_id, b.line_item_id, b.starts_at, b.ends_at).where(
        _on_resources(org_id, resource_ids), b.ends_at > start
    )
    if end is not None:
        stmt = stmt.where(b.starts_at < end)
    stmt = stmt.order_by(b.starts_at, b.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return _booked_lines(session, stmt.subquery("windows"))


def _done_before(end: datetime) -> list[ColumnElement[bool]]:
    """COMPLETED work orders planned to start before `end`: terms that only filter what
    the planned window's index finds from its end (on SQLite, which would otherwise walk
    all the work done before `end`, or all that is COMPLETED)."""
    return [
        reading.unindexed(WorkOrder.state) == State.COMPLETED,
        reading.unindexed(WorkOrder.planned_start) < end,
    ]


def _done_ids(
    session: Session, org_id: uuid.UUID, start: datetime, end: datetime, limit: int | None
) -> list[uuid.UUID]:
    """The COMPLETED work orders whose planned window overlaps [start, end), by planned
    start (the first `limit`): read first, so that their line items are then looked up by
    the work order's key however the planner estimates them."""
    stmt = (
        select(WorkOrder.id)
        .where(WorkOrder.org_id == org_id, WorkOrder.planned_end > start, *_done_before(end))
        .order_by(WorkOrder.planned_start, WorkOrder.id)
    )
    return list(session.scalars(stmt if limit is None else stmt.limit(limit)))


def completed_line_items(
    session: Session, org_id: uuid.UUID, start: datetime, end: datetime, *, limit: int
) -> list[BookedLine]:
    """Line items of COMPLETED work orders whose planned window overlaps [start, end): the
    work just done, which holds no booking any more; the first `limit` by planned start.
    Two queries: the first `limit` work orders whose window overlaps (a work order's window
    holds its line items'), then the first `limit` of their line items there, with what
    they show."""
    done = _done_ids(session, org_id, start, end, limit)
    if not done:
        return []
    windows = (
        select(
            LineItem.resource_id,
            LineItem.work_order_id,
            LineItem.id.label("line_item_id"),
            LineItem.planned_start.label("starts_at"),
            LineItem.planned_end.label("ends_at"),
        )
        .where(
            LineItem.work_order_id.in_(done),
            LineItem.resource_id.is_not(None),
            LineItem.planned_start < end,
            LineItem.planned_end > start,
        )
        .order_by(LineItem.planned_start, LineItem.id)
        .limit(limit)
        .subquery("windows")
    )
    return _booked_lines(session, windows)


@dataclass(frozen=True)
class BusyBlock:
    """A resource's line items that start on one day, of work orders in one state (and all
    on hold or none): what a coarse Gantt chart draws as one block, from the first start to
    the last end."""

    resource_id: uuid.UUID
    day: int
    """The index of the day its line items start on, among the days asked for (the first
    for those that started before)."""
    starts_at: datetime
    ends_at: datetime
    state: State
    on_hold: bool
    line_items: int
    bookings: int
    """Of them, those that hold a booking (the rest: COMPLETED work, whose bookings were
    released)."""
    hours: float
    """Their hours summed (two at once on a resource count twice)."""
    numbers: tuple[str, str]
    """The first and the last of their work orders' numbers."""
    line: BookedLine | None
    """Its one line item, when it holds one, with what the board shows of it."""


def busy_blocks(
    session: Session,
    org_id: uuid.UUID,
    days: Sequence[Window],
    *,
    resource_ids: Sequence[uuid.UUID],
) -> list[BusyBlock]:
    """The busy blocks of these resources (the caller's own: all of the organisation's)
    over `days` (consecutive windows): their bookings and the line items of COMPLETED work
    orders (whose planned windows are shown as history) that overlap them, grouped in SQL
    by resource, the day they start and the state of their work order; one query, and one
    more for the COMPLETED work orders first, one for the names of blocks of one line item."""
    if not days or not resource_ids:
        return []
    start, end = days[0][0], days[-1][1]
    b = ResourceBooking
    booked = (
        select(
            b.resource_id.label("resource_id"),
            b.line_item_id.label("line_item_id"),
            b.starts_at.label("starts_at"),
            b.ends_at.label("ends_at"),
            WorkOrder.number.label("number"),
            WorkOrder.state.label("state"),
            WorkOrder.on_hold.label("on_hold"),
            literal(1, Integer).label("booked"),
        )
        .join(WorkOrder, WorkOrder.id == b.work_order_id)
        .where(
            b.resource_id.in_(list(resource_ids)),
            b.starts_at < end,
            b.ends_at > start,
            # A booking is its line item's window, which its work order's window holds: the
            # work orders are found by their window's index, not read whole.
            WorkOrder.org_id == org_id,
            WorkOrder.planned_end > start,
            WorkOrder.planned_start < end,
        )
    )
    done_ids = _done_ids(session, org_id, start, end, None)
    done = select(
        LineItem.resource_id,
        LineItem.id,
        LineItem.planned_start,
        LineItem.planned_end,
        WorkOrder.number,
        WorkOrder.state,
        WorkOrder.on_hold,
        literal(0, Integer),
    ).where(
        # (by the work orders' line items, not by resource: the caller's resources are the
        # organisation's, and a block on another is not drawn)
        LineItem.work_order_id == WorkOrder.id,
        LineItem.work_order_id.in_(done_ids),
        LineItem.resource_id.is_not(None),
        LineItem.planned_start < end,
        LineItem.planned_end > start,
    )
    ln = union_all(booked, done).subquery("lines").c
    day = case(
        *((ln.starts_at < hi, k) for k, (_, hi) in enumerate(days[:-1])), else_=len(days) - 1
    ).label("day")
    rows = session.execute(
        select(
            ln.resource_id,
            day,
            ln.state,
            ln.on_hold,
            func.min(ln.starts_at),
            func.max(ln.ends_at),
            func.count(),
            func.sum(ln.booked),
            func.sum(hours_between(ln.ends_at, ln.starts_at)),
            func.min(ln.number),
            func.max(ln.number),
            # the one line item of a block of one (as text: PostgreSQL has no min(uuid))
            func.min(cast(ln.line_item_id, String)),
        )
        .group_by(ln.resource_id, day, ln.state, ln.on_hold)
        .order_by(ln.resource_id, day, func.min(ln.starts_at))
    ).all()
    named = _lines_named(session, {uuid.UUID(row[-1]) for row in rows if row[6] == 1})
    return [
        BusyBlock(
            rid,
            int(k),
            lo,
            hi,
            State(state),
            bool(hold),
            int(n),
            int(n_booked or 0),
            float(hours or 0.0),
            (first, last),
            named[uuid.UUID(li)] if n == 1 else None,
        )
        for rid, k, state, hold, lo, hi, n, n_booked, hours, first, last, li in rows
    ]


def _lines_named(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, BookedLine]:
    """BookedLines of these line items, at their bookings' windows (or, without one, at
    their planned windows)."""
    if not ids:
        return {}
    b = ResourceBooking
    windows = (
        select(
            LineItem.resource_id,
            LineItem.work_order_id,
            LineItem.id.label("line_item_id"),
            func.coalesce(b.starts_at, LineItem.planned_start).label("starts_at"),
            func.coalesce(b.ends_at, LineItem.planned_end).label("ends_at"),
        )
        .outerjoin(b, b.line_item_id == LineItem.id)
        .where(LineItem.id.in_(ids))
        .subquery("windows")
    )
    return {line.line_item_id: line for line in _booked_lines(session, windows)}


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


QUEUE_PAGE = 20


@dataclass(frozen=True)
class QueuePage:
    """One page of a resource's queue: its line items of SCHEDULED and IN_PROCESS work, the
    work in process first, then by planned start."""

    entries: list[QueueEntry]
    page: int
    size: int
    queued: int
    """Line items in the whole queue."""
    waiting: int
    """Of them, those not finished: the work still to do."""

    @property
    def pages(self) -> int:
        return max(1, -(-self.queued // self.size))


# A resource's bookings are its queue: a line item holds one exactly while its work order is
# SCHEDULED or IN_PROCESS (booked when scheduled, released when completed, canceled or
# unscheduled).


def _queue_rows(
    session: Session, org_id: uuid.UUID, resource_id: uuid.UUID, page: int, size: int
) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """(work order, line item, work order version) of the page, in queue order: the work in
    process (a few line items, read whole), then the SCHEDULED work by planned start, read
    along the bookings' (resource, start) index as far as the page goes."""
    b = ResourceBooking
    rows = (
        select(WorkOrder.id, LineItem.id, WorkOrder.version)
        .select_from(b)
        .join(WorkOrder, WorkOrder.id == b.work_order_id)
        .join(LineItem, LineItem.id == b.line_item_id)
        .where(b.resource_id == resource_id, WorkOrder.org_id == org_id)
        .order_by(b.starts_at, WorkOrder.number, LineItem.sequence)
    )
    running = session.execute(rows.where(WorkOrder.state == State.IN_PROCESS)).all()
    offset = (page - 1) * size
    found = list(running[offset : offset + size])
    if len(found) < size:
        found += session.execute(
            rows.where(WorkOrder.state == State.SCHEDULED)
            .limit(size - len(found))
            .offset(max(0, offset - len(running)))
        ).all()
    return [(wo_id, li_id, version) for wo_id, li_id, version in found]


def queue_sizes(
    session: Session, org_id: uuid.UUID, resource_id: uuid.UUID | None = None
) -> dict[uuid.UUID, tuple[int, int]]:
    """How many line items each resource has queued, and how many of them are still to do
    (not DONE or SKIPPED), in two aggregate queries: the bookings per resource (along their
    index), less the finished line items of the work in process (only work in process has
    any)."""
    b = ResourceBooking
    which = b.resource_id == resource_id if resource_id is not None else _org_resources(org_id)
    queued = dict(
        session.execute(
            select(b.resource_id, func.count()).where(which).group_by(b.resource_id)
        ).all()
    )
    # Every line item of work in process holds a booking on its resource.
    in_process = select(WorkOrder.id).where(
        WorkOrder.org_id == org_id, WorkOrder.state == State.IN_PROCESS
    )
    finished = dict(
        session.execute(
            select(LineItem.resource_id, func.count())
            .where(
                LineItem.work_order_id.in_(in_process),
                LineItem.status.in_(FINISHED_LINE_ITEM),
                LineItem.resource_id == resource_id if resource_id is not None else true(),
            )
            .group_by(LineItem.resource_id)
        ).all()
    )
    return {rid: (int(n), int(n) - int(finished.get(rid, 0))) for rid, n in queued.items()}


def queue(
    session: Session, actor: Actor, resource_id: uuid.UUID, page: int = 1, size: int = QUEUE_PAGE
) -> QueuePage:
    """A page of the line items queued on a resource (see QueuePage). Each work order comes
    with all its line items and its allowed actions (the lifecycle needs them all:
    completing needs every line item finished). Five queries (four without work)."""
    queued, waiting = queue_sizes(session, actor.org_id, resource_id).get(resource_id, (0, 0))
    rows = _queue_rows(session, actor.org_id, resource_id, page, size) if queued else []
    if not rows:
        return QueuePage([], page, size, queued, waiting)
    orders = session.scalars(
        select(WorkOrder).where(WorkOrder.id.in_({wo_id for wo_id, _, _ in rows}))
    ).all()
    presented = {out.id: out for out in reading.present_work_orders(session, orders)}
    items = {
        i: (sku, name)
        for i, sku, name in session.execute(
            select(Item.id, Item.sku, Item.name).where(Item.id.in_({o.item_id for o in orders}))
        )
    }
    entries = []
    for wo_id, li_id, _ in rows:
        out = presented[wo_id]
        li = next(li for li in out.line_items if li.id == li_id)
        entries.append(QueueEntry(out, li, *items[out.item_id]))
    return QueuePage(entries, page, size, queued, waiting)


def queue_page_of(
    session: Session, actor: Actor, resource_id: uuid.UUID, work_order_id: uuid.UUID
) -> int:
    """The page of a resource's queue that shows the work order's first line item there (1
    when it is not queued)."""
    b = ResourceBooking
    running = case((WorkOrder.state == State.IN_PROCESS, 0), else_=1)
    order = (running, b.starts_at, WorkOrder.number, LineItem.sequence)
    queued = (
        select(func.count())
        .select_from(b)
        .join(WorkOrder, WorkOrder.id == b.work_order_id)
        .join(LineItem, LineItem.id == b.line_item_id)
        .where(
            b.resource_id == resource_id,
            WorkOrder.org_id == actor.org_id,
            WorkOrder.state.in_(BOOKED_STATES),
        )
    )
    key = session.execute(
        select(*order)
        .select_from(b)
        .join(WorkOrder, WorkOrder.id == b.work_order_id)
        .join(LineItem, LineItem.id == b.line_item_id)
        .where(
            b.resource_id == resource_id,
            b.work_order_id == work_order_id,
            WorkOrder.org_id == actor.org_id,
            WorkOrder.state.in_(BOOKED_STATES),
        )
        .order_by(*order)
        .limit(1)
    ).first()
    if key is None:
        return 1
    typed = (literal(v, c.type) for v, c in zip(key, order, strict=True))  # type: ignore[attr-defined]
    before = session.scalar(queued.where(tuple_(*order) < tuple_(*typed)))
    return int(before or 0) // QUEUE_PAGE + 1


def stamp_of(versions: Iterable[tuple[uuid.UUID, int]], queued: int = 0) -> str:
    """A short hash of work orders' ids and versions and of the size of their queue: it
    changes whenever one of them changes (every action bumps the version), joins or leaves
    the set, or work joins or leaves the queue."""
    digest = hashlib.sha256()
    for wo_id, version in sorted(set(versions)):
        digest.update(f"{wo_id}:{version};".encode())
    digest.update(f"#{queued}".encode())
    return digest.hexdigest()[:16]


def queue_stamp(
    session: Session, actor: Actor, resource_id: uuid.UUID, page: int = 1, size: int = QUEUE_PAGE
) -> str:
    """The stamp of a page of a resource's queue (as `queue` shows it), from three small
    queries: the page polls it and reloads when it changes. Another organisation's
    resource is not found."""
    owned = session.scalar(
        select(Resource.id).where(Resource.id == resource_id, Resource.org_id == actor.org_id)
    )
    if owned is None:
        raise NotFound("resource", resource_id)
    queued, _ = queue_sizes(session, actor.org_id, resource_id).get(resource_id, (0, 0))
    rows = _queue_rows(session, actor.org_id, resource_id, page, size) if queued else []
    return stamp_of(((wo_id, version) for wo_id, _, version in rows), queued)


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


def _org_of(po_ids: Iterable[uuid.UUID]) -> ColumnElement[bool]:
    """Work orders of these production orders' organisation: by the index that the tenant
    leads (orders' work orders are of their organisation)."""
    return WorkOrder.org_id.in_(
        select(ProductionOrder.org_id).where(ProductionOrder.id.in_(list(po_ids)))
    )


def work_order_numbers(session: Session, po_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Every work order of a production order, DELETED ones too: its timeline names them."""
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.number).where(
            _org_of([po_id]), WorkOrder.production_order_id == po_id
        )
    )
    return dict(rows.all())


def live_work_orders(session: Session, po_id: uuid.UUID) -> Sequence[WorkOrder]:
    return session.scalars(
        select(WorkOrder)
        .where(
            _org_of([po_id]),
            WorkOrder.production_order_id == po_id,
            WorkOrder.state != State.DELETED,
        )
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
        .where(
            _org_of(po_ids),
            WorkOrder.production_order_id.in_(po_ids),
            WorkOrder.state.in_(OPEN_STATES),
        )
        .group_by(WorkOrder.production_order_id)
    )
    return {po_id: OpenWork(end, int(held or 0)) for po_id, end, held in rows if po_id}


# --- the bill of material pages ----------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    """A version as the BOM page lists it: its status, batch, times and how much it holds."""

    number: int
    status: VersionStatus
    batch_quantity: Decimal
    batch_unit: str
    output_loss_percent: Decimal
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    version: int
    inputs: int
    operations: int


def bom_versions(session: Session, org_id: uuid.UUID, bom_id: uuid.UUID) -> list[VersionRow]:
    """Every version of a BOM, the first first, with how many inputs and operations each has:
    one query however many."""
    v = BomVersion
    inputs = select(func.count()).where(BomInput.version_id == v.id).correlate(v).scalar_subquery()
    operations = (
        select(func.count()).where(BomOperation.version_id == v.id).correlate(v).scalar_subquery()
    )
    rows = session.execute(
        select(
            v.number,
            v.status,
            v.batch_quantity,
            v.batch_unit,
            v.output_loss_percent,
            v.created_at,
            v.activated_at,
            v.retired_at,
            v.version,
            inputs,
            operations,
        )
        .where(v.org_id == org_id, v.bom_id == bom_id)
        .order_by(v.number)
    )
    return [VersionRow(*row) for row in rows]


@dataclass(frozen=True)
class ResourceName:
    code: str
    name: str


def resources_by_id(
    session: Session, org_id: uuid.UUID, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, ResourceName]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(Resource.id, Resource.code, Resource.name).where(
            Resource.org_id == org_id, Resource.id.in_(wanted)
        )
    )
    return {i: ResourceName(code, name) for i, code, name in rows}


def operation_of(session: Session, org_id: uuid.UUID, line_item_id: uuid.UUID | None) -> str | None:
    """The operation of one of the organisation's line items (for a confirmation's words)."""
    return session.scalar(
        select(LineItem.operation).where(LineItem.id == line_item_id, LineItem.org_id == org_id)
    )


# --- stock: the inventory page, the lot page, the floor's materials ------------------------

# Within this many days a lot is "expiring" on the inventory page.
EXPIRING_DAYS = 30


@dataclass(frozen=True)
class StockRow:
    """An item's stock, summed over its lots (those the page's filters choose)."""

    item_id: uuid.UUID
    sku: str
    name: str
    unit: str
    tracking: str
    lots: int
    """Lots with something on hand."""
    on_hand: Decimal
    allocated: Decimal
    available: Decimal
    """On hand less allocated, of AVAILABLE lots only: what may still be allocated."""
    quarantined: Decimal
    held: Decimal
    """On HOLD or REJECTED."""
    expiring: Decimal
    """On hand of lots that expire within EXPIRING_DAYS (or have expired)."""
    expiring_lots: int
    expired: Decimal


@dataclass(frozen=True)
class StockFilter:
    q: str | None = None
    status: str | None = None
    owner_id: uuid.UUID | None = None
    own_only: bool = False
    """Only the manufacturer's own stock (lots without a customer owner)."""

    @property
    def of_lots(self) -> bool:
        return self.status is not None or self.owner_id is not None or self.own_only


def stock_by_item(
    session: Session,
    org_id: uuid.UUID,
    f: StockFilter,
    now: datetime,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[list[StockRow], uuid.UUID | None]:
    """A page of items in SKU order with their stock: one aggregate query over their lots
    (along the lots' (org, item, status) index). Without a filter of lots every item is
    listed, with or without stock; with one, only items that have such lots."""
    soon = now + timedelta(days=EXPIRING_DAYS)
    has_stock = Lot.quantity_on_hand > 0
    expiring = and_(has_stock, Lot.expires_at.is_not(None), Lot.expires_at < soon)
    expired = and_(has_stock, Lot.expires_at.is_not(None), Lot.expires_at < now)

    def total(value: Any, when: Any = None) -> Any:
        summed = value if when is None else case((when, value), else_=0)
        return type_coerce(func.coalesce(func.sum(summed), 0), Quantity())

    def counted(when: Any) -> Any:
        return func.coalesce(func.sum(case((when, 1), else_=0)), 0)

    lots = select(
        Lot.item_id.label("item_id"),
        counted(has_stock).label("lots"),
        total(Lot.quantity_on_hand).label("on_hand"),
        total(Lot.quantity_allocated).label("allocated"),
        total(
            Lot.quantity_on_hand - Lot.quantity_allocated, Lot.status == LotStatus.AVAILABLE
        ).label("available"),
        total(Lot.quantity_on_hand, Lot.status == LotStatus.QUARANTINE).label("quarantined"),
        total(Lot.quantity_on_hand, Lot.status.in_([LotStatus.HOLD, LotStatus.REJECTED])).label(
            "held"
        ),
        total(Lot.quantity_on_hand, expiring).label("expiring"),
        counted(expiring).label("expiring_lots"),
        total(Lot.quantity_on_hand, expired).label("expired"),
    ).where(Lot.org_id == org_id)
    if f.status is not None:
        lots = lots.where(Lot.status == f.status)
    if f.owner_id is not None:
        lots = lots.where(Lot.owner_id == f.owner_id)
    elif f.own_only:
        lots = lots.where(Lot.owner_id.is_(None))
    sums = lots.group_by(Lot.item_id).subquery()
    stmt = select(Item.id, Item.sku, Item.name, Item.unit, Item.tracking, sums).where(
        Item.org_id == org_id
    )
    if f.of_lots:
        stmt = stmt.join(sums, sums.c.item_id == Item.id)
    else:
        stmt = stmt.outerjoin(sums, sums.c.item_id == Item.id)
    if f.q:
        pattern = f"%{f.q.lower()}%"
        stmt = stmt.where(func.lower(Item.sku).like(pattern) | func.lower(Item.name).like(pattern))
    if after is not None:
        last = aliased(Item)
        stmt = stmt.where(
            Item.sku
            > select(last.sku).where(last.id == after, last.org_id == org_id).scalar_subquery()
        )
    rows = session.execute(stmt.order_by(Item.sku).limit(limit + 1)).all()
    zero = Decimal(0)
    page = [
        StockRow(
            item_id=r.id,
            sku=r.sku,
            name=r.name,
            unit=r.unit,
            tracking=str(r.tracking),
            lots=int(r.lots or 0),
            on_hand=r.on_hand if r.on_hand is not None else zero,
            allocated=r.allocated if r.allocated is not None else zero,
            available=r.available if r.available is not None else zero,
            quarantined=r.quarantined if r.quarantined is not None else zero,
            held=r.held if r.held is not None else zero,
            expiring=r.expiring if r.expiring is not None else zero,
            expiring_lots=int(r.expiring_lots or 0),
            expired=r.expired if r.expired is not None else zero,
        )
        for r in rows[:limit]
    ]
    return page, (page[-1].item_id if len(rows) > limit else None)


@dataclass(frozen=True)
class FacilityRef:
    id: uuid.UUID
    name: str
    timezone: str


def facilities_by_id(
    session: Session, org_id: uuid.UUID, ids: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, FacilityRef]:
    """The organisation's facilities (these, or all), by id."""
    stmt = select(Facility.id, Facility.name, Facility.timezone).where(Facility.org_id == org_id)
    if ids is not None:
        wanted = set(ids)
        if not wanted:
            return {}
        stmt = stmt.where(Facility.id.in_(wanted))
    return {
        i: FacilityRef(i, name, tz) for i, name, tz in session.execute(stmt.order_by(Facility.name))
    }


def facility_options(session: Session, org_id: uuid.UUID) -> Options:
    return [(str(f.id), f.name) for f in facilities_by_id(session, org_id).values()]


def work_order_numbers_by_id(
    session: Session, org_id: uuid.UUID, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """The numbers of the organisation's work orders named in a ledger or a trace."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.number).where(
            WorkOrder.org_id == org_id, WorkOrder.id.in_(wanted)
        )
    )
    return dict(rows.all())


def work_orders_by_id(
    session: Session, org_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> list[WorkOrder]:
    """The organisation's work orders of these ids (the floor's, whose materials it shows)."""
    wanted = set(ids)
    if not wanted:
        return []
    return list(
        session.scalars(
            select(WorkOrder).where(WorkOrder.org_id == org_id, WorkOrder.id.in_(wanted))
        )
    )


def lot_entries_newest_first(
    session: Session, lot_id: uuid.UUID, before: uuid.UUID | None, limit: int
) -> tuple[list[EntryOut], uuid.UUID | None]:
    """A page of a lot's ledger, the newest first (ids are ordered by creation), from before
    the entry `before`; the caller has read the lot as the actor (inventory.reading.get_lot),
    which checks its organisation. Along the entries' (lot, id) index."""
    stmt = select(InventoryEntry).where(InventoryEntry.lot_id == lot_id)
    if before is not None:
        stmt = stmt.where(InventoryEntry.id < before)
    rows = session.scalars(stmt.order_by(InventoryEntry.id.desc()).limit(limit + 1)).all()
    page = [EntryOut.model_validate(r) for r in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)
