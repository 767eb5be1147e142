"""Items: the products and materials that work orders produce."""

import enum
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from taktline.db import QUANTITY_SCALE, Base, OrgScoped, normalize
from taktline.items.kinds import AllocationStrategy, NewLotStatus, Tracking


class ItemType(enum.StrEnum):
    RAW_MATERIAL = "RAW_MATERIAL"
    WORK_IN_PROGRESS = "WORK_IN_PROGRESS"
    FINISHED_GOOD = "FINISHED_GOOD"


class UnitConversions(TypeDecorator[list[dict[str, Any]]]):
    """The other units an item is counted in, as JSON with exact decimals in text:
    [{"unit": "L", "quantity": "3.785", "base_quantity": "1"}] (3.785 L = 1 of the item's
    own unit)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(
        self, value: list[dict[str, Any]] | None, dialect: Dialect
    ) -> list[dict[str, str]]:
        return [
            {
                "unit": c["unit"],
                "quantity": str(normalize(Decimal(c["quantity"]))),
                "base_quantity": str(normalize(Decimal(c["base_quantity"]))),
            }
            for c in value or []
        ]

    def process_result_value(
        self, value: list[dict[str, str]] | None, dialect: Dialect
    ) -> list[dict[str, Any]]:
        return [
            {
                "unit": c["unit"],
                "quantity": Decimal(c["quantity"]),
                "base_quantity": Decimal(c["base_quantity"]),
            }
            for c in value or []
        ]


class Item(OrgScoped, Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("org_id", "sku"),)

    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(32))
    type: Mapped[ItemType] = mapped_column(
        Enum(ItemType, native_enum=False, length=32, validate_strings=True)
    )
    # Decimal places its quantities are planned in, rounded up (ea: 0, a whole bottle).
    precision: Mapped[int] = mapped_column(
        default=QUANTITY_SCALE, server_default=str(QUANTITY_SCALE)
    )
    conversions: Mapped[list[dict[str, Any]]] = mapped_column(
        UnitConversions, default=list, server_default="[]"
    )
    tracking: Mapped[Tracking] = mapped_column(
        Enum(Tracking, native_enum=False, length=16, validate_strings=True),
        default=Tracking.LOT,
        server_default=Tracking.LOT.value,
    )
    shelf_life_days: Mapped[int | None]
    allocation_strategy: Mapped[AllocationStrategy] = mapped_column(
        Enum(AllocationStrategy, native_enum=False, length=16, validate_strings=True),
        default=AllocationStrategy.FEFO,
        server_default=AllocationStrategy.FEFO.value,
    )
    # A customer's own material (customer-supplied): its lots are the customer's.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))
    gtin: Mapped[str | None] = mapped_column(String(14))
    new_lot_status: Mapped[NewLotStatus] = mapped_column(
        Enum(NewLotStatus, native_enum=False, length=16, validate_strings=True),
        default=NewLotStatus.AVAILABLE,
        server_default=NewLotStatus.AVAILABLE.value,
    )
