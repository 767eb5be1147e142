"""The CSV layout of bills of material, read and written (pure: text in, plain data out).

One row per input, per operation and per alternative resource of an operation (`line`:
`input`, `operation`, `alternative`; blank for a BOM without lines). The BOM's own columns
(`bom_code` and the batch) are on every row of the BOM: repeated, or left blank after the
first row that gives them. Items, resources and customers are named by their SKU, code (a
customer: code or name), never by id. `COLUMNS` is the layout, in the order the export
writes it; the header row may name the columns in any order, and leave out the optional ones.

Every error is a `CellError`: the row as a spreadsheet numbers it (the header is row 1) and
the column by its name in the header, in words a planner reads. What a value may be (a
positive quantity, at most 64 characters...) is the request schemas' to say
(`taktline.boms.schemas`); `to_body` builds the body they check, with `Places` to find the
cell of each of their errors.
"""

import csv
import enum
import io
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from taktline.errors import FieldError, Loc, PayloadTooLarge, ValidationProblem

# What one file may hold: the API's default body limit, and rows that an import writes in
# one transaction within seconds. A larger plant splits its files.
MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000
# A problem lists at most this many errors (a file of 5,000 wrong rows would list 100,000).
MAX_ERRORS = 1000


class Line(enum.StrEnum):
    INPUT = "input"
    OPERATION = "operation"
    ALTERNATIVE = "alternative"
    NONE = ""  # a row of the BOM alone: a version without inputs or operations


@dataclass(frozen=True)
class Column:
    name: str
    lines: str  # which rows carry it, as the docs say it
    help: str


COLUMNS: tuple[Column, ...] = (
    Column("bom_code", "every row", "The BOM's code: rows with the same code are one BOM."),
    Column("bom_name", "BOM", "Its name."),
    Column("bom_type", "BOM", "FORMULA, PACKAGING, SECONDARY_PACKAGING or KIT."),
    Column("output_sku", "BOM", "The SKU of the item it makes."),
    Column(
        "owner",
        "BOM",
        "The brand whose recipe it is: its customer code (or name); blank: the manufacturer's.",
    ),
    Column("batch_quantity", "BOM", "What one batch makes: 1000."),
    Column("batch_unit", "BOM", "Blank: the unit of the item it makes."),
    Column("output_loss_percent", "BOM", "Blank: 0."),
    Column("notes", "BOM", "The version's notes."),
    Column("line", "every row", "input, operation or alternative; blank: the BOM alone."),
    Column("item_sku", "input", "The SKU of the item it uses."),
    Column("quantity", "input", "Per batch, in `unit`."),
    Column("unit", "input", "Blank: the item's unit."),
    Column("loss_percent", "input", "Scrap allowance; blank: 0."),
    Column(
        "sequence",
        "operation, alternative",
        "The operation's order (blank: its place among the BOM's operations); an "
        "alternative names its operation's.",
    ),
    Column("operation", "operation", "What is done: Pressing."),
    Column(
        "resource_code",
        "operation, alternative",
        "The resource it runs on; an operation may leave it blank.",
    ),
    Column("setup_minutes", "operation, alternative", "Blank: 0."),
    Column("run_minutes_per_unit", "operation, alternative", "Blank: 0."),
    Column("interruptible", "operation", "yes or no; blank: no."),
)
NAMES = tuple(c.name for c in COLUMNS)
BOM_COLUMNS = NAMES[: NAMES.index("line")]
LINE_COLUMNS = NAMES[NAMES.index("line") + 1 :]
# The header must name these; the others may be left out (their cells are then blank).
HEADER_REQUIRED = ("bom_code", "bom_name", "bom_type", "output_sku", "batch_quantity", "line")
BOM_REQUIRED = ("bom_name", "bom_type", "output_sku", "batch_quantity")

USES: Mapping[Line, frozenset[str]] = {
    Line.INPUT: frozenset({"item_sku", "quantity", "unit", "loss_percent"}),
    Line.OPERATION: frozenset(
        {
            "sequence",
            "operation",
            "resource_code",
            "setup_minutes",
            "run_minutes_per_unit",
            "interruptible",
        }
    ),
    Line.ALTERNATIVE: frozenset(
        {"sequence", "resource_code", "setup_minutes", "run_minutes_per_unit"}
    ),
    Line.NONE: frozenset(),
}
REQUIRED: Mapping[Line, tuple[str, ...]] = {
    Line.INPUT: ("item_sku", "quantity"),
    Line.OPERATION: ("operation",),
    Line.ALTERNATIVE: ("sequence", "resource_code"),
    Line.NONE: (),
}
_YES, _NO = frozenset({"yes", "y", "true", "1"}), frozenset({"no", "n", "false", "0", ""})
_NEEDS = {
    "item_sku": "the SKU of the item it uses",
    "quantity": "the quantity per batch",
    "operation": "the name of the operation",
    "sequence": "the sequence of its operation",
    "resource_code": "the code of its resource",
}
_WHOLE = re.compile(r"[0-9]+")
# A cell a spreadsheet would run as a formula; the export writes it after an apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUL_MESSAGE = "must not contain a NUL character"


class CellError(FieldError):
    """One error of a file: its row (1-based, the header is row 1) and column (its name in
    the header; None: the whole row). `loc` is `["body", row, column]`."""

    def __init__(self, row: int, column: str | None, msg: str, type: str = "value_error") -> None:
        super().__init__(["body", row, *([column] if column else [])], msg, type)
        self["row"] = row
        self["column"] = column

    @property
    def row(self) -> int:
        return int(self["row"])

    @property
    def column(self) -> str | None:
        column: str | None = self["column"]
        return column

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self['msg']}"


def problem(errors: Sequence[CellError]) -> ValidationProblem:
    """The 422 of a file: every error, by row then column, the first MAX_ERRORS listed."""
    order = {name: n for n, name in enumerate(NAMES)}
    once = {(e.row, e.column, e["msg"]): e for e in errors}  # found twice, listed once
    ranked = sorted(
        once.values(),
        key=lambda e: (e.row, -1 if e.column is None else order.get(e.column, len(order))),
    )
    listed = ranked[:MAX_ERRORS]
    count = f"{len(ranked)} error{'s' if len(ranked) > 1 else ''}"
    if len(ranked) > len(listed):
        count += f" (the first {len(listed)} listed)"
    shown = "; ".join(str(e) for e in listed[:20]) + ("; ..." if len(listed) > 20 else "")
    return ValidationProblem(
        listed, detail=f"The file has {count}, and nothing was imported: {shown}."
    )


# --- what a file holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class InputLine:
    item_sku: str
    quantity: str
    unit: str = ""
    loss_percent: str = ""
    row: int = field(default=0, compare=False)


@dataclass(frozen=True)
class AlternativeLine:
    resource_code: str
    setup_minutes: str = ""
    run_minutes_per_unit: str = ""
    row: int = field(default=0, compare=False)


@dataclass(frozen=True)
class OperationLine:
    sequence: int | None  # None: its place among the BOM's operations
    operation: str
    resource_code: str = ""
    setup_minutes: str = ""
    run_minutes_per_unit: str = ""
    interruptible: bool = False
    alternatives: tuple[AlternativeLine, ...] = ()
    row: int = field(default=0, compare=False)


@dataclass(frozen=True)
class SheetBom:
    """A BOM and the version a file gives of it, as text (blank: not given)."""

    code: str
    name: str
    type: str
    output_sku: str
    batch_quantity: str
    owner: str = ""
    batch_unit: str = ""
    output_loss_percent: str = ""
    notes: str = ""
    inputs: tuple[InputLine, ...] = ()
    operations: tuple[OperationLine, ...] = ()
    # The row each of its BOM columns was first given in (and `bom_code`: its first row).
    rows: Mapping[str, int] = field(default_factory=dict, compare=False)
    row_count: int = field(default=0, compare=False)

    @property
    def first_row(self) -> int:
        return self.rows.get("bom_code", 0)

    def row_of(self, column: str) -> int:
        return self.rows.get(column, self.first_row)


@dataclass(frozen=True)
class Sheet:
    """What a file says: its BOMs in the order of their first rows, the rows read (the
    header not counted), and the errors of its rows; a row in error adds no line."""

    boms: tuple[SheetBom, ...]
    rows: int
    errors: tuple[CellError, ...]


# --- reading --------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        raise problem(
            [
                CellError(
                    row,
                    None,
                    "is not UTF-8 text: save the file as CSV UTF-8 (Excel: Save As, CSV UTF-8)",
                    "encoding",
                )
            ]
        ) from None


def _delimiter(text: str) -> str:
    """A comma, or what the header row is separated by when it holds no comma: Excel writes
    semicolons where the decimal separator is a comma."""
    header = text.split("\n", 1)[0]
    if "," not in header:
        for candidate in (";", "\t"):
            if candidate in header:
                return candidate
    return ","


def _letter(index: int) -> str:
    """A spreadsheet's name of the column at `index` (0: A, 26: AA)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _formula_like(value: str) -> bool:
    """A cell a spreadsheet would run as a formula, or such a cell after its apostrophe."""
    return value.startswith(_FORMULA_START) or (value.startswith("'") and _formula_like(value[1:]))


def _unescaped(value: str) -> str:
    """The apostrophe the export puts before a cell that would run as a formula, removed."""
    return value[1:] if value.startswith("'") and _formula_like(value[1:]) else value


def _header(names: list[str]) -> list[CellError]:
    errors: list[CellError] = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        if not name:
            continue
        if name not in NAMES:
            errors.append(
                CellError(
                    1,
                    name,
                    f"column {_letter(index)} is not a column of the layout; they are "
                    + ", ".join(NAMES),
                    "unknown_column",
                )
            )
        elif name in seen:
            errors.append(CellError(1, name, "is named twice", "duplicate_column"))
        seen.add(name)
    errors.extend(
        CellError(1, name, "is missing: the first row must name it", "missing_column")
        for name in HEADER_REQUIRED
        if name not in seen
    )
    return errors


@dataclass
class _Draft:
    code: str
    values: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    inputs: list[InputLine] = field(default_factory=list)
    operations: list[OperationLine] = field(default_factory=list)
    alternatives: list[tuple[int, AlternativeLine]] = field(default_factory=list)
    row_count: int = 0


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    row = 0
    try:
        for record in reader:
            row += 1
            yield row, record
    except csv.Error as exc:
        raise problem([CellError(row + 1, None, f"cannot be read as CSV: {exc}", "csv")]) from None


def read(data: bytes) -> Sheet:
    """The BOMs of a file. Refused at once (ValidationProblem, PayloadTooLarge) when the file
    cannot be read at all: too large, not UTF-8, not CSV, a header that is not the layout's,
    more than MAX_ROWS rows; the errors of its rows are returned with what they left."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(
            f"The file is larger than {MAX_BYTES} bytes: split it into several files."
        )
    records = _records(_decode(data))
    first = next(records, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise problem(
            [CellError(1, None, "is empty: the first row names the columns", "missing_header")]
        )
    names = [cell.strip().lower() for cell in first[1]]
    header_errors = _header(names)
    if header_errors:
        raise problem(header_errors)
    errors: list[CellError] = []
    drafts: dict[str, _Draft] = {}
    rows = 0
    for row, record in records:
        rows = row - 1
        if rows > MAX_ROWS:
            raise problem(
                [
                    CellError(
                        row,
                        None,
                        f"is one too many: a file holds at most {MAX_ROWS} rows besides the "
                        "header; split it into several files",
                        "too_many_rows",
                    )
                ]
            )
        cells = [_unescaped(cell.strip()) for cell in record]
        if not any(cells):
            continue  # a blank row, as spreadsheets leave them
        values: dict[str, str] = {}
        for index, value in enumerate(cells):
            name = names[index] if index < len(names) else ""
            column = name or f"column {_letter(index)}"
            if "\x00" in value:
                errors.append(CellError(row, column, NUL_MESSAGE, "nul_character"))
                value = value.replace("\x00", "")
            if name:
                values[name] = value
            elif value:
                errors.append(
                    CellError(row, column, "holds a value, but the first row names no column here")
                )
        _row(row, values, drafts, errors)
    if not drafts and not errors:
        raise problem(
            [CellError(2, None, "is missing: the file has no row below its header", "no_rows")]
        )
    boms = tuple(_finished(draft, errors) for draft in drafts.values())
    return Sheet(boms, rows, tuple(errors))


def _row(
    row: int, values: dict[str, str], drafts: dict[str, _Draft], errors: list[CellError]
) -> None:
    code = values.get("bom_code", "")
    if not code:
        errors.append(CellError(row, "bom_code", "every row names its bill of material"))
        return
    draft = drafts.setdefault(code, _Draft(code, rows={"bom_code": row}))
    draft.row_count += 1
    for column in BOM_COLUMNS[1:]:
        value = values.get(column, "")
        if not value:
            continue
        if column not in draft.values:
            draft.values[column], draft.rows[column] = value, row
        elif draft.values[column] != value:
            errors.append(
                CellError(
                    row,
                    column,
                    f"is {value!r}, but row {draft.rows[column]} gives {code} "
                    f"{draft.values[column]!r}: a bill of material has one {column}",
                )
            )
    text = values.get("line", "").lower()
    try:
        kind = Line(text)
    except ValueError:
        errors.append(
            CellError(
                row,
                "line",
                f"is {text!r}: it must be input, operation or alternative (or blank for a "
                "bill of material without inputs and operations)",
            )
        )
        return
    what = f"an {kind} line" if kind is not Line.NONE else "a row without a line"
    for column in LINE_COLUMNS:
        if values.get(column) and column not in USES[kind]:
            errors.append(CellError(row, column, f"is not part of {what}: leave it blank"))
    interruptible = values.get("interruptible", "").lower()
    if "interruptible" in USES[kind] and interruptible not in _YES | _NO:
        errors.append(CellError(row, "interruptible", "must be yes or no (blank: no)"))
    # Without what it needs, a line is left out: what follows would only repeat the error.
    found = len(errors)
    for column in REQUIRED[kind]:
        if not values.get(column):
            errors.append(CellError(row, column, f"{what} needs {_NEEDS[column]}", "missing"))
    sequence: int | None = None
    if values.get("sequence") and "sequence" in USES[kind]:
        if _WHOLE.fullmatch(values["sequence"]):
            sequence = int(values["sequence"])
        else:
            errors.append(CellError(row, "sequence", "must be a whole number such as 10"))
    if len(errors) > found:
        return
    if kind is Line.INPUT:
        draft.inputs.append(
            InputLine(
                values["item_sku"],
                values["quantity"],
                values.get("unit", ""),
                values.get("loss_percent", ""),
                row=row,
            )
        )
    elif kind is Line.OPERATION:
        draft.operations.append(
            OperationLine(
                sequence,
                values["operation"],
                values.get("resource_code", ""),
                values.get("setup_minutes", ""),
                values.get("run_minutes_per_unit", ""),
                interruptible in _YES,
                row=row,
            )
        )
    elif kind is Line.ALTERNATIVE:
        assert sequence is not None  # (required above)
        draft.alternatives.append(
            (
                sequence,
                AlternativeLine(
                    values["resource_code"],
                    values.get("setup_minutes", ""),
                    values.get("run_minutes_per_unit", ""),
                    row=row,
                ),
            )
        )


def effective_sequence(operation: OperationLine, position: int) -> int:
    """An operation's sequence: the one given, else its place (1-based), as the API's."""
    return operation.sequence or position


def _finished(draft: _Draft, errors: list[CellError]) -> SheetBom:
    code, values = draft.code, draft.values
    for column in BOM_REQUIRED:
        if column not in values:
            errors.append(CellError(draft.rows["bom_code"], column, f"{code} needs one", "missing"))
    by_sequence: dict[int, int] = {}  # sequence -> index of its operation
    for index, op in enumerate(draft.operations):
        number = effective_sequence(op, index + 1)
        if number in by_sequence:
            other = draft.operations[by_sequence[number]].row
            place = "" if op.sequence else f" (its place among the operations of {code})"
            errors.append(
                CellError(
                    op.row,
                    "sequence",
                    f"{number}{place} is the sequence of the operation in row {other} too",
                )
            )
        else:
            by_sequence[number] = index
    alternatives: dict[int, list[AlternativeLine]] = {}
    for number, alt in draft.alternatives:
        if number not in by_sequence:
            errors.append(
                CellError(alt.row, "sequence", f"no operation of {code} has sequence {number}")
            )
        else:
            alternatives.setdefault(by_sequence[number], []).append(alt)
    operations = tuple(
        OperationLine(
            op.sequence,
            op.operation,
            op.resource_code,
            op.setup_minutes,
            op.run_minutes_per_unit,
            op.interruptible,
            tuple(alternatives.get(index, ())),
            row=op.row,
        )
        for index, op in enumerate(draft.operations)
    )
    return SheetBom(
        code=code,
        name=values.get("bom_name", ""),
        type=values.get("bom_type", ""),
        output_sku=values.get("output_sku", ""),
        batch_quantity=values.get("batch_quantity", ""),
        owner=values.get("owner", ""),
        batch_unit=values.get("batch_unit", ""),
        output_loss_percent=values.get("output_loss_percent", ""),
        notes=values.get("notes", ""),
        inputs=tuple(draft.inputs),
        operations=operations,
        rows=dict(draft.rows),
        row_count=draft.row_count,
    )


# --- references by code ---------------------------------------------------------------------


class Kind(enum.StrEnum):
    ITEM = "item"
    RESOURCE = "resource"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class Reference:
    kind: Kind
    code: str
    row: int
    column: str


def references(boms: Iterable[SheetBom]) -> Iterator[Reference]:
    """Every record the BOMs name, where they name it."""
    for bom in boms:
        if bom.output_sku:
            yield Reference(Kind.ITEM, bom.output_sku, bom.row_of("output_sku"), "output_sku")
        if bom.owner:
            yield Reference(Kind.CUSTOMER, bom.owner, bom.row_of("owner"), "owner")
        for line in bom.inputs:
            yield Reference(Kind.ITEM, line.item_sku, line.row, "item_sku")
        for op in bom.operations:
            if op.resource_code:
                yield Reference(Kind.RESOURCE, op.resource_code, op.row, "resource_code")
            for alt in op.alternatives:
                yield Reference(Kind.RESOURCE, alt.resource_code, alt.row, "resource_code")


_UNKNOWN = {
    Kind.ITEM: "no item has the SKU {code!r}",
    Kind.RESOURCE: "no resource has the code {code!r}",
    Kind.CUSTOMER: "no customer has the code or name {code!r}",
}
# Stands in for a record a file names that does not exist, so that the rest of its BOM is
# still checked; never written (the unknown code is an error).
MISSING = uuid.UUID(int=0)


def unknown(
    refs: Iterable[Reference], found: Mapping[Kind, Mapping[str, uuid.UUID]]
) -> list[CellError]:
    return [
        CellError(ref.row, ref.column, _UNKNOWN[ref.kind].format(code=ref.code), "unknown_code")
        for ref in refs
        if ref.code not in found.get(ref.kind, {})
    ]


# --- the body the request schemas check -----------------------------------------------------


@dataclass(frozen=True)
class Places:
    """Where in the file each place of a body comes from: (row, column)."""

    cells: Mapping[tuple[str | int, ...], tuple[int, str | None]]

    def cell_of(self, loc: Loc) -> tuple[int, str | None]:
        """The cell of `loc`, or of the nearest place that holds it."""
        key = tuple(loc)
        while key not in self.cells and key:
            key = key[:-1]
        return self.cells[key]


def to_body(
    bom: SheetBom, ids: Mapping[Kind, Mapping[str, uuid.UUID]]
) -> tuple[dict[str, object], Places]:
    """The body of `POST /boms` for the BOM (a code no record has: MISSING), and its places.
    Blank cells are left out, so that the schema's defaults apply."""

    def ref(kind: Kind, code: str) -> str:
        return str(ids.get(kind, {}).get(code, MISSING))

    def given(**values: object) -> dict[str, object]:
        return {k: v for k, v in values.items() if v != ""}

    first = bom.first_row
    cells: dict[tuple[str | int, ...], tuple[int, str | None]] = {
        (): (first, None),
        ("version",): (first, None),
    }
    for place, column in (
        (("code",), "bom_code"),
        (("name",), "bom_name"),
        (("type",), "bom_type"),
        (("item_id",), "output_sku"),
        (("owner_id",), "owner"),
        (("version", "batch_quantity"), "batch_quantity"),
        (("version", "batch_unit"), "batch_unit"),
        (("version", "output_loss_percent"), "output_loss_percent"),
        (("version", "notes"), "notes"),
    ):
        cells[place] = (bom.row_of(column), column)
    inputs = []
    for i, line in enumerate(bom.inputs):
        at = ("version", "inputs", i)
        cells[at] = (line.row, "line")
        for key, column in (
            ("item_id", "item_sku"),
            ("quantity", "quantity"),
            ("unit", "unit"),
            ("loss_percent", "loss_percent"),
        ):
            cells[(*at, key)] = (line.row, column)
        inputs.append(
            given(
                item_id=ref(Kind.ITEM, line.item_sku),
                quantity=line.quantity,
                unit=line.unit,
                loss_percent=line.loss_percent,
            )
        )
    operations = []
    for j, op in enumerate(bom.operations):
        at = ("version", "operations", j)
        cells[at] = (op.row, "resource_code")
        for key in ("sequence", "operation", "setup_minutes", "run_minutes_per_unit"):
            cells[(*at, key)] = (op.row, key)
        cells[(*at, "resource_id")] = (op.row, "resource_code")
        cells[(*at, "interruptible")] = (op.row, "interruptible")
        alternatives = []
        for k, alt in enumerate(op.alternatives):
            alt_at = (*at, "alternatives", k)
            cells[alt_at] = (alt.row, "resource_code")
            cells[(*alt_at, "resource_id")] = (alt.row, "resource_code")
            for key in ("setup_minutes", "run_minutes_per_unit"):
                cells[(*alt_at, key)] = (alt.row, key)
            alternatives.append(
                given(
                    resource_id=ref(Kind.RESOURCE, alt.resource_code),
                    setup_minutes=alt.setup_minutes,
                    run_minutes_per_unit=alt.run_minutes_per_unit,
                )
            )
        operations.append(
            {
                **given(
                    operation=op.operation,
                    setup_minutes=op.setup_minutes,
                    run_minutes_per_unit=op.run_minutes_per_unit,
                ),
                "sequence": op.sequence,
                "resource_id": ref(Kind.RESOURCE, op.resource_code) if op.resource_code else None,
                "interruptible": op.interruptible,
                "alternatives": alternatives,
            }
        )
    body: dict[str, object] = {
        **given(code=bom.code, name=bom.name, type=bom.type.upper()),
        "item_id": ref(Kind.ITEM, bom.output_sku),
        "owner_id": ref(Kind.CUSTOMER, bom.owner) if bom.owner else None,
        "version": {
            **given(
                batch_quantity=bom.batch_quantity,
                output_loss_percent=bom.output_loss_percent,
            ),
            "batch_unit": bom.batch_unit or None,
            "notes": bom.notes or None,
            "inputs": inputs,
            "operations": operations,
        },
    }
    return body, Places(cells)


# --- writing --------------------------------------------------------------------------------


def _escaped(value: str) -> str:
    """A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`...), written
    after an apostrophe, which `read` removes again."""
    return f"'{value}" if _formula_like(value) else value


def _rows(bom: SheetBom) -> Iterator[dict[str, str]]:
    own = {
        "bom_code": bom.code,
        "bom_name": bom.name,
        "bom_type": bom.type,
        "output_sku": bom.output_sku,
        "owner": bom.owner,
        "batch_quantity": bom.batch_quantity,
        "batch_unit": bom.batch_unit,
        "output_loss_percent": bom.output_loss_percent,
        "notes": bom.notes,
    }
    if not bom.inputs and not bom.operations:
        yield {**own, "line": Line.NONE}
    for line in bom.inputs:
        yield {
            **own,
            "line": Line.INPUT,
            "item_sku": line.item_sku,
            "quantity": line.quantity,
            "unit": line.unit,
            "loss_percent": line.loss_percent,
        }
    for position, op in enumerate(bom.operations, start=1):
        sequence = str(effective_sequence(op, position))
        yield {
            **own,
            "line": Line.OPERATION,
            "sequence": sequence,
            "operation": op.operation,
            "resource_code": op.resource_code,
            "setup_minutes": op.setup_minutes,
            "run_minutes_per_unit": op.run_minutes_per_unit,
            "interruptible": "yes" if op.interruptible else "no",
        }
        for alt in op.alternatives:
            yield {
                **own,
                "line": Line.ALTERNATIVE,
                "sequence": sequence,
                "resource_code": alt.resource_code,
                "setup_minutes": alt.setup_minutes,
                "run_minutes_per_unit": alt.run_minutes_per_unit,
            }


def write(boms: Iterable[SheetBom]) -> str:
    """The file of the BOMs, in the layout `read` reads: the header, then each BOM's inputs,
    operations and their alternatives, its own columns on every row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(NAMES)
    for bom in boms:
        for row in _rows(bom):
            writer.writerow(_escaped(str(row.get(name, ""))) for name in NAMES)
    return out.getvalue()


def encoded(text: str) -> bytes:
    """The file's bytes: UTF-8 with a byte order mark, which Excel needs to read accents
    right (and `read` skips)."""
    return text.encode("utf-8-sig")
