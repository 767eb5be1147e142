"""Schema pieces every feature shares: strict request bodies, quantities, record metadata."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from taktline.db import QUANTITY_SCALE


class RequestBody(BaseModel):
    """Unknown fields are refused: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)


PositiveQuantity = Annotated[
    Decimal, Field(gt=0, max_digits=18, decimal_places=QUANTITY_SCALE, allow_inf_nan=False)
]
NonNegativeQuantity = Annotated[
    Decimal, Field(ge=0, max_digits=18, decimal_places=QUANTITY_SCALE, allow_inf_nan=False)
]
Minutes = Annotated[
    Decimal, Field(ge=0, max_digits=14, decimal_places=QUANTITY_SCALE, allow_inf_nan=False)
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Priority = Annotated[int, Field(ge=0, le=100, description="0 lowest, 100 most urgent")]
Timestamp = AwareDatetime


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

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        nulled = sorted(
            f for f in self.model_fields_set if getattr(self, f) is None and f not in self.nullable
        )
        if nulled:
            raise ValueError(f"{', '.join(nulled)} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
