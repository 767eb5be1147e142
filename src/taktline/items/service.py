"""Items: create, read, list, update. One transaction each, audited."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline import crud
from taktline.auth.permissions import Actor
from taktline.items.models import Item, ItemType
from taktline.items.schemas import ItemCreate, ItemUpdate


def create(session: Session, actor: Actor, body: ItemCreate) -> Item:
    return crud.create_record(session, actor, Item, body.model_dump(), kind="item", unique="sku")


def get(session: Session, actor: Actor, item_id: uuid.UUID) -> Item:
    return crud.get_owned(session, Item, actor.org_id, item_id, kind="item")


def list_page(
    session: Session,
    actor: Actor,
    *,
    type: ItemType | None,
    q: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[Sequence[Item], uuid.UUID | None]:
    stmt = select(Item).where(Item.org_id == actor.org_id)
    if type is not None:
        stmt = stmt.where(Item.type == type)
    if q:
        stmt = stmt.where(crud.text_match(q, Item.sku, Item.name))
    return crud.page(session, stmt, Item, after, limit)


def update(
    session: Session,
    actor: Actor,
    item_id: uuid.UUID,
    body: ItemUpdate,
    expected_version: int | None,
) -> Item:
    return crud.update_record(
        session, actor, Item, item_id, body.changes(), expected_version, kind="item", unique="sku"
    )
