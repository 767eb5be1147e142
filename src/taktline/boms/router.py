"""/boms and their versions, their CSV /import and /export; a production order's /generate;
an item's /where-used; a work order's /materials. Thin: parse, call the use case, shape the
answer."""

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.boms import csv_format, editing, exporting, generation, importing, reading
from taktline.boms.explosion import Policy, Split
from taktline.boms.models import BomType, BomVersion, VersionStatus
from taktline.boms.schemas import (
    BomCreate,
    BomOut,
    BomUpdate,
    DiffOut,
    ExplosionOut,
    ImportOut,
    VersionCreate,
    VersionOut,
    VersionUpdate,
    WhereUsedOut,
)
from taktline.errors import FieldError, ValidationProblem
from taktline.http import SessionDep, VersionPath, encode_cursor
from taktline.inventory import reading as stock
from taktline.inventory.schemas import MaterialOut
from taktline.schemas import MAX_VERSION_NUMBER, Page, PositiveQuantity

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


# --- CSV: the layout of taktline.boms.csv_format ------------------------------------------

CSV = "text/csv"
# What a CSV file is sent as: by curl, browsers (Windows calls .csv files Excel's) and scripts.
CSV_TYPES = frozenset({CSV, "text/plain", "application/csv", "application/vnd.ms-excel"})
_EXAMPLE = csv_format.write(
    [
        csv_format.SheetBom(
            code="JUICE-APPLE",
            name="Apple juice",
            type="FORMULA",
            output_sku="APPLE-JUICE",
            batch_quantity="1000",
            batch_unit="gal",
            inputs=(csv_format.InputLine("CONC-APPLE", "180", "gal", "2"),),
            operations=(
                csv_format.OperationLine(
                    10,
                    "Pressing",
                    "CP1",
                    "30",
                    "0.05",
                    alternatives=(csv_format.AlternativeLine("CP2", "45", "0.06"),),
                ),
            ),
        )
    ]
)
_LAYOUT = "\n".join(f"- `{c.name}` ({c.lines}): {c.help}" for c in csv_format.COLUMNS)
_CSV_ANSWER = {
    "description": "The CSV file (UTF-8 with a byte order mark), in the layout the import reads.",
    "content": {CSV: {"schema": {"type": "string"}, "example": _EXAMPLE}},
}


async def csv_file(request: Request) -> bytes:
    """The body, as the CSV file it must be (read here: a route is not given raw bytes)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in CSV_TYPES:
        raise ValidationProblem(
            [
                FieldError(
                    ["header", "Content-Type"],
                    f"is {media}: send the CSV file itself as the body, with Content-Type: "
                    f"{CSV} (curl --data-binary @boms.csv -H 'Content-Type: {CSV}')",
                )
            ]
        )
    return await request.body()


def _csv(export: exporting.Export) -> Response:
    return Response(
        export.content,
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@boms.post(
    "/import",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {CSV: {"schema": {"type": "string"}, "example": _EXAMPLE}},
        }
    },
    responses={200: {"model": ImportOut, "description": "A dry run: nothing was written."}},
    description=(
        "Bills of material from a CSV file (UTF-8, comma- or semicolon-separated; at most "
        f"{csv_format.MAX_ROWS} rows besides the header and {csv_format.MAX_BYTES} bytes): a "
        "new BOM with a DRAFT version 1 for each `bom_code` the organisation does not have, "
        "a new DRAFT version of each one it has; all of them, or nothing. One row per "
        "input, operation and alternative resource, the BOM's own columns on every row (or "
        "blank after its first). The columns:\n\n"
        f"{_LAYOUT}\n\n"
        "Every error of the file is a 422 `validation-error` whose `errors` give the `row` "
        '(the header is row 1) and `column` of each (and `loc`: `["body", row, column]`). '
        "With `dry_run=true` the file is checked the same and the answer (200) says what "
        "the import would make; nothing is written."
    ),
)
def import_boms(
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    data: Annotated[bytes, Depends(csv_file)],
    dry_run: Annotated[
        bool, Query(description="Check the file and say what it would make; write nothing.")
    ] = False,
) -> ImportOut:
    """Import bills of material from CSV."""
    out = importing.import_boms(session, actor, data, dry_run=dry_run)
    if dry_run:
        response.status_code = 200
    return out


@boms.get("/export", response_class=Response, responses={200: _CSV_ANSWER})
def export_boms(
    session: SessionDep,
    actor: ActorDep,
    item_id: uuid.UUID | None = None,
    type: BomType | None = None,
    owner_id: uuid.UUID | None = None,
    status: Annotated[
        VersionStatus | None,
        Query(description="BOMs with a version in this status, each with its newest one."),
    ] = None,
) -> Response:
    """Every BOM the filters (those of the list) let through as CSV, in the layout the import
    reads, each with one version: its ACTIVE one, else its newest."""
    return _csv(
        exporting.export_boms(
            session,
            actor,
            reading.BomFilter(item_id=item_id, type=type, owner_id=owner_id, status=status),
        )
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


@boms.get("/{bom_id}/export", response_class=Response, responses={200: _CSV_ANSWER})
def export_bom(
    bom_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    version: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_VERSION_NUMBER,
            description="A version number; default: the ACTIVE one, else the newest.",
        ),
    ] = None,
) -> Response:
    """One BOM as CSV, in the layout the import reads."""
    return _csv(exporting.export_bom(session, actor, bom_id, version))


@boms.get("/{bom_id}/explode")
def explode(
    bom_id: uuid.UUID,
    quantity: Annotated[PositiveQuantity, Query(description="In the BOM item's unit.")],
    session: SessionDep,
    actor: ActorDep,
    version: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_VERSION_NUMBER, description="A version number; default: the ACTIVE one."
        ),
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
    bom_id: uuid.UUID, number: VersionPath, response: Response, session: SessionDep, actor: ActorDep
) -> VersionOut:
    return _version(response, reading.get_version(session, actor, bom_id, number))


@boms.patch("/{bom_id}/versions/{number}")
def update_version(
    bom_id: uuid.UUID,
    number: VersionPath,
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
    number: VersionPath,
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
    number: VersionPath,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    if_match: IfMatchDep,
) -> VersionOut:
    return _version(response, editing.retire(session, actor, bom_id, number, if_match))


@boms.get("/{bom_id}/versions/{number}/diff")
def diff_versions(
    bom_id: uuid.UUID,
    number: VersionPath,
    against: Annotated[
        int, Query(ge=1, le=MAX_VERSION_NUMBER, description="The version to compare with.")
    ],
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
    """Its materials: required, allocated, pulled, short, and once complete, reconciled."""
    return stock.materials_of(session, actor, work_order_id)
