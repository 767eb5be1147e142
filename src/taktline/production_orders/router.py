"""Thin routes over the production order service."""

import uuid
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, SessionDep, encode_cursor, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.auth.permissions import Permission
from taktline.auth.service import require
from taktline.production_orders import service
from taktline.production_orders.models import ProductionOrder
from taktline.production_orders.schemas import (
    ProductionOrderCreate,
    ProductionOrderOut,
    ProductionOrderUpdate,
    ScheduleOrderRequest,
)
from taktline.schemas import Page
from taktline.work_orders.lifecycle import State
from taktline.work_orders.schemas import EventOut, ReasonRequest

router = APIRouter(prefix="/production-orders", tags=["production orders"])


def _answer(session: Session, response: Response, po: ProductionOrder) -> ProductionOrderOut:
    set_etag(response, po.version)
    return service.present(session, [po])[0]


@router.post("", status_code=201, response_model=ProductionOrderOut)
def create_production_order(
    body: ProductionOrderCreate,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    require(actor, Permission.PLAN, "create production orders")
    return create_idempotently(
        session,
        actor,
        request,
        key,
        body,
        lambda: service.present(session, [service.create(session, actor, body)])[0],
    )


@router.get("")
def list_production_orders(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    state: Annotated[list[State] | None, Query(description="Repeatable.")] = None,
    owner_id: uuid.UUID | None = None,
    due_before: AwareDatetime | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Number, reference or item text.")
    ] = None,
) -> Page[ProductionOrderOut]:
    rows, last = service.list_page(
        session,
        actor,
        service.ProductionOrderFilter(
            states=state or (), owner_id=owner_id, due_before=due_before, q=q
        ),
        paging.after,
        paging.limit,
    )
    return Page(
        items=service.present(session, rows, with_work_orders=False),
        next_cursor=encode_cursor(last) if last else None,
    )


@router.get("/{production_order_id}")
def get_production_order(
    production_order_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
) -> ProductionOrderOut:
    return _answer(session, response, service.get(session, actor, production_order_id))


@router.patch("/{production_order_id}")
def update_production_order(
    production_order_id: uuid.UUID,
    body: ProductionOrderUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> ProductionOrderOut:
    require(actor, Permission.PLAN, "change production orders")
    po = service.update(session, actor, production_order_id, body, if_match)
    return _answer(session, response, po)


@router.post("/{production_order_id}/schedule")
def schedule_production_order(
    production_order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
    body: ScheduleOrderRequest | None = None,
) -> ProductionOrderOut:
    require(actor, Permission.PLAN, "schedule production orders")
    po = service.schedule(
        session,
        actor,
        production_order_id,
        start=body.start if body else None,
        expected_version=if_match,
    )
    return _answer(session, response, po)


@router.post("/{production_order_id}/cancel")
def cancel_production_order(
    production_order_id: uuid.UUID,
    body: ReasonRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> ProductionOrderOut:
    require(actor, Permission.PLAN, "cancel production orders")
    po = service.cancel(session, actor, production_order_id, body.reason, if_match)
    return _answer(session, response, po)


@router.delete("/{production_order_id}")
def delete_production_order(
    production_order_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> ProductionOrderOut:
    """Moves the order and its work orders to DELETED: tombstones kept for the audit trail."""
    require(actor, Permission.PLAN, "delete production orders")
    return _answer(
        session, response, service.delete_(session, actor, production_order_id, if_match)
    )


@router.get("/{production_order_id}/events")
def production_order_events(
    production_order_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> list[EventOut]:
    """The order's events and its work orders', oldest first."""
    return [
        EventOut.model_validate(e) for e in service.history(session, actor, production_order_id)
    ]
