import uuid

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.http import SessionDep, encode_cursor
from taktline.orgs import service
from taktline.orgs.schemas import (
    CustomerCreate,
    CustomerOut,
    CustomerUpdate,
    FacilityCreate,
    FacilityOut,
    FacilityUpdate,
)
from taktline.schemas import Page

facilities = APIRouter(prefix="/facilities", tags=["facilities"])
customers = APIRouter(prefix="/customers", tags=["customers"])


@facilities.post("", status_code=201, response_model=FacilityOut)
def create_facility(
    body: FacilityCreate,
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
        lambda: FacilityOut.model_validate(service.create_facility(session, actor, body)),
    )


@facilities.get("")
def list_facilities(session: SessionDep, actor: ActorDep, paging: PageDep) -> Page[FacilityOut]:
    rows, last = service.list_facilities(session, actor, after=paging.after, limit=paging.limit)
    return Page(
        items=[FacilityOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor(last) if last else None,
    )


@facilities.get("/{facility_id}")
def get_facility(
    facility_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
) -> FacilityOut:
    facility = service.get_facility(session, actor, facility_id)
    set_etag(response, facility.version)
    return FacilityOut.model_validate(facility)


@facilities.patch("/{facility_id}")
def update_facility(
    facility_id: uuid.UUID,
    body: FacilityUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> FacilityOut:
    facility = service.update_facility(session, actor, facility_id, body, if_match)
    set_etag(response, facility.version)
    return FacilityOut.model_validate(facility)


@customers.post("", status_code=201, response_model=CustomerOut)
def create_customer(
    body: CustomerCreate,
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
        lambda: CustomerOut.model_validate(service.create_customer(session, actor, body)),
    )


@customers.get("")
def list_customers(session: SessionDep, actor: ActorDep, paging: PageDep) -> Page[CustomerOut]:
    rows, last = service.list_customers(session, actor, after=paging.after, limit=paging.limit)
    return Page(
        items=[CustomerOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor(last) if last else None,
    )


@customers.get("/{customer_id}")
def get_customer(
    customer_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
) -> CustomerOut:
    customer = service.get_customer(session, actor, customer_id)
    set_etag(response, customer.version)
    return CustomerOut.model_validate(customer)


@customers.patch("/{customer_id}")
def update_customer(
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> CustomerOut:
    customer = service.update_customer(session, actor, customer_id, body, if_match)
    set_etag(response, customer.version)
    return CustomerOut.model_validate(customer)
