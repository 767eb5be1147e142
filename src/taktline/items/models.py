"""Items: the products and materials that work orders produce."""

import enum

from sqlalchemy import Enum, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from taktline.db import Base, OrgScoped


class ItemType(enum.StrEnum):
    RAW_MATERIAL = "RAW_MATERIAL"
    WORK_IN_PROGRESS = "WORK_IN_PROGRESS"
    FINISHED_GOOD = "FINISHED_GOOD"


class Item(OrgScoped, Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("org_id", "sku"),)

    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(32))
    type: Mapped[ItemType] = mapped_column(
        Enum(ItemType, native_enum=False, length=32, validate_strings=True)
    )
