"""The one lock order of the orders aggregate: the production order first, then its work
orders in id order, then (in `booking`) the resources they book in id order. Every use case
that changes orders takes its locks through these functions, so that no two of them can
deadlock each other. An action that cannot move the production order skips its lock and
starts at the work order (`work_order_for`): still in the order, as a suffix of it. On
SQLite writers are serialised at BEGIN already; these are row locks on PostgreSQL.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session, lazyload

from taktline import records
from taktline.errors import Conflict, FieldError, Loc, NotFound, ValidationProblem
from taktline.orders.lifecycle import ACCEPTS_WORK_ORDERS, LineItemStatus, State, may_move_order
from taktline.orders.models import LineItem, ProductionOrder, WorkOrder
from taktline.permissions import Actor


def production_order(
    session: Session, actor: Actor, po_id: uuid.UUID, expected_version: int | None
) -> ProductionOrder:
    """The actor's production order, locked, at the version the caller read."""
    po = records.get_owned(
        session, ProductionOrder, actor.org_id, po_id, kind="production order", for_update=True
    )
    records.check_version(po, expected_version, po.number)
    return po


def work_orders_of(session: Session, po: ProductionOrder) -> list[WorkOrder]:
    """Every work order of a locked production order, locked in id order, as they are now."""
    return list(
        session.scalars(
            select(WorkOrder)
            .where(WorkOrder.production_order_id == po.id)
            .order_by(WorkOrder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def work_orders_by_id(
    session: Session, actor: Actor, ids: Sequence[uuid.UUID]
) -> tuple[list[WorkOrder], dict[uuid.UUID, ProductionOrder]]:
    """Several work orders of the actor's organisation, locked with their production
    orders: the orders first, then the work orders, each in id order. An id not of the
    organisation is not found."""
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
    orders = (
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
    work = list(
        session.scalars(
            select(WorkOrder)
            .where(WorkOrder.org_id == actor.org_id, WorkOrder.id.in_(ids))
            .order_by(WorkOrder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    found = {wo.id for wo in work}
    for wo_id in ids:
        if wo_id not in found:
            raise NotFound("work order", wo_id)
    return work, orders


def work_order(
    session: Session, actor: Actor, wo_id: uuid.UUID, expected_version: int | None
) -> tuple[WorkOrder, ProductionOrder | None]:
    """The actor's work order, locked after its production order, at the version the
    caller read."""
    wo, po, _ = work_order_for(session, actor, wo_id, expected_version, None)
    return wo, po


def work_order_for(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    expected_version: int | None,
    action: str | None,
) -> tuple[WorkOrder, ProductionOrder | None, State | None]:
    """The actor's work order, locked, at the version the caller read, for `action` (None:
    any); its production order, locked first, when the action may move it
    (`lifecycle.may_move_order`), else None; and that order's state.

    Most of the floor's actions (reports, holds, a start once the order is IN_PROCESS) never
    move the order, and leave it unlocked: the work orders of one production order are
    worked on at the same time, and each would otherwise wait for all the others. The state
    those read unlocked cannot move in a way that changes their decision (see there)."""
    if action is not None and not may_move_order(action, None):
        # (an action that keeps the work order's state): the work order locked, with its
        # order's state, not locked (as it was before any wait for the lock: see there)
        found = session.execute(
            _locked_work_order(actor, wo_id)
            .add_columns(ProductionOrder.state)
            .outerjoin(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
        ).first()
        if found is None:
            raise NotFound("work order", wo_id)
        wo, po_state = found
        records.check_version(wo, expected_version, wo.number)
        return wo, None, po_state
    po_id, po_state = _order_of(session, actor, wo_id)
    po = None
    if po_id is not None and (action is None or may_move_order(action, po_state)):
        po = session.scalars(
            select(ProductionOrder)
            .where(ProductionOrder.id == po_id, ProductionOrder.org_id == actor.org_id)
            .with_for_update()
            # its items are not needed to move it; read them if asked
            .options(lazyload(ProductionOrder.items))
            .execution_options(populate_existing=True)
        ).one()
        po_state = po.state
    wo = session.scalars(_locked_work_order(actor, wo_id)).first()
    if wo is None:
        raise NotFound("work order", wo_id)
    records.check_version(wo, expected_version, wo.number)
    return wo, po, po_state


class LockedLineItem(NamedTuple):
    """A line item as `work_order_rows` reads it."""

    id: uuid.UUID
    sequence: int
    operation: str
    status: LineItemStatus
    resource_id: uuid.UUID | None
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    quantity_completed: Decimal
    quantity_scrapped: Decimal


_WORK_ORDER_LOCKED = (
    WorkOrder.id,
    WorkOrder.number,
    WorkOrder.state,
    WorkOrder.on_hold,
    WorkOrder.quantity,
    WorkOrder.quantity_produced,
    WorkOrder.quantity_scrapped,
    WorkOrder.version,
    WorkOrder.production_order_id,
    WorkOrder.item_id,
    ProductionOrder.state.label("production_order_state"),
)
_LINE_ITEM_LOCKED = tuple(getattr(LineItem, name) for name in LockedLineItem._fields)

# The statements of the floor's actions, built once with their parameters named: a statement
# built anew for every request costs more to build and to find in the compiled cache than to
# run. (wo_id, org_id, po_id are the parameters.)
_THE_ACTORS_WORK_ORDER = (
    WorkOrder.id == bindparam("wo_id"),
    WorkOrder.org_id == bindparam("org_id"),
)
_ORDER_OF = (
    select(WorkOrder.production_order_id, ProductionOrder.state)
    .outerjoin(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
    .where(*_THE_ACTORS_WORK_ORDER)
)
_ORDER_LOCKED = (
    select(ProductionOrder.id, ProductionOrder.state, ProductionOrder.version)
    .where(ProductionOrder.id == bindparam("po_id"), ProductionOrder.org_id == bindparam("org_id"))
    .with_for_update()
)
# The work order and its line items in one statement, both locked: a statement that waited
# for the lock reads the rows it locks as they are after the wait (not those of other
# tables: see `_locked_work_order`).
_WORK_ORDER_AND_LINE_ITEMS_LOCKED = (
    select(*_WORK_ORDER_LOCKED, *_LINE_ITEM_LOCKED)
    .join(LineItem, LineItem.work_order_id == WorkOrder.id)
    .outerjoin(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
    .where(*_THE_ACTORS_WORK_ORDER)
    .order_by(LineItem.sequence)
    .with_for_update(of=[WorkOrder.__table__, LineItem.__table__])
)
_WORK_ORDER_ALONE_LOCKED = (  # (a work order without line items)
    select(*_WORK_ORDER_LOCKED)
    .outerjoin(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
    .where(*_THE_ACTORS_WORK_ORDER)
    .with_for_update(of=WorkOrder.__table__)
)


def work_order_rows(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    expected_version: int | None,
    action: str,
) -> tuple[Row[Any], Row[Any] | None, list[LockedLineItem]]:
    """`work_order_for` as rows, for the floor's actions written in SQL (start, report,
    complete): the work order locked, at the version the caller read, with its order's
    state (`production_order_state`); its production order (id, state, version), locked
    first, when the action may move it, else None; the work order's line items in
    sequence, locked with it."""
    # (Core on the session's connection: rows, no ORM work per statement)
    sql = session.connection()
    po: Any = None
    if may_move_order(action, None):
        po_id, po_state = _order_of(session, actor, wo_id)
        if po_id is not None and may_move_order(action, po_state):
            po = sql.execute(_ORDER_LOCKED, {"po_id": po_id, "org_id": actor.org_id}).one()
    which = {"wo_id": wo_id, "org_id": actor.org_id}
    rows: Any = sql.execute(_WORK_ORDER_AND_LINE_ITEMS_LOCKED, which).all()
    found: Any = rows[0] if rows else None
    lines = [LockedLineItem(*row[len(_WORK_ORDER_LOCKED) :]) for row in rows]
    if found is None:
        found = sql.execute(_WORK_ORDER_ALONE_LOCKED, which).first()
    if found is None:
        raise NotFound("work order", wo_id)
    records.check_version(found, expected_version, found.number)
    return found, po, lines


def _order_of(
    session: Session, actor: Actor, wo_id: uuid.UUID
) -> tuple[uuid.UUID | None, State | None]:
    """The actor's work order's production order and its state, not locked (which says
    whether an action must lock it); not found when the work order is not the actor's."""
    which = {"wo_id": wo_id, "org_id": actor.org_id}
    order = session.connection().execute(_ORDER_OF, which).first()
    if order is None:
        raise NotFound("work order", wo_id)
    return order.production_order_id, order.state


def _locked_work_order(actor: Actor, wo_id: uuid.UUID) -> Select[WorkOrder]:
    """The actor's work order, locked, as it is now; its line items (which change only
    under its lock) by the relationship's own statement, after the lock. Not joined into
    this one: a statement that waited for the lock sees the rows of other tables as they
    were before it waited (PostgreSQL rechecks only the locked row), and a report would
    add to quantities another one had just changed."""
    return (
        select(WorkOrder)
        .where(WorkOrder.id == wo_id, WorkOrder.org_id == actor.org_id)
        .with_for_update(of=WorkOrder)
        .execution_options(populate_existing=True)
    )


def production_order_for_new_work(
    session: Session, actor: Actor, po_id: uuid.UUID, loc: Loc
) -> ProductionOrder:
    """The production order a new work order joins, locked; it must still take work."""
    po = session.scalars(
        select(ProductionOrder)
        .where(ProductionOrder.id == po_id, ProductionOrder.org_id == actor.org_id)
        .with_for_update()
    ).first()
    if po is None:
        raise ValidationProblem([FieldError(loc, "no production order with this id")])
    if po.state not in ACCEPTS_WORK_ORDERS:
        raise Conflict(
            f"Production order {po.number} is {po.state}; it takes no new work orders.",
            current_state=po.state,
        )
    return po
