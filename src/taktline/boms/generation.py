"""From bills of material to work orders: the explosion's preview, which writes nothing, and
the generation of a DRAFT production order's work orders, in one transaction.

The rules are taktline.boms.explosion's; here they get their recipes from the database
(`reading.recipes_for`, one query per level), and their work orders are written by the bulk
path of the orders (`orders.editing.build_work_orders`), then their dependencies and
materials, each in one INSERT of many rows."""

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from taktline.boms import reading
from taktline.boms.explosion import Demand, PlannedWorkOrder, Policy
from taktline.boms.models import BomVersion, VersionStatus
from taktline.boms.schemas import ExplosionOut, PlannedOut, RequirementOut
from taktline.db import new_id, transaction, utcnow
from taktline.errors import Conflict
from taktline.events import service as events
from taktline.orders import actions, editing, locks
from taktline.orders.lifecycle import State
from taktline.orders.models import (
    ProductionOrder,
    WorkOrder,
    WorkOrderDependency,
    WorkOrderMaterial,
)
from taktline.orders.schemas import AlternativeIn, GenerateRequest, LineItemIn, WorkOrderFields
from taktline.permissions import Actor, authorize


def preview(
    session: Session,
    actor: Actor,
    bom_id: uuid.UUID,
    quantity: Decimal,
    number: int | None = None,
    policy: Policy = Policy(),
) -> ExplosionOut:
    """The work orders that `quantity` of the BOM's item would take, from its ACTIVE version
    or version `number` (a DRAFT too: to try it before it is activated)."""
    bom = reading.get_bom(session, actor, bom_id)
    if number is None:
        number = session.scalar(
            select(BomVersion.number).where(
                BomVersion.bom_id == bom.id, BomVersion.status == VersionStatus.ACTIVE
            )
        )
        if number is None:
            raise Conflict(f"{bom.code} has no ACTIVE version: name the version to explode.")
    else:
        reading.get_version(session, actor, bom.id, number)
    loaded = reading.recipes_for(
        session, actor.org_id, [bom.item_id], bom.owner_id, {bom.id: number}, allow_drafts=True
    )
    planned = reading.plan(loaded, [Demand(bom.item_id, quantity)], policy)
    return ExplosionOut(
        item_id=bom.item_id, quantity=quantity, work_orders=_present(loaded, planned)
    )


def generate(
    session: Session,
    actor: Actor,
    po_id: uuid.UUID,
    body: GenerateRequest,
    expected_version: int | None = None,
) -> ProductionOrder:
    """The work orders of a DRAFT production order, from the BOMs of its items: those
    generated before (still DRAFT) become DELETED and are replaced, those typed by hand are
    kept. Its `generate` event says how many, which it replaced and from which versions."""
    authorize(actor, "production_order.generate")
    with transaction(session):
        po = locks.production_order(session, actor, po_id, expected_version)
        if po.state is not State.DRAFT:
            raise Conflict(
                f"{po.number} is {po.state}: work orders are generated only for a DRAFT "
                "production order.",
                current_state=po.state,
            )
        generate_locked(session, actor, po, body, locks.work_orders_of(session, po))
    return po


def generate_locked(
    session: Session,
    actor: Actor,
    po: ProductionOrder,
    body: GenerateRequest,
    work_orders: Sequence[WorkOrder] = (),
) -> None:
    """`generate` inside the caller's transaction, on a DRAFT production order it holds
    locked with its `work_orders` (or has just created, with none: `"generate": true` when
    creating it). The caller checked the actor may generate."""
    generated = [
        wo for wo in work_orders if wo.bom_version_id is not None and wo.state is not State.DELETED
    ]
    moved = [wo.number for wo in generated if wo.state is not State.DRAFT]
    if moved:
        raise Conflict(
            f"{po.number} cannot be generated again: {', '.join(moved)} "
            f"{'has' if len(moved) == 1 else 'have'} moved on from DRAFT.",
            work_orders=moved,
        )
    loaded = reading.recipes_for(
        session, actor.org_id, [it.item_id for it in po.items], po.owner_id, body.versions
    )
    planned = reading.plan_items(loaded, po.items, Policy(body.split, body.round_up_to_minimum))
    actions.delete_locked(session, actor, generated, po)
    ids = _write(session, actor, po, planned)
    events.record(
        session,
        actor,
        "production_order",
        po.id,
        "generate",
        reason=f"{len(ids)} work orders from bills of material",
        changes={
            "work_orders": len(ids),
            "replaced": [wo.number for wo in generated],
            "versions": sorted(
                f"{loaded.boms[v.bom_id].code} v{v.number}" for v in loaded.versions.values()
            ),
        },
    )
    po.updated_at = utcnow()
    session.flush()


def _write(
    session: Session,
    actor: Actor,
    po: ProductionOrder,
    planned: Sequence[PlannedWorkOrder[uuid.UUID]],
) -> list[uuid.UUID]:
    bodies = [(["body"], _fields(wo, po)) for wo in planned]
    ids = editing.build_work_orders(
        session, actor, bodies, po, bom_versions=[wo.version for wo in planned]
    )
    dependencies = [
        {"work_order_id": ids[wo.key], "depends_on_id": ids[k], "org_id": actor.org_id}
        for wo in planned
        for k in wo.depends_on
    ]
    materials = [
        {
            "id": new_id(),
            "org_id": actor.org_id,
            "work_order_id": ids[wo.key],
            "position": position,
            "item_id": r.item,
            "quantity": r.quantity,
            "unit": r.unit,
            "bom_input_id": r.line,
        }
        for wo in planned
        for position, r in enumerate(wo.materials, start=1)
    ]
    for model, rows in ((WorkOrderDependency, dependencies), (WorkOrderMaterial, materials)):
        if rows:
            session.execute(insert(cast(Table, model.__table__)), rows)
    return ids


def _fields(wo: PlannedWorkOrder[uuid.UUID], po: ProductionOrder) -> WorkOrderFields:
    """The body of a planned work order, as if it were typed: its routing as line items.
    Built without validation: every value comes from records that were checked."""
    line_items = []
    for op in wo.routing:
        alternatives: Sequence[Any] = cast(Sequence[Any], op.extra.get("alternatives", ()))
        line_items.append(
            LineItemIn.model_construct(
                sequence=op.sequence,
                operation=op.name,
                resource_id=op.resource,
                setup_minutes=op.setup_minutes,
                run_minutes_per_unit=op.run_minutes_per_unit,
                planned_start=None,
                planned_end=None,
                interruptible=bool(op.extra.get("interruptible", False)),
                alternatives=[
                    AlternativeIn.model_construct(
                        resource_id=a.resource_id,
                        setup_minutes=a.setup_minutes,
                        run_minutes_per_unit=a.run_minutes_per_unit,
                    )
                    for a in alternatives
                ],
            )
        )
    return WorkOrderFields.model_construct(
        item_id=wo.item,
        quantity=wo.quantity,
        unit=wo.unit,
        instructions=None,
        due_date=None,  # the production order's
        priority=po.priority,
        release_at=None,
        pinned=False,
        line_items=line_items,
    )


def _present(
    loaded: reading.Loaded, planned: Sequence[PlannedWorkOrder[uuid.UUID]]
) -> list[PlannedOut]:
    out = []
    for wo in planned:
        version = loaded.versions[wo.version]
        out.append(
            PlannedOut(
                key=wo.key,
                level=wo.level,
                item_id=wo.item,
                quantity=wo.quantity,
                unit=wo.unit,
                bom_id=version.bom_id,
                bom_version=version.number,
                operations=[op.name for op in wo.routing],
                resource_ids=[op.resource for op in wo.routing],
                materials=[
                    RequirementOut(
                        item_id=r.item, quantity=r.quantity, unit=r.unit, bom_input_id=r.line
                    )
                    for r in wo.materials
                ],
                depends_on=list(wo.depends_on),
            )
        )
    return out
