"""Reading orders: one record, a page of a filtered list, the response bodies (with their
allowed actions and punctuality, in a fixed number of queries for the whole page), the
history. Every function answers for the actor's organisation only."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, raiseload

from taktline import records
from taktline.db import utcnow
from taktline.errors import FieldError, ValidationProblem
from taktline.events import service as events
from taktline.events.models import Event
from taktline.items.models import Item
from taktline.orders.lifecycle import (
    LineItemView,
    ProductionOrderView,
    State,
    WorkOrderView,
    allowed_actions,
    punctuality,
)
from taktline.orders.models import (
    LineItem,
    LineItemAlternative,
    ProductionOrder,
    ProductionOrderItem,
    WorkOrder,
    WorkOrderDependency,
)
from taktline.orders.schemas import (
    AlternativeOut,
    LineItemOut,
    ProductionOrderItemOut,
    ProductionOrderOut,
    ResourceRef,
    WorkOrderBrief,
    WorkOrderOut,
    WorkOrderSummary,
)
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource

# --- work orders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkOrderFilter:
    states: Sequence[State] = ()
    production_order_id: uuid.UUID | None = None
    resource_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None
    planned_from: datetime | None = None
    planned_to: datetime | None = None
    due_before: datetime | None = None
    q: str | None = None


def get_work_order(session: Session, actor: Actor, wo_id: uuid.UUID) -> WorkOrder:
    authorize(actor, "work_order.read")
    return records.get_owned(session, WorkOrder, actor.org_id, wo_id, kind="work order")


def list_work_orders(
    session: Session, actor: Actor, f: WorkOrderFilter, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[WorkOrder], uuid.UUID | None]:
    authorize(actor, "work_order.read")
    if f.planned_from and f.planned_to and f.planned_to <= f.planned_from:
        raise ValidationProblem([FieldError(["query", "planned_to"], "must be after planned_from")])
    stmt = select(WorkOrder).where(WorkOrder.org_id == actor.org_id)
    # DELETED work orders are tombstones: listed only when asked for by name.
    stmt = stmt.where(
        WorkOrder.state.in_(f.states) if f.states else WorkOrder.state != State.DELETED
    )
    if f.production_order_id is not None:
        stmt = stmt.where(WorkOrder.production_order_id == f.production_order_id)
    if f.item_id is not None:
        stmt = stmt.where(WorkOrder.item_id == f.item_id)
    if f.resource_id is not None:
        stmt = stmt.where(
            WorkOrder.id.in_(
                select(LineItem.work_order_id).where(LineItem.resource_id == f.resource_id)
            )
        )
    if f.planned_from is not None:
        stmt = stmt.where(WorkOrder.planned_end > f.planned_from)
    if f.planned_to is not None:
        stmt = stmt.where(WorkOrder.planned_start < f.planned_to)
    if f.due_before is not None:
        stmt = stmt.where(WorkOrder.due_date < f.due_before)
    if f.q:
        matching_items = select(Item.id).where(
            Item.org_id == actor.org_id, records.text_match(f.q, Item.sku, Item.name)
        )
        stmt = stmt.where(
            or_(records.text_match(f.q, WorkOrder.number), WorkOrder.item_id.in_(matching_items))
        )
    return records.page(session, stmt, WorkOrder, after, limit)


def present_work_orders(session: Session, work_orders: Sequence[WorkOrder]) -> list[WorkOrderOut]:
    """Response bodies for work orders, with their resources, alternatives, dependencies and
    allowed actions, in at most four queries however many there are."""
    alternatives = alternatives_of(session, [li.id for wo in work_orders for li in wo.line_items])
    resource_ids = {li.resource_id for wo in work_orders for li in wo.line_items if li.resource_id}
    resource_ids |= {a.resource_id for alts in alternatives.values() for a in alts}
    resources = (
        {
            r.id: ResourceRef.model_validate(r)
            for r in session.scalars(select(Resource).where(Resource.id.in_(resource_ids)))
        }
        if resource_ids
        else {}
    )
    po_ids = {wo.production_order_id for wo in work_orders if wo.production_order_id}
    po_states: dict[uuid.UUID, State] = {}
    if po_ids:
        rows = session.execute(
            select(ProductionOrder.id, ProductionOrder.state).where(ProductionOrder.id.in_(po_ids))
        )
        po_states = {po_id: state for po_id, state in rows}  # noqa: C416 - Result is a mapping to dict()
    depends = dependencies_of(session, [wo.id for wo in work_orders])
    now = utcnow()
    out = []
    for wo in work_orders:
        view = work_order_view(
            wo, po_states.get(wo.production_order_id) if wo.production_order_id else None
        )
        line_items = [
            LineItemOut.model_validate(li).model_copy(
                update={
                    "resource": resources.get(li.resource_id) if li.resource_id else None,
                    "alternatives": [
                        AlternativeOut.model_validate(a).model_copy(
                            update={"resource": resources.get(a.resource_id)}
                        )
                        for a in alternatives.get(li.id, [])
                    ],
                }
            )
            for li in wo.line_items
        ]
        body = WorkOrderOut.model_validate(
            {
                **{c: getattr(wo, c) for c in WorkOrderOut.model_fields if hasattr(wo, c)},
                "line_items": line_items,
                "resource_ids": _distinct(li.resource_id for li in wo.line_items),
                "depends_on": depends.get(wo.id, []),
                "allowed_actions": list(allowed_actions(view)),
                "punctuality": punctuality(wo.state, wo.due_date, wo.planned_end, now),
            }
        )
        out.append(body)
    return out


def alternatives_of(
    session: Session, line_item_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[LineItemAlternative]]:
    """The alternative resources of these line items, in one query (none without ids)."""
    found: dict[uuid.UUID, list[LineItemAlternative]] = defaultdict(list)
    if line_item_ids:
        for alt in session.scalars(
            select(LineItemAlternative)
            .where(LineItemAlternative.line_item_id.in_(line_item_ids))
            .order_by(LineItemAlternative.id)
        ):
            found[alt.line_item_id].append(alt)
    return found


def dependencies_of(
    session: Session, work_order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The work orders each of these waits for, in one query (none without ids)."""
    found: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if work_order_ids:
        rows = session.execute(
            select(WorkOrderDependency.work_order_id, WorkOrderDependency.depends_on_id)
            .where(WorkOrderDependency.work_order_id.in_(work_order_ids))
            .order_by(WorkOrderDependency.depends_on_id)
        )
        for wo_id, pred_id in rows:
            found[wo_id].append(pred_id)
    return found


def work_order_history(session: Session, actor: Actor, wo_id: uuid.UUID) -> Sequence[Event]:
    wo = get_work_order(session, actor, wo_id)
    return events.for_entity(session, actor.org_id, wo.id)


def line_item_view(li: LineItem) -> LineItemView:
    return LineItemView(
        sequence=li.sequence,
        operation=li.operation,
        status=li.status,
        has_resource=li.resource_id is not None,
        planned_start=li.planned_start,
        planned_end=li.planned_end,
    )


def work_order_view(wo: WorkOrder, po_state: State | None) -> WorkOrderView:
    return WorkOrderView(
        state=wo.state,
        on_hold=wo.on_hold,
        line_items=tuple(line_item_view(li) for li in wo.line_items),
        production_order_state=po_state,
    )


def _distinct(ids: Iterable[uuid.UUID | None]) -> list[uuid.UUID]:
    return list(dict.fromkeys(i for i in ids if i is not None))


# --- production orders ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProductionOrderFilter:
    states: Sequence[State] = ()
    owner_id: uuid.UUID | None = None
    due_before: datetime | None = None
    q: str | None = None


def get_production_order(session: Session, actor: Actor, po_id: uuid.UUID) -> ProductionOrder:
    authorize(actor, "production_order.read")
    return records.get_owned(session, ProductionOrder, actor.org_id, po_id, kind="production order")


def list_production_orders(
    session: Session, actor: Actor, f: ProductionOrderFilter, after: uuid.UUID | None, limit: int
) -> tuple[Sequence[ProductionOrder], uuid.UUID | None]:
    authorize(actor, "production_order.read")
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
                records.text_match(f.q, Item.sku, Item.name),
            )
        )
        stmt = stmt.where(
            or_(
                records.text_match(f.q, ProductionOrder.number, ProductionOrder.reference),
                ProductionOrder.id.in_(with_item),
            )
        )
    return records.page(session, stmt, ProductionOrder, after, limit)


def present_production_orders(
    session: Session, orders: Sequence[ProductionOrder], *, with_work_orders: bool = True
) -> list[ProductionOrderOut]:
    """Response bodies with progress and allowed actions, from one aggregate query for the
    whole page; the work order briefs (one more query) only where asked for: a list shows
    the summary, the detail page the work orders themselves."""
    ids = [po.id for po in orders]
    counts: dict[uuid.UUID, Counter[State]] = defaultdict(Counter)
    produced: dict[uuid.UUID, dict[uuid.UUID, Decimal]] = defaultdict(dict)
    briefs: dict[uuid.UUID, list[WorkOrderBrief]] = defaultdict(list)
    now = utcnow()
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
                brief = WorkOrderBrief.model_validate(wo)
                briefs[wo.production_order_id].append(
                    brief.model_copy(
                        update={
                            "punctuality": punctuality(wo.state, wo.due_date, wo.planned_end, now)
                        }
                    )
                )
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


def production_order_history(session: Session, actor: Actor, po_id: uuid.UUID) -> Sequence[Event]:
    """The order's events and its work orders', oldest first."""
    po = get_production_order(session, actor, po_id)
    return events.for_entity(session, actor.org_id, po.id, with_children=True)
