"""Working calendars of facilities and resources, and their exceptions.

A resource works by its own calendar if it has one, else by its facility's; a facility
without a calendar works around the clock. Hours are local times of the facility's time
zone. Exceptions (holidays, maintenance, downtime, extra shifts) are intervals in time on a
facility (every resource in it) or on one resource.
"""

import enum
import uuid
from datetime import datetime, time

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from taktline.db import Base, OrgScoped, new_id

# Exactly one of facility_id and resource_id: a calendar belongs to one owner.
ONE_OWNER = "(facility_id IS NULL) <> (resource_id IS NULL)"


class WorkingCalendar(OrgScoped, Base):
    __tablename__ = "working_calendars"
    __table_args__ = (CheckConstraint(ONE_OWNER, name="one_owner"),)

    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"), unique=True)
    resource_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resources.id"), unique=True)

    shifts: Mapped[list["WorkingShift"]] = relationship(
        back_populates="calendar",
        order_by="(WorkingShift.weekday, WorkingShift.starts)",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class WorkingShift(Base):
    """Working hours on one weekday: from `starts` to `ends`, local time. An end at or
    before the start runs past midnight (a night shift; 00:00 is midnight)."""

    __tablename__ = "working_calendar_shifts"
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    calendar_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("working_calendars.id", ondelete="CASCADE"), index=True
    )
    # 0 = Monday .. 6 = Sunday
    weekday: Mapped[int]
    starts: Mapped[time]
    ends: Mapped[time]

    calendar: Mapped[WorkingCalendar] = relationship(back_populates="shifts")


class ExceptionKind(enum.StrEnum):
    HOLIDAY = "HOLIDAY"
    MAINTENANCE = "MAINTENANCE"
    DOWNTIME = "DOWNTIME"
    # Working time outside the weekly hours (an extra shift, a weekend run).
    EXTRA_SHIFT = "EXTRA_SHIFT"


CLOSING_KINDS = frozenset(
    {ExceptionKind.HOLIDAY, ExceptionKind.MAINTENANCE, ExceptionKind.DOWNTIME}
)


class CalendarException(OrgScoped, Base):
    __tablename__ = "calendar_exceptions"
    __table_args__ = (
        CheckConstraint(ONE_OWNER, name="one_owner"),
        CheckConstraint("ends_at > starts_at", name="window_ends_after_start"),
        Index("ix_calendar_exceptions_facility", "facility_id", "starts_at"),
        Index("ix_calendar_exceptions_resource", "resource_id", "starts_at"),
    )

    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resources.id"))
    kind: Mapped[ExceptionKind] = mapped_column(
        Enum(ExceptionKind, native_enum=False, length=16, validate_strings=True)
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
