"""Thin routes over the orders use cases: parse, call, shape the answer. The use cases check
who may act; every lifecycle action is a route made from the action registry."""

import inspect
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter as FastAPIRouter
from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from taktline.api.deps import ActorDep, BearerTokenDep, IfMatchDep, PageDep, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.auth.service import actor_for_token
from taktline.db import transaction
from taktline.events.schemas import EventOut
from taktline.http import SessionDep, encode_cursor
from taktline.orders import editing, production, reading
from taktline.orders.lifecycle import State
from taktline.orders.models import ProductionOrder, WorkOrder
from taktline.orders.registry import ON_PRODUCTION_ORDERS, ON_WORK_ORDERS, Action
from taktline.orders.schemas import (
    LineItemReportOut,
    ProductionOrderCreate,
    ProductionOrderOut,
    ProductionOrderUpdate,
    WorkOrderCreate,
    WorkOrderOut,
    WorkOrderUpdate,
)
from taktline.schemas import Page, SearchText, Timestamp

work_orders = APIRouter(prefix="/work-orders", tags=["work orders"])
production_orders = APIRouter(prefix="/production-orders", tags=["production orders"])


def _work_order(session: Session, response: Response, wo: WorkOrder) -> WorkOrderOut:
    set_etag(response, wo.version)
    return reading.present_work_orders(session, [wo])[0]


def _production_order(
    session: Session, response: Response, po: ProductionOrder
) -> ProductionOrderOut:
    set_etag(response, po.version)
    return reading.present_production_orders(session, [po])[0]


# --- the actions, from the registry --------------------------------------------------------


def _add_action_route(
    router: FastAPIRouter,
    action: Action,
    id_name: str,
    answer: Callable[[Session, Response, Any], Any],
    out: type[Any],
) -> None:
    """One route per action: POST /{id}/{name} (or DELETE /{id}), with the action's body."""

    def endpoint(**kwargs: Any) -> Response:
        session: Session = kwargs["session"]
        headers = kwargs["response"]
        actor = actor_for_token(session, kwargs["token"])

        def run() -> Any:
            record = action.run(
                session,
                actor,
                kwargs[id_name],
                kwargs.get("line_item_id"),
                kwargs.get("body"),
                kwargs["if_match"],
            )
            session.flush()  # (its version stepped: the answer's ETag)
            return record

        if action.idempotent:
            # The answer is part of what the key keeps: read in the action's transaction.
            assert action.body is not None, "an idempotent action has a body to tell retries by"
            done = create_idempotently(
                session,
                actor,
                kwargs["request"],
                kwargs["idempotency_key"],
                kwargs.get("body") or action.body(),
                lambda: answer(session, headers, run()),
                status_code=200,
            )
            if "ETag" in headers.headers:
                done.headers["ETag"] = headers.headers["ETag"]
            session.close()
            return done
        # The answer read in the action's transaction, on its connection: one checkout and
        # one transaction a request (a complete holds its order's lock the while longer).
        with transaction(session):
            body = answer(session, headers, run())
        session.close()
        # The answer is made whole here, in this route's worker thread: its body was checked
        # as it was built and the session holds no transaction any more (closed above), so
        # that FastAPI needs no other thread to check the body again or to close the session.
        return Response(
            body.model_dump_json(),
            media_type="application/json",
            headers={"ETag": headers.headers["ETag"]},
        )

    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter(id_name, keyword, annotation=uuid.UUID)]
    if action.on_line_item:
        params.append(inspect.Parameter("line_item_id", keyword, annotation=uuid.UUID))
    params += [
        inspect.Parameter("response", keyword, annotation=Response),
        inspect.Parameter("session", keyword, annotation=SessionDep),
        inspect.Parameter("token", keyword, annotation=BearerTokenDep),
        inspect.Parameter("if_match", keyword, annotation=IfMatchDep),
    ]
    if action.idempotent:
        params += [
            inspect.Parameter("request", keyword, annotation=Request),
            inspect.Parameter("idempotency_key", keyword, annotation=IdempotencyKey, default=None),
        ]
    if action.body is not None:
        params.append(
            inspect.Parameter("body", keyword, annotation=action.body)
            if action.body_required
            else inspect.Parameter("body", keyword, annotation=action.body | None, default=None)
        )
    endpoint.__signature__ = inspect.Signature(params, return_annotation=out)  # type: ignore[attr-defined]
    endpoint.__name__ = f"{action.name}_{action.record}"
    base = f"/{{{id_name}}}"
    if action.on_line_item:
        base += "/line-items/{line_item_id}"
    path = base if action.method == "DELETE" else f"{base}/{action.name}"
    router.add_api_route(
        path,
        endpoint,
        methods=[action.method],
        response_model=out,
        summary=f"{action.name.capitalize()} {action.record.replace('_', ' ')}"
        + (" line item" if action.on_line_item else ""),
        description=action.summary,
    )


# --- work orders ---------------------------------------------------------------------------


@work_orders.post("", status_code=201, response_model=WorkOrderOut)
def create_work_order(
    body: WorkOrderCreate,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    return create_idempotently(
        session,
        actor,
        request,
        key,
        body,
        lambda: reading.present_work_orders(
            session, [editing.create_work_order(session, actor, body)]
        )[0],
    )


@work_orders.get("")
def list_work_orders(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    state: Annotated[list[State] | None, Query(description="Repeatable.")] = None,
    production_order_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    item_id: uuid.UUID | None = None,
    planned_from: Annotated[
        Timestamp | None,
        Query(description="Planned window overlaps [planned_from, planned_to)."),
    ] = None,
    planned_to: Timestamp | None = None,
    due_before: Timestamp | None = None,
    q: Annotated[SearchText | None, Query(description="Number or item text.")] = None,
) -> Page[WorkOrderOut]:
    rows, last = reading.list_work_orders(
        session,
        actor,
        reading.WorkOrderFilter(
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
        items=reading.present_work_orders(session, rows),
        next_cursor=encode_cursor(last) if last else None,
    )


@work_orders.get("/{work_order_id}")
def get_work_order(
    work_order_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
) -> WorkOrderOut:
    return _work_order(session, response, reading.get_work_order(session, actor, work_order_id))


@work_orders.patch("/{work_order_id}")
def update_work_order(
    work_order_id: uuid.UUID,
    body: WorkOrderUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> WorkOrderOut:
    wo = editing.update_work_order(session, actor, work_order_id, body, if_match)
    return _work_order(session, response, wo)


for _action in ON_WORK_ORDERS.values():
    _add_action_route(work_orders, _action, "work_order_id", _work_order, WorkOrderOut)


@work_orders.get("/{work_order_id}/reports")
def work_order_reports(
    work_order_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> list[LineItemReportOut]:
    """Every report of its line items as given, reversals included, oldest first."""
    return reading.line_item_reports(session, actor, work_order_id)


@work_orders.get("/{work_order_id}/events")
def work_order_events(
    work_order_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> list[EventOut]:
    return [
        EventOut.model_validate(e)
        for e in reading.work_order_history(session, actor, work_order_id)
    ]


# --- production orders ---------------------------------------------------------------------


@production_orders.post("", status_code=201, response_model=ProductionOrderOut)
def create_production_order(
    body: ProductionOrderCreate,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    return create_idempotently(
        session,
        actor,
        request,
        key,
        body,
        lambda: reading.present_production_orders(
            session, [production.create_production_order(session, actor, body)]
        )[0],
    )


@production_orders.get("")
def list_production_orders(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    state: Annotated[list[State] | None, Query(description="Repeatable.")] = None,
    owner_id: uuid.UUID | None = None,
    due_before: Timestamp | None = None,
    q: Annotated[SearchText | None, Query(description="Number, reference or item text.")] = None,
) -> Page[ProductionOrderOut]:
    rows, last = reading.list_production_orders(
        session,
        actor,
        reading.ProductionOrderFilter(
            states=state or (), owner_id=owner_id, due_before=due_before, q=q
        ),
        paging.after,
        paging.limit,
    )
    return Page(
        items=reading.present_production_orders(session, rows, with_work_orders=False),
        next_cursor=encode_cursor(last) if last else None,
    )


@production_orders.get("/{production_order_id}")
def get_production_order(
    production_order_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
) -> ProductionOrderOut:
    po = reading.get_production_order(session, actor, production_order_id)
    return _production_order(session, response, po)


@production_orders.patch("/{production_order_id}")
def update_production_order(
    production_order_id: uuid.UUID,
    body: ProductionOrderUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> ProductionOrderOut:
    po = production.update_production_order(session, actor, production_order_id, body, if_match)
    return _production_order(session, response, po)


for _action in ON_PRODUCTION_ORDERS.values():
    _add_action_route(
        production_orders, _action, "production_order_id", _production_order, ProductionOrderOut
    )


@production_orders.get("/{production_order_id}/events")
def production_order_events(
    production_order_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> list[EventOut]:
    """The order's events and its work orders', oldest first."""
    return [
        EventOut.model_validate(e)
        for e in reading.production_order_history(session, actor, production_order_id)
    ]
