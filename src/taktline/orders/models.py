"""Production orders (a customer need and the items it makes) and their work orders, each
with its line items (operations in sequence): one aggregate."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taktline.db import Base, OrgScoped, new_id, utcnow
from taktline.orders.lifecycle import OPEN_STATES, LineItemStatus, State

STATE_ENUM = Enum(State, native_enum=False, length=16, validate_strings=True, name="state")
# A b-tree of numbers that serves LIKE 'WO-0123%' whatever the collation of the database
# (PostgreSQL; on SQLite a plain one, where b-trees compare bytes anyway).
PATTERN_OPS = {"number": "varchar_pattern_ops"}
# Open work orders, as the partial index of open work is written: the states as literals in
# one order (SQLite takes a partial index only for a query that has the very same condition).
OPEN_STATES_SQL = "state IN (" + ", ".join(f"'{s}'" for s in sorted(OPEN_STATES)) + ")"


class ProductionOrder(OrgScoped, Base):
    __tablename__ = "production_orders"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        # As the work orders' (see there): an ordered walk per state, with the due date
        # along for `due_before`; the owner's walk per state; number prefixes.
        Index("ix_production_orders_org_state", "org_id", "state", "id", "due_date"),
        Index("ix_production_orders_org_owner", "org_id", "owner_id", "state", "id"),
        Index("ix_production_orders_org_due", "org_id", "due_date"),
        Index("ix_production_orders_org_number", "org_id", "number", postgresql_ops=PATTERN_OPS),
    )

    number: Mapped[str] = mapped_column(String(32))
    state: Mapped[State] = mapped_column(STATE_ENUM, default=State.DRAFT)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))
    # The customer's own reference for this need (their purchase order number).
    reference: Mapped[str | None] = mapped_column(String(100))
    due_date: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(default=50)
    notes: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list["ProductionOrderItem"]] = relationship(
        back_populates="production_order",
        order_by="ProductionOrderItem.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class ProductionOrderItem(Base):
    __tablename__ = "production_order_items"
    __table_args__ = (
        UniqueConstraint("production_order_id", "position"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # The orders that make an item: `q` on item text.
        Index("ix_production_order_items_org_item", "org_id", "item_id", "production_order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    production_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("production_orders.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"))
    quantity: Mapped[Decimal]
    unit: Mapped[str] = mapped_column(String(32))

    production_order: Mapped[ProductionOrder] = relationship(back_populates="items")


class WorkOrder(OrgScoped, Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # Lists page by id (time-ordered: creation order). A list is a merge of one walk per
        # state, each down an index led by the tenant that yields its rows in id order and
        # stops after a page; the filters that no such walk can serve find their rows first
        # (see orders/reading.py). The due date rides along to be checked inside the index.
        Index("ix_work_orders_org_state", "org_id", "state", "id", "due_date"),
        Index("ix_work_orders_org_production_order", "org_id", "production_order_id", "id"),
        Index("ix_work_orders_org_item", "org_id", "item_id", "state", "id"),
        Index("ix_work_orders_org_due", "org_id", "due_date"),
        # The planned window: on PostgreSQL a GiST index (an R-tree over end and start: the
        # work overlapping a window is found without stepping over all that ended after its
        # start); on SQLite two covering b-trees, from the end and from the start, of which
        # a list takes the one with less to step over.
        Index(
            "ix_work_orders_org_window",
            "org_id",
            "planned_end",
            "planned_start",
            "state",
            postgresql_using="gist",
            # (the id along, not a key: a GiST key on it would be taken for lookups by id)
            postgresql_include=["id"],
        ),
        Index(
            "ix_work_orders_org_planned", "org_id", "planned_start", "planned_end", "state", "id"
        ),
        # Number prefixes: `q=WO-0123`.
        Index("ix_work_orders_org_number", "org_id", "number", postgresql_ops=PATTERN_OPS),
        # The dashboard's counts by state: the smallest walk per state (the closed ones grow
        # with the years).
        Index("ix_work_orders_org_state_count", "org_id", "state"),
        # Open work only, with all that late and at risk are judged and ranked by: the
        # dashboard and the bottleneck analysis read it without touching the table, however
        # much closed work there is (scheduling.bottlenecks.open_sql writes its condition out
        # the same way, which SQLite needs to take it).
        Index(
            "ix_work_orders_open",
            "org_id",
            "due_date",
            "planned_end",
            "planned_start",
            "state",
            "priority",
            "number",
            "id",
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
    )

    number: Mapped[str] = mapped_column(String(32))
    state: Mapped[State] = mapped_column(STATE_ENUM, default=State.DRAFT)
    production_order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("production_orders.id")
    )
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"))
    quantity: Mapped[Decimal]
    unit: Mapped[str] = mapped_column(String(32))
    instructions: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(default=50)
    planned_start: Mapped[datetime | None]
    planned_end: Mapped[datetime | None]
    actual_start: Mapped[datetime | None]
    actual_end: Mapped[datetime | None]
    quantity_produced: Mapped[Decimal] = mapped_column(default=Decimal(0))
    quantity_scrapped: Mapped[Decimal] = mapped_column(default=Decimal(0))
    on_hold: Mapped[bool] = mapped_column(default=False)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    # The scheduler starts none of its line items before this.
    release_at: Mapped[datetime | None]
    # Pinned by the planner: the scheduler leaves it where it is.
    pinned: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Generated from this BOM version (a snapshot: later changes of the BOM change nothing
    # here); None when typed by hand.
    bom_version_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bom_versions.id"))

    line_items: Mapped[list["LineItem"]] = relationship(
        back_populates="work_order",
        order_by="LineItem.sequence",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class LineItem(Base):
    """One operation of a work order. Its changes bump the work order's version."""

    __tablename__ = "work_order_line_items"
    __table_args__ = (
        UniqueConstraint("work_order_id", "sequence"),
        Index("ix_work_order_line_items_resource", "resource_id", "work_order_id"),
        CheckConstraint("setup_minutes >= 0", name="setup_minutes_not_negative"),
        CheckConstraint("run_minutes_per_unit >= 0", name="run_minutes_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE")
    )
    sequence: Mapped[int]
    operation: Mapped[str] = mapped_column(String(200))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resources.id"))
    setup_minutes: Mapped[Decimal] = mapped_column(default=Decimal(0))
    run_minutes_per_unit: Mapped[Decimal] = mapped_column(default=Decimal(0))
    planned_start: Mapped[datetime | None]
    planned_end: Mapped[datetime | None]
    actual_start: Mapped[datetime | None]
    actual_end: Mapped[datetime | None]
    quantity_completed: Mapped[Decimal] = mapped_column(default=Decimal(0))
    quantity_scrapped: Mapped[Decimal] = mapped_column(default=Decimal(0))
    status: Mapped[LineItemStatus] = mapped_column(
        Enum(LineItemStatus, native_enum=False, length=16, validate_strings=True),
        default=LineItemStatus.PENDING,
    )
    # May stretch over non-working time (only working minutes count); if not, it must fit
    # inside one working stretch of its resource.
    interruptible: Mapped[bool] = mapped_column(default=False, server_default=false())

    work_order: Mapped[WorkOrder] = relationship(back_populates="line_items")


class LineItemAlternative(Base):
    """Another resource a line item may run on, with its own setup and run time there.

    The line item's own resource_id (with its setup and run time) is where it runs now; the
    scheduler may move it to one of these, which then swaps places with it."""

    __tablename__ = "work_order_line_item_alternatives"
    __table_args__ = (
        UniqueConstraint("line_item_id", "resource_id"),
        Index("ix_work_order_line_item_alternatives_resource", "resource_id"),
        CheckConstraint("setup_minutes >= 0", name="setup_minutes_not_negative"),
        CheckConstraint("run_minutes_per_unit >= 0", name="run_minutes_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    line_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_order_line_items.id", ondelete="CASCADE")
    )
    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id"))
    setup_minutes: Mapped[Decimal] = mapped_column(default=Decimal(0))
    run_minutes_per_unit: Mapped[Decimal] = mapped_column(default=Decimal(0))


class WorkOrderDependency(Base):
    """`work_order_id` starts only after `depends_on_id` (of the same production order) ends."""

    __tablename__ = "work_order_dependencies"
    __table_args__ = (
        CheckConstraint("work_order_id <> depends_on_id", name="not_itself"),
        Index("ix_work_order_dependencies_depends_on", "depends_on_id"),
    )

    work_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)


class LineItemReport(Base):
    """One report on a line item, as the operator gave it: quantities completed and scrapped
    (negative in a reversal), done. Never changed: a mistaken report is undone by a reversal,
    a report of its own that refers to it (`reverses_id`) with a reason."""

    __tablename__ = "line_item_reports"
    __table_args__ = (
        # A report is reversed at most once.
        UniqueConstraint("reverses_id"),
        Index("ix_line_item_reports_work_order", "work_order_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE")
    )
    line_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_order_line_items.id", ondelete="CASCADE")
    )
    quantity_completed: Mapped[Decimal]
    quantity_scrapped: Mapped[Decimal]
    done: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("line_item_reports.id"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor_email: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkOrderMaterial(Base):
    """What a work order needs of an item, from which BOM line (None: added by hand): in the
    item's own unit when generated, in the one given (the item's or one it converts from)
    when typed. Replaced with its work order (PATCH `materials`), in DRAFT."""

    __tablename__ = "work_order_materials"
    __table_args__ = (
        UniqueConstraint("work_order_id", "position"),
        # Where an item is needed.
        Index("ix_work_order_materials_org_item", "org_id", "item_id"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"))
    quantity: Mapped[Decimal]
    unit: Mapped[str] = mapped_column(String(32))
    bom_input_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bom_inputs.id"))
