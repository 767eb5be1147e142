import uuid
from decimal import Decimal

from pydantic import Field, ValidationInfo, field_validator

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
    parallel_capacity: int = Field(default=1, ge=1, le=1000, strict=True)
    active: bool = True

    @field_validator("capacity_max")
    @classmethod
    def _not_below_min(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        low = info.data.get("capacity_min")
        if value is not None and low is not None and value < low:
            raise ValueError("must not be below capacity_min")
        return value


class ResourceUpdate(PatchBody):
    nullable = frozenset({"capacity_min", "capacity_max", "capacity_unit"})

    code: Code | None = None
    name: Name | None = None
    kind: ResourceKind | None = None
    facility_id: uuid.UUID | None = None
    capacity_min: NonNegativeQuantity | None = None
    capacity_max: NonNegativeQuantity | None = None
    capacity_unit: Unit | None = None
    parallel_capacity: int | None = Field(default=None, ge=1, le=1000, strict=True)
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
