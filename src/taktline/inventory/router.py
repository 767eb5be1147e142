"""/receipts, /lots (their ledger and QA), a work order's /allocate, /allocations and /pulls,
and /materials (shortages; allocating many work orders at once). Thin: parse, call the use
case, shape the answer."""

import uuid
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.events.schemas import EventOut
from taktline.http import SessionDep, encode_cursor
from taktline.inventory import allocating, pulling, reading, receiving
from taktline.inventory.kinds import LotStatus
from taktline.inventory.schemas import (
    AdjustRequest,
    AllocateRequest,
    EntryOut,
    LotOut,
    MaterialOut,
    PullRequest,
    ReceiptCreate,
    ReturnRequest,
    ScrapRequest,
    ShortageOut,
    StatusRequest,
)
from taktline.orders import reading as orders_reading
from taktline.permissions import Actor
from taktline.schemas import Code, Page, RequestBody, ResponseBody, Timestamp

receipts = APIRouter(prefix="/receipts", tags=["inventory"])
lots = APIRouter(prefix="/lots", tags=["inventory"])
work_order_stock = APIRouter(prefix="/work-orders", tags=["inventory"])
materials = APIRouter(prefix="/materials", tags=["inventory"])


def _lot(response: Response, lot: LotOut) -> LotOut:
    set_etag(response, lot.version)
    return lot


# --- receipts and lots -----------------------------------------------------------------------


@receipts.post("", status_code=201)
def receive(
    body: ReceiptCreate,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Stock received: a new lot (or the balance of an item that is not lot-tracked), in the
    status its item's new lots start in. With an `Idempotency-Key`, a retry receives once."""
    return create_idempotently(
        session,
        actor,
        request,
        key,
        body,
        lambda: reading.get_lot(session, actor, receiving.receive(session, actor, body).id),
    )


@lots.get("")
def list_lots(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    item_id: uuid.UUID | None = None,
    status: LotStatus | None = None,
    owner_id: uuid.UUID | None = None,
    work_order_id: Annotated[
        uuid.UUID | None, Query(description="The lots this work order made.")
    ] = None,
    code: Code | None = None,
    expires_before: Timestamp | None = None,
) -> Page[LotOut]:
    found, last = reading.list_lots(
        session,
        actor,
        reading.LotFilter(item_id, status, owner_id, work_order_id, code, expires_before),
        paging.after,
        paging.limit,
    )
    return Page(items=found, next_cursor=encode_cursor(last) if last else None)


@lots.get("/{lot_id}")
def get_lot(lot_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep) -> LotOut:
    return _lot(response, reading.get_lot(session, actor, lot_id))


@lots.get("/{lot_id}/entries")
def lot_entries(
    lot_id: uuid.UUID, session: SessionDep, actor: ActorDep, paging: PageDep
) -> Page[EntryOut]:
    """The lot's ledger, oldest first: every movement, never edited."""
    found, last = reading.lot_entries(session, actor, lot_id, paging.after, paging.limit)
    return Page(items=found, next_cursor=encode_cursor(last) if last else None)


@lots.get("/{lot_id}/events")
def lot_events(lot_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[EventOut]:
    """Its audit trail: the receipt, QA's decisions, adjustments and scrap, oldest first."""
    return [EventOut.model_validate(e) for e in reading.lot_history(session, actor, lot_id)]


def _add_status_route(action: str, summary: str) -> None:
    def change(
        lot_id: uuid.UUID,
        response: Response,
        session: SessionDep,
        actor: ActorDep,
        if_match: IfMatchDep,
        body: StatusRequest | None = None,
    ) -> LotOut:
        receiving.change_status(session, actor, lot_id, action, body or StatusRequest(), if_match)
        return _lot(response, reading.get_lot(session, actor, lot_id))

    change.__name__ = f"{action}_lot"
    change.__doc__ = summary
    lots.add_api_route(f"/{{lot_id}}/{action}", change, methods=["POST"], response_model=LotOut)


_add_status_route("release", "QA releases the lot: AVAILABLE.")
_add_status_route("hold", "The lot on HOLD, with a reason (a recall, a complaint).")
_add_status_route("reject", "The lot REJECTED, with a reason; its allocations are released.")


@lots.post("/{lot_id}/adjust")
def adjust_lot(
    lot_id: uuid.UUID,
    body: AdjustRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> LotOut:
    """A count corrected, up or down, with its reason."""
    receiving.adjust(session, actor, lot_id, body, if_match)
    return _lot(response, reading.get_lot(session, actor, lot_id))


@lots.post("/{lot_id}/scrap")
def scrap_lot(
    lot_id: uuid.UUID,
    body: ScrapRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> LotOut:
    receiving.scrap(session, actor, lot_id, body, if_match)
    return _lot(response, reading.get_lot(session, actor, lot_id))


# --- a work order's stock ------------------------------------------------------------------


def _materials(
    session: SessionDep, actor: Actor, response: Response, wo_id: uuid.UUID
) -> list[MaterialOut]:
    wo = orders_reading.get_work_order(session, actor, wo_id)
    set_etag(response, wo.version)
    return reading.materials_of_work_orders(session, actor, [wo])[wo.id]


@work_order_stock.post("/{work_order_id}/allocate")
def allocate(
    work_order_id: uuid.UUID,
    body: AllocateRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> list[MaterialOut]:
    """Reserves stock for a DRAFT or SCHEDULED work order: `auto` by each item's strategy
    (FEFO or FIFO), or the lots and quantities given. Only AVAILABLE lots, not expiring
    before the work order ends, of the manufacturer or the order's own customer. Answers
    its materials; what could not be found shows as `short`."""
    allocating.allocate(session, actor, work_order_id, body, if_match)
    return _materials(session, actor, response, work_order_id)


@work_order_stock.delete("/{work_order_id}/allocations/{allocation_id}")
def release_allocation(
    work_order_id: uuid.UUID,
    allocation_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> list[MaterialOut]:
    allocating.release(session, actor, work_order_id, allocation_id, if_match)
    return _materials(session, actor, response, work_order_id)


@work_order_stock.post("/{work_order_id}/pulls", status_code=201)
def pull(
    work_order_id: uuid.UUID,
    body: PullRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
) -> list[MaterialOut]:
    """What IN_PROCESS work consumes: a lot (by id, or by its code as typed or scanned) and
    a quantity, or `allocated: true` for everything allocated. A lot that was not allocated
    to the work order is a substitution, recorded as such."""
    pulling.pull(session, actor, work_order_id, body)
    return _materials(session, actor, response, work_order_id)


@work_order_stock.post("/{work_order_id}/pulls/{pull_id}/return")
def return_pull(
    work_order_id: uuid.UUID,
    pull_id: uuid.UUID,
    body: ReturnRequest,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
) -> list[MaterialOut]:
    """Part or all of a pull back to its lot (a RETURN entry; the pull stays as it was)."""
    pulling.return_pull(session, actor, work_order_id, pull_id, body)
    return _materials(session, actor, response, work_order_id)


# --- materials across work orders ------------------------------------------------------------


class AllocateManyRequest(RequestBody):
    work_order_ids: list[uuid.UUID] = Field(min_length=1, max_length=2000)


class AllocateManyOut(ResponseBody):
    allocations: int = Field(description="Allocations made or grown.")


@materials.post("/allocate")
def allocate_many(
    body: AllocateManyRequest, session: SessionDep, actor: ActorDep
) -> AllocateManyOut:
    """Automatic allocation for many DRAFT or SCHEDULED work orders at once, the earliest
    planned first, each item by its strategy."""
    made = allocating.allocate_many(session, actor, body.work_order_ids)
    return AllocateManyOut(allocations=made)


@materials.get("/shortages")
def shortages(
    session: SessionDep,
    actor: ActorDep,
    start: Annotated[
        Timestamp | None,
        Query(alias="from", description="Work planned (else due) from this time."),
    ] = None,
    end: Annotated[Timestamp | None, Query(alias="to", description="... until this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ShortageOut]:
    """Per item that open work needs in the window: required, on hand, allocated,
    available, short, and the first work order that will wait for it. The worst first."""
    return reading.shortages(session, actor, start, end, limit)
