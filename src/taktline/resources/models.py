"""Production resources (lines, machines, crews) and their bookings."""

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from taktline.db import Base, OrgScoped, new_id, utcnow


class ResourceKind(enum.StrEnum):
    MACHINE = "MACHINE"
    EQUIPMENT = "EQUIPMENT"
    LINE = "LINE"
    PERSONNEL = "PERSONNEL"
    TOOL = "TOOL"
    WORK_CENTER = "WORK_CENTER"


class Resource(OrgScoped, Base):
    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("org_id", "code"),
        CheckConstraint("parallel_capacity >= 1", name="parallel_capacity_positive"),
    )

    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ResourceKind] = mapped_column(
        Enum(ResourceKind, native_enum=False, length=32, validate_strings=True)
    )
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"), index=True)
    capacity_min: Mapped[Decimal | None]
    capacity_max: Mapped[Decimal | None]
    capacity_unit: Mapped[str | None] = mapped_column(String(32))
    # How many jobs it runs at once.
    parallel_capacity: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)


class ResourceBooking(Base):
    """A line item's claim on a resource for a window, held while its work order is
    SCHEDULED or IN_PROCESS and removed when released (the events keep the history).

    `exclusive` copies parallel_capacity == 1 at booking time: on PostgreSQL an exclusion
    constraint over (resource_id, [starts_at, ends_at)) WHERE exclusive makes double
    booking impossible even if two transactions race past the service's own check.
    """

    __tablename__ = "resource_bookings"
    __table_args__ = (
        Index("ix_resource_bookings_resource_window", "resource_id", "starts_at", "ends_at"),
        CheckConstraint("ends_at > starts_at", name="window_ends_after_start"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id"))
    work_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    line_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("work_order_line_items.id", ondelete="CASCADE"), unique=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    exclusive: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
