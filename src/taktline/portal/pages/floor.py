"""The shop floor: pick a resource, then its queue (the work in process first, then in
planned order, 20 a page), with big buttons to start, pause (with a reason), resume, report
quantities on and complete the work.

Its posts are the registry's work order actions, under the floor's own path so that each
comes back to the queue: the same body, the same use case, the same form reading as on the
work order page.
"""

import uuid
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from taktline.db import utcnow
from taktline.errors import Problem
from taktline.http import SessionDep
from taktline.orders.models import WorkOrder
from taktline.orders.registry import ON_WORK_ORDERS
from taktline.orders.schemas import ReasonRequest, ReportRequest
from taktline.portal import queries
from taktline.portal.action_routes import Attempt, add_action_routes
from taktline.portal.format import Fmt, quantity
from taktline.portal.forms import LABELS, form_errors
from taktline.portal.web import PortalUser, UserDep, redirect, render

router = APIRouter(include_in_schema=False)

# What an operator does on the floor; planning actions stay on the work order page.
FLOOR_ACTIONS = ("start", "pause", "resume", "complete", "report")
_DONE = {"start": "started", "resume": "resumed", "complete": "completed"}
# How often the shop floor asks whether its queue changed.
POLL_SECONDS = 5
PAUSE_REASONS = (
    "Changeover",
    "Breakdown",
    "Material shortage",
    "Quality check",
    "Cleaning",
    "Break",
)
# Pages of a queue as far as a link may ask for.
MAX_PAGE = 10_000
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/floor", response_class=HTMLResponse)
def floor_index(request: Request, session: SessionDep, user: UserDep) -> Response:
    org = user.actor.org_id
    rows = queries.resources(session, org, active_only=True)
    return render(
        request,
        "floor/index.html",
        user,
        rows=rows,
        sizes={rid: waiting for rid, (_, waiting) in queries.queue_sizes(session, org).items()},
    )


def _floor_page(
    request: Request,
    session: Session,
    user: PortalUser,
    resource_id: uuid.UUID,
    *,
    problem: Problem | None = None,
    problem_for: str | None = None,
    typed: Mapping[str, str] | None = None,
    page: int = 1,
) -> Response:
    row = queries.resource(session, user.actor, resource_id)
    queue = queries.queue(session, user.actor, resource_id, page)
    entries = queue.entries
    stamp = queries.stamp_of(
        ((e.work_order.id, e.work_order.version) for e in entries), queue.queued
    )
    # The first card of each work order carries its anchor: actions return to it.
    anchors: dict[uuid.UUID, uuid.UUID] = {}
    for e in entries:
        anchors.setdefault(e.work_order.id, e.line_item.id)
    failure = form_errors(problem, LABELS, typed)
    return render(
        request,
        "floor/resource.html",
        user,
        status_code=problem.status if problem else 200,
        fmt=Fmt(user.zone),
        row=row,
        resource=row.resource,
        entries=entries,
        queue=queue,
        waiting=queue.waiting,
        stamp=stamp,
        stamp_url=f"/floor/{resource_id}/stamp" + (f"?page={page}" if page > 1 else ""),
        page_url=lambda n: f"/floor/{resource_id}" + (f"?page={n}" if n > 1 else ""),
        anchors=anchors,
        poll_ms=POLL_SECONDS * 1000,
        may_operate=user.may("start"),
        problem=problem,
        failure=failure,
        problem_for=problem_for,
        errors=failure.fields,
        typed=typed or {},
        reasons=PAUSE_REASONS,
        now=utcnow(),
    )


@router.get("/floor/{resource_id}", response_class=HTMLResponse)
def floor(
    request: Request,
    resource_id: uuid.UUID,
    session: SessionDep,
    user: UserDep,
    page: PageQuery = 1,
) -> Response:
    return _floor_page(request, session, user, resource_id, page=page)


@router.get("/floor/{resource_id}/stamp")
def floor_stamp(
    resource_id: uuid.UUID, session: SessionDep, user: UserDep, page: PageQuery = 1
) -> JSONResponse:
    """A hash of the work orders of a page of the queue and their versions, and of the
    queue's size: the page polls it and reloads itself when it changes (someone else
    started, reported or scheduled something)."""
    stamp = queries.queue_stamp(session, user.actor, resource_id, page)
    return JSONResponse({"stamp": stamp}, headers={"Cache-Control": "no-store"})


def _taken(session: Session, attempt: Attempt, wo: WorkOrder, body: BaseModel | None) -> Response:
    home = f"/floor/{attempt.ids['resource_id']}"
    if isinstance(body, ReportRequest):
        # (a report answers with the work order's row: its line item's words are read here)
        operation = queries.operation_of(session, wo.org_id, attempt.line_item_id)
        parts = [
            f"{quantity(body.quantity_completed)} completed" if body.quantity_completed else "",
            f"{quantity(body.quantity_scrapped)} scrapped" if body.quantity_scrapped else "",
            "done" if body.done else "",
        ]
        said = ", ".join(p for p in parts if p)
        return redirect(
            f"{home}#li-{attempt.line_item_id}", f"{wo.number} {operation}: reported {said}."
        )
    name = attempt.action.name
    if name == "pause" and isinstance(body, ReasonRequest):
        done = f"paused: {body.reason}"
    else:
        done = _DONE.get(name, f"{name} done")
    return redirect(f"{home}#wo-{wo.id}", f"{wo.number} {done}.")


def _refused(
    request: Request, session: Session, user: PortalUser, attempt: Attempt, problem: Problem
) -> Response:
    resource_id = attempt.ids["resource_id"]
    return _floor_page(
        request,
        session,
        user,
        resource_id,
        problem=problem,
        problem_for=str(attempt.line_item_id or attempt.record_id),
        typed=attempt.posted,
        # The page with the refused work order's card, which shows the problem.
        page=queries.queue_page_of(session, user.actor, resource_id, attempt.record_id),
    )


add_action_routes(
    router,
    [ON_WORK_ORDERS[name] for name in FLOOR_ACTIONS],
    "/floor/{resource_id}/work-orders/{work_order_id}",
    "work_order_id",
    _taken,
    _refused,
)
