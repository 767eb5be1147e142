"""Reading a posted form (portal/forms.py), without a database: the rows as shown, the hidden
version through the one reader, and a refused form's errors in the words of its labels."""

from zoneinfo import ZoneInfo

import pytest

from taktline.errors import FieldError, NotFound, ValidationProblem
from taktline.orders.schemas import ProductionOrderCreate, ReportRequest
from taktline.portal import forms
from taktline.portal.forms import LABELS, form_errors, plain

ITEM = "01900000-0000-7000-8000-000000000001"
ZONE = ZoneInfo("America/Chicago")


def refused(schema: type, data: object) -> ValidationProblem:
    with pytest.raises(ValidationProblem) as caught:
        forms.validated(schema, data)
    return caught.value


def test_a_row_error_names_the_row_and_the_field_as_the_form_labels_them() -> None:
    problem = ValidationProblem(
        [
            FieldError(
                ["body", "work_orders", 0, "line_items", 0, "setup_minutes"],
                "Input should be greater than or equal to 0",
                "greater_than_equal",
            )
        ]
    )

    said = form_errors(problem, LABELS, {"work_orders.0.line_items.0.operation": "Bottling"})

    assert said.summary == [
        (
            "work_orders.0.line_items.0.setup_minutes",
            "Work order 1, line item 1 (Bottling): setup minutes must be 0 or more",
        )
    ]
    assert said.fields == {
        "work_orders.0.line_items.0.setup_minutes": "Setup minutes must be 0 or more"
    }
    assert said.detail == "Work order 1, line item 1 (Bottling): setup minutes must be 0 or more"


def test_pydantics_messages_become_plain_words() -> None:
    problem = refused(
        ProductionOrderCreate,
        {
            "priority": "high",
            "due_date": "soon",
            "owner_id": "someone",
            "reference": "x" * 101,
            "items": [{"item_id": ITEM, "quantity": "lots"}],
            "work_orders": [{"quantity": "5", "line_items": [{"operation": "Filling"}]}],
        },
    )

    said = dict(form_errors(problem).summary)

    assert said == {
        "owner_id": "Owner (customer) must be one of the choices",
        "reference": "Customer reference must be at most 100 characters",
        "due_date": "Due must be a date and time",
        "priority": "Priority must be a whole number",
        "items.0.quantity": "Item row 1: quantity must be a number",
        "work_orders.0.item_id": "Work order 1: item is required",
    }
    # the problem itself keeps the API's locs and messages
    assert ["body", "items", 0, "quantity"] in [e["loc"] for e in problem.extensions["errors"]]


def test_no_message_says_value_error() -> None:
    problem = refused(ReportRequest, {})

    said = form_errors(problem)

    assert said.detail == "report a quantity completed or scrapped, or done: true"
    assert "Value error" in problem.detail  # pydantic's own words, which the portal drops


@pytest.mark.parametrize(
    ("msg", "kind", "words"),
    [
        ("field required", "missing", ("is required", True)),
        (
            "Input should be less than or equal to 100",
            "less_than_equal",
            ("must be 100 or less", True),
        ),
        ("Input should be greater than 0", "greater_than", ("must be more than 0", True)),
        (
            "List should have at least 1 item after validation, not 0",
            "too_short",
            ("must have at least 1 row", True),
        ),
        (
            "Value error, give both planned_start and planned_end, or neither",
            "value_error",
            ("give both planned_start and planned_end, or neither", False),
        ),
        ("must be after planned_from", "value_error", ("must be after planned_from", True)),
        ("no item with this id", "value_error", ("no item with this id", False)),
    ],
)
def test_each_message_in_plain_words(msg: str, kind: str, words: tuple[str, bool]) -> None:
    assert plain(msg, kind) == words


def test_a_problem_without_field_errors_keeps_its_own_words() -> None:
    said = form_errors(NotFound("work order", "x"))

    assert (said.fields, said.summary, said.detail) == ({}, [], "No work order with id x.")


@pytest.mark.parametrize("raw", ["abc", "1.5", "-1", "٣"])
def test_a_malformed_version_is_refused_never_skipped(raw: str) -> None:
    with pytest.raises(ValidationProblem) as caught:
        forms.read_version({"version": raw})

    assert caught.value.extensions["errors"][0]["loc"] == ["form", "version"]


def test_the_version_is_read_and_taken_out_of_the_form() -> None:
    fields = {"version": " 3 ", "reason": "jam"}

    assert forms.read_version(fields) == 3
    assert fields == {"reason": "jam"}
    assert forms.read_version({"version": ""}) is None
    assert forms.read_version({}) is None


def test_blank_rows_are_no_rows_and_the_rows_after_them_move_up() -> None:
    fields = {
        "items.0.quantity": "1",
        "items.1.quantity": " ",
        "items.4.quantity": "4",
        "items.4.unit": "case",
    }

    assert forms.renumbered(fields) == {
        "items.0.quantity": "1",
        "items.1.quantity": "4",
        "items.1.unit": "case",
    }


def test_a_form_without_a_body_may_carry_nothing_else() -> None:
    assert forms.parse(None, {"note": "  "}, ZONE) is None
    with pytest.raises(ValidationProblem) as caught:
        forms.parse(None, {"note": "hello"}, ZONE)

    assert form_errors(caught.value).detail == "Note: unknown field"
