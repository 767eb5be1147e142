"""Reading stock: lots (a page, one, its ledger), a work order's materials with what is
allocated, pulled and, once complete, their reconciliation; shortages over a horizon.
Each in a fixed number of statements, however many rows."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from taktline.errors import NotFound
from taktline.events import service as events
from taktline.events.models import Event
from taktline.inventory.allocating import in_item_unit
from taktline.inventory.kinds import EntryKind, LotStatus
from taktline.inventory.models import Allocation, InventoryEntry, Lot
from taktline.inventory.rules import (
    Need,
    Supply,
    reconcile,
    status_actions,
    waiting,
)
from taktline.inventory.schemas import (
    AllocationOut,
    EntryOut,
    LotOut,
    MaterialOut,
    PullOut,
    ShortageOut,
)
from taktline.items.models import Item
from taktline.orders import reading as orders_reading
from taktline.orders.lifecycle import OPEN_STATES, State
from taktline.orders.models import WorkOrder, WorkOrderMaterial
from taktline.orgs.models import Customer, Organisation
from taktline.permissions import Actor, authorize

_LOT_COLUMNS = (Lot, Item.sku, Item.name, Customer.name)


def _lots_with_names() -> Any:
    return (
        select(*_LOT_COLUMNS)
        .join(Item, Item.id == Lot.item_id)
        .outerjoin(Customer, Customer.id == Lot.owner_id)
    )


def _present(row: Any) -> LotOut:
    lot: Lot = row[0]
    return LotOut(
        id=lot.id,
        version=lot.version,
        created_at=lot.created_at,
        updated_at=lot.updated_at,
        item_id=lot.item_id,
        item_sku=row[1],
        item_name=row[2],
        code=lot.code,
        owner_id=lot.owner_id,
        owner_name=row[3],
        facility_id=lot.facility_id,
        status=lot.status,
        status_reason=lot.status_reason,
        origin=lot.origin,
        made_at=lot.made_at,
        expires_at=lot.expires_at,
        supplier=lot.supplier,
        supplier_lot_code=lot.supplier_lot_code,
        unit=lot.unit,
        quantity_on_hand=lot.quantity_on_hand,
        quantity_allocated=lot.quantity_allocated,
        quantity_available=lot.quantity_on_hand - lot.quantity_allocated,
        work_order_id=lot.work_order_id,
        allowed_actions=status_actions(lot.status),
    )


def get_lot(session: Session, actor: Actor, lot_id: uuid.UUID) -> LotOut:
    authorize(actor, "lot.read")
    row = session.execute(
        _lots_with_names().where(Lot.id == lot_id, Lot.org_id == actor.org_id)
    ).first()
    if row is None:
        raise NotFound("lot", lot_id)
    return _present(row)


@dataclass(frozen=True)
class LotFilter:
    item_id: uuid.UUID | None = None
    status: LotStatus | None = None
    owner_id: uuid.UUID | None = None
    work_order_id: uuid.UUID | None = None
    code: str | None = None
    expires_before: datetime | None = None


def list_lots(
    session: Session, actor: Actor, f: LotFilter, after: uuid.UUID | None, limit: int
) -> tuple[list[LotOut], uuid.UUID | None]:
    """A page of lots in id (receipt) order; each filter has its index."""
    authorize(actor, "lot.read")
    stmt = _lots_with_names().where(Lot.org_id == actor.org_id)
    if f.item_id is not None:
        stmt = stmt.where(Lot.item_id == f.item_id)
    if f.status is not None:
        stmt = stmt.where(Lot.status == f.status)
    if f.owner_id is not None:
        stmt = stmt.where(Lot.owner_id == f.owner_id)
    if f.work_order_id is not None:
        stmt = stmt.where(Lot.work_order_id == f.work_order_id)
    if f.code is not None:
        stmt = stmt.where(Lot.code == f.code)
    if f.expires_before is not None:
        stmt = stmt.where(Lot.expires_at < f.expires_before)
    if after is not None:
        stmt = stmt.where(Lot.id > after)
    rows = session.execute(stmt.order_by(Lot.id).limit(limit + 1)).all()
    page = [_present(r) for r in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)


def lot_entries(
    session: Session, actor: Actor, lot_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> tuple[list[EntryOut], uuid.UUID | None]:
    """A lot's ledger, oldest first."""
    lot = get_lot(session, actor, lot_id)
    stmt = select(InventoryEntry).where(InventoryEntry.lot_id == lot.id)
    if after is not None:
        stmt = stmt.where(InventoryEntry.id > after)
    rows = session.scalars(stmt.order_by(InventoryEntry.id).limit(limit + 1)).all()
    page = [EntryOut.model_validate(r) for r in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)


def lot_history(session: Session, actor: Actor, lot_id: uuid.UUID) -> Sequence[Event]:
    """A lot's audit trail: its receipt, QA's decisions, adjustments and scrap, oldest first
    (its quantities' every movement is its ledger)."""
    lot = get_lot(session, actor, lot_id)
    return events.for_entity(session, actor.org_id, lot.id)


# --- a work order's materials ------------------------------------------------------------


def materials_of(session: Session, actor: Actor, wo_id: uuid.UUID) -> list[MaterialOut]:
    """A work order's materials in order: what each requires (in its item's unit), what is
    allocated and pulled of it, what is short; once the work order is COMPLETED, what its
    BOM expected for what was made against what was pulled (the variance flagged beyond the
    organisation's tolerance)."""
    wo = orders_reading.get_work_order(session, actor, wo_id)
    return materials_of_work_orders(session, actor, [wo])[wo.id]


def materials_of_work_orders(
    session: Session, actor: Actor, work_orders: Sequence[WorkOrder]
) -> dict[uuid.UUID, list[MaterialOut]]:
    ids = [wo.id for wo in work_orders]
    rows = session.execute(
        select(WorkOrderMaterial, Item)
        .join(Item, Item.id == WorkOrderMaterial.item_id)
        .where(WorkOrderMaterial.work_order_id.in_(ids))
        .order_by(WorkOrderMaterial.work_order_id, WorkOrderMaterial.position)
    ).all()
    allocations: dict[uuid.UUID, list[AllocationOut]] = defaultdict(list)
    for a, code, expires_at in session.execute(
        select(Allocation, Lot.code, Lot.expires_at)
        .join(Lot, Lot.id == Allocation.lot_id)
        .where(Allocation.work_order_id.in_(ids))
        .order_by(Allocation.id)
    ):
        allocations[a.material_id].append(
            AllocationOut(
                id=a.id, material_id=a.material_id, lot_id=a.lot_id, lot_code=code,
                quantity=a.quantity, expires_at=expires_at,
            )
        )  # fmt: skip
    pulls = _pulls(session, ids)
    tolerance = session.scalar(
        select(Organisation.material_variance_tolerance_percent).where(
            Organisation.id == actor.org_id
        )
    ) or Decimal(0)
    by_id = {wo.id: wo for wo in work_orders}
    out: dict[uuid.UUID, list[MaterialOut]] = {wo.id: [] for wo in work_orders}
    # Pulls are of items, not of materials: each item's pulls go to its materials in order.
    for m, item in rows:
        wo = by_id[m.work_order_id]
        required = in_item_unit(item, m.quantity, m.unit)
        allocated = sum((a.quantity for a in allocations[m.id]), Decimal(0))
        item_pulls = pulls[(m.work_order_id, m.item_id)]
        pulled = sum((p.quantity - p.returned for p in item_pulls), Decimal(0))
        done = wo.state is State.COMPLETED
        check = (
            reconcile(required, wo.quantity, wo.quantity_produced, pulled, tolerance)
            if done
            else None
        )
        out[wo.id].append(
            MaterialOut(
                id=m.id,
                position=m.position,
                item_id=m.item_id,
                item_sku=item.sku,
                item_name=item.name,
                tracking=item.tracking,
                quantity=m.quantity,
                unit=m.unit,
                bom_input_id=m.bom_input_id,
                required=required,
                item_unit=item.unit,
                allocated=allocated,
                pulled=pulled,
                short=max(required - allocated - pulled, Decimal(0)),
                expected=check.expected if check else None,
                variance=check.variance if check else None,
                variance_percent=check.variance_percent if check else None,
                flagged=check.flagged if check else False,
                allocations=allocations[m.id],
                pulls=item_pulls,
            )
        )
    return out


def _pulls(
    session: Session, wo_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID | None, uuid.UUID], list[PullOut]]:
    """The work orders' pulls by (work order, item), each with what was returned of it."""
    returned = dict(
        session.execute(
            select(InventoryEntry.reverses_id, func.sum(InventoryEntry.on_hand_change))
            .where(
                InventoryEntry.work_order_id.in_(wo_ids),
                InventoryEntry.kind == EntryKind.RETURN,
            )
            .group_by(InventoryEntry.reverses_id)
        ).all()
    )
    found: dict[tuple[uuid.UUID | None, uuid.UUID], list[PullOut]] = defaultdict(list)
    for e, code, item_id in session.execute(
        select(InventoryEntry, Lot.code, Lot.item_id)
        .join(Lot, Lot.id == InventoryEntry.lot_id)
        .where(InventoryEntry.work_order_id.in_(wo_ids), InventoryEntry.kind == EntryKind.PULL)
        .order_by(InventoryEntry.id)
    ):
        found[(e.work_order_id, item_id)].append(
            PullOut(
                id=e.id, lot_id=e.lot_id, lot_code=code, quantity=-e.on_hand_change,
                returned=returned.get(e.id) or Decimal(0), substitution=e.substitution,
                line_item_id=e.line_item_id, at=e.at, actor_email=e.actor_email,
            )
        )  # fmt: skip
    return found


# --- shortages -----------------------------------------------------------------------------


def shortages(
    session: Session, actor: Actor, start: datetime | None, end: datetime | None, limit: int
) -> list[ShortageOut]:
    """Per item that open work needs in the window (by its planned start, else its due
    date): what is required, on hand, allocated and available, what is short, and the first
    work order that will wait. Items with no shortage are left out; the worst first."""
    authorize(actor, "lot.read")
    when = func.coalesce(WorkOrder.planned_start, WorkOrder.due_date)
    window = []
    if start is not None:
        window.append(when >= start)
    if end is not None:
        window.append(when < end)
    demand = _demand(session, actor.org_id, window)
    out = []
    for item_id, item_needs in demand.needs.items():
        on_hand, held = demand.stock.get(item_id, (Decimal(0), Decimal(0)))
        available = on_hand - held
        lacking = waiting(item_needs, available, demand.supplies.get(item_id, ()))
        short = sum((q for _, q in lacking), Decimal(0))
        if short <= 0:
            continue
        first = lacking[0][0]
        item = demand.items[item_id]
        out.append(
            ShortageOut(
                item_id=item_id,
                item_sku=item.sku,
                item_name=item.name,
                unit=item.unit,
                required=sum((n.required for n in item_needs), Decimal(0)),
                on_hand=on_hand,
                allocated=held,
                available=available,
                short=short,
                first_waiting_work_order_id=first.work_order_id,
                first_waiting_work_order=first.work_order_number,
            )
        )
    out.sort(key=lambda s: (-s.short, s.item_sku))
    return out[:limit]


@dataclass(frozen=True)
class MaterialWait:
    """A material a work order will wait for: the available stock does not cover it once
    the work that needs it earlier took its share."""

    item_sku: str
    unit: str
    short: Decimal


def material_waits(
    session: Session, org_id: uuid.UUID, wo_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[MaterialWait]]:
    """For these work orders, the materials each will wait for (the scheduler's
    explanation of late work names them)."""
    if not wo_ids:
        return {}
    used = select(WorkOrderMaterial.item_id).where(WorkOrderMaterial.work_order_id.in_(wo_ids))
    demand = _demand(session, org_id, [WorkOrderMaterial.item_id.in_(used)])
    wanted = set(wo_ids)
    found: dict[uuid.UUID, list[MaterialWait]] = defaultdict(list)
    for item_id, item_needs in demand.needs.items():
        on_hand, held = demand.stock.get(item_id, (Decimal(0), Decimal(0)))
        item = demand.items[item_id]
        supplies = demand.supplies.get(item_id, ())
        for need, lacking in waiting(item_needs, on_hand - held, supplies):
            if need.work_order_id in wanted:
                found[need.work_order_id].append(MaterialWait(item.sku, item.unit, lacking))
    return found


@dataclass(frozen=True)
class _Demand:
    needs: dict[uuid.UUID, list[Need]]  # by item, what open work still needs of it
    items: dict[uuid.UUID, Item]
    stock: dict[uuid.UUID, tuple[Decimal, Decimal]]  # by item: AVAILABLE on hand, allocated
    supplies: dict[uuid.UUID, list[Supply]]  # by item, what open work will still make of it


def _demand(session: Session, org_id: uuid.UUID, where: Sequence[Any]) -> _Demand:
    """What open work needs of each item (`where` narrows the materials), net of what is
    allocated to it or was pulled for it; the stock of those items, and what open work will
    make of them: six statements."""
    when = func.coalesce(WorkOrder.planned_start, WorkOrder.due_date)
    rows: Any = session.execute(
        select(
            WorkOrderMaterial.id,
            WorkOrderMaterial.item_id,
            WorkOrderMaterial.quantity,
            WorkOrderMaterial.unit,
            WorkOrder.id.label("work_order_id"),
            WorkOrder.number,
            when.label("needed_at"),
        )
        .join(WorkOrder, WorkOrder.id == WorkOrderMaterial.work_order_id)
        .where(
            WorkOrderMaterial.org_id == org_id,
            WorkOrder.state.in_(sorted(OPEN_STATES)),
            *where,
        )
    ).all()
    if not rows:
        return _Demand({}, {}, {}, {})
    item_ids = {r.item_id for r in rows}
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(item_ids)))}
    wo_ids = list({r.work_order_id for r in rows})
    allocated: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for material_id, quantity in session.execute(
        select(Allocation.material_id, func.sum(Allocation.quantity))
        .where(Allocation.work_order_id.in_(wo_ids))
        .group_by(Allocation.material_id)
    ):
        allocated[material_id] = quantity
    pulled: dict[tuple[uuid.UUID | None, uuid.UUID], Decimal] = defaultdict(Decimal)
    for wo_id, item_id, quantity in session.execute(
        select(InventoryEntry.work_order_id, Lot.item_id, func.sum(InventoryEntry.on_hand_change))
        .join(Lot, Lot.id == InventoryEntry.lot_id)
        .where(
            InventoryEntry.work_order_id.in_(wo_ids),
            InventoryEntry.kind.in_([EntryKind.PULL, EntryKind.RETURN]),
        )
        .group_by(InventoryEntry.work_order_id, Lot.item_id)
    ):
        pulled[(wo_id, item_id)] = -quantity
    stock = {
        item_id: (on_hand or Decimal(0), held or Decimal(0))
        for item_id, on_hand, held in session.execute(
            select(Lot.item_id, func.sum(Lot.quantity_on_hand), func.sum(Lot.quantity_allocated))
            .where(
                Lot.org_id == org_id,
                Lot.item_id.in_(item_ids),
                Lot.status == LotStatus.AVAILABLE,
            )
            .group_by(Lot.item_id)
        )
    }
    supplies: dict[uuid.UUID, list[Supply]] = defaultdict(list)
    for item_id, quantity, produced, unit, planned_end in session.execute(
        select(
            WorkOrder.item_id,
            WorkOrder.quantity,
            WorkOrder.quantity_produced,
            WorkOrder.unit,
            WorkOrder.planned_end,
        ).where(
            WorkOrder.org_id == org_id,
            WorkOrder.item_id.in_(item_ids),
            WorkOrder.state.in_(sorted(OPEN_STATES)),
        )
    ):
        still = in_item_unit(items[item_id], quantity - produced, unit)
        if still > 0:
            supplies[item_id].append(Supply(planned_end, still))
    needs: dict[uuid.UUID, list[Need]] = defaultdict(list)
    for r in rows:
        needs[r.item_id].append(
            Need(
                r.work_order_id, r.number, r.needed_at,
                in_item_unit(items[r.item_id], r.quantity, r.unit),
                allocated[r.id], pulled[(r.work_order_id, r.item_id)],
            )
        )  # fmt: skip
    return _Demand(needs, items, stock, supplies)
