import uuid
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.http import SessionDep, encode_cursor
from taktline.resources import service
from taktline.resources.models import ResourceKind
from taktline.resources.schemas import ResourceCreate, ResourceOut, ResourceUpdate
from taktline.schemas import Page

router = APIRouter(prefix="/resources", tags=["resources"])


@router.post("", status_code=201, response_model=ResourceOut)
def create_resource(
    body: ResourceCreate,
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
        lambda: ResourceOut.model_validate(service.create(session, actor, body)),
    )


@router.get("")
def list_resources(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    kind: Annotated[ResourceKind | None, Query()] = None,
    facility_id: Annotated[uuid.UUID | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    q: Annotated[str | None, Query(description="Text in the code or name.")] = None,
) -> Page[ResourceOut]:
    rows, last = service.list_page(
        session,
        actor,
        kind=kind,
        facility_id=facility_id,
        active=active,
        q=q,
        after=paging.after,
        limit=paging.limit,
    )
    return Page(
        items=[ResourceOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor(last) if last else None,
    )


@router.get("/{resource_id}")
def get_resource(
    resource_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
) -> ResourceOut:
    resource = service.get(session, actor, resource_id)
    set_etag(response, resource.version)
    return ResourceOut.model_validate(resource)


@router.patch("/{resource_id}")
def update_resource(
    resource_id: uuid.UUID,
    body: ResourceUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> ResourceOut:
    resource = service.update(session, actor, resource_id, body, if_match)
    set_etag(response, resource.version)
    return ResourceOut.model_validate(resource)
