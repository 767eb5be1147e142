from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from taktline.db import QUANTITY_SCALE
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
