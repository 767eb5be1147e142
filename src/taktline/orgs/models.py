"""Organisations (tenants), their facilities, and the customer orgs they produce for."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from taktline.db import Base, OrgScoped, new_id, utcnow

DEFAULT_LOT_CODE_PATTERN = "{sku}-{yyddd}-{n}"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How much more than can reach it a line item may report, in percent (0: none).
    over_production_tolerance_percent: Mapped[Decimal] = mapped_column(
        default=Decimal(0), server_default="0"
    )
    # The code of a lot a work order makes when the operator gives none (see
    # `inventory.rules.lot_code`).
    lot_code_pattern: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_LOT_CODE_PATTERN, server_default=DEFAULT_LOT_CODE_PATTERN
    )
    # How far what a work order pulled of a material may differ from what its BOM expects
    # before its reconciliation flags it, in percent.
    material_variance_tolerance_percent: Mapped[Decimal] = mapped_column(
        default=Decimal(2), server_default="2"
    )


class Facility(OrgScoped, Base):
    __tablename__ = "facilities"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))


class Customer(OrgScoped, Base):
    """A brand customer on whose behalf production is done: the owner of production orders."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(64))
