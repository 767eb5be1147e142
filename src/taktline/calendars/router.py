"""Working calendars on the facility and resource endpoints:

    GET/PUT/DELETE  /facilities/{facility_id}/calendar
    POST/GET        /facilities/{facility_id}/calendar/exceptions
    DELETE          /facilities/{facility_id}/calendar/exceptions/{exception_id}

and the same under /resources/{resource_id}. Reading needs a token of the organisation;
changing needs PLAN.
"""

import uuid
from typing import Annotated

import fastapi
from fastapi import Path, Query, Response

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, set_etag
from taktline.api.routing import APIRouter
from taktline.calendars import service
from taktline.calendars.schemas import (
    CalendarIn,
    CalendarOut,
    ExceptionIn,
    ExceptionOut,
    ShiftOut,
    Weekday,
)
from taktline.calendars.service import CalendarView, OwnerKind
from taktline.http import SessionDep, encode_cursor
from taktline.schemas import Page, Timestamp


def present(view: CalendarView) -> CalendarOut:
    names = list(Weekday)
    return CalendarOut(
        owner=view.owner,
        facility_id=view.facility.id,
        resource_id=view.resource.id if view.resource is not None else None,
        time_zone=view.facility.timezone,
        source=view.source,
        version=view.calendar.version if view.calendar is not None else None,
        shifts=[ShiftOut(weekday=names[d], start=s, end=e) for d, s, e in view.shifts],
        weekly_working_minutes=view.weekly_working_minutes,
    )


def _answer(response: Response, view: CalendarView) -> CalendarOut:
    if view.calendar is not None:
        set_etag(response, view.calendar.version)
    return present(view)


def calendar_router(kind: OwnerKind, collection: str) -> fastapi.APIRouter:
    param = f"{kind}_id"
    router = APIRouter(prefix=f"/{collection}/{{{param}}}/calendar", tags=["calendars"])
    OwnerId = Annotated[uuid.UUID, Path(alias=param)]  # noqa: N806 - a type alias

    @router.get("", name=f"get_{kind}_calendar")
    def get_calendar(
        owner_id: OwnerId, response: Response, session: SessionDep, actor: ActorDep
    ) -> CalendarOut:
        """The weekly working hours that apply, and where they come from."""
        return _answer(response, service.get(session, actor, kind, owner_id))

    @router.put("", name=f"set_{kind}_calendar")
    def set_calendar(
        owner_id: OwnerId,
        body: CalendarIn,
        response: Response,
        session: SessionDep,
        actor: ActorDep,
        if_match: IfMatchDep,
    ) -> CalendarOut:
        """Weekly working hours of its own, in the facility's time zone (replacing any)."""
        view = service.set_weekly(session, actor, kind, owner_id, body, if_match)
        return _answer(response, view)

    @router.delete("", name=f"clear_{kind}_calendar")
    def clear_calendar(
        owner_id: OwnerId,
        response: Response,
        session: SessionDep,
        actor: ActorDep,
        if_match: IfMatchDep,
    ) -> CalendarOut:
        """Removes its own weekly hours: a resource then follows its facility, a facility
        works around the clock. Answers the calendar that applies now."""
        view = service.clear_weekly(session, actor, kind, owner_id, if_match)
        return _answer(response, view)

    @router.post("/exceptions", status_code=201, name=f"add_{kind}_calendar_exception")
    def add_exception(
        owner_id: OwnerId, body: ExceptionIn, session: SessionDep, actor: ActorDep
    ) -> ExceptionOut:
        """A holiday, maintenance or downtime (closed), or an extra shift (open)."""
        return ExceptionOut.model_validate(
            service.add_exception(session, actor, kind, owner_id, body)
        )

    @router.get("/exceptions", name=f"list_{kind}_calendar_exceptions")
    def list_exceptions(
        owner_id: OwnerId,
        session: SessionDep,
        actor: ActorDep,
        paging: PageDep,
        start: Annotated[
            Timestamp | None,
            Query(alias="from", description="Only those ending after this."),
        ] = None,
        end: Annotated[
            Timestamp | None, Query(alias="to", description="Only those starting before this.")
        ] = None,
    ) -> Page[ExceptionOut]:
        rows, last = service.list_exceptions(
            session,
            actor,
            kind,
            owner_id,
            start=start,
            end=end,
            after=paging.after,
            limit=paging.limit,
        )
        return Page(
            items=[ExceptionOut.model_validate(r) for r in rows],
            next_cursor=encode_cursor(last) if last else None,
        )

    @router.delete(
        "/exceptions/{exception_id}", status_code=204, name=f"remove_{kind}_calendar_exception"
    )
    def remove_exception(
        owner_id: OwnerId, exception_id: uuid.UUID, session: SessionDep, actor: ActorDep
    ) -> Response:
        service.remove_exception(session, actor, kind, owner_id, exception_id)
        return Response(status_code=204)

    return router


facility_calendar = calendar_router("facility", "facilities")
resource_calendar = calendar_router("resource", "resources")
