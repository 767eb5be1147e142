"""Bills of material: a BOM says how one item is made; its versions hold the batch, the inputs
and the routing. Only a DRAFT version changes; at most one version of a BOM is ACTIVE, which
the database enforces (a unique index over the ACTIVE ones)."""

import enum
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

from taktline.db import Base, OrgScoped, new_id


class BomType(enum.StrEnum):
    FORMULA = "FORMULA"  # a batch recipe: juice from concentrate
    PACKAGING = "PACKAGING"  # the formula into units: bottles
    SECONDARY_PACKAGING = "SECONDARY_PACKAGING"  # cases, pallets
    KIT = "KIT"


class VersionStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    RETIRED = "RETIRED"


ACTIVE_SQL = "status = 'ACTIVE'"


class Bom(OrgScoped, Base):
    __tablename__ = "boms"
    __table_args__ = (
        UniqueConstraint("org_id", "code"),
        Index("ix_boms_org_item", "org_id", "item_id"),
        Index("ix_boms_org_type", "org_id", "type"),
        Index("ix_boms_org_owner", "org_id", "owner_id"),
    )

    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # What it makes.
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"))
    type: Mapped[BomType] = mapped_column(
        Enum(BomType, native_enum=False, length=32, validate_strings=True)
    )
    # The brand whose recipe it is; None: the manufacturer's own.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))


class BomVersion(OrgScoped, Base):
    __tablename__ = "bom_versions"
    __table_args__ = (
        UniqueConstraint("bom_id", "number"),
        # At most one ACTIVE version of a BOM, whoever activates at the same moment.
        Index(
            "ux_bom_versions_one_active",
            "bom_id",
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
        Index("ix_bom_versions_org_status", "org_id", "status"),
        CheckConstraint("batch_quantity > 0", name="batch_quantity_positive"),
        CheckConstraint("output_loss_percent >= 0", name="output_loss_not_negative"),
    )

    bom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boms.id", ondelete="CASCADE"))
    number: Mapped[int]
    status: Mapped[VersionStatus] = mapped_column(
        Enum(VersionStatus, native_enum=False, length=16, validate_strings=True),
        default=VersionStatus.DRAFT,
    )
    # What one batch makes: 1,000 gal.
    batch_quantity: Mapped[Decimal]
    batch_unit: Mapped[str] = mapped_column(String(32))
    output_loss_percent: Mapped[Decimal] = mapped_column(default=Decimal(0))
    notes: Mapped[str | None] = mapped_column(Text)
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]

    inputs: Mapped[list["BomInput"]] = relationship(
        order_by="BomInput.position", cascade="all, delete-orphan", lazy="selectin"
    )
    operations: Mapped[list["BomOperation"]] = relationship(
        order_by="BomOperation.sequence", cascade="all, delete-orphan", lazy="selectin"
    )


class BomInput(Base):
    """A line of a version: so much of an item per batch, with its scrap allowance."""

    __tablename__ = "bom_inputs"
    __table_args__ = (
        UniqueConstraint("version_id", "position"),
        # Where an item is used.
        Index("ix_bom_inputs_org_item", "org_id", "item_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("loss_percent >= 0", name="loss_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bom_versions.id", ondelete="CASCADE"))
    position: Mapped[int]
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"))
    quantity: Mapped[Decimal]
    unit: Mapped[str] = mapped_column(String(32))
    loss_percent: Mapped[Decimal] = mapped_column(default=Decimal(0))


class BomOperation(Base):
    """A step of a version's routing: what each generated work order's line item copies."""

    __tablename__ = "bom_operations"
    __table_args__ = (
        UniqueConstraint("version_id", "sequence"),
        Index("ix_bom_operations_resource", "resource_id"),
        CheckConstraint("setup_minutes >= 0", name="setup_minutes_not_negative"),
        CheckConstraint("run_minutes_per_unit >= 0", name="run_minutes_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bom_versions.id", ondelete="CASCADE"))
    sequence: Mapped[int]
    operation: Mapped[str] = mapped_column(String(200))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resources.id"))
    setup_minutes: Mapped[Decimal] = mapped_column(default=Decimal(0))
    run_minutes_per_unit: Mapped[Decimal] = mapped_column(default=Decimal(0))
    interruptible: Mapped[bool] = mapped_column(default=False, server_default=false())

    alternatives: Mapped[list["BomOperationAlternative"]] = relationship(
        order_by="BomOperationAlternative.position", cascade="all, delete-orphan", lazy="selectin"
    )


class BomOperationAlternative(Base):
    __tablename__ = "bom_operation_alternatives"
    __table_args__ = (
        UniqueConstraint("operation_id", "resource_id"),
        CheckConstraint("setup_minutes >= 0", name="setup_minutes_not_negative"),
        CheckConstraint("run_minutes_per_unit >= 0", name="run_minutes_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    operation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bom_operations.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id"))
    setup_minutes: Mapped[Decimal] = mapped_column(default=Decimal(0))
    run_minutes_per_unit: Mapped[Decimal] = mapped_column(default=Decimal(0))
