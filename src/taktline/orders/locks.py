"""The one lock order of the orders aggregate: the production order first, then its work
orders in id order, then (in `booking`) the resources they book in id order. Every use case
that changes orders takes its locks through these functions, so that no two of them can
deadlock each other. On SQLite writers are serialised at BEGIN already; these are row locks
on PostgreSQL.
"""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline import records
from taktline.errors import Conflict, FieldError, Loc, NotFound, ValidationProblem
from taktline.orders.lifecycle import ACCEPTS_WORK_ORDERS
from taktline.orders.models import ProductionOrder, WorkOrder
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
    po_id = session.execute(
        select(WorkOrder.production_order_id).where(
            WorkOrder.id == wo_id, WorkOrder.org_id == actor.org_id
        )
    ).first()
    if po_id is None:
        raise NotFound("work order", wo_id)
    po = None
    if po_id[0] is not None:
        po = records.get_owned(
            session,
            ProductionOrder,
            actor.org_id,
            po_id[0],
            kind="production order",
            for_update=True,
        )
    wo = records.get_owned(
        session, WorkOrder, actor.org_id, wo_id, kind="work order", for_update=True
    )
    records.check_version(wo, expected_version, wo.number)
    return wo, po


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
