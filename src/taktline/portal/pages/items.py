"""An item's page: its fields, the bills of material that make it, and where it is used (every
BOM version that uses it, directly or through the items made of it).

Read through the use cases (the items service, boms.reading): a fixed number of queries, and
one per level of where-used.
"""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from taktline.boms import reading
from taktline.http import SessionDep
from taktline.items.service import ITEMS
from taktline.portal import queries
from taktline.portal.web import UserDep, render

router = APIRouter(include_in_schema=False)

# The item's own BOMs shown on its page; the BOM list filtered by the item shows them all.
BOMS_SHOWN = 50


@router.get("/items/{item_id}")
def item_detail(
    item_id: uuid.UUID, request: Request, session: SessionDep, user: UserDep
) -> Response:
    actor = user.actor
    item = ITEMS.get(session, actor, item_id)
    used = reading.where_used(session, actor, item.id)
    found, more = reading.list_boms(
        session, actor, reading.BomFilter(item_id=item.id), None, BOMS_SHOWN
    )
    return render(
        request,
        "items/detail.html",
        user,
        item=item,
        used=used,
        boms=reading.present_boms(session, found),
        more_boms=more is not None,
        makes=queries.items_by_id(session, (u.item_id for u in used)),
        may_create_bom=user.may("create", "bom"),
    )
