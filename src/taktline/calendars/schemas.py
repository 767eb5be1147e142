"""Request and response bodies of working calendars and their exceptions."""

import enum
import re
import uuid
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, ValidationInfo, field_validator

from taktline.calendars.models import ExceptionKind
from taktline.schemas import Reason, RecordOut, RequestBody, ResponseBody, Timestamp

MAX_SHIFTS = 100


class Weekday(enum.StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """0 = Monday .. 6 = Sunday, as datetime.weekday()."""
        return list(Weekday).index(self)


_CLOCK = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")


def _clock(value: object) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not (match := _CLOCK.match(value.strip())):
        raise ValueError('a local time of day as "HH:MM", from "00:00" to "24:00"')
    hours, minutes = (match.group(1), match.group(2)) if match.group(1) else ("0", "0")
    return time(int(hours), int(minutes))


def _clock_text(value: time) -> str:
    return f"{value:%H:%M}"


ClockTime = Annotated[
    time,
    BeforeValidator(_clock),
    PlainSerializer(_clock_text, return_type=str),
    Field(description='Local time of day, "HH:MM"; "24:00" (or "00:00" as an end) is midnight.'),
]


class ShiftIn(RequestBody):
    """Working hours on one weekday. An end at or before the start runs past midnight into
    the next day (a night shift "22:00" to "06:00"); "00:00" to "00:00" is the whole day."""

    weekday: Weekday
    start: ClockTime
    end: ClockTime


class CalendarIn(RequestBody):
    shifts: list[ShiftIn] = Field(max_length=MAX_SHIFTS)


class ShiftOut(ResponseBody):
    weekday: Weekday
    start: ClockTime
    end: ClockTime


class CalendarOut(ResponseBody):
    owner: Literal["facility", "resource"]
    facility_id: uuid.UUID
    resource_id: uuid.UUID | None
    time_zone: str = Field(description="The facility's IANA time zone: the hours are local.")
    source: Literal["own", "facility", "always"] = Field(
        description="Whose weekly hours apply: its own, its facility's (a resource without a "
        "calendar of its own), or none at all: working around the clock."
    )
    version: int | None = Field(description="Of its own calendar: the ETag; null without one.")
    shifts: list[ShiftOut]
    weekly_working_minutes: int


class ExceptionIn(RequestBody):
    kind: ExceptionKind = Field(
        description="HOLIDAY, MAINTENANCE and DOWNTIME close; EXTRA_SHIFT opens working time."
    )
    starts_at: Timestamp
    ends_at: Timestamp = Field(validate_default=True)
    reason: Reason | None = None

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("starts_at")
        if start is not None and end <= start:
            raise ValueError("must be after starts_at")
        return end


class ExceptionOut(RecordOut):
    facility_id: uuid.UUID | None
    resource_id: uuid.UUID | None
    kind: ExceptionKind
    starts_at: datetime
    ends_at: datetime
    reason: str | None
