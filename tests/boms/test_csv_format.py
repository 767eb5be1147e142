"""The CSV layout of bills of material, without a database: what a file says, where each of
its errors is (row 1 is the header, as a spreadsheet numbers it; the column by its name), and
that what the export writes reads back the same."""

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taktline.boms import csv_format
from taktline.boms.csv_format import (
    AlternativeLine,
    InputLine,
    OperationLine,
    SheetBom,
)
from taktline.errors import PayloadTooLarge, ValidationProblem

HEADER = ",".join(csv_format.NAMES)


def row(**cells: str) -> str:
    """One row of the full layout, blank but for `cells`."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells.get(name, "") for name in csv_format.NAMES)
    return out.getvalue()


def bom_cells(code: str = "JUICE", **more: str) -> dict[str, str]:
    return {
        "bom_code": code,
        "bom_name": "Apple juice",
        "bom_type": "FORMULA",
        "output_sku": "AJ",
        "batch_quantity": "1000",
        **more,
    }


def file(*rows: str, header: str = HEADER) -> bytes:
    return "\r\n".join([header, *rows]).encode()


def errors_of(
    sheet_or_problem: csv_format.Sheet | ValidationProblem,
) -> list[tuple[int, str | None, str]]:
    errors = (
        sheet_or_problem.errors
        if isinstance(sheet_or_problem, csv_format.Sheet)
        else sheet_or_problem.extensions["errors"]
    )
    return [(e["row"], e["column"], e["msg"]) for e in errors]


def cells_of(
    sheet_or_problem: csv_format.Sheet | ValidationProblem,
) -> list[tuple[int, str | None]]:
    return [(r, c) for r, c, _ in errors_of(sheet_or_problem)]


APPLE = file(
    row(**bom_cells(), line="input", item_sku="CONC", quantity="180", loss_percent="2"),
    row(bom_code="JUICE", line="input", item_sku="WATER", quantity="820", unit="L"),
    row(
        bom_code="JUICE",
        line="operation",
        sequence="10",
        operation="Pressing",
        resource_code="CP1",
        setup_minutes="30",
        interruptible="yes",
    ),
    row(bom_code="JUICE", line="alternative", sequence="10", resource_code="CP2"),
    row(bom_code="JUICE", line="operation", operation="Pasteurising"),
    "",
    row(**bom_cells("EMPTY", output_sku="X")),
)


def test_rows_of_one_code_are_one_bom_its_own_columns_given_once() -> None:
    sheet = csv_format.read(APPLE)

    assert sheet.errors == ()
    assert sheet.rows == 7
    juice, empty = sheet.boms
    assert (juice.code, juice.name, juice.type, juice.batch_quantity) == (
        "JUICE",
        "Apple juice",
        "FORMULA",
        "1000",
    )
    assert juice.inputs == (InputLine("CONC", "180", "", "2"), InputLine("WATER", "820", "L"))
    assert juice.operations == (
        OperationLine(10, "Pressing", "CP1", "30", "", True, (AlternativeLine("CP2"),)),
        OperationLine(None, "Pasteurising"),
    )
    assert (juice.first_row, juice.row_count) == (2, 5)
    assert (empty.inputs, empty.operations, empty.first_row) == ((), (), 8)


def test_the_header_may_name_the_columns_in_any_order_in_any_case_and_leave_some_out() -> None:
    sheet = csv_format.read(
        b"LINE,Bom_Code,bom_name,bom_type,output_sku,batch_quantity,item_sku,quantity\n"
        b"input,JUICE,Apple juice,formula,AJ,1000,CONC,180\n"
    )

    assert sheet.errors == ()
    assert sheet.boms[0].inputs == (InputLine("CONC", "180"),)
    assert sheet.boms[0].type == "formula"  # the schema's to judge, upper-cased by to_body


def test_excel_files_are_read_a_byte_order_mark_semicolons_and_a_blank_trailing_column() -> None:
    text = HEADER.replace(",", ";") + ";\r\n" + row(**bom_cells()).replace(",", ";") + ";\r\n"

    sheet = csv_format.read(("\ufeff" + text).encode())

    assert sheet.errors == ()
    assert sheet.boms[0].code == "JUICE"


def test_an_unknown_a_doubled_and_a_missing_column_are_named_in_row_1() -> None:
    header = HEADER.replace("bom_type,", "").replace("notes", "colour") + ",line"

    with pytest.raises(ValidationProblem) as refused:
        csv_format.read(file(row(**bom_cells()), header=header))

    assert cells_of(refused.value) == [(1, "bom_type"), (1, "line"), (1, "colour")]
    assert "is not a column of the layout" in errors_of(refused.value)[2][2]
    assert "row 1, bom_type: is missing" in refused.value.detail


def test_an_empty_file_says_the_first_row_names_the_columns() -> None:
    with pytest.raises(ValidationProblem) as refused:
        csv_format.read(b"")

    assert errors_of(refused.value) == [(1, None, "is empty: the first row names the columns")]


def test_a_header_without_rows_says_the_file_has_none() -> None:
    with pytest.raises(ValidationProblem) as refused:
        csv_format.read(file("", ""))

    assert cells_of(refused.value) == [(2, None)]
    assert "no row below its header" in refused.value.detail


def test_a_file_that_is_not_utf_8_is_refused_at_the_row_of_the_first_bad_byte() -> None:
    data = file(row(**bom_cells()), row(**bom_cells("B", bom_name="Crème")))
    data = data.replace("Crème".encode(), "Crème".encode("cp1252"))

    with pytest.raises(ValidationProblem) as refused:
        csv_format.read(data)

    ((at, column, message),) = errors_of(refused.value)
    assert (at, column) == (3, None)
    assert "UTF-8" in message


def test_more_rows_than_a_file_holds_are_refused_at_the_first_row_too_many() -> None:
    rows = [row(**bom_cells(f"B{n}")) for n in range(csv_format.MAX_ROWS + 1)]

    with pytest.raises(ValidationProblem) as refused:
        csv_format.read(file(*rows))

    ((at, column, message),) = errors_of(refused.value)
    assert (at, column) == (csv_format.MAX_ROWS + 2, None)
    assert f"at most {csv_format.MAX_ROWS} rows" in message
    assert len(csv_format.read(file(*rows[:-1])).boms) == csv_format.MAX_ROWS


def test_a_file_over_the_size_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(PayloadTooLarge):
        csv_format.read(b" " * (csv_format.MAX_BYTES + 1))


CELL_ERRORS = {
    "no bom_code": (row(line="input", item_sku="A", quantity="1"), "bom_code", "every row names"),
    "unknown line": (row(**bom_cells(), line="step"), "line", "input, operation or alternative"),
    "input without item": (row(**bom_cells(), line="input", quantity="1"), "item_sku", "SKU"),
    "input without quantity": (row(**bom_cells(), line="input", item_sku="A"), "quantity", ""),
    "input with an operation's cell": (
        row(**bom_cells(), line="input", item_sku="A", quantity="1", resource_code="CP1"),
        "resource_code",
        "is not part of an input line",
    ),
    "operation without a name": (row(**bom_cells(), line="operation"), "operation", "name"),
    "operation with an input's cell": (
        row(**bom_cells(), line="operation", operation="Mix", unit="gal"),
        "unit",
        "is not part of an operation line",
    ),
    "sequence not a whole number": (
        row(**bom_cells(), line="operation", operation="Mix", sequence="1.5"),
        "sequence",
        "whole number",
    ),
    "interruptible neither yes nor no": (
        row(**bom_cells(), line="operation", operation="Mix", interruptible="maybe"),
        "interruptible",
        "yes or no",
    ),
    "alternative without sequence": (
        row(**bom_cells(), line="alternative", resource_code="CP2"),
        "sequence",
        "sequence of its operation",
    ),
    "alternative of no operation": (
        row(**bom_cells(), line="alternative", sequence="7", resource_code="CP2"),
        "sequence",
        "no operation of JUICE has sequence 7",
    ),
    "alternative without resource": (
        row(**bom_cells(), line="alternative", sequence="1"),
        "resource_code",
        "code of its resource",
    ),
    "a row without a line with a line's cell": (
        row(**bom_cells(), quantity="5"),
        "quantity",
        "is not part of a row without a line",
    ),
    "a NUL character": (
        row(**bom_cells(), line="input", item_sku="A\x00", quantity="1"),
        "item_sku",
        "NUL",
    ),
    "a value under no column name": (
        row(**bom_cells()) + ",stray",
        f"column {csv_format._letter(len(csv_format.NAMES))}",
        "names no column",
    ),
}


@pytest.mark.parametrize("case", CELL_ERRORS.values(), ids=CELL_ERRORS.keys())
def test_a_bad_cell_is_named_by_row_and_column(case: tuple[str, str, str]) -> None:
    bad, column, words = case
    sheet = csv_format.read(file(row(**bom_cells("OTHER")), bad))

    ((at, named, message),) = errors_of(sheet)
    assert (at, named) == (3, column)
    assert words in message


def test_a_bom_column_that_differs_from_an_earlier_row_names_both_rows() -> None:
    sheet = csv_format.read(
        file(row(**bom_cells()), row(bom_code="JUICE", bom_name="Pear juice", batch_quantity=""))
    )

    assert errors_of(sheet) == [
        (
            3,
            "bom_name",
            "is 'Pear juice', but row 2 gives JUICE 'Apple juice': a bill of material has one "
            "bom_name",
        )
    ]


def test_a_bom_missing_a_column_of_its_own_is_told_at_its_first_row() -> None:
    sheet = csv_format.read(file(row(bom_code="JUICE", bom_name="Juice", line="")))

    assert cells_of(sheet) == [(2, "bom_type"), (2, "output_sku"), (2, "batch_quantity")]


def test_two_operations_of_one_sequence_name_the_other_row_even_by_their_place() -> None:
    sheet = csv_format.read(
        file(
            row(**bom_cells(), line="operation", operation="Mix", sequence="2"),
            row(bom_code="JUICE", line="operation", operation="Fill"),
            row(bom_code="JUICE", line="operation", operation="Cap", sequence="2"),
        )
    )

    assert errors_of(sheet) == [
        (
            3,
            "sequence",
            "2 (its place among the operations of JUICE) is the sequence of the "
            "operation in row 2 too",
        ),
        (4, "sequence", "2 is the sequence of the operation in row 2 too"),
    ]


def test_every_error_is_listed_by_row_and_column_in_the_problem() -> None:
    sheet = csv_format.read(
        file(
            row(**bom_cells(), line="input", item_sku="A"),
            row(line="input"),
            row(**bom_cells("B"), line="operation", interruptible="often"),
        )
    )
    problem = csv_format.problem(list(sheet.errors))

    assert cells_of(problem) == [
        (2, "quantity"),
        (3, "bom_code"),
        (4, "operation"),
        (4, "interruptible"),
    ]
    assert problem.status == 422
    assert [e["loc"] for e in problem.extensions["errors"]][:2] == [
        ["body", 2, "quantity"],
        ["body", 3, "bom_code"],
    ]
    assert problem.detail.startswith("The file has 4 errors, and nothing was imported: row 2, ")


# --- writing, and reading back ------------------------------------------------------------

text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12
).map(str.strip)
code = text.filter(bool)
number = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False).map(
    lambda d: format(d, "f")
)


@st.composite
def boms(draw: st.DrawFn) -> SheetBom:
    operations = tuple(
        OperationLine(
            sequence,
            draw(code),
            draw(st.one_of(st.just(""), code)),
            draw(number),
            draw(number),
            draw(st.booleans()),
            tuple(draw(st.lists(st.builds(AlternativeLine, code, number, number), max_size=2))),
        )
        for sequence in sorted(draw(st.sets(st.integers(1, 10_000), max_size=3)))
    )
    return SheetBom(
        code=draw(code),
        name=draw(code),
        type=draw(st.sampled_from(["FORMULA", "KIT"])),
        output_sku=draw(code),
        batch_quantity=draw(number),
        owner=draw(text),
        batch_unit=draw(text),
        output_loss_percent=draw(number),
        notes=draw(st.text(max_size=30).filter(lambda t: "\x00" not in t).map(str.strip)),
        inputs=tuple(draw(st.lists(st.builds(InputLine, code, number, text, number), max_size=3))),
        operations=operations,
    )


@given(st.lists(boms(), min_size=1, max_size=3, unique_by=lambda b: b.code))
def test_what_the_export_writes_the_import_reads_back_as_it_was(written: list[SheetBom]) -> None:
    sheet = csv_format.read(csv_format.encoded(csv_format.write(written)))

    assert sheet.errors == ()
    assert list(sheet.boms) == written


def test_a_cell_that_would_run_as_a_formula_is_written_after_an_apostrophe() -> None:
    bom = SheetBom("=HYPERLINK(1)", "+name", "KIT", "@sku", "1", notes="-x")

    written = csv_format.write([bom])

    assert "'=HYPERLINK(1),'+name,KIT,'@sku" in written
    assert csv_format.read(written.encode()).boms == (bom,)


def test_the_docs_name_every_column_of_the_layout_in_its_order() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "boms-csv.md"
    table = re.findall(r"^\| `([a-z_]+)` \|", docs.read_text(encoding="utf-8"), re.MULTILINE)

    assert table == list(csv_format.NAMES)
