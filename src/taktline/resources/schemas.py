import uuid
from decimal import Decimal
from typing import Self

from pydantic import Field, model_validator

from taktline.resources.models import ResourceKind
from taktline.schemas import (
    Code,
    Name,
    NonNegativeQuantity,
    PatchBody,
    RecordOut,
    RequestBody,
    Unit,
)


class ResourceCreate(RequestBody):
    code: Code
    name: Name
    kind: ResourceKind
    facility_id: uuid.UUID
    capacity_min: NonNegativeQuantity | None = None
    capacity_max: NonNegativeQuantity | None = None
    capacity_unit: Unit | None = None
    parallel_capacity: int = Field(default=1, ge=1, le=1000)
    active: bool = True

    @model_validator(mode="after")
    def _capacity_range(self) -> Self:
        if (
            self.capacity_min is not None
            and self.capacity_max is not None
            and self.capacity_max < self.capacity_min
        ):
            raise ValueError("capacity_max must not be below capacity_min")
        return self


class ResourceUpdate(PatchBody):
    nullable = frozenset({"capacity_min", "capacity_max", "capacity_unit"})

    code: Code | None = None
    name: Name | None = None
    kind: ResourceKind | None = None
    facility_id: uuid.UUID | None = None
    capacity_min: NonNegativeQuantity | None = None
    capacity_max: NonNegativeQuantity | None = None
    capacity_unit: Unit | None = None
    parallel_capacity: int | None = Field(default=None, ge=1, le=1000)
    active: bool | None = None


class ResourceOut(RecordOut):
    code: str
    name: str
    kind: ResourceKind
    facility_id: uuid.UUID
    capacity_min: Decimal | None
    capacity_max: Decimal | None
    capacity_unit: str | None
    parallel_capacity: int
    active: bool
