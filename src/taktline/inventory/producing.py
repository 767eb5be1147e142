"""What a work order makes becomes stock: a report of completed quantity on its last line
item puts it into the work order's output lot (PRODUCE), a reversal of such a report takes
it out again. Called by the report's use case, in its transaction, with the work order
locked; the lot's code is the operator's or the organisation's pattern's, its expiry from
the item's shelf life, its status the item's, its owner the production order's customer.
Genealogy follows from the ledger: the lots a work order pulled went into the lots it
produced."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline.errors import Conflict, FieldError, ValidationProblem
from taktline.inventory import ledger
from taktline.inventory.kinds import EntryKind, LotOrigin
from taktline.inventory.models import Lot
from taktline.inventory.receiving import new_lot, next_lot_code
from taktline.inventory.rules import expiry
from taktline.items.kinds import Tracking
from taktline.items.models import Item
from taktline.orders.models import LineItem, ProductionOrder
from taktline.orgs.models import Facility
from taktline.permissions import Actor
from taktline.resources.models import Resource


def produce(
    session: Session,
    actor: Actor,
    wo: Any,
    line_item_id: uuid.UUID,
    quantity: Decimal,
    lot_code: str | None,
    now: datetime,
) -> uuid.UUID:
    """`quantity` (more or, for a reversal, less) into the work order's output lot: the one
    named by `lot_code`, made if new, or else its latest. Returns the lot's id."""
    lot_id = _output_lot(session, actor, wo, line_item_id, lot_code, now)
    locked = ledger.lock_lots(session, actor.org_id, [lot_id])
    ledger.post(
        session,
        actor,
        locked,
        [
            ledger.Movement(
                lot_id, EntryKind.PRODUCE, on_hand_change=quantity, work_order_id=wo.id,
                line_item_id=line_item_id,
            )
        ],
        now,
    )  # fmt: skip
    return lot_id


def _output_lot(
    session: Session,
    actor: Actor,
    wo: Any,
    line_item_id: uuid.UUID,
    lot_code: str | None,
    now: datetime,
) -> uuid.UUID:
    outputs = select(Lot.id, Lot.code).where(
        Lot.work_order_id == wo.id, Lot.origin == LotOrigin.PRODUCED
    )
    if lot_code is not None:
        found = session.execute(
            select(Lot.id, Lot.work_order_id).where(
                Lot.org_id == actor.org_id, Lot.item_id == wo.item_id, Lot.code == lot_code
            )
        ).first()
        if found is not None:
            if found.work_order_id != wo.id:
                raise ValidationProblem(
                    [FieldError(["body", "lot_code"], "a lot of this code exists already")]
                )
            return found.id  # type: ignore[no-any-return]
    else:
        latest = session.execute(outputs.order_by(Lot.id.desc()).limit(1)).first()
        if latest is not None:
            return latest.id  # type: ignore[no-any-return]
    # (not locked: the work order's lock keeps its reports in turn, and a new code's number
    # is claimed apart, next_lot_code)
    item = session.scalars(select(Item).where(Item.id == wo.item_id)).one()
    if item.tracking is Tracking.NONE and lot_code is not None:
        raise ValidationProblem(
            [FieldError(["body", "lot_code"], f"{item.sku} is not lot-tracked: give no lot code")]
        )
    owner_id = session.scalar(
        select(ProductionOrder.owner_id).where(ProductionOrder.id == wo.production_order_id)
    )
    code = (
        None
        if item.tracking is Tracking.NONE
        else lot_code or next_lot_code(session, actor, item, now)
    )
    lot = new_lot(
        session, actor, item, code, _facility(session, actor, line_item_id),
        owner_id or item.owner_id, LotOrigin.PRODUCED, now,
        expiry(now, item.shelf_life_days), work_order_id=wo.id,
    )  # fmt: skip
    return lot.id


def _facility(session: Session, actor: Actor, line_item_id: uuid.UUID) -> uuid.UUID:
    """Where the lot is made: the facility of the line item's resource (else the
    organisation's first facility)."""
    found = session.scalar(
        select(Resource.facility_id)
        .join(LineItem, LineItem.resource_id == Resource.id)
        .where(LineItem.id == line_item_id)
    )
    if found is None:
        found = session.scalar(
            select(Facility.id)
            .where(Facility.org_id == actor.org_id)
            .order_by(Facility.created_at, Facility.id)
            .limit(1)
        )
    if found is None:
        raise Conflict("The organisation has no facility to keep what is produced in.")
    return found


def take_back(
    session: Session,
    actor: Actor,
    wo: Any,
    line_item_id: uuid.UUID,
    quantity: Decimal,
    now: datetime,
) -> None:
    """A reversed report of the last line item: its quantity out of the output lots again,
    the latest first; refused with the numbers when they no longer hold it (it was pulled
    by the next level, say)."""
    lots: Any = session.execute(
        select(Lot.id)
        .where(Lot.work_order_id == wo.id, Lot.origin == LotOrigin.PRODUCED)
        .order_by(Lot.id.desc())
    ).all()
    locked = ledger.lock_lots(session, actor.org_id, [r.id for r in lots])
    left = quantity
    movements = []
    for r in lots:
        if left <= 0:
            break
        take = min(left, locked[r.id].quantity_on_hand - locked[r.id].quantity_allocated)
        if take > 0:
            movements.append(
                ledger.Movement(
                    r.id, EntryKind.PRODUCE, on_hand_change=-take, work_order_id=wo.id,
                    line_item_id=line_item_id, reason="report reversed",
                )
            )  # fmt: skip
            left -= take
    if left > 0:
        raise Conflict(
            f"{wo.number}'s output lots no longer hold the {quantity.normalize():f} this report "
            "put in them (some has been used or allocated since): return or release it first."
        )
    ledger.post(session, actor, locked, movements, now)
