"""Allocation: stock reserved for the materials of DRAFT and SCHEDULED work orders, by hand
(lots and quantities) or automatically (each item's strategy, FEFO or FIFO), and given back
(a DELETE, unscheduling, canceling, a lot rejected). Once a work order starts its
allocations no longer change; its pulls consume them.

The lock order: work orders (in id order), then lots (in id order); production orders, which
come before work orders in `orders.locks`, are only read."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from taktline import records
from taktline.boms.reading import material_of
from taktline.db import new_id, transaction, utcnow
from taktline.errors import Conflict, FieldError, NotFound, ValidationProblem
from taktline.events import service as events
from taktline.inventory import ledger
from taktline.inventory.kinds import EntryKind, LotStatus
from taktline.inventory.models import Allocation, Lot
from taktline.inventory.rules import Candidate, StockPool, lot_refusal
from taktline.inventory.schemas import AllocateRequest
from taktline.items.models import Item
from taktline.orders.lifecycle import State
from taktline.orders.models import ProductionOrder, WorkOrder, WorkOrderMaterial
from taktline.permissions import Actor, authorize

ALLOCATIONS = cast(Table, Allocation.__table__)
WORK_ORDERS = cast(Table, WorkOrder.__table__)
ENTITY = "work_order"
# Allocations change while the work has not started (Bottleneck's rule): after, what is
# used is what is pulled.
ALLOCATION_EDITABLE_STATES = frozenset({State.DRAFT, State.SCHEDULED})


def allocations_editable(state: State) -> bool:
    return state in ALLOCATION_EDITABLE_STATES


@dataclass(frozen=True)
class Need:
    """A material of a locked work order: what is still to be allocated, in its item's unit."""

    material_id: uuid.UUID
    work_order_id: uuid.UUID
    item_id: uuid.UUID
    required: Decimal
    allocated: Decimal

    @property
    def wanted(self) -> Decimal:
        return max(self.required - self.allocated, Decimal(0))


def allocate(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    body: AllocateRequest,
    expected_version: int | None = None,
) -> None:
    """Allocates to one work order: `auto`, or the lots and quantities given."""
    authorize(actor, "work_order.allocate")
    with transaction(session):
        work = _lock_work_orders(session, actor, [wo_id])
        wo = work[0]
        records.check_version(wo, expected_version, wo.number)
        if body.auto:
            _allocate_auto(session, actor, work)
        else:
            _allocate_given(session, actor, wo, body)


def allocate_many(session: Session, actor: Actor, wo_ids: Sequence[uuid.UUID]) -> int:
    """Automatic allocation for many work orders at once (a week's schedule), the earliest
    planned first: set-based, a fixed number of statements however many there are. Returns
    how many allocations were made or grew."""
    authorize(actor, "work_order.allocate")
    with transaction(session):
        work = _lock_work_orders(session, actor, wo_ids, named_at=["body", "work_order_ids"])
        return _allocate_auto(session, actor, work)


def release(
    session: Session,
    actor: Actor,
    wo_id: uuid.UUID,
    allocation_id: uuid.UUID,
    expected_version: int | None = None,
) -> None:
    """Gives one allocation back (a RELEASE entry)."""
    authorize(actor, "work_order.release_allocation")
    with transaction(session):
        wo = _lock_work_orders(session, actor, [wo_id])[0]
        records.check_version(wo, expected_version, wo.number)
        row: Any = session.execute(
            select(*_HELD).where(Allocation.id == allocation_id, Allocation.work_order_id == wo.id)
        ).first()
        if row is None:
            raise NotFound("allocation", allocation_id)
        now = utcnow()
        _release_rows(session, actor, [row], "released by hand", now)
        _step_versions(session, [wo.id], now)


def release_work_orders(
    session: Session, actor: Actor, wo_ids: Sequence[uuid.UUID], why: str
) -> None:
    """Every allocation of these work orders given back, in the caller's transaction (which
    holds their locks): unscheduled, canceled, deleted, or their materials replaced."""
    if not wo_ids:
        return
    rows: Any = session.execute(select(*_HELD).where(Allocation.work_order_id.in_(wo_ids))).all()
    if rows:
        _release_rows(session, actor, rows, why, utcnow())


def release_lot_allocations(
    session: Session, actor: Actor, locked: dict[uuid.UUID, Row[Any]], why: str, now: datetime
) -> None:
    """Every allocation of these locked lots given back (a lot rejected): the work orders
    show the shortage. Their rows are not touched (nor their versions stepped): a work order
    is locked before its lots, and taking its lock while holding a lot's could wait in a
    circle with an allocation to it."""
    rows: Any = session.execute(select(*_HELD).where(Allocation.lot_id.in_(list(locked)))).all()
    if rows:
        _release_rows(session, actor, rows, why, now, locked)


# An allocation as giving it back needs it.
_HELD = (Allocation.id, Allocation.lot_id, Allocation.quantity, Allocation.work_order_id)


def _release_rows(
    session: Session,
    actor: Actor,
    rows: Sequence[Row[Any]],
    why: str,
    now: datetime,
    locked: dict[uuid.UUID, Row[Any]] | None = None,
) -> None:
    if locked is None:
        locked = ledger.lock_lots(session, actor.org_id, [r.lot_id for r in rows])
    ledger.post(
        session,
        actor,
        locked,
        [
            ledger.Movement(
                r.lot_id, EntryKind.RELEASE, allocated_change=-r.quantity,
                work_order_id=r.work_order_id, reason=why,
            )
            for r in rows
        ],
        now,
    )  # fmt: skip
    session.execute(delete(Allocation).where(Allocation.id.in_([r.id for r in rows])))


# --- the work orders and their needs ---------------------------------------------------------


def _lock_work_orders(
    session: Session,
    actor: Actor,
    wo_ids: Sequence[uuid.UUID],
    named_at: list[str | int] | None = None,
) -> list[Row[Any]]:
    """The actor's work orders, locked in id order, with what allocation needs of them:
    state, version, when they end (expiry), their order's owner. Refused unless every one
    may still change its allocations. An id that is not the actor's is not found (404), or,
    named in a body (`named_at`), refused at its place there (422)."""
    rows: Any = session.execute(
        select(
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.state,
            WorkOrder.version,
            WorkOrder.planned_start,
            WorkOrder.planned_end,
            WorkOrder.due_date,
            ProductionOrder.owner_id,
        )
        .outerjoin(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
        .where(WorkOrder.org_id == actor.org_id, WorkOrder.id.in_(sorted(set(wo_ids))))
        .order_by(WorkOrder.id)
        .with_for_update(of=WorkOrder.__table__)
    ).all()
    found = {r.id for r in rows}
    missing = [(i, wo_id) for i, wo_id in enumerate(wo_ids) if wo_id not in found]
    if missing and named_at is not None:
        raise ValidationProblem(
            [FieldError([*named_at, i], "no work order with this id") for i, _ in missing]
        )
    if missing:
        raise NotFound("work order", missing[0][1])
    for r in rows:
        if not allocations_editable(r.state):
            raise Conflict(
                f"{r.number} is {r.state}: its allocations no longer change (only DRAFT and "
                "SCHEDULED work orders take allocations; started work pulls what it uses).",
                current_state=r.state,
            )
    return cast(list[Row[Any]], rows)


def _needs(session: Session, work: Sequence[Row[Any]]) -> tuple[list[Need], dict[uuid.UUID, Item]]:
    """Every material of the work orders, in its item's unit, with what is allocated to it."""
    ids = [w.id for w in work]
    materials = session.execute(
        select(
            WorkOrderMaterial.id,
            WorkOrderMaterial.work_order_id,
            WorkOrderMaterial.item_id,
            WorkOrderMaterial.quantity,
            WorkOrderMaterial.unit,
        )
        .where(WorkOrderMaterial.work_order_id.in_(ids))
        .order_by(WorkOrderMaterial.work_order_id, WorkOrderMaterial.position)
    ).all()
    items = {
        item.id: item
        for item in session.scalars(select(Item).where(Item.id.in_({m.item_id for m in materials})))
    }
    allocated: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for material_id, quantity in session.execute(
        select(Allocation.material_id, Allocation.quantity).where(Allocation.work_order_id.in_(ids))
    ):
        allocated[material_id] += quantity
    needs = [
        Need(
            m.id,
            m.work_order_id,
            m.item_id,
            in_item_unit(items[m.item_id], m.quantity, m.unit),
            allocated[m.id],
        )
        for m in materials
    ]
    return needs, items


def in_item_unit(item: Item, quantity: Decimal, unit: str) -> Decimal:
    """A material's quantity in its item's own unit (the unit of its lots), to the micro-unit,
    rounded up (a requirement is never shrunk by rounding)."""
    if unit == item.unit:
        return quantity
    exact = material_of(item).in_base(Fraction(quantity), unit)
    micro = -(-exact.numerator * 1_000_000 // exact.denominator)
    return (Decimal(micro) / 1_000_000).normalize()


# --- automatic ---------------------------------------------------------------------------------

_CANDIDATE_COLUMNS = (
    Lot.id,
    Lot.item_id,
    Lot.code,
    Lot.status,
    Lot.owner_id,
    Lot.expires_at,
    Lot.made_at,
    Lot.quantity_on_hand,
    Lot.quantity_allocated,
)


def _candidate(row: Row[Any]) -> Candidate:
    return Candidate(
        row.id, row.code, row.status, row.owner_id, row.expires_at, row.made_at,
        row.quantity_on_hand - row.quantity_allocated,
    )  # fmt: skip


def _allocate_auto(session: Session, actor: Actor, work: Sequence[Row[Any]]) -> int:
    """Each work order's open needs from its items' lots, by each item's strategy, the work
    that starts first served first. Picked on the lots as read, then picked again on the
    picked lots as locked: what another allocation took in between is simply not there
    (a shortage), and no lot that is not taken is locked."""
    needs, items = _needs(session, work)
    open_needs = [n for n in needs if n.wanted > 0]
    if not open_needs:
        return 0
    owners = [w.owner_id for w in work if w.owner_id is not None]
    lots: Any = session.execute(
        select(*_CANDIDATE_COLUMNS).where(
            Lot.org_id == actor.org_id,
            Lot.item_id.in_(sorted({n.item_id for n in open_needs})),
            Lot.status == LotStatus.AVAILABLE,
            Lot.quantity_on_hand > Lot.quantity_allocated,
            or_(Lot.owner_id.is_(None), Lot.owner_id.in_(owners)),
        )
    ).all()
    first = _plan(work, open_needs, items, [(r.item_id, _candidate(r)) for r in lots])
    locked = ledger.lock_lots(session, actor.org_id, sorted({lot_id for _, lot_id, _ in first}))
    taken = _plan(work, open_needs, items, [(r.item_id, _candidate(r)) for r in locked.values()])
    return _write_allocations(session, actor, locked, taken)


_FAR = datetime.max.replace(tzinfo=UTC)


def _plan(
    work: Sequence[Row[Any]],
    needs: Sequence[Need],
    items: dict[uuid.UUID, Item],
    lots: Sequence[tuple[uuid.UUID, Candidate]],
) -> list[tuple[Need, uuid.UUID, Decimal]]:
    """The picks of every need, in the order the work starts (then its number), each lot's
    availability going down as earlier needs take from it."""
    by_item: dict[uuid.UUID, list[Candidate]] = defaultdict(list)
    for item_id, lot in lots:
        by_item[item_id].append(lot)
    pools = {
        item_id: StockPool(items[item_id].allocation_strategy, item_lots)
        for item_id, item_lots in by_item.items()
    }
    work_needs: dict[uuid.UUID, list[Need]] = defaultdict(list)
    for need in needs:
        work_needs[need.work_order_id].append(need)
    taken: list[tuple[Need, uuid.UUID, Decimal]] = []
    for w in sorted(work, key=lambda w: (w.planned_start or w.due_date or _FAR, w.number)):
        until = w.planned_end or w.due_date
        for need in work_needs[w.id]:
            pool = pools.get(need.item_id)
            if pool is None:
                continue
            for lot, quantity in pool.take(need.wanted, until, w.owner_id):
                taken.append((need, lot.id, quantity))
    return taken


# --- by hand -----------------------------------------------------------------------------------


def _allocate_given(session: Session, actor: Actor, wo: Row[Any], body: AllocateRequest) -> None:
    needs, items = _needs(session, [wo])
    locked = ledger.lock_lots(session, actor.org_id, [a.lot_id for a in body.lots])
    problems: list[FieldError] = []
    taken: list[tuple[Need, uuid.UUID, Decimal]] = []
    wanted = {n.material_id: n.wanted for n in needs}
    for i, given in enumerate(body.lots):
        where: list[str | int] = ["body", "lots", i]
        lot = locked.get(given.lot_id)
        if lot is None:
            problems.append(FieldError([*where, "lot_id"], "no lot with this id"))
            continue
        of_item = [n for n in needs if n.item_id == lot.item_id]
        if given.material_id is not None:
            need = next((n for n in needs if n.material_id == given.material_id), None)
            if need is None:
                problems.append(
                    FieldError([*where, "material_id"], f"{wo.number} has no material with this id")
                )
                continue
            if need.item_id != lot.item_id:
                problems.append(
                    FieldError([*where, "lot_id"], "the lot is of another item than the material")
                )
                continue
        elif len(of_item) == 1:
            need = of_item[0]
        else:
            problems.append(
                FieldError(
                    [*where, "lot_id"],
                    f"{wo.number} needs no {lot.code or 'stock'} of this item"
                    if not of_item
                    else "the work order has two materials of this item: give material_id",
                )
            )
            continue
        why = lot_refusal(
            Candidate(
                lot.id, lot.code, lot.status, lot.owner_id, lot.expires_at, lot.made_at,
                lot.quantity_on_hand - lot.quantity_allocated,
            ),
            wo.planned_end or wo.due_date,
            wo.owner_id,
        )  # fmt: skip
        if why is not None:
            problems.append(FieldError([*where, "lot_id"], why))
            continue
        if given.quantity > wanted[need.material_id]:
            problems.append(
                FieldError(
                    [*where, "quantity"],
                    f"{wo.number} still needs {wanted[need.material_id].normalize():f} "
                    f"{items[need.item_id].unit} of {items[need.item_id].sku}",
                )
            )
            continue
        wanted[need.material_id] -= given.quantity
        taken.append((need, lot.id, given.quantity))
    if problems:
        raise ValidationProblem(problems)
    _write_allocations(session, actor, locked, taken)


# --- writing -----------------------------------------------------------------------------------


def _write_allocations(
    session: Session,
    actor: Actor,
    locked: dict[uuid.UUID, Row[Any]],
    taken: Sequence[tuple[Need, uuid.UUID, Decimal]],
) -> int:
    """ALLOCATE entries and the allocation rows (new ones inserted, existing ones grown), an
    event and a version step per work order."""
    if not taken:
        return 0
    now = utcnow()
    totals: dict[tuple[uuid.UUID, uuid.UUID], Decimal] = defaultdict(Decimal)
    work_of: dict[uuid.UUID, uuid.UUID] = {}
    for need, lot_id, quantity in taken:
        totals[(need.material_id, lot_id)] += quantity
        work_of[need.material_id] = need.work_order_id
    ledger.post(
        session,
        actor,
        locked,
        [
            ledger.Movement(
                lot_id, EntryKind.ALLOCATE, allocated_change=quantity,
                work_order_id=work_of[material_id],
            )
            for (material_id, lot_id), quantity in totals.items()
        ],
        now,
    )  # fmt: skip
    existing = {
        (r.material_id, r.lot_id): r.id
        for r in session.execute(
            select(Allocation.id, Allocation.material_id, Allocation.lot_id).where(
                Allocation.material_id.in_(list(work_of)),
                Allocation.lot_id.in_(list({lot_id for _, lot_id in totals})),
            )
        )
    }
    grown = [
        {"allocation_id": existing[key], "more": quantity}
        for key, quantity in totals.items()
        if key in existing
    ]
    new = [
        {
            "id": new_id(),
            "org_id": actor.org_id,
            "work_order_id": work_of[material_id],
            "material_id": material_id,
            "lot_id": lot_id,
            "quantity": quantity,
            "created_at": now,
        }
        for (material_id, lot_id), quantity in totals.items()
        if (material_id, lot_id) not in existing
    ]
    if new:
        session.execute(insert(ALLOCATIONS), new)
    if grown:
        session.execute(_GROW_ALLOCATION, grown)
    wo_ids = sorted(set(work_of.values()))
    _step_versions(session, wo_ids, now)
    lots_of: dict[uuid.UUID, list[dict[str, str]]] = defaultdict(list)
    for (material_id, lot_id), quantity in totals.items():
        lots_of[work_of[material_id]].append(
            {"lot_id": str(lot_id), "lot": locked[lot_id].code, "quantity": str(quantity)}
        )
    events.record_many(
        session, actor, ENTITY, "allocate",
        [events.Change(wo_id, {"allocated": lots_of[wo_id]}) for wo_id in wo_ids],
    )  # fmt: skip
    return len(totals)


_GROW_ALLOCATION = (
    update(ALLOCATIONS)
    .where(ALLOCATIONS.c.id == bindparam("allocation_id"))
    .values(quantity=ALLOCATIONS.c.quantity + bindparam("more"))
)


def _step_versions(session: Session, wo_ids: Sequence[uuid.UUID], now: datetime) -> None:
    """A work order's allocations are part of it: each change shows in its ETag."""
    session.execute(
        update(WORK_ORDERS)
        .where(WORK_ORDERS.c.id.in_(list(wo_ids)))
        .values(version=WORK_ORDERS.c.version + 1, updated_at=now)
    )
    for held in list(session.identity_map.values()):
        if isinstance(held, WorkOrder) and held.id in wo_ids:
            session.expire(held)
