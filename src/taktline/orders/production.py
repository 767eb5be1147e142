"""Production order use cases: create, update, schedule, cancel, delete. Each public
function is one transaction; the order and its work orders move together in it, so the
order's state is never stale."""

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from graphlib import TopologicalSorter

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline import records
from taktline.boms import generation
from taktline.db import transaction
from taktline.events import service as events
from taktline.items.models import Item
from taktline.numbering import next_numbers
from taktline.orders import actions, locks, reading
from taktline.orders.booking import BookingLedger, earliest_planned_start
from taktline.orders.editing import build_work_orders
from taktline.orders.lifecycle import (
    OPEN_STATES,
    Decision,
    ProductionOrderView,
    State,
    decide_or_refuse,
)
from taktline.orders.models import ProductionOrder, ProductionOrderItem, WorkOrder
from taktline.orders.schemas import (
    GenerateRequest,
    ProductionOrderCreate,
    ProductionOrderItemIn,
    ProductionOrderUpdate,
)
from taktline.orgs.models import Customer
from taktline.permissions import Actor, authorize

ENTITY = "production_order"
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def create_production_order(
    session: Session, actor: Actor, body: ProductionOrderCreate
) -> ProductionOrder:
    """A DRAFT production order with its items and its work orders: those given, or with
    `generate` those generated from the BOMs of its items (as `generate` makes them, in this
    transaction: when they cannot be, nothing is created)."""
    authorize(actor, "production_order.create")
    if body.generate:
        authorize(actor, "production_order.generate")
    with transaction(session):
        if body.owner_id is not None:
            records.resolve_refs(
                session,
                Customer,
                actor.org_id,
                [(["body", "owner_id"], body.owner_id)],
                kind="customer",
            )
        (number,) = next_numbers(session, actor.org_id, "production_order")
        po = ProductionOrder(
            org_id=actor.org_id,
            number=number,
            state=State.DRAFT,
            owner_id=body.owner_id,
            reference=body.reference,
            due_date=body.due_date,
            priority=body.priority,
            notes=body.notes,
            items=_new_items(session, actor, body.items),
        )
        session.add(po)
        session.flush()
        events.record(
            session,
            actor,
            ENTITY,
            po.id,
            "create",
            to_state=State.DRAFT,
            changes=body.model_dump(mode="json", exclude={"work_orders"}),
        )
        if body.work_orders:
            build_work_orders(
                session,
                actor,
                [(["body", "work_orders", i], wo) for i, wo in enumerate(body.work_orders)],
                po,
            )
        if body.generate:
            generation.generate_locked(session, actor, po, body.generation or GenerateRequest())
    return po


def update_production_order(
    session: Session,
    actor: Actor,
    po_id: uuid.UUID,
    body: ProductionOrderUpdate,
    expected_version: int | None,
) -> ProductionOrder:
    authorize(actor, "production_order.update")
    with transaction(session):
        po = locks.production_order(session, actor, po_id, expected_version)
        _decide(session, po, "update")
        changes = body.changes()
        items = changes.pop("items", None)
        if changes.get("owner_id") is not None:
            records.resolve_refs(
                session,
                Customer,
                actor.org_id,
                [(["body", "owner_id"], changes["owner_id"])],
                kind="customer",
            )
        diff = records.apply_changes(po, changes)
        if items is not None:
            new_items = _new_items(session, actor, body.items or [])
            po.items.clear()
            session.flush()  # the old rows go first: the new ones reuse their positions
            po.items.extend(new_items)
            diff["items"] = ["replaced", [i.model_dump(mode="json") for i in body.items or []]]
        if diff:
            events.record(session, actor, ENTITY, po.id, "update", changes=diff)
            session.flush()
    return po


# --- the lifecycle actions -----------------------------------------------------------------


def schedule(
    session: Session,
    actor: Actor,
    po_id: uuid.UUID,
    *,
    start: datetime | None = None,
    expected_version: int | None = None,
) -> ProductionOrder:
    """Schedules every DRAFT work order of the order, all or none. From `start`, each is
    laid out in priority order, but never before the work orders it waits for
    (`depends_on`) end: a bottling run after the batch of juice that feeds it."""
    authorize(actor, "production_order.schedule")
    with transaction(session):
        po = locks.production_order(session, actor, po_id, expected_version)
        wos = locks.work_orders_of(session, po)
        decision = _decide(session, po, "schedule", wos)
        drafts = sorted(
            (wo for wo in wos if wo.state is State.DRAFT),
            key=lambda wo: (-wo.priority, wo.due_date or _FAR_FUTURE, wo.number),
        )
        ledger = BookingLedger.load(session, actor, drafts, start or earliest_planned_start(drafts))
        if start is None:  # (each keeps the windows it has)
            for wo in drafts:
                actions.schedule_locked(session, actor, wo, po, ledger=ledger)
        else:
            waits = reading.dependencies_of(session, [wo.id for wo in drafts])
            ends = _planned_ends(session, actor, {d for ds in waits.values() for d in ds})
            for wo in _after_what_they_wait_for(drafts, waits):
                after = max([start, *(e for d in waits.get(wo.id, ()) if (e := ends.get(d)))])
                actions.schedule_locked(session, actor, wo, po, start=after, ledger=ledger)
                ends[wo.id] = wo.planned_end
        _transition(session, actor, po, decision)
    return po


def _after_what_they_wait_for(
    work_orders: Sequence[WorkOrder], waits: Mapping[uuid.UUID, Sequence[uuid.UUID]]
) -> list[WorkOrder]:
    """`work_orders` in their order, each after those of them it waits for (there are no
    cycles: `depends_on` refuses them)."""
    place = {wo.id: i for i, wo in enumerate(work_orders)}
    sorter = TopologicalSorter(
        {wo.id: [d for d in waits.get(wo.id, ()) if d in place] for wo in work_orders}
    )
    sorter.prepare()
    ordered: list[uuid.UUID] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=place.__getitem__)
        ordered += ready
        sorter.done(*ready)
    by_id = {wo.id: wo for wo in work_orders}
    return [by_id[i] for i in ordered]


def _planned_ends(
    session: Session, actor: Actor, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, datetime | None]:
    """When each of these work orders of the organisation is planned to end (None: not)."""
    if not ids:
        return {}
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.planned_end).where(
            WorkOrder.org_id == actor.org_id, WorkOrder.id.in_(ids)
        )
    )
    return {wo_id: end for wo_id, end in rows}  # noqa: C416


def cancel(
    session: Session,
    actor: Actor,
    po_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> ProductionOrder:
    """Cancels every work order that is not final yet; completed ones stay."""
    authorize(actor, "production_order.cancel")
    with transaction(session):
        po = locks.production_order(session, actor, po_id, expected_version)
        wos = locks.work_orders_of(session, po)
        decision = _decide(session, po, "cancel", wos)
        open_ = [wo for wo in wos if wo.state in OPEN_STATES]
        actions.cancel_locked(session, actor, open_, po, reason)
        _transition(session, actor, po, decision, reason=reason)
    return po


def delete_(
    session: Session, actor: Actor, po_id: uuid.UUID, expected_version: int | None = None
) -> ProductionOrder:
    """To DELETED, with its work orders: gone from lists and totals, kept for the audit."""
    authorize(actor, "production_order.delete")
    with transaction(session):
        po = locks.production_order(session, actor, po_id, expected_version)
        wos = locks.work_orders_of(session, po)
        decision = _decide(session, po, "delete", wos)
        actions.delete_locked(
            session, actor, [wo for wo in wos if wo.state is not State.DELETED], po
        )
        _transition(session, actor, po, decision)
    return po


# --- internals -----------------------------------------------------------------------------


def _new_items(
    session: Session, actor: Actor, items: Sequence[ProductionOrderItemIn]
) -> list[ProductionOrderItem]:
    known = records.resolve_refs(
        session,
        Item,
        actor.org_id,
        [(["body", "items", i, "item_id"], it.item_id) for i, it in enumerate(items)],
        kind="item",
    )
    return [
        ProductionOrderItem(
            org_id=actor.org_id,
            position=position,
            item_id=it.item_id,
            quantity=it.quantity,
            unit=it.unit or known[it.item_id].unit,
        )
        for position, it in enumerate(items, start=1)
    ]


def _work_order_states(session: Session, po: ProductionOrder) -> tuple[State, ...]:
    return tuple(
        session.scalars(select(WorkOrder.state).where(WorkOrder.production_order_id == po.id))
    )


def _decide(
    session: Session, po: ProductionOrder, action: str, wos: Sequence[WorkOrder] | None = None
) -> Decision:
    states = tuple(wo.state for wo in wos) if wos is not None else _work_order_states(session, po)
    return decide_or_refuse(
        ProductionOrderView(po.state, states), action, "production order", po.number
    )


def _transition(
    session: Session,
    actor: Actor,
    po: ProductionOrder,
    decision: Decision,
    reason: str | None = None,
) -> None:
    po.state = decision.to_state
    events.record(
        session,
        actor,
        ENTITY,
        po.id,
        decision.action,
        from_state=decision.from_state,
        to_state=decision.to_state,
        reason=reason,
    )
