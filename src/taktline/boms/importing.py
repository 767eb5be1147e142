"""Importing bills of material from a CSV file (the layout of `csv_format`): a new BOM for
each code the organisation does not have, a new DRAFT version of each one it has, all in
one transaction through the editing use cases (and so audited as they are), or nothing.

Everything is checked before anything is written, and every error is reported with its row
and column: the file's own (`csv_format.read`), the SKUs and codes that name no record of
the organisation (resolved in one query per kind, whatever the number of rows), a BOM that
exists but is named, typed, owned or made of something else than the file says, and the
rules of the request schemas (`BomCreate`, each error mapped back to its cell). A dry run
checks the same and answers the same report, writing nothing.
"""

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from taktline.boms import csv_format, editing
from taktline.boms.csv_format import CellError, Kind, SheetBom
from taktline.boms.models import Bom, BomVersion
from taktline.boms.schemas import BomCreate, ImportedBomOut, ImportOut, VersionCreate
from taktline.db import transaction
from taktline.items.models import Item
from taktline.orgs.models import Customer
from taktline.permissions import Actor, authorize
from taktline.resources.models import Resource

# What is being done, how far along, out of how many: ("Writing", 3, 40).
Progress = Callable[[str, int, int], None]
READING, CHECKING, WRITING = "Reading the file", "Checking", "Writing"


def quiet(phase: str, done: int, total: int) -> None:
    """A Progress that shows nothing (the API's)."""


@dataclass(frozen=True)
class _Existing:
    bom: Bom
    item_sku: str
    owner: str | None  # the owner's name
    next_number: int


@dataclass(frozen=True)
class _Planned:
    sheet: SheetBom
    body: BomCreate
    existing: _Existing | None


def import_boms(
    session: Session,
    actor: Actor,
    data: bytes,
    *,
    dry_run: bool = False,
    progress: Progress = quiet,
) -> ImportOut:
    """Imports the file's BOMs, or with `dry_run` only says what the import would make."""
    authorize(actor, "bom.create")
    progress(READING, 0, 1)
    sheet = csv_format.read(data)
    progress(READING, 1, 1)
    if dry_run:
        planned = _checked(session, actor, sheet, progress)
        return _report(sheet, planned, {}, dry_run=True)
    made: dict[str, tuple[uuid.UUID, int]] = {}
    with transaction(session):
        planned = _checked(session, actor, sheet, progress)
        for done, plan in enumerate(planned):
            progress(WRITING, done, len(planned))
            if plan.existing is None:
                bom = editing.create_bom(session, actor, plan.body)
                made[plan.sheet.code] = (bom.id, 1)
            else:
                assert plan.body.version is not None  # (to_body always gives one)
                version = editing.create_version(
                    session, actor, plan.existing.bom.id, VersionCreate(content=plan.body.version)
                )
                made[plan.sheet.code] = (plan.existing.bom.id, version.number)
        progress(WRITING, len(planned), len(planned))
    return _report(sheet, planned, made, dry_run=False)


def _report(
    sheet: csv_format.Sheet,
    planned: Sequence[_Planned],
    made: Mapping[str, tuple[uuid.UUID, int]],
    *,
    dry_run: bool,
) -> ImportOut:
    boms = []
    for plan in planned:
        code, existing = plan.sheet.code, plan.existing
        if code in made:
            bom_id, number = made[code]
        elif existing is not None:
            bom_id, number = existing.bom.id, existing.next_number
        else:
            bom_id, number = None, 1
        boms.append(
            ImportedBomOut(
                code=code,
                bom_id=bom_id,
                created=existing is None,
                version=number,
                first_row=plan.sheet.first_row,
                rows=plan.sheet.row_count,
                inputs=len(plan.sheet.inputs),
                operations=len(plan.sheet.operations),
            )
        )
    return ImportOut(dry_run=dry_run, rows=sheet.rows, boms=boms)


def _checked(
    session: Session, actor: Actor, sheet: csv_format.Sheet, progress: Progress
) -> list[_Planned]:
    """Every BOM of the file, checked; every error of the file raised at once."""
    progress(CHECKING, 0, 1)
    errors: list[CellError] = list(sheet.errors)
    refs = list(csv_format.references(sheet.boms))
    ids, ambiguous = _resolve(session, actor.org_id, refs)
    errors.extend(csv_format.unknown((r for r in refs if r.code not in ambiguous), ids))
    errors.extend(
        CellError(
            ref.row,
            ref.column,
            f"several customers have the code {ref.code!r}: give the customer's name",
            "ambiguous_code",
        )
        for ref in refs
        if ref.code in ambiguous and ref.kind is Kind.CUSTOMER
    )
    existing = _existing(session, actor.org_id, [bom.code for bom in sheet.boms])
    if existing:
        authorize(actor, "bom.update")  # a new version of a BOM changes it
    planned: list[_Planned] = []
    for sheet_bom in sheet.boms:
        raw, places = csv_format.to_body(sheet_bom, ids)
        try:
            body = BomCreate.model_validate(raw)
        except ValidationError as exc:
            errors.extend(_cell_errors(exc, places))
            continue
        found = existing.get(sheet_bom.code)
        if found is not None:
            errors.extend(_differences(sheet_bom, body, found, ids))
        planned.append(_Planned(sheet_bom, body, found))
    if errors:
        raise csv_format.problem(_once_per_cell(errors))
    progress(CHECKING, 1, 1)
    return planned


def _once_per_cell(errors: Sequence[CellError]) -> list[CellError]:
    """The first error of each cell: a value the file lacks, or that names no record, is
    not told again in the schema's words."""
    first: dict[tuple[int, str | None], CellError] = {}
    for error in errors:
        first.setdefault((error.row, error.column), error)
    return list(first.values())


def _resolve(
    session: Session, org_id: uuid.UUID, refs: Sequence[csv_format.Reference]
) -> tuple[dict[Kind, dict[str, uuid.UUID]], set[str]]:
    """The ids of the codes named, one query per kind; and the customer codes that several
    customers share (and that are no customer's name)."""
    wanted: dict[Kind, set[str]] = {kind: set() for kind in Kind}
    for ref in refs:
        wanted[ref.kind].add(ref.code)
    ids: dict[Kind, dict[str, uuid.UUID]] = {kind: {} for kind in Kind}
    if wanted[Kind.ITEM]:
        ids[Kind.ITEM] = {
            row.sku: row.id
            for row in session.execute(
                select(Item.sku, Item.id).where(
                    Item.org_id == org_id, Item.sku.in_(wanted[Kind.ITEM])
                )
            )
        }
    if wanted[Kind.RESOURCE]:
        ids[Kind.RESOURCE] = {
            row.code: row.id
            for row in session.execute(
                select(Resource.code, Resource.id).where(
                    Resource.org_id == org_id, Resource.code.in_(wanted[Kind.RESOURCE])
                )
            )
        }
    ambiguous: set[str] = set()
    if wanted[Kind.CUSTOMER]:
        names = wanted[Kind.CUSTOMER]
        customers = session.execute(
            select(Customer.id, Customer.code, Customer.name).where(
                Customer.org_id == org_id,
                or_(Customer.code.in_(names), Customer.name.in_(names)),
            )
        ).all()
        ids[Kind.CUSTOMER], ambiguous = owners(names, customers)
    return ids, ambiguous


def owners(
    names: Collection[str], customers: Sequence[Any]
) -> tuple[dict[str, uuid.UUID], set[str]]:
    """Which customer each `owner` cell names: the one whose code it is, else the one whose
    name it is (names are unique); a code that several customers share names none."""
    found: dict[str, uuid.UUID] = {}
    ambiguous: set[str] = set()
    for text in names:
        by_code = [c.id for c in customers if c.code == text]
        by_name = [c.id for c in customers if c.name == text]
        if len(by_code) == 1:
            found[text] = by_code[0]
        elif by_name:
            found[text] = by_name[0]
        elif by_code:
            ambiguous.add(text)
    return found, ambiguous


def _existing(session: Session, org_id: uuid.UUID, codes: Sequence[str]) -> dict[str, _Existing]:
    """The organisation's BOMs of these codes, with their item's SKU, their owner's name and
    the number their next version takes: two queries."""
    if not codes:
        return {}
    rows = session.execute(
        select(Bom, Item.sku, Customer.name)
        .join(Item, Item.id == Bom.item_id)
        .outerjoin(Customer, Customer.id == Bom.owner_id)
        .where(Bom.org_id == org_id, Bom.code.in_(codes))
    ).all()
    if not rows:
        return {}
    last: dict[uuid.UUID, int] = {
        row.bom_id: row.last
        for row in session.execute(
            select(BomVersion.bom_id, func.max(BomVersion.number).label("last"))
            .where(BomVersion.bom_id.in_([bom.id for bom, _, _ in rows]))
            .group_by(BomVersion.bom_id)
        )
    }
    return {
        bom.code: _Existing(bom, sku, owner, (last.get(bom.id) or 0) + 1)
        for bom, sku, owner in rows
    }


def _differences(
    sheet: SheetBom, body: BomCreate, found: _Existing, ids: Mapping[Kind, Mapping[str, uuid.UUID]]
) -> list[CellError]:
    """An import adds a version to a BOM that exists; it renames, retypes, re-owns nothing,
    and a BOM's item never changes."""
    bom, code = found.bom, sheet.code
    errors = []
    change = "an import adds a version and changes nothing else: change the bill of material itself"
    if body.item_id != bom.item_id and sheet.output_sku in ids[Kind.ITEM]:
        errors.append(
            CellError(
                sheet.row_of("output_sku"),
                "output_sku",
                f"{code} makes {found.item_sku}: the item of a bill of material never changes",
            )
        )
    if body.name != bom.name:
        errors.append(
            CellError(
                sheet.row_of("bom_name"), "bom_name", f"{code} is named {bom.name!r}: {change}"
            )
        )
    if body.type != bom.type:
        errors.append(
            CellError(sheet.row_of("bom_type"), "bom_type", f"{code} is a {bom.type}: {change}")
        )
    if body.owner_id != bom.owner_id and (not sheet.owner or sheet.owner in ids[Kind.CUSTOMER]):
        whose = f"the recipe of {found.owner}" if found.owner else "the manufacturer's own"
        errors.append(CellError(sheet.row_of("owner"), "owner", f"{code} is {whose}: {change}"))
    return errors


# --- the schemas' errors, in a planner's words, at their cells -----------------------------

_PLURAL = {"inputs": "inputs", "operations": "operations", "alternatives": "alternatives"}


def _words(error: Mapping[str, Any]) -> str:
    kind, ctx, loc = error["type"], error.get("ctx") or {}, error["loc"]
    value = error.get("input")
    match kind:
        case "decimal_parsing" | "decimal_type" | "finite_number":
            comma = isinstance(value, str) and "," in value
            hint = ": a point before the decimals, no thousands separator" if comma else ""
            return f"must be a number such as 12.5{hint}"
        case "greater_than":
            return f"must be more than {ctx['gt']}"
        case "greater_than_equal":
            return f"must be {ctx['ge']} or more"
        case "less_than_equal":
            return f"must be {ctx['le']} or less"
        case "decimal_max_places":
            return f"may have at most {ctx['decimal_places']} decimal places"
        case "decimal_max_digits" | "decimal_whole_digits":
            return f"may have at most {ctx.get('max_digits', ctx.get('whole_digits'))} digits"
        case "string_too_long":
            return f"may be at most {ctx['max_length']} characters long"
        case "string_too_short":
            return "must not be empty"
        case "enum":
            return f"must be {str(ctx['expected']).replace(chr(39), '')}"
        case "too_long":
            what = _PLURAL.get(str(loc[-1]), "lines")
            return f"is one too many: a version has at most {ctx['max_length']} {what}"
        case "value_error":
            return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def _cell_errors(exc: ValidationError, places: csv_format.Places) -> list[CellError]:
    found = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "too_long":  # the first line beyond the limit
            loc = (*loc, int((error.get("ctx") or {})["max_length"]))
        row, column = places.cell_of(loc)
        found.append(CellError(row, column, _words(error), str(error["type"])))
    return found
