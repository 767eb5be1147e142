"""Production orders: the top-level run for one customer need, and the items it makes."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taktline.db import Base, OrgScoped, new_id
from taktline.work_orders.lifecycle import State
from taktline.work_orders.models import STATE_ENUM


class ProductionOrder(OrgScoped, Base):
    __tablename__ = "production_orders"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        Index("ix_production_orders_org_state", "org_id", "state", "id"),
        Index("ix_production_orders_org_owner", "org_id", "owner_id", "id"),
        Index("ix_production_orders_org_due", "org_id", "due_date"),
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
