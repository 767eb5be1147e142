"""/boms and their versions; a production order's /generate; an item's /where-used; a work
order's /materials. Thin: parse, call the use case, shape the answer."""

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.boms import editing, generation, reading
from taktline.boms.explosion import Policy, Split
from taktline.boms.models import BomType, BomVersion, VersionStatus
from taktline.boms.schemas import (
    BomCreate,
    BomOut,
    BomUpdate,
    DiffOut,
    ExplosionOut,
    MaterialOut,
    VersionCreate,
    VersionOut,
    VersionUpdate,
    WhereUsedOut,
)
from taktline.http import SessionDep, encode_cursor
from taktline.schemas import Page, PositiveQuantity

boms = APIRouter(prefix="/boms", tags=["bills of material"])
generating = APIRouter(tags=["bills of material"])


def _version(response: Response, version: BomVersion) -> VersionOut:
    set_etag(response, version.version)
    return reading.present_version(version)


@boms.post("", status_code=201)
def create_bom(
    body: BomCreate,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """A BOM for an item, with its first version as a DRAFT if `version` is given."""
    return create_idempotently(
        session,
        actor,
        request,
        key,
        body,
        lambda: reading.present_boms(session, [editing.create_bom(session, actor, body)])[0],
    )


@boms.get("")
def list_boms(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    item_id: uuid.UUID | None = None,
    type: BomType | None = None,
    owner_id: uuid.UUID | None = None,
    status: Annotated[
        VersionStatus | None, Query(description="BOMs with a version in this status.")
    ] = None,
) -> Page[BomOut]:
    rows, last = reading.list_boms(
        session,
        actor,
        reading.BomFilter(item_id=item_id, type=type, owner_id=owner_id, status=status),
        paging.after,
        paging.limit,
    )
    return Page(
        items=reading.present_boms(session, rows),
        next_cursor=encode_cursor(last) if last else None,
    )


@boms.get("/{bom_id}")
def get_bom(bom_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep) -> BomOut:
    bom = reading.get_bom(session, actor, bom_id)
    set_etag(response, bom.version)
    return reading.present_boms(session, [bom])[0]


@boms.patch("/{bom_id}")
def update_bom(
    bom_id: uuid.UUID,
    body: BomUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> BomOut:
    bom = editing.update_bom(session, actor, bom_id, body, if_match)
    set_etag(response, bom.version)
    return reading.present_boms(session, [bom])[0]


@boms.get("/{bom_id}/explode")
def explode(
    bom_id: uuid.UUID,
    quantity: Annotated[PositiveQuantity, Query(description="In the BOM item's unit.")],
    session: SessionDep,
    actor: ActorDep,
    version: Annotated[
        int | None, Query(ge=1, description="A version number; default: the ACTIVE one.")
    ] = None,
    split: Split = Split.FULL,
    round_up_to_minimum: bool = False,
) -> ExplosionOut:
    """The work orders `quantity` would take, level by level, with their materials and what
    each waits for: a preview that writes nothing."""
    return generation.preview(
        session, actor, bom_id, Decimal(quantity), version, Policy(split, round_up_to_minimum)
    )


@boms.post("/{bom_id}/versions", status_code=201)
def create_version(
    bom_id: uuid.UUID,
    body: VersionCreate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
) -> VersionOut:
    """A new DRAFT version: a copy of `copy_of`, or the `content` given."""
    return _version(response, editing.create_version(session, actor, bom_id, body))


@boms.get("/{bom_id}/versions/{number}")
def get_version(
    bom_id: uuid.UUID, number: int, response: Response, session: SessionDep, actor: ActorDep
) -> VersionOut:
    return _version(response, reading.get_version(session, actor, bom_id, number))


@boms.patch("/{bom_id}/versions/{number}")
def update_version(
    bom_id: uuid.UUID,
    number: int,
    body: VersionUpdate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> VersionOut:
    """Only a DRAFT changes; `inputs` and `operations` replace the whole list."""
    return _version(
        response, editing.update_version(session, actor, bom_id, number, body, if_match)
    )


@boms.post("/{bom_id}/versions/{number}/activate")
def activate_version(
    bom_id: uuid.UUID,
    number: int,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> VersionOut:
    """The DRAFT becomes the ACTIVE version; the one ACTIVE before is RETIRED. Refused when
    a unit does not fit or its item would be made of itself."""
    return _version(response, editing.activate(session, actor, bom_id, number, if_match))


@boms.post("/{bom_id}/versions/{number}/retire")
def retire_version(
    bom_id: uuid.UUID,
    number: int,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> VersionOut:
    return _version(response, editing.retire(session, actor, bom_id, number, if_match))


@boms.get("/{bom_id}/versions/{number}/diff")
def diff_versions(
    bom_id: uuid.UUID,
    number: int,
    against: Annotated[int, Query(ge=1, description="The version to compare with.")],
    session: SessionDep,
    actor: ActorDep,
) -> DiffOut:
    return reading.diff(session, actor, bom_id, number, against)


@generating.get("/items/{item_id}/where-used")
def where_used(item_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[WhereUsedOut]:
    """Every BOM version that uses the item, at any depth."""
    return reading.where_used(session, actor, item_id)


@generating.get("/work-orders/{work_order_id}/materials")
def work_order_materials(
    work_order_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> list[MaterialOut]:
    return generation.materials_of(session, actor, work_order_id)
