"""Stock coming in and counted: receipts, QA's decisions on lots (release, hold, reject),
adjustments and scrap. Each is one transaction that posts to the ledger and is audited."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from taktline import records
from taktline.db import committed_apart, transaction, utcnow
from taktline.errors import Conflict, FieldError, Loc, NotFound, ValidationProblem
from taktline.events import service as events
from taktline.inventory import ledger
from taktline.inventory.allocating import release_lot_allocations
from taktline.inventory.kinds import EntryKind, LotOrigin, LotStatus
from taktline.inventory.models import Lot, LotCodeCounter
from taktline.inventory.rules import STATUS_CHANGES, expiry, lot_code, status_refusal
from taktline.inventory.schemas import AdjustRequest, ReceiptCreate, ScrapRequest, StatusRequest
from taktline.items.kinds import NewLotStatus, Tracking
from taktline.items.models import Item
from taktline.orgs.models import Customer, Facility, Organisation
from taktline.permissions import Actor, authorize

ENTITY = "lot"


def receive(session: Session, actor: Actor, body: ReceiptCreate) -> Lot:
    """A receipt: a new lot (or, for an item that is not lot-tracked, its balance at the
    facility grows), its RECEIVE entry and its event. The lot starts in the status its
    item says (QUARANTINE until QA releases it, or AVAILABLE)."""
    authorize(actor, "lot.receive")
    with transaction(session):
        item = _item(session, actor, body.item_id, ["body", "item_id"], lock=True)
        _facility(session, actor, body.facility_id)
        owner_id = _owner(session, actor, item, body.owner_id)
        now = utcnow()
        made_at = body.received_at or now
        if item.tracking is Tracking.NONE:
            if body.lot_code is not None:
                raise ValidationProblem(
                    [
                        FieldError(
                            ["body", "lot_code"], f"{item.sku} is not lot-tracked: give no lot code"
                        )
                    ]
                )
            lot = balance_of(session, actor, item, body.facility_id, owner_id)
        else:
            code = body.lot_code or next_lot_code(session, actor, item, made_at)
            taken = session.scalar(
                select(Lot.id).where(
                    Lot.org_id == actor.org_id, Lot.item_id == item.id, Lot.code == code
                )
            )
            if taken is not None:
                raise Conflict(
                    f"{item.sku} already has a lot {code}; give the receipt another lot code."
                )
            lot = new_lot(
                session, actor, item, code, body.facility_id, owner_id, LotOrigin.RECEIVED,
                made_at, body.expires_at or expiry(made_at, item.shelf_life_days),
            )  # fmt: skip
            lot.supplier = body.supplier
            lot.supplier_lot_code = body.supplier_lot_code
            session.flush()
        locked = ledger.lock_lots(session, actor.org_id, [lot.id])
        ledger.post(
            session,
            actor,
            locked,
            [
                ledger.Movement(
                    lot.id, EntryKind.RECEIVE, on_hand_change=body.quantity,
                    reference=body.reference,
                )
            ],
            now,
        )  # fmt: skip
        events.record(
            session,
            actor,
            ENTITY,
            lot.id,
            "receive",
            to_state=lot.status,
            changes={
                "quantity": str(body.quantity),
                "supplier": body.supplier,
                "supplier_lot_code": body.supplier_lot_code,
                "reference": body.reference,
            },
        )
    return lot


def new_lot(
    session: Session,
    actor: Actor,
    item: Item,
    code: str | None,
    facility_id: uuid.UUID,
    owner_id: uuid.UUID | None,
    origin: LotOrigin,
    made_at: datetime,
    expires_at: datetime | None,
    work_order_id: uuid.UUID | None = None,
) -> Lot:
    """A lot with nothing on hand yet (the ledger's first entry fills it), in the status
    its item's new lots start in."""
    status = (
        LotStatus.QUARANTINE
        if item.new_lot_status is NewLotStatus.QUARANTINE and item.tracking is Tracking.LOT
        else LotStatus.AVAILABLE
    )
    lot = Lot(
        org_id=actor.org_id,
        item_id=item.id,
        code=code,
        owner_id=owner_id,
        facility_id=facility_id,
        status=status,
        origin=origin,
        made_at=made_at,
        expires_at=expires_at,
        unit=item.unit,
        quantity_on_hand=Decimal(0),
        quantity_allocated=Decimal(0),
        work_order_id=work_order_id,
    )
    session.add(lot)
    session.flush()
    return lot


def balance_of(
    session: Session, actor: Actor, item: Item, facility_id: uuid.UUID, owner_id: uuid.UUID | None
) -> Lot:
    """The one balance of an item that is not lot-tracked at a facility, for an owner;
    made when first needed. The caller holds the item's lock, so two receipts never make
    two balances."""
    found = session.scalars(
        select(Lot).where(
            Lot.org_id == actor.org_id,
            Lot.item_id == item.id,
            Lot.facility_id == facility_id,
            Lot.code.is_(None),
            Lot.owner_id.is_(None) if owner_id is None else Lot.owner_id == owner_id,
        )
    ).first()
    if found is not None:
        return found
    return new_lot(
        session, actor, item, None, facility_id, owner_id, LotOrigin.RECEIVED, utcnow(), None
    )


def next_lot_code(session: Session, actor: Actor, item: Item, day: datetime) -> str:
    """The next code of the organisation's pattern for a lot of `item` made on `day`: `{n}`
    counts the item's lots of that day (a counter claimed apart from the caller's
    transaction, so that lots of one item made at once do not wait for each other), skipping
    codes already taken. A number whose lot was then not made stays unused."""
    pattern = session.scalar(
        select(Organisation.lot_code_pattern).where(Organisation.id == actor.org_id)
    )
    assert pattern is not None
    while True:
        code = lot_code(pattern, item.sku, day, _claim_number(session, actor, item, day))
        taken = session.scalar(
            select(Lot.id).where(
                Lot.org_id == actor.org_id, Lot.item_id == item.id, Lot.code == code
            )
        )
        if taken is None:
            return code


def _claim_number(session: Session, actor: Actor, item: Item, day: datetime) -> int:
    """The item's next number of the day: its counter's first claim of a day starts after
    the lots of that day made before counters were kept."""
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    made_that_day = (
        select(func.count())
        .select_from(Lot)
        .where(
            Lot.org_id == actor.org_id,
            Lot.item_id == item.id,
            Lot.made_at >= start,
            Lot.made_at < start + timedelta(days=1),
        )
        .scalar_subquery()
    )
    with committed_apart(session) as conn:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
            LotCodeCounter
        )
        claim = insert.values(
            org_id=actor.org_id, item_id=item.id, day=start.date(), last_number=made_that_day + 1
        ).on_conflict_do_update(
            index_elements=[LotCodeCounter.org_id, LotCodeCounter.item_id, LotCodeCounter.day],
            set_={"last_number": LotCodeCounter.last_number + 1},
        )
        return int(conn.execute(claim.returning(LotCodeCounter.last_number)).scalar_one())


# --- QA ----------------------------------------------------------------------------------------


def change_status(
    session: Session,
    actor: Actor,
    lot_id: uuid.UUID,
    action: str,
    body: StatusRequest,
    expected_version: int | None = None,
) -> Lot:
    """QA's decision on a lot: release (to AVAILABLE), hold or reject (with a reason). A
    rejected lot's allocations are released, so that its work orders show the shortage."""
    authorize(actor, f"lot.{action}")
    change = STATUS_CHANGES[action]
    with transaction(session):
        locked = ledger.lock_lots(session, actor.org_id, [lot_id])
        row = _locked(locked, lot_id)
        if change.reason_required and body.reason is None:
            why_needed = f"say why the lot is {'put on hold' if action == 'hold' else 'rejected'}"
            raise ValidationProblem([FieldError(["body", "reason"], why_needed)])
        records.check_version(row, expected_version, row.code)
        why = status_refusal(action, row.status, row.code)
        if why is not None:
            raise Conflict(why, current_state=row.status)
        now = utcnow()
        if action == "reject":
            release_lot_allocations(session, actor, locked, "lot rejected", now)
        ledger.set_status(session, lot_id, change.to_status, body.reason, now)
        events.record(
            session, actor, ENTITY, lot_id, action,
            from_state=row.status, to_state=change.to_status, reason=body.reason,
        )  # fmt: skip
    return session.get_one(Lot, lot_id)


def adjust(
    session: Session,
    actor: Actor,
    lot_id: uuid.UUID,
    body: AdjustRequest,
    expected_version: int | None = None,
) -> Lot:
    """A count corrected, up or down, with its reason: an ADJUST entry (nothing is edited)."""
    authorize(actor, "lot.adjust")
    return _move(
        session, actor, lot_id, EntryKind.ADJUST, body.quantity, body.reason, body.reference,
        expected_version,
    )  # fmt: skip


def scrap(
    session: Session,
    actor: Actor,
    lot_id: uuid.UUID,
    body: ScrapRequest,
    expected_version: int | None = None,
) -> Lot:
    authorize(actor, "lot.scrap")
    return _move(
        session, actor, lot_id, EntryKind.SCRAP, -body.quantity, body.reason, body.reference,
        expected_version,
    )  # fmt: skip


def _move(
    session: Session,
    actor: Actor,
    lot_id: uuid.UUID,
    kind: EntryKind,
    quantity: Decimal,
    reason: str,
    reference: str | None,
    expected_version: int | None,
) -> Lot:
    with transaction(session):
        locked = ledger.lock_lots(session, actor.org_id, [lot_id])
        row = _locked(locked, lot_id)
        records.check_version(row, expected_version, row.code)
        movement = ledger.Movement(
            lot_id, kind, on_hand_change=quantity, reason=reason, reference=reference
        )
        ledger.post(session, actor, locked, [movement], utcnow())
        events.record(
            session, actor, ENTITY, lot_id, kind.lower(), reason=reason,
            changes={"quantity": str(quantity), "reference": reference},
        )  # fmt: skip
    return session.get_one(Lot, lot_id)


# --- shared lookups ----------------------------------------------------------------------------


def _locked(locked: dict[uuid.UUID, Row[Any]], lot_id: uuid.UUID) -> Row[Any]:
    row = locked.get(lot_id)
    if row is None:
        raise NotFound("lot", lot_id)
    return row


def _item(
    session: Session, actor: Actor, item_id: uuid.UUID, loc: Loc, *, lock: bool = False
) -> Item:
    stmt = select(Item).where(Item.id == item_id, Item.org_id == actor.org_id)
    if lock:
        stmt = stmt.with_for_update()
    item = session.scalars(stmt).first()
    if item is None:
        raise ValidationProblem([FieldError(loc, "no item with this id")])
    return item


def _facility(session: Session, actor: Actor, facility_id: uuid.UUID) -> None:
    refs: list[tuple[Loc, uuid.UUID]] = [(["body", "facility_id"], facility_id)]
    records.resolve_refs(session, Facility, actor.org_id, refs, kind="facility")


def _owner(
    session: Session, actor: Actor, item: Item, owner_id: uuid.UUID | None
) -> uuid.UUID | None:
    """Whose the received stock is: the customer named, or the item's owner. A customer's
    own material is theirs whoever sends it."""
    if owner_id is None:
        return item.owner_id
    refs: list[tuple[Loc, uuid.UUID]] = [(["body", "owner_id"], owner_id)]
    records.resolve_refs(session, Customer, actor.org_id, refs, kind="customer")
    if item.owner_id is not None and item.owner_id != owner_id:
        raise ValidationProblem(
            [FieldError(["body", "owner_id"], f"{item.sku} is another customer's own material")]
        )
    return owner_id
