"""Items: the products and materials that work orders produce. A simple record: its use
cases are the generic ones of `taktline.records.SimpleRecord`."""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from taktline.items.models import Item
from taktline.items.schemas import ItemCreate, ItemOut, ItemUpdate
from taktline.orgs.models import Customer
from taktline.permissions import Actor
from taktline.records import SimpleRecord, TextSearch, resolve_refs


def _owner_is_ours(session: Session, actor: Actor, values: Mapping[str, Any]) -> None:
    owner_id: uuid.UUID | None = values.get("owner_id")
    if owner_id is not None:
        resolve_refs(session, Customer, actor.org_id, [(["body", "owner_id"], owner_id)],
                     kind="customer")  # fmt: skip


ITEMS = SimpleRecord(
    model=Item,
    kind="item",
    plural="items",
    unique="sku",
    create_body=ItemCreate,
    update_body=ItemUpdate,
    out=ItemOut,
    filters=("type",),
    search=TextSearch(("sku", "name"), "Text in the SKU or name."),
    check_refs=_owner_is_ours,
)
