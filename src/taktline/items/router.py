import uuid
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.http import SessionDep, encode_cursor
from taktline.items import service
from taktline.items.models import ItemType
from taktline.items.schemas import ItemCreate, ItemOut, ItemUpdate
from taktline.schemas import Page

router = APIRouter(prefix="/items", tags=["items"])


@router.post("", status_code=201, response_model=ItemOut)
def create_item(
    body: ItemCreate,
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
        lambda: ItemOut.model_validate(service.create(session, actor, body)),
    )


@router.get("")
def list_items(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    type: Annotated[ItemType | None, Query()] = None,
    q: Annotated[str | None, Query(description="Text in the SKU or name.")] = None,
) -> Page[ItemOut]:
    rows, last = service.list_page(
        session, actor, type=type, q=q, after=paging.after, limit=paging.limit
    )
    return Page(
        items=[ItemOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor(last) if last else None,
    )


@router.get("/{item_id}")
def get_item(
    item_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
) -> ItemOut:
    item = service.get(session, actor, item_id)
    set_etag(response, item.version)
    return ItemOut.model_validate(item)


@router.patch("/{item_id}")
def update_item(
    item_id: uuid.UUID,
    body: ItemUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> ItemOut:
    item = service.update(session, actor, item_id, body, if_match)
    set_etag(response, item.version)
    return ItemOut.model_validate(item)
