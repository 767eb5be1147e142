import uuid
from decimal import Decimal
from typing import Annotated

from biip import ParseError
from biip.gtin import Gtin as ParsedGtin
from pydantic import AfterValidator, Field, StringConstraints, model_validator

from taktline.db import QUANTITY_SCALE
from taktline.items.kinds import AllocationStrategy, NewLotStatus, Tracking
from taktline.items.models import ItemType
from taktline.schemas import (
    Code,
    Name,
    PatchBody,
    PositiveQuantity,
    RecordOut,
    RequestBody,
    ResponseBody,
    Unit,
)

Precision = Annotated[
    int,
    Field(
        ge=0,
        le=QUANTITY_SCALE,
        strict=True,
        description="Decimal places its quantities are planned in, rounded up (ea: 0).",
    ),
]


ShelfLifeDays = Annotated[
    int,
    Field(ge=1, le=36_500, strict=True, description="Days a lot keeps from when it is made."),
]


def _gtin(value: str) -> str:
    """A GTIN (8, 12, 13 or 14 digits, its check digit right), kept as GTIN-14."""
    try:
        return ParsedGtin.parse(value).as_gtin_14()
    except ParseError as e:
        raise ValueError(f"not a GTIN: {e}") from None


Gtin = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{8,14}$"),
    AfterValidator(_gtin),
    Field(description="GTIN-8, -12, -13 or -14, its check digit right; kept as GTIN-14."),
]


class ConversionIn(RequestBody):
    """`quantity` of `unit` is `base_quantity` of the item's own unit: 3.785 L = 1 gal."""

    unit: Unit
    quantity: PositiveQuantity
    base_quantity: PositiveQuantity


class ConversionOut(ResponseBody):
    unit: str
    quantity: Decimal
    base_quantity: Decimal


def _distinct_units(conversions: list[ConversionIn] | None) -> None:
    units = [c.unit for c in conversions or []]
    for unit in units:
        if units.count(unit) > 1:
            raise ValueError(f"unit {unit} has two conversions; give it one")


class ItemCreate(RequestBody):
    sku: Code
    name: Name
    unit: Unit
    type: ItemType = ItemType.FINISHED_GOOD
    precision: Precision = QUANTITY_SCALE
    conversions: list[ConversionIn] = Field(default_factory=list, max_length=20)
    tracking: Tracking = Tracking.LOT
    shelf_life_days: ShelfLifeDays | None = None
    allocation_strategy: AllocationStrategy = AllocationStrategy.FEFO
    owner_id: uuid.UUID | None = Field(
        default=None, description="The customer whose own material this is (customer-supplied)."
    )
    gtin: Gtin | None = None
    new_lot_status: NewLotStatus = NewLotStatus.AVAILABLE

    @model_validator(mode="after")
    def _units(self) -> "ItemCreate":
        _distinct_units(self.conversions)
        if any(c.unit == self.unit for c in self.conversions):
            raise ValueError(f"a conversion from {self.unit}, the item's own unit, says nothing")
        return self


class ItemUpdate(PatchBody):
    sku: Code | None = None
    name: Name | None = None
    unit: Unit | None = None
    type: ItemType | None = None
    precision: Precision | None = None
    conversions: list[ConversionIn] | None = Field(default=None, max_length=20)
    tracking: Tracking | None = None
    shelf_life_days: ShelfLifeDays | None = None
    allocation_strategy: AllocationStrategy | None = None
    owner_id: uuid.UUID | None = None
    gtin: Gtin | None = None
    new_lot_status: NewLotStatus | None = None

    nullable = frozenset({"shelf_life_days", "owner_id", "gtin"})

    @model_validator(mode="after")
    def _units(self) -> "ItemUpdate":
        _distinct_units(self.conversions)
        return self


class ItemOut(RecordOut):
    sku: str
    name: str
    unit: str
    type: ItemType
    precision: int
    conversions: list[ConversionOut]
    tracking: Tracking
    shelf_life_days: int | None
    allocation_strategy: AllocationStrategy
    owner_id: uuid.UUID | None
    gtin: str | None
    new_lot_status: NewLotStatus
