"""Pulls: what IN_PROCESS work actually consumes, lot by lot, and returns (a pull undone).
A pull takes from the work order's allocation of the lot first; a lot that was not
allocated to it may be pulled when it is AVAILABLE and of the right owner, and is recorded
as a substitution. Pulls and returns are ledger entries: the work order's own record (and
its ETag, which the floor's reports carry) does not change."""

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.orm import Session

from taktline.db import transaction, utcnow
from taktline.errors import Conflict, FieldError, NotFound, ValidationProblem
from taktline.events import service as events
from taktline.inventory import ledger
from taktline.inventory.kinds import EntryKind, LotStatus
from taktline.inventory.models import Allocation, InventoryEntry, Lot
from taktline.inventory.rules import Candidate, lot_refusal
from taktline.inventory.schemas import PullRequest, ReturnRequest
from taktline.orders.lifecycle import State
from taktline.orders.models import LineItem, ProductionOrder, WorkOrder, WorkOrderMaterial
from taktline.permissions import Actor, authorize

ENTITY = "work_order"
# Pulls are for work on the floor; a return may come after the work is done (what is
# left goes back to stock).
PULL_STATES = frozenset({State.IN_PROCESS})
RETURN_STATES = frozenset({State.IN_PROCESS, State.COMPLETED})


def pull(session: Session, actor: Actor, wo_id: uuid.UUID, body: PullRequest) -> list[uuid.UUID]:
    """One lot and quantity, or everything allocated (`allocated`). Returns the entries'
    ids."""
    authorize(actor, "work_order.pull")
    with transaction(session):
        wo = _work_order(session, actor, wo_id, PULL_STATES, "pulls")
        line_item_id = _line_item(session, wo, body.line_item_id)
        if body.allocated:
            movements = _pull_allocated(session, actor, wo, line_item_id)
        else:
            movements = [_pull_one(session, actor, wo, body, line_item_id)]
        events.record(
            session, actor, ENTITY, wo.id, "pull",
            changes={
                "pulled": [
                    {"lot_id": str(m.lot_id), "quantity": str(-m.on_hand_change),
                     "substitution": m.substitution}
                    for m in movements
                ]
            },
            parent_id=wo.production_order_id,
        )  # fmt: skip
    return [m.id for m in movements]


def return_pull(
    session: Session, actor: Actor, wo_id: uuid.UUID, entry_id: uuid.UUID, body: ReturnRequest
) -> uuid.UUID:
    """Part or all of a pull given back to its lot: a RETURN entry that names the pull."""
    authorize(actor, "work_order.return")
    with transaction(session):
        wo = _work_order(session, actor, wo_id, RETURN_STATES, "returns")
        pulled = session.execute(
            select(InventoryEntry.lot_id, InventoryEntry.on_hand_change).where(
                InventoryEntry.id == entry_id,
                InventoryEntry.work_order_id == wo.id,
                InventoryEntry.kind == EntryKind.PULL,
            )
        ).first()
        if pulled is None:
            raise NotFound("pull", entry_id)
        returned = session.scalar(
            select(func.coalesce(func.sum(InventoryEntry.on_hand_change), 0)).where(
                InventoryEntry.reverses_id == entry_id
            )
        )
        left = -pulled.on_hand_change - Decimal(returned or 0)
        quantity = body.quantity if body.quantity is not None else left
        if quantity <= 0 or quantity > left:
            raise ValidationProblem(
                [
                    FieldError(
                        ["body", "quantity"], f"the pull has {left.normalize():f} left to return"
                    )
                ]
            )
        locked = ledger.lock_lots(session, actor.org_id, [pulled.lot_id])
        movement = ledger.Movement(
            pulled.lot_id, EntryKind.RETURN, on_hand_change=quantity, work_order_id=wo.id,
            reverses_id=entry_id, reason=body.reason,
        )  # fmt: skip
        ledger.post(session, actor, locked, [movement], utcnow())
        events.record(
            session, actor, ENTITY, wo.id, "return", reason=body.reason,
            changes={"pull_id": str(entry_id), "quantity": str(quantity)},
            parent_id=wo.production_order_id,
        )  # fmt: skip
    return movement.id


def _work_order(
    session: Session, actor: Actor, wo_id: uuid.UUID, states: frozenset[State], what: str
) -> Row[Any]:
    """The actor's work order, locked (its pulls take turns), in one of `states`."""
    wo: Any = session.execute(
        select(
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.state,
            WorkOrder.production_order_id,
            ProductionOrder.owner_id,
        )
        .outerjoin(ProductionOrder, ProductionOrder.id == WorkOrder.production_order_id)
        .where(WorkOrder.id == wo_id, WorkOrder.org_id == actor.org_id)
        .with_for_update(of=WorkOrder.__table__)
    ).first()
    if wo is None:
        raise NotFound("work order", wo_id)
    if wo.state not in states:
        allowed = " or ".join(sorted(states))
        raise Conflict(
            f"{wo.number} is {wo.state}: {what} are taken for {allowed} work only.",
            current_state=wo.state,
        )
    return wo  # type: ignore[no-any-return]


def _line_item(session: Session, wo: Row[Any], line_item_id: uuid.UUID | None) -> uuid.UUID | None:
    if line_item_id is None:
        return None
    found = session.scalar(
        select(LineItem.id).where(LineItem.id == line_item_id, LineItem.work_order_id == wo.id)
    )
    if found is None:
        raise ValidationProblem(
            [FieldError(["body", "line_item_id"], f"{wo.number} has no line item with this id")]
        )
    return line_item_id


def _pull_allocated(
    session: Session, actor: Actor, wo: Row[Any], line_item_id: uuid.UUID | None
) -> list[ledger.Movement]:
    allocations: Sequence[Any] = session.execute(
        select(Allocation.id, Allocation.lot_id, Allocation.quantity)
        .where(Allocation.work_order_id == wo.id)
        .order_by(Allocation.lot_id)
    ).all()
    if not allocations:
        raise Conflict(f"Nothing is allocated to {wo.number}: pull lots by their codes.")
    locked = ledger.lock_lots(session, actor.org_id, [a.lot_id for a in allocations])
    for a in allocations:
        why = _refusal(locked[a.lot_id], wo)
        if why is not None:
            raise Conflict(why)
    movements = [
        ledger.Movement(
            a.lot_id, EntryKind.PULL, on_hand_change=-a.quantity, allocated_change=-a.quantity,
            work_order_id=wo.id, line_item_id=line_item_id,
        )
        for a in allocations
    ]  # fmt: skip
    ledger.post(session, actor, locked, movements, utcnow())
    session.execute(delete(Allocation).where(Allocation.id.in_([a.id for a in allocations])))
    return movements


def _pull_one(
    session: Session,
    actor: Actor,
    wo: Row[Any],
    body: PullRequest,
    line_item_id: uuid.UUID | None,
) -> ledger.Movement:
    assert body.quantity is not None
    lot_id = body.lot_id if body.lot_id is not None else _lot_by_code(session, actor, body)
    locked = ledger.lock_lots(session, actor.org_id, [lot_id])
    lot = locked.get(lot_id)
    if lot is None:
        raise ValidationProblem([FieldError(["body", "lot_id"], "no lot with this id")])
    needed = session.scalar(
        select(func.count())
        .select_from(WorkOrderMaterial)
        .where(WorkOrderMaterial.work_order_id == wo.id, WorkOrderMaterial.item_id == lot.item_id)
    )
    field = "lot_id" if body.lot_id is not None else "lot_code"
    if not needed:
        raise ValidationProblem(
            [FieldError(["body", field], f"{wo.number} uses no material of this lot's item")]
        )
    why = _refusal(lot, wo)
    if why is not None:
        raise ValidationProblem([FieldError(["body", field], why)])
    allocation: Any = session.execute(
        select(Allocation.id, Allocation.quantity).where(
            Allocation.work_order_id == wo.id, Allocation.lot_id == lot_id
        )
    ).first()
    consumed = min(allocation.quantity, body.quantity) if allocation else Decimal(0)
    movement = ledger.Movement(
        lot_id, EntryKind.PULL, on_hand_change=-body.quantity, allocated_change=-consumed,
        work_order_id=wo.id, line_item_id=line_item_id, substitution=allocation is None,
    )  # fmt: skip
    ledger.post(session, actor, locked, [movement], utcnow())
    if allocation is not None:
        if consumed == allocation.quantity:
            session.execute(delete(Allocation).where(Allocation.id == allocation.id))
        else:
            session.execute(
                update(Allocation)
                .where(Allocation.id == allocation.id)
                .values(quantity=Allocation.quantity - consumed)
            )
    return movement


def _lot_by_code(session: Session, actor: Actor, body: PullRequest) -> uuid.UUID:
    """A lot typed or scanned by its code (and its item, where two items share the code)."""
    stmt = select(Lot.id).where(Lot.org_id == actor.org_id, Lot.code == body.lot_code)
    if body.item_id is not None:
        stmt = stmt.where(Lot.item_id == body.item_id)
    found = session.scalars(stmt.limit(2)).all()
    if not found:
        raise ValidationProblem([FieldError(["body", "lot_code"], "no lot with this code")])
    if len(found) > 1:
        raise ValidationProblem(
            [FieldError(["body", "lot_code"], "lots of two items have this code: give item_id")]
        )
    return found[0]


def _refusal(lot: Row[Any], wo: Row[Any]) -> str | None:
    """A lot may be pulled when a work order could take it now: AVAILABLE, not expired, of
    the right owner."""
    if lot.expires_at is not None and lot.expires_at < utcnow():
        return f"Lot {lot.code} expired at {lot.expires_at.isoformat()}; it may not be used."
    if lot.status is LotStatus.DEPLETED:
        return None  # nothing on hand: the ledger refuses the quantity, with the numbers (409)
    return lot_refusal(
        Candidate(
            lot.id, lot.code, lot.status, lot.owner_id, lot.expires_at, lot.made_at,
            lot.quantity_on_hand - lot.quantity_allocated,
        ),
        None,
        wo.owner_id,
    )  # fmt: skip
