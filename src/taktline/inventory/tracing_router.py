"""Traceability over the API: a lot's /trace (its genealogy as JSON), its /recall (CSV) and
the /fsma204 export (CSV). Thin: parse, call the use case (`tracing`), shape the answer."""

import uuid
from typing import Annotated, Any

from fastapi import Query, Response

from taktline.api.deps import ActorDep
from taktline.api.routing import APIRouter
from taktline.http import SessionDep
from taktline.inventory import genealogy, tracing
from taktline.inventory.genealogy import Column, CsvFile
from taktline.inventory.schemas import Direction, TraceOut
from taktline.schemas import Code, Timestamp

router = APIRouter(tags=["inventory"])

CSV = "text/csv"


def _layout(columns: tuple[Column, ...]) -> str:
    return "\n".join(f"- `{c.name}`: {c.help}" for c in columns)


def _csv_answer(description: str, columns: tuple[Column, ...]) -> dict[int | str, Any]:
    example = genealogy.write_csv(columns, [])
    return {
        200: {
            "description": description,
            "content": {CSV: {"schema": {"type": "string"}, "example": example}},
        }
    }


def _csv(export: CsvFile) -> Response:
    return Response(
        export.content,
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get("/lots/{lot_id}/trace")
def trace_lot(
    lot_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    direction: Annotated[
        Direction,
        Query(
            description="`backward`: what went into the lot, down to the lots received and "
            "their suppliers; `forward`: everything it went into, up to the finished lots."
        ),
    ] = "backward",
) -> TraceOut:
    """The lot's genealogy at every depth: lots and the work orders between them (with
    their production orders and owners, receipts and suppliers), and the quantities that
    flowed, lot -> work order -> lot, whichever way the trace runs. A pull returned in full
    or a report reversed is no flow."""
    return tracing.trace(session, actor, lot_id, direction)


@router.get(
    "/lots/{lot_id}/recall",
    response_class=Response,
    responses=_csv_answer(
        "The recall as CSV (UTF-8 with a byte order mark).", genealogy.RECALL_COLUMNS
    ),
    description=(
        "From the lot forward, every produced lot it reached at any depth, nearest first: "
        "one row per lot (the recalled lot itself is not a row). The columns:\n\n"
        f"{_layout(genealogy.RECALL_COLUMNS)}"
    ),
)
def recall_lot(lot_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    """Every lot made from the lot, at any depth, as CSV: lot_code, item_sku, item_name,
    quantity_produced, unit, final, status, quantity_on_hand, owner, production_order,
    work_order, facility, made_at, expires_at, depth, lot_id (see docs/inventory-csv.md)."""
    return _csv(tracing.recall(session, actor, lot_id))


@router.get(
    "/fsma204",
    response_class=Response,
    responses=_csv_answer(
        "The key data elements as CSV (UTF-8 with a byte order mark), one complete row per "
        "receipt and per lot used in each transformation, in time order.",
        genealogy.FSMA_COLUMNS,
    ),
    description=(
        "The FSMA 204 (21 CFR part 1, subpart S) key data elements of the critical "
        "tracking events Taktline records: receiving (1.1345) and transformation (1.1350), "
        "for a time range (`from` and `to`) or for one traceability lot code (`lot_code`: "
        "its receipt, the transformation that made it, those that used it); one of the two. "
        "Lots of items that are not lot-tracked carry no traceability lot code and are left "
        "out. The columns:\n\n"
        f"{_layout(genealogy.FSMA_COLUMNS)}"
    ),
)
def fsma204(
    session: SessionDep,
    actor: ActorDep,
    start: Annotated[
        Timestamp | None,
        Query(alias="from", description="Events from this time (inclusive)."),
    ] = None,
    end: Annotated[
        Timestamp | None, Query(alias="to", description="... until this time (exclusive).")
    ] = None,
    lot_code: Annotated[
        Code | None, Query(description="The events of this traceability lot code.")
    ] = None,
) -> Response:
    """FSMA 204 key data elements as a sortable CSV: event, event_date, event_time,
    traceability_lot_code, product_description, sku, gtin, quantity, unit, location,
    immediate_previous_source, traceability_lot_code_source, supplier_lot_code,
    reference_document_type, reference_document_number and the input_* columns of each lot
    used (see docs/inventory-csv.md)."""
    return _csv(tracing.fsma204(session, actor, start, end, lot_code))
