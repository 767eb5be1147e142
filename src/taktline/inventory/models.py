"""Lots, the inventory ledger that every movement of stock is written to, and allocations
(stock reserved for a work order's material). A lot's balances are the sums of its ledger
entries, kept on the lot so that a check reads one row; the database refuses a negative
on-hand and an allocation above on-hand (CHECK constraints), whatever runs at once."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from taktline.db import Base, OrgScoped, new_id, utcnow
from taktline.inventory.kinds import EntryKind, LotOrigin, LotStatus

LOT_STATUS_ENUM = Enum(LotStatus, native_enum=False, length=16, validate_strings=True)


class Lot(OrgScoped, Base):
    """A quantity of one item with a code. An item that is not lot-tracked keeps one lot
    without a code per facility and owner: its balance."""

    __tablename__ = "lots"
    __table_args__ = (
        UniqueConstraint("org_id", "item_id", "code"),
        CheckConstraint("quantity_on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("quantity_allocated >= 0", name="allocated_not_negative"),
        CheckConstraint("quantity_allocated <= quantity_on_hand", name="allocated_within_on_hand"),
        # Allocation's walk: an item's lots by status, in expiry order.
        Index("ix_lots_org_item_status", "org_id", "item_id", "status", "expires_at"),
        # A code typed or scanned on the floor, whatever its item.
        Index("ix_lots_org_code", "org_id", "code"),
        Index("ix_lots_org_expires", "org_id", "expires_at"),
        # The lists' filters by status and by owner, in id order; FSMA's ranges by date.
        Index("ix_lots_org_status", "org_id", "status", "id"),
        Index("ix_lots_org_owner", "org_id", "owner_id", "id"),
        Index("ix_lots_org_made", "org_id", "made_at"),
        Index("ix_lots_work_order", "work_order_id"),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"))
    code: Mapped[str | None] = mapped_column(String(64))
    # The customer who owns it (customer-supplied material, or made for their order); None:
    # the manufacturer's own.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    status: Mapped[LotStatus] = mapped_column(LOT_STATUS_ENUM)
    status_reason: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[LotOrigin] = mapped_column(
        Enum(LotOrigin, native_enum=False, length=16, validate_strings=True)
    )
    # When it was received or made: FIFO's order.
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    supplier: Mapped[str | None] = mapped_column(String(200))
    supplier_lot_code: Mapped[str | None] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32))
    quantity_on_hand: Mapped[Decimal] = mapped_column(default=Decimal(0))
    quantity_allocated: Mapped[Decimal] = mapped_column(default=Decimal(0))
    # The work order that made it (PRODUCED lots).
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("work_orders.id"))


class InventoryEntry(Base):
    """One movement of one lot, never updated or deleted (database triggers refuse both):
    a correction is a new entry. `on_hand_change` and `allocated_change` are signed; a lot's
    balances are their sums."""

    __tablename__ = "inventory_entries"
    __table_args__ = (
        Index("ix_inventory_entries_lot", "lot_id", "id"),
        # Genealogy walks: what a work order pulled and produced, and a lot's movements.
        Index("ix_inventory_entries_work_order", "work_order_id", "kind", "lot_id"),
        # A trace's step from a lot to the work orders of its PULL or PRODUCE entries, and
        # the sums of a (lot, work order)'s entries, read from the index alone (tracing.py).
        Index("ix_inventory_entries_lot_kind", "lot_id", "kind", "work_order_id", "on_hand_change"),
        Index("ix_inventory_entries_org_at", "org_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"))
    kind: Mapped[EntryKind] = mapped_column(
        Enum(EntryKind, native_enum=False, length=16, validate_strings=True)
    )
    on_hand_change: Mapped[Decimal] = mapped_column(default=Decimal(0))
    allocated_change: Mapped[Decimal] = mapped_column(default=Decimal(0))
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("work_orders.id"))
    line_item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("work_order_line_items.id"))
    # A pull of a lot that was not allocated to the work order.
    substitution: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The entry this one undoes (a RETURN of a PULL).
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("inventory_entries.id"))
    # The document behind it: a bill of lading, a count sheet.
    reference: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor_email: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Allocation(Base):
    """Stock of one lot reserved for one material of a work order, until it is pulled or
    released. Its sum over a lot is the lot's `quantity_allocated`."""

    __tablename__ = "allocations"
    __table_args__ = (
        UniqueConstraint("material_id", "lot_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_allocations_work_order", "work_order_id"),
        Index("ix_allocations_lot", "lot_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work_orders.id"))
    material_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work_order_materials.id"))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"))
    quantity: Mapped[Decimal]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LotCodeCounter(Base):
    """The last `{n}` a lot code of an item took on a day. Claimed in a statement that
    commits on its own (`db.committed_apart`), so that lots of one item made at once do not
    take turns until each other's transactions end; a claim whose transaction then fails
    leaves its number unused."""

    __tablename__ = "lot_code_counters"

    # No foreign keys: their checks would lock the item's row for key share, which waits
    # for a transaction holding the item (a receipt does) that in turn waits for this claim.
    org_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int]
