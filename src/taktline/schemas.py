"""Schema pieces every feature shares: strict request bodies, quantities, record metadata."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from taktline.db import QUANTITY_SCALE, normalize


class RequestBody(BaseModel):
    """Unknown fields are refused: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# Stored and echoed in their shortest exact form: "1e3" and "1000.0" are both 1000.
PositiveQuantity = Annotated[
    Decimal,
    Field(gt=0, max_digits=18, decimal_places=QUANTITY_SCALE, allow_inf_nan=False),
    AfterValidator(normalize),
]
NonNegativeQuantity = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=QUANTITY_SCALE, allow_inf_nan=False),
    AfterValidator(normalize),
]
Minutes = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=QUANTITY_SCALE, allow_inf_nan=False),
    AfterValidator(normalize),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
# Strict: `true` is not a priority.
Priority = Annotated[int, Field(ge=0, le=100, strict=True, description="0 lowest, 100 most urgent")]
# Any offset in, UTC inside and out: the same instant reads the same in every answer.
Timestamp = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]


class RecordOut(ResponseBody):
    id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class PatchBody(RequestBody):
    """A partial update: absent fields are kept. `null` clears a field only where that field
    may be empty (listed in `nullable`); elsewhere it is an error rather than a silent no-op."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _no_null_for_required(cls, value: Any, info: ValidationInfo) -> Any:
        # Runs only for fields given in the body, so an absent field is simply kept.
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
