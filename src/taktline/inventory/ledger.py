"""The one way stock moves: `post` writes ledger entries and changes the lots' balances by
them, in the caller's transaction, on lots it has locked (`lock_lots`). Every balance is
the sum of its entries because nothing else writes either; the checks here refuse, with
the numbers, what the database's CHECK constraints would refuse anyway."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from taktline.db import new_id
from taktline.errors import Conflict
from taktline.inventory.kinds import EntryKind, LotStatus
from taktline.inventory.models import InventoryEntry, Lot
from taktline.inventory.rules import Balance, balance_refusal, entry_is_signed_right, status_after
from taktline.items.kinds import Tracking
from taktline.items.models import Item
from taktline.permissions import Actor

LOTS = cast(Table, Lot.__table__)
ENTRIES = cast(Table, InventoryEntry.__table__)

# A lot as the ledger locks it: its balances, its status, and whether its item is tracked.
_LOCKED_COLUMNS = (
    Lot.id,
    Lot.org_id,
    Lot.item_id,
    Lot.code,
    Lot.owner_id,
    Lot.facility_id,
    Lot.status,
    Lot.unit,
    Lot.expires_at,
    Lot.made_at,
    Lot.quantity_on_hand,
    Lot.quantity_allocated,
    Lot.version,
    Item.tracking,
)
_INSERT_ENTRIES = insert(ENTRIES)
_UPDATE_LOT = (
    update(LOTS)
    .where(LOTS.c.id == bindparam("lot_id"))
    .values(
        quantity_on_hand=LOTS.c.quantity_on_hand + bindparam("on_hand_change"),
        quantity_allocated=LOTS.c.quantity_allocated + bindparam("allocated_change"),
        status=bindparam("status_after"),
        version=LOTS.c.version + 1,
        updated_at=bindparam("now"),
    )
)


def lock_lots(
    session: Session, org_id: uuid.UUID, lot_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Row[Any]]:
    """The organisation's lots of these ids, locked, in id order (the one lock order of lots:
    two movements of the same lots never wait for each other in a circle). A lot of another
    organisation is simply not there."""
    if not lot_ids:
        return {}
    rows: Any = session.execute(
        select(*_LOCKED_COLUMNS)
        .join(Item, Item.id == Lot.item_id)
        .where(Lot.id.in_(sorted(set(lot_ids))), Lot.org_id == org_id)
        .order_by(Lot.id)
        .with_for_update(of=Lot.__table__)
    ).all()
    return {row.id: row for row in rows}


@dataclass(frozen=True)
class Movement:
    """One entry to write: a change of a lot's on hand and allocated, and what it is for."""

    lot_id: uuid.UUID
    kind: EntryKind
    on_hand_change: Decimal = Decimal(0)
    allocated_change: Decimal = Decimal(0)
    work_order_id: uuid.UUID | None = None
    line_item_id: uuid.UUID | None = None
    substitution: bool = False
    reverses_id: uuid.UUID | None = None
    reference: str | None = None
    reason: str | None = None
    id: uuid.UUID = field(default_factory=new_id)


def post(
    session: Session,
    actor: Actor,
    locked: dict[uuid.UUID, Row[Any]],
    movements: Sequence[Movement],
    now: datetime,
) -> dict[uuid.UUID, Balance]:
    """Writes the movements (one INSERT) and their lots' new balances (one UPDATE a lot),
    in order; refuses with 409, changing nothing, when a lot would go below zero or below
    what is allocated. Returns the lots' balances after."""
    before = {
        lot_id: Balance(r.quantity_on_hand, r.quantity_allocated) for lot_id, r in locked.items()
    }
    after = dict(before)
    status = {lot_id: r.status for lot_id, r in locked.items()}
    for m in movements:
        lot = locked[m.lot_id]  # (a caller's bug, not the user's, if it is not locked)
        assert entry_is_signed_right(m.kind, m.on_hand_change, m.allocated_change), m
        now_balance = after[m.lot_id]
        next_balance = Balance(
            now_balance.on_hand + m.on_hand_change, now_balance.allocated + m.allocated_change
        )
        why = balance_refusal(lot.code, lot.unit, now_balance, next_balance)
        if why is not None:
            raise Conflict(why)
        after[m.lot_id] = next_balance
        status[m.lot_id] = status_after(
            status[m.lot_id], next_balance.on_hand, lot.tracking is Tracking.LOT
        )
    if not movements:
        return after
    session.execute(
        _INSERT_ENTRIES,
        [
            {
                "id": m.id,
                "org_id": actor.org_id,
                "lot_id": m.lot_id,
                "kind": m.kind,
                "on_hand_change": m.on_hand_change,
                "allocated_change": m.allocated_change,
                "work_order_id": m.work_order_id,
                "line_item_id": m.line_item_id,
                "substitution": m.substitution,
                "reverses_id": m.reverses_id,
                "reference": m.reference,
                "reason": m.reason,
                "actor_id": actor.user_id,
                "actor_email": actor.email,
                "at": now,
            }
            for m in movements
        ],
    )
    changed = {m.lot_id for m in movements}
    session.execute(
        _UPDATE_LOT,
        [
            {
                "lot_id": lot_id,
                "on_hand_change": after[lot_id].on_hand - before[lot_id].on_hand,
                "allocated_change": after[lot_id].allocated - before[lot_id].allocated,
                "status_after": status[lot_id],
                "now": now,
            }
            for lot_id in sorted(changed)
        ],
    )
    forget_lots(session, changed)
    return after


def forget_lots(session: Session, lot_ids: set[uuid.UUID]) -> None:
    """Expires what the session holds of lots changed in SQL, so that a caller reading them
    through the session afterwards reads them anew."""
    for held in list(session.identity_map.values()):
        if isinstance(held, Lot) and held.id in lot_ids:
            session.expire(held)


def set_status(
    session: Session, lot_id: uuid.UUID, status: LotStatus, reason: str | None, now: datetime
) -> None:
    """A QA decision on a locked lot (the ledger holds quantities, the events hold this)."""
    session.execute(
        update(LOTS)
        .where(LOTS.c.id == lot_id)
        .values(status=status, status_reason=reason, version=LOTS.c.version + 1, updated_at=now)
    )
    forget_lots(session, {lot_id})
