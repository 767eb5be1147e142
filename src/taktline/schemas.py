"""Schema pieces every feature shares: strict request bodies, quantities, text, timestamps,
record metadata. What a request may carry is decided here, once: quantities are plain
decimals, text holds no NUL character, timestamps lie between 1900 and 9000 (UTC)."""

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from taktline.db import QUANTITY_SCALE, normalize

# A version number (of a BOM, say): 1, 2, ..., within the database's integer.
MAX_VERSION_NUMBER = 2**31 - 1
VersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION_NUMBER, strict=True)]


class RequestBody(BaseModel):
    """Unknown fields are refused: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- quantities ----------------------------------------------------------------------------

# A plain decimal: ASCII digits with an optional point and fraction, an optional exponent
# ("1e3"), and an optional minus, so that a negative quantity is told "must be 0 or more"
# rather than that it is not a number. Python's Decimal() also reads "1_000", " 1 ", "+5"
# and other digits than 0-9; none of them is a quantity anyone means to send.
PLAIN_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
PLAIN_DECIMAL_MESSAGE = "must be a plain decimal number such as 12.5"


def plain_decimal(value: Any) -> Any:
    """Before a quantity is read as a Decimal: text that Decimal() would read but that is
    not a plain decimal is refused. Text that is no number at all is left to pydantic, which
    says so ("Input should be a valid decimal"); JSON numbers are numbers already."""
    if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value):
        try:
            Decimal(value)
        except InvalidOperation:
            return value
        raise PydanticCustomError("decimal_not_plain", PLAIN_DECIMAL_MESSAGE)
    return value


def shortest(value: Decimal) -> Decimal:
    # -0 is 0: stored and echoed without a sign.
    return normalize(abs(value) if value.is_zero() else value)


# Stored and echoed in their shortest exact form: "1e3" and "1000.0" are both 1000.
PositiveQuantity = Annotated[
    Decimal,
    Field(gt=0, max_digits=18, decimal_places=QUANTITY_SCALE, allow_inf_nan=False),
    AfterValidator(shortest),
    BeforeValidator(plain_decimal),
]
NonNegativeQuantity = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=QUANTITY_SCALE, allow_inf_nan=False),
    AfterValidator(shortest),
    BeforeValidator(plain_decimal),
]
Minutes = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=QUANTITY_SCALE, allow_inf_nan=False),
    AfterValidator(shortest),
    BeforeValidator(plain_decimal),
]

# --- text --------------------------------------------------------------------------------

NUL_MESSAGE = "must not contain a NUL character"


def refuse_nul(value: str) -> str:
    """Text with a NUL character is refused: PostgreSQL cannot store it (and SQLite would,
    silently), so it is refused the same way on both, before anything is written."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", NUL_MESSAGE)
    return value


# Every text a request carries is one of these (the length limits are checked first, so that
# their errors keep their own types and words). A new text field takes one of them, or adds
# `NoNul` last to its own Annotated type.
NoNul = AfterValidator(refuse_nul)
Text = Annotated[str, NoNul]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), NoNul]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64), NoNul]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=32), NoNul]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000), NoNul]
SearchText = Annotated[str, StringConstraints(max_length=200), NoNul]
# Strict: `true` is not a priority.
Priority = Annotated[int, Field(ge=0, le=100, strict=True, description="0 lowest, 100 most urgent")]

# --- time --------------------------------------------------------------------------------

# Every timestamp Taktline accepts lies in one range: the years 1900 to 9000, in UTC. Wide
# enough for any plant, and far enough inside what Python's datetime holds (years 1 to 9999)
# that converting to any offset and adding horizons of years never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
FIRST_DAY, LAST_DAY = EARLIEST.date(), LATEST.date()
RANGE_MESSAGE = f"must be between {FIRST_DAY} and {LAST_DAY} (UTC)"


def in_range(value: datetime) -> datetime:
    """An aware timestamp inside [EARLIEST, LATEST], in UTC; outside, refused. (Comparing
    aware datetimes never overflows; converting one near year 1 or 9999 may, so the range is
    checked first.)"""
    if not EARLIEST <= value <= LATEST:
        raise PydanticCustomError("datetime_out_of_range", RANGE_MESSAGE)
    return value.astimezone(UTC)


def day_in_range(value: date) -> date:
    """A calendar day (the portal's date inputs) inside the same range."""
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PydanticCustomError("date_out_of_range", RANGE_MESSAGE)
    return value


def _timestamp(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime:
    """What a client sends (text: JSON, a query, a form) is checked against the range. A
    datetime that Taktline made itself (a proposal's windows, computed from a horizon near the
    end of the range, may end after it: that is the room the range leaves) is only converted;
    sent back as text, it is checked like any other."""
    moment: datetime = handler(value)
    if not isinstance(value, datetime):
        return in_range(moment)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_out_of_range", RANGE_MESSAGE) from None


# Any offset in, UTC inside and out: the same instant reads the same in every answer. The
# same type serves bodies and query parameters.
Timestamp = Annotated[AwareDatetime, WrapValidator(_timestamp)]
Day = Annotated[date, AfterValidator(day_in_range)]


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
