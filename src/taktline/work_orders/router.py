"""Thin routes over the work order service: parse, check the role, call, shape the answer."""

import uuid
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, SessionDep, encode_cursor, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.auth.permissions import Actor, permission_for_action
from taktline.auth.service import require
from taktline.schemas import Page
from taktline.work_orders import service
from taktline.work_orders.lifecycle import State
from taktline.work_orders.models import WorkOrder
from taktline.work_orders.schemas import (
    CompleteRequest,
    EventOut,
    ReasonRequest,
    ReportRequest,
    ScheduleRequest,
    WorkOrderCreate,
    WorkOrderOut,
    WorkOrderUpdate,
)

router = APIRouter(prefix="/work-orders", tags=["work orders"])


def _allow(actor: Actor, action: str) -> None:
    require(actor, permission_for_action(action), f"{action} work orders")


def _answer(session: Session, response: Response, wo: WorkOrder) -> WorkOrderOut:
    set_etag(response, wo.version)
    return service.present(session, [wo])[0]


@router.post("", status_code=201, response_model=WorkOrderOut)
def create_work_order(
    body: WorkOrderCreate,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    _allow(actor, "create")
    return create_idempotently(
        session,
        actor,
        request,
        key,
        body,
        lambda: service.present(session, [service.create(session, actor, body)])[0],
    )


@router.get("")
def list_work_orders(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    state: Annotated[list[State] | None, Query(description="Repeatable.")] = None,
    production_order_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    item_id: uuid.UUID | None = None,
    planned_from: Annotated[
        AwareDatetime | None,
        Query(description="Planned window overlaps [planned_from, planned_to)."),
    ] = None,
    planned_to: AwareDatetime | None = None,
    due_before: AwareDatetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Number or item text.")] = None,
) -> Page[WorkOrderOut]:
    rows, last = service.list_page(
        session,
        actor,
        service.WorkOrderFilter(
            states=state or (),
            production_order_id=production_order_id,
            resource_id=resource_id,
            item_id=item_id,
            planned_from=planned_from,
            planned_to=planned_to,
            due_before=due_before,
            q=q,
        ),
        paging.after,
        paging.limit,
    )
    return Page(
        items=service.present(session, rows), next_cursor=encode_cursor(last) if last else None
    )


@router.get("/{work_order_id}")
def get_work_order(
    work_order_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
) -> WorkOrderOut:
    return _answer(session, response, service.get(session, actor, work_order_id))


@router.patch("/{work_order_id}")
def update_work_order(
    work_order_id: uuid.UUID,
    body: WorkOrderUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    _allow(actor, "update")
    wo = service.update(session, actor, work_order_id, body, if_match)
    return _answer(session, response, wo)


@router.post("/{work_order_id}/schedule")
def schedule_work_order(
    work_order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
    body: ScheduleRequest | None = None,
) -> WorkOrderOut:
    _allow(actor, "schedule")
    body = body or ScheduleRequest()
    wo = service.schedule(
        session,
        actor,
        work_order_id,
        start=body.start,
        windows=body.line_items,
        expected_version=if_match,
    )
    return _answer(session, response, wo)


@router.post("/{work_order_id}/unschedule")
def unschedule_work_order(
    work_order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    _allow(actor, "unschedule")
    return _answer(session, response, service.unschedule(session, actor, work_order_id, if_match))


@router.post("/{work_order_id}/start")
def start_work_order(
    work_order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    _allow(actor, "start")
    return _answer(session, response, service.start(session, actor, work_order_id, if_match))


@router.post("/{work_order_id}/pause")
def pause_work_order(
    work_order_id: uuid.UUID,
    body: ReasonRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    _allow(actor, "pause")
    wo = service.pause(session, actor, work_order_id, body.reason, if_match)
    return _answer(session, response, wo)


@router.post("/{work_order_id}/resume")
def resume_work_order(
    work_order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    _allow(actor, "resume")
    return _answer(session, response, service.resume(session, actor, work_order_id, if_match))


@router.post("/{work_order_id}/complete")
def complete_work_order(
    work_order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
    body: CompleteRequest | None = None,
) -> WorkOrderOut:
    _allow(actor, "complete")
    wo = service.complete(session, actor, work_order_id, body or CompleteRequest(), if_match)
    return _answer(session, response, wo)


@router.post("/{work_order_id}/cancel")
def cancel_work_order(
    work_order_id: uuid.UUID,
    body: ReasonRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    _allow(actor, "cancel")
    wo = service.cancel(session, actor, work_order_id, body.reason, if_match)
    return _answer(session, response, wo)


@router.delete("/{work_order_id}")
def delete_work_order(
    work_order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    """Moves the work order to DELETED: a tombstone kept for the audit trail."""
    _allow(actor, "delete")
    return _answer(session, response, service.delete_(session, actor, work_order_id, if_match))


@router.post("/{work_order_id}/line-items/{line_item_id}/report")
def report_line_item(
    work_order_id: uuid.UUID,
    line_item_id: uuid.UUID,
    body: ReportRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    _allow(actor, "report")
    wo = service.report(session, actor, work_order_id, line_item_id, body, if_match)
    return _answer(session, response, wo)


@router.post("/{work_order_id}/line-items/{line_item_id}/skip")
def skip_line_item(
    work_order_id: uuid.UUID,
    line_item_id: uuid.UUID,
    body: ReasonRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    _allow(actor, "skip")
    wo = service.skip(session, actor, work_order_id, line_item_id, body.reason, if_match)
    return _answer(session, response, wo)


@router.get("/{work_order_id}/events")
def work_order_events(
    work_order_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> list[EventOut]:
    return [EventOut.model_validate(e) for e in service.history(session, actor, work_order_id)]
