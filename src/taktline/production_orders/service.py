"""Production order use cases. Each public function is one transaction; the order and its
work orders move together in it, so the order's state is never stale."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, raiseload

from taktline import crud
from taktline.auth.permissions import Actor
from taktline.db import transaction
from taktline.errors import InvalidTransition
from taktline.events import service as events
from taktline.events.models import Event
from taktline.items.models import Item
from taktline.numbering import next_numbers
from taktline.orgs.models import Customer
from taktline.production_orders.lifecycle import (
    ProductionOrderView,
    allowed_actions,
    refusal,
    target_state,
)
from taktline.production_orders.models import ProductionOrder, ProductionOrderItem
from taktline.production_orders.schemas import (
    ProductionOrderCreate,
    ProductionOrderItemIn,
    ProductionOrderItemOut,
    ProductionOrderOut,
    ProductionOrderUpdate,
    WorkOrderBrief,
    WorkOrderSummary,
)
from taktline.work_orders import service as work_orders
from taktline.work_orders.lifecycle import State
from taktline.work_orders.models import WorkOrder

ENTITY = "production_order"
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ProductionOrderFilter:
    states: Sequence[State] = ()
    owner_id: uuid.UUID | None = None
    due_before: datetime | None = None
    q: str | None = None


# --- reading -------------------------------------------------------------------------------


def get(session: Session, actor: Actor, po_id: uuid.UUID) -> ProductionOrder:
    return crud.get_owned(session, ProductionOrder, actor.org_id, po_id, kind="production order")


def list_page(
    session: Session, actor: Actor, f: ProductionOrderFilter, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[ProductionOrder], uuid.UUID | None]:
    stmt = select(ProductionOrder).where(ProductionOrder.org_id == actor.org_id)
    stmt = stmt.where(
        ProductionOrder.state.in_(f.states) if f.states else ProductionOrder.state != State.DELETED
    )
    if f.owner_id is not None:
        stmt = stmt.where(ProductionOrder.owner_id == f.owner_id)
    if f.due_before is not None:
        stmt = stmt.where(ProductionOrder.due_date < f.due_before)
    if f.q:
        with_item = (
            select(ProductionOrderItem.production_order_id)
            .join(Item, Item.id == ProductionOrderItem.item_id)
            .where(
                ProductionOrderItem.org_id == actor.org_id,
                crud.text_match(f.q, Item.sku, Item.name),
            )
        )
        stmt = stmt.where(
            or_(
                crud.text_match(f.q, ProductionOrder.number, ProductionOrder.reference),
                ProductionOrder.id.in_(with_item),
            )
        )
    return crud.page(session, stmt, ProductionOrder, after, limit)


def present(
    session: Session, orders: Sequence[ProductionOrder], *, with_work_orders: bool = True
) -> list[ProductionOrderOut]:
    """Response bodies with progress and allowed actions, from one aggregate query for the
    whole page; the work order briefs (one more query) only where asked for: a list shows
    the summary, the detail page the work orders themselves."""
    ids = [po.id for po in orders]
    counts: dict[uuid.UUID, Counter[State]] = defaultdict(Counter)
    produced: dict[uuid.UUID, dict[uuid.UUID, Decimal]] = defaultdict(dict)
    briefs: dict[uuid.UUID, list[WorkOrderBrief]] = defaultdict(list)
    if ids:
        live = (WorkOrder.production_order_id.in_(ids), WorkOrder.state != State.DELETED)
        rows = session.execute(
            select(
                WorkOrder.production_order_id,
                WorkOrder.state,
                WorkOrder.item_id,
                func.count(),
                func.sum(WorkOrder.quantity_produced),
            )
            .where(*live)
            .group_by(WorkOrder.production_order_id, WorkOrder.state, WorkOrder.item_id)
        )
        for po_id, state, item_id, n, made in rows:
            assert po_id is not None
            counts[po_id][state] += n
            produced[po_id][item_id] = produced[po_id].get(item_id, Decimal(0)) + made
        if with_work_orders:
            for wo in session.scalars(
                select(WorkOrder)
                .where(*live)
                .options(raiseload(WorkOrder.line_items))
                .order_by(WorkOrder.id)
            ):
                assert wo.production_order_id is not None
                briefs[wo.production_order_id].append(WorkOrderBrief.model_validate(wo))
    out = []
    for po in orders:
        made_by_item = dict(produced[po.id])
        items = [
            ProductionOrderItemOut.model_validate(poi).model_copy(
                # an item listed twice is credited once, on its first line
                update={"quantity_produced": made_by_item.pop(poi.item_id, Decimal(0))}
            )
            for poi in po.items
        ]
        planned = sum((i.quantity for i in items), Decimal(0))
        made = sum((i.quantity_produced for i in items), Decimal(0))
        percent = min(Decimal(100), made * 100 / planned) if planned else Decimal(0)
        by_state = counts[po.id]
        view = ProductionOrderView(po.state, tuple(by_state))
        fields = {c: getattr(po, c) for c in ProductionOrderOut.model_fields if hasattr(po, c)}
        out.append(
            ProductionOrderOut.model_validate(
                {
                    **fields,
                    "items": items,
                    "work_orders": briefs[po.id] if with_work_orders else None,
                    "summary": WorkOrderSummary(
                        count=sum(by_state.values()),
                        by_state=dict(by_state),
                        quantity_planned=planned,
                        quantity_produced=made,
                        progress_percent=percent.quantize(Decimal("0.1")),
                    ),
                    "allowed_actions": list(allowed_actions(view)),
                }
            )
        )
    return out


def history(session: Session, actor: Actor, po_id: uuid.UUID) -> Sequence[Event]:
    """The order's events and its work orders', oldest first."""
    po = get(session, actor, po_id)
    return events.for_entity(session, actor.org_id, po.id, with_children=True)


# --- creating and editing ------------------------------------------------------------------


def create(session: Session, actor: Actor, body: ProductionOrderCreate) -> ProductionOrder:
    with transaction(session):
        if body.owner_id is not None:
            crud.resolve_refs(
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
            work_orders.build(
                session,
                actor,
                [(["body", "work_orders", i], wo) for i, wo in enumerate(body.work_orders)],
                po,
            )
    return po


def update(
    session: Session,
    actor: Actor,
    po_id: uuid.UUID,
    body: ProductionOrderUpdate,
    expected_version: int | None,
) -> ProductionOrder:
    with transaction(session):
        po = _lock(session, actor, po_id, expected_version)
        _check(session, po, "update")
        changes = body.changes()
        items = changes.pop("items", None)
        if changes.get("owner_id") is not None:
            crud.resolve_refs(
                session,
                Customer,
                actor.org_id,
                [(["body", "owner_id"], changes["owner_id"])],
                kind="customer",
            )
        diff = crud.apply_changes(po, changes)
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
    """Schedules every DRAFT work order of the order, all or none."""
    with transaction(session):
        po = _lock(session, actor, po_id, expected_version)
        wos = _lock_work_orders(session, po)
        _check(session, po, "schedule", wos)
        drafts = sorted(
            (wo for wo in wos if wo.state is State.DRAFT),
            key=lambda wo: (-wo.priority, wo.due_date or _FAR_FUTURE, wo.number),
        )
        ledger = work_orders.BookingLedger.load(
            session, actor, drafts, start or work_orders.earliest_planned_start(drafts)
        )
        for wo in drafts:
            work_orders.schedule_locked(session, actor, wo, po, start=start, ledger=ledger)
        _transition(session, actor, po, "schedule")
    return po


def cancel(
    session: Session,
    actor: Actor,
    po_id: uuid.UUID,
    reason: str,
    expected_version: int | None = None,
) -> ProductionOrder:
    """Cancels every work order that is not final yet; completed ones stay."""
    with transaction(session):
        po = _lock(session, actor, po_id, expected_version)
        wos = _lock_work_orders(session, po)
        _check(session, po, "cancel", wos)
        open_ = [wo for wo in wos if wo.state in (State.DRAFT, State.SCHEDULED, State.IN_PROCESS)]
        work_orders.cancel_locked(session, actor, open_, po, reason)
        _transition(session, actor, po, "cancel", reason=reason)
    return po


def delete_(
    session: Session, actor: Actor, po_id: uuid.UUID, expected_version: int | None = None
) -> ProductionOrder:
    """To DELETED, with its work orders: gone from lists and totals, kept for the audit."""
    with transaction(session):
        po = _lock(session, actor, po_id, expected_version)
        wos = _lock_work_orders(session, po)
        _check(session, po, "delete", wos)
        work_orders.delete_locked(
            session, actor, [wo for wo in wos if wo.state is not State.DELETED], po
        )
        _transition(session, actor, po, "delete")
    return po


# --- internals -----------------------------------------------------------------------------


def _new_items(
    session: Session, actor: Actor, items: Sequence[ProductionOrderItemIn]
) -> list[ProductionOrderItem]:
    known = crud.resolve_refs(
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


def _lock(
    session: Session, actor: Actor, po_id: uuid.UUID, expected_version: int | None
) -> ProductionOrder:
    po = crud.get_owned(
        session, ProductionOrder, actor.org_id, po_id, kind="production order", for_update=True
    )
    crud.check_version(po, expected_version, po.number)
    return po


def _lock_work_orders(session: Session, po: ProductionOrder) -> list[WorkOrder]:
    return list(
        session.scalars(
            select(WorkOrder)
            .where(WorkOrder.production_order_id == po.id)
            .order_by(WorkOrder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _work_order_states(session: Session, po: ProductionOrder) -> tuple[State, ...]:
    return tuple(
        session.scalars(select(WorkOrder.state).where(WorkOrder.production_order_id == po.id))
    )


def _check(
    session: Session, po: ProductionOrder, action: str, wos: Sequence[WorkOrder] | None = None
) -> None:
    states = tuple(wo.state for wo in wos) if wos is not None else _work_order_states(session, po)
    view = ProductionOrderView(po.state, states)
    why = refusal(view, action)
    if why is not None:
        raise InvalidTransition(
            "production order", po.number, action, po.state, allowed_actions(view), why
        )


def _transition(
    session: Session, actor: Actor, po: ProductionOrder, action: str, reason: str | None = None
) -> None:
    target = target_state(action)
    assert target is not None, f"{action} keeps the state"
    old = po.state
    po.state = target
    events.record(
        session, actor, ENTITY, po.id, action, from_state=old, to_state=target, reason=reason
    )
