"""Working calendars of facilities and resources: read, set, clear; exceptions; and their
expansion into the scheduler's calendars (minutes from an origin) in a fixed number of
queries.

A resource works by its own weekly hours, else by its facility's, else around the clock.
Exceptions of its facility and its own both apply: extra shifts open working time, then
holidays, maintenance and downtime close it (a closure wins where both meet).
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from taktline import records
from taktline.calendars.models import (
    CLOSING_KINDS,
    CalendarException,
    WorkingCalendar,
    WorkingShift,
)
from taktline.calendars.schemas import CalendarIn, ExceptionIn, Weekday
from taktline.db import transaction, utcnow
from taktline.errors import FieldError, NotFound, PreconditionFailed, ValidationProblem
from taktline.events import service as events
from taktline.orgs.models import Facility
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource
from taktline.solver.calendar import Calendar, expand_weekly

OwnerKind = Literal["facility", "resource"]
Owner = Facility | Resource
Shift = tuple[int, time, time]  # weekday (0 = Monday), start, end (local)
DAY = 24 * 60
# Every day, all day: what "no calendar" means when an exception must still apply.
AROUND_THE_CLOCK: tuple[Shift, ...] = tuple((d, time(0), time(0)) for d in range(7))


def shift_minutes(start: time, end: time) -> int:
    """Length of a shift in minutes (on a day without a clock change); past midnight when
    the end is at or before the start."""
    a, b = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    return b - a if b > a else b - a + DAY


@dataclass(frozen=True)
class CalendarView:
    """The calendar that applies to a facility or resource, and where it comes from."""

    owner: OwnerKind
    facility: Facility
    resource: Resource | None
    source: Literal["own", "facility", "always"]
    calendar: WorkingCalendar | None  # its own, if any
    shifts: tuple[Shift, ...]

    @property
    def weekly_working_minutes(self) -> int:
        if self.source == "always":
            return 7 * DAY
        return min(7 * DAY, sum(shift_minutes(s, e) for _, s, e in self.shifts))


# --- reading and setting -------------------------------------------------------------------


def _owner(
    session: Session, actor: Actor, kind: OwnerKind, owner_id: uuid.UUID, for_update: bool = False
) -> Owner:
    model: type[Facility] | type[Resource] = Facility if kind == "facility" else Resource
    return records.get_owned(
        session, model, actor.org_id, owner_id, kind=kind, for_update=for_update
    )


def _own_calendar(session: Session, kind: OwnerKind, owner_id: uuid.UUID) -> WorkingCalendar | None:
    column = WorkingCalendar.facility_id if kind == "facility" else WorkingCalendar.resource_id
    return session.scalars(select(WorkingCalendar).where(column == owner_id)).first()


def _shifts_of(calendar: WorkingCalendar) -> tuple[Shift, ...]:
    return tuple((s.weekday, s.starts, s.ends) for s in calendar.shifts)


def _view(session: Session, actor: Actor, kind: OwnerKind, owner: Owner) -> CalendarView:
    own = _own_calendar(session, kind, owner.id)
    if isinstance(owner, Resource):
        facility = records.get_owned(
            session, Facility, actor.org_id, owner.facility_id, kind="facility"
        )
        resource: Resource | None = owner
    else:
        facility, resource = owner, None
    if own is not None:
        return CalendarView(kind, facility, resource, "own", own, _shifts_of(own))
    if resource is not None:
        inherited = _own_calendar(session, "facility", facility.id)
        if inherited is not None:
            return CalendarView(kind, facility, resource, "facility", None, _shifts_of(inherited))
    return CalendarView(kind, facility, resource, "always", None, ())


def get(session: Session, actor: Actor, kind: OwnerKind, owner_id: uuid.UUID) -> CalendarView:
    authorize(actor, "calendar.read")
    return _view(session, actor, kind, _owner(session, actor, kind, owner_id))


def _check_version(
    calendar: WorkingCalendar | None, expected: int | None, owner: Owner, kind: OwnerKind
) -> None:
    name = owner.name if isinstance(owner, Facility) else owner.code
    if expected is None:
        return
    if calendar is None:
        raise PreconditionFailed(
            f"The {kind} {name} has no calendar of its own, so no version {expected}: "
            "someone removed it since you read it. Reload and try again.",
            current_version=None,
        )
    records.check_version(calendar, expected, f"The calendar of {name}")


def set_weekly(
    session: Session,
    actor: Actor,
    kind: OwnerKind,
    owner_id: uuid.UUID,
    body: CalendarIn,
    expected_version: int | None,
) -> CalendarView:
    """Gives the facility or resource weekly hours of its own (replacing any it had)."""
    authorize(actor, "calendar.update")
    shifts = [(Weekday(s.weekday).number, s.start, s.end) for s in body.shifts]
    with transaction(session):
        owner = _owner(session, actor, kind, owner_id, for_update=True)
        calendar = _own_calendar(session, kind, owner.id)
        _check_version(calendar, expected_version, owner, kind)
        before = [] if calendar is None else _shift_texts(_shifts_of(calendar))
        if calendar is None:
            calendar = WorkingCalendar(
                org_id=actor.org_id,
                facility_id=owner.id if kind == "facility" else None,
                resource_id=owner.id if kind == "resource" else None,
            )
            session.add(calendar)
        else:
            calendar.shifts.clear()
            calendar.updated_at = utcnow()  # a new version, also when only shifts change
            session.flush()
        calendar.shifts.extend(
            WorkingShift(org_id=actor.org_id, weekday=d, starts=s, ends=e)
            for d, s, e in sorted(shifts)
        )
        session.flush()
        events.record(
            session,
            actor,
            kind,
            owner.id,
            "set_calendar",
            changes={"shifts": [before, _shift_texts(_shifts_of(calendar))]},
        )
    return _view(session, actor, kind, owner)


def clear_weekly(
    session: Session,
    actor: Actor,
    kind: OwnerKind,
    owner_id: uuid.UUID,
    expected_version: int | None,
) -> CalendarView:
    """Removes its own weekly hours: a resource then works by its facility's, a facility
    around the clock. Its exceptions stay."""
    authorize(actor, "calendar.update")
    with transaction(session):
        owner = _owner(session, actor, kind, owner_id, for_update=True)
        calendar = _own_calendar(session, kind, owner.id)
        _check_version(calendar, expected_version, owner, kind)
        if calendar is not None:
            before = _shift_texts(_shifts_of(calendar))
            session.delete(calendar)
            session.flush()
            events.record(
                session, actor, kind, owner.id, "clear_calendar", changes={"shifts": [before, []]}
            )
    return _view(session, actor, kind, owner)


def _shift_texts(shifts: Iterable[Shift]) -> list[str]:
    names = list(Weekday)
    return [f"{names[d]} {s:%H:%M}-{e:%H:%M}" for d, s, e in shifts]


# --- exceptions ----------------------------------------------------------------------------


def add_exception(
    session: Session, actor: Actor, kind: OwnerKind, owner_id: uuid.UUID, body: ExceptionIn
) -> CalendarException:
    authorize(actor, "calendar.update")
    with transaction(session):
        owner = _owner(session, actor, kind, owner_id, for_update=True)
        exception = CalendarException(
            org_id=actor.org_id,
            facility_id=owner.id if kind == "facility" else None,
            resource_id=owner.id if kind == "resource" else None,
            kind=body.kind,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            reason=body.reason,
        )
        session.add(exception)
        session.flush()
        events.record(
            session,
            actor,
            kind,
            owner.id,
            "add_calendar_exception",
            changes={"exception_id": str(exception.id), **body.model_dump(mode="json")},
        )
    return exception


def list_exceptions(
    session: Session,
    actor: Actor,
    kind: OwnerKind,
    owner_id: uuid.UUID,
    *,
    start: datetime | None,
    end: datetime | None,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[Sequence[CalendarException], uuid.UUID | None]:
    """Its own exceptions (not its facility's), those overlapping [start, end) if given."""
    authorize(actor, "calendar.read")
    if start is not None and end is not None and end <= start:
        raise ValidationProblem([FieldError(["query", "to"], "must be after from")])
    owner = _owner(session, actor, kind, owner_id)
    column = CalendarException.facility_id if kind == "facility" else CalendarException.resource_id
    stmt = select(CalendarException).where(
        CalendarException.org_id == actor.org_id, column == owner.id
    )
    if start is not None:
        stmt = stmt.where(CalendarException.ends_at > start)
    if end is not None:
        stmt = stmt.where(CalendarException.starts_at < end)
    return records.page(session, stmt, CalendarException, after, limit)


def remove_exception(
    session: Session,
    actor: Actor,
    kind: OwnerKind,
    owner_id: uuid.UUID,
    exception_id: uuid.UUID,
) -> None:
    authorize(actor, "calendar.update")
    with transaction(session):
        owner = _owner(session, actor, kind, owner_id, for_update=True)
        column = (
            CalendarException.facility_id if kind == "facility" else CalendarException.resource_id
        )
        exception = session.scalars(
            select(CalendarException).where(
                CalendarException.id == exception_id,
                CalendarException.org_id == actor.org_id,
                column == owner.id,
            )
        ).first()
        if exception is None:
            raise NotFound("calendar exception", exception_id)
        changes = {
            "exception_id": str(exception.id),
            "kind": exception.kind.value,
            "starts_at": exception.starts_at.isoformat(),
            "ends_at": exception.ends_at.isoformat(),
            "reason": exception.reason,
        }
        session.delete(exception)
        events.record(session, actor, kind, owner.id, "remove_calendar_exception", changes=changes)


# --- for the scheduler ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceHours:
    """What one resource's calendar is made of, before expansion."""

    time_zone: str
    weekly: tuple[Shift, ...] | None  # None: around the clock
    closures: tuple[tuple[datetime, datetime], ...]
    openings: tuple[tuple[datetime, datetime], ...]

    @property
    def always(self) -> bool:
        return self.weekly is None and not self.closures and not self.openings

    @property
    def weekly_working_minutes(self) -> int:
        if self.weekly is None:
            return 7 * DAY
        return min(7 * DAY, sum(shift_minutes(s, e) for _, s, e in self.weekly))


def resource_hours(
    session: Session,
    org_id: uuid.UUID,
    resources: Sequence[Resource],
    start: datetime,
    end: datetime,
) -> dict[uuid.UUID, ResourceHours]:
    """The weekly hours and exceptions (those overlapping [start, end)) of each resource,
    in three queries however many resources there are."""
    if not resources:
        return {}
    facility_ids = {r.facility_id for r in resources}
    resource_ids = {r.id for r in resources}
    zones = dict(
        session.execute(
            select(Facility.id, Facility.timezone).where(
                Facility.org_id == org_id, Facility.id.in_(facility_ids)
            )
        ).all()
    )
    weekly_of: dict[uuid.UUID, tuple[Shift, ...]] = {}
    for cal in session.scalars(
        select(WorkingCalendar).where(
            WorkingCalendar.org_id == org_id,
            or_(
                WorkingCalendar.facility_id.in_(facility_ids),
                WorkingCalendar.resource_id.in_(resource_ids),
            ),
        )
    ):
        owner = cal.facility_id or cal.resource_id
        assert owner is not None
        weekly_of[owner] = _shifts_of(cal)
    closures: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    openings: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    for exc in session.scalars(
        select(CalendarException).where(
            CalendarException.org_id == org_id,
            or_(
                CalendarException.facility_id.in_(facility_ids),
                CalendarException.resource_id.in_(resource_ids),
            ),
            CalendarException.starts_at < end,
            CalendarException.ends_at > start,
        )
    ):
        owner = exc.facility_id or exc.resource_id
        assert owner is not None
        target = closures if exc.kind in CLOSING_KINDS else openings
        target[owner].append((exc.starts_at, exc.ends_at))
    out = {}
    for r in resources:
        weekly = weekly_of.get(r.id, weekly_of.get(r.facility_id))
        out[r.id] = ResourceHours(
            time_zone=zones[r.facility_id],
            weekly=weekly,
            closures=tuple(sorted(closures[r.facility_id] + closures[r.id])),
            openings=tuple(sorted(openings[r.facility_id] + openings[r.id])),
        )
    return out


def expand(hours: ResourceHours, origin: datetime, until: datetime) -> Calendar | None:
    """The resource's working time in minutes from `origin` up to `until`; None when it
    works around the clock (no weekly hours, no exceptions)."""
    if hours.always:
        return None
    weekly: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for d, s, e in hours.weekly if hours.weekly is not None else AROUND_THE_CLOCK:
        weekly[d].append((s, e))
    return expand_weekly(
        weekly, hours.time_zone, origin, until, closures=hours.closures, openings=hours.openings
    )


def expand_all(
    hours: dict[uuid.UUID, ResourceHours], origin: datetime, until: datetime
) -> dict[uuid.UUID, Calendar | None]:
    """`expand` for each resource; resources with the same hours share one Calendar."""
    cache: dict[ResourceHours, Calendar | None] = {}
    out = {}
    for rid, h in hours.items():
        if h not in cache:
            cache[h] = expand(h, origin, until)
        out[rid] = cache[h]
    return out
