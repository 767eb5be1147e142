"""Items: create, read, list, update. One transaction each, audited."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline import records
from taktline.items.models import Item, ItemType
from taktline.items.schemas import ItemCreate, ItemUpdate
from taktline.permissions import Actor, authorize


def create(session: Session, actor: Actor, body: ItemCreate) -> Item:
    authorize(actor, "item.create")
    return records.create_record(session, actor, Item, body.model_dump(), kind="item", unique="sku")


def get(session: Session, actor: Actor, item_id: uuid.UUID) -> Item:
    authorize(actor, "item.read")
    return records.get_owned(session, Item, actor.org_id, item_id, kind="item")


def list_page(
    session: Session,
    actor: Actor,
    *,
    type: ItemType | None,
    q: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[Sequence[Item], uuid.UUID | None]:
    authorize(actor, "item.read")
    stmt = select(Item).where(Item.org_id == actor.org_id)
    if type is not None:
        stmt = stmt.where(Item.type == type)
    if q:
        stmt = stmt.where(records.text_match(q, Item.sku, Item.name))
    return records.page(session, stmt, Item, after, limit)


def update(
    session: Session,
    actor: Actor,
    item_id: uuid.UUID,
    body: ItemUpdate,
    expected_version: int | None,
) -> Item:
    authorize(actor, "item.update")
    return records.update_record(
        session, actor, Item, item_id, body.changes(), expected_version, kind="item", unique="sku"
    )
