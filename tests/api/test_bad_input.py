"""Bad input: every kind of wrong request gets its own clear problem+json, and changes nothing.

Each case builds a target its request would be valid against, breaks one thing, and checks the
status, the problem `type`, and for validation errors the `loc` of the offending field.
"""

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline.app import create_app
from taktline.boms import csv_format
from taktline.config import Settings
from tests.api.conftest import (
    WINDOW_BASE,
    Builder,
    Json,
    iso,
    observe,
    operations,
    path_id_operations,
    scenario_for,
)
from tests.boms.sheets import csv_of
from tests.helpers import API, assert_problem, bodies, error_fields

MiB = 1024 * 1024
NAIVE = "2031-01-06T08:00:00"  # no offset: which time zone would it be?

# --- the cases -----------------------------------------------------------------------------

Target = dict[str, Any]
Body = Json | Callable[[Builder, Target], Json]


@dataclass(frozen=True)
class Bad:
    """One broken request. `target` names what to build first (see `TARGETS`); `path` may
    use {id} and {line} of it; `body` is a body or a function of the builder and target."""

    method: str
    path: str
    body: Body
    loc: str | None  # the one offending field, dotted as in `errors[].loc`
    target: str = "none"
    status: int = 422
    type_slug: str = "validation-error"
    headers: tuple[tuple[str, str], ...] = ()


def _wo_target(state: str) -> Callable[[Builder], Target]:
    def build(b: Builder) -> Target:
        wo = b.wo_in(state)
        return {"id": wo["id"], "line": wo["line_items"][0]["id"], "record": wo}

    return build


TARGETS: dict[str, Callable[[Builder], Target]] = {
    "none": lambda b: {},
    "item": lambda b: {"id": b.item()["id"]},
    "facility": lambda b: {"id": b.facility()["id"]},
    "customer": lambda b: {"id": b.customer()["id"]},
    "resource": lambda b: {"id": b.resource(capacity_min="10", capacity_max="100")["id"]},
    "po": lambda b: {"id": b.production_order(work_orders=1)["id"]},
    "wo": _wo_target("DRAFT"),
    "wo:IN_PROCESS": _wo_target("IN_PROCESS"),
}


def wo_body(**changes: Any) -> Callable[[Builder, Target], Json]:
    return lambda b, t: {**b.work_order_body(), **changes}


def wo_without(field: str) -> Callable[[Builder, Target], Json]:
    def body(b: Builder, t: Target) -> Json:
        out = b.work_order_body()
        del out[field]
        return out

    return body


def wo_line(**changes: Any) -> Callable[[Builder, Target], Json]:
    return lambda b, t: b.work_order_body() | {"line_items": [b.line_item(**changes)]}


def wo_line_without(field: str) -> Callable[[Builder, Target], Json]:
    def body(b: Builder, t: Target) -> Json:
        line = b.line_item()
        del line[field]
        return b.work_order_body() | {"line_items": [line]}

    return body


def po_body(change: Callable[[Json], None]) -> Callable[[Builder, Target], Json]:
    def body(b: Builder, t: Target) -> Json:
        order = b.production_order_body(work_orders=1)
        change(order)
        return order

    return body


def resource_body(**changes: Any) -> Callable[[Builder, Target], Json]:
    return lambda b, t: {**bodies.resource(b.shared_resource["facility_id"]), **changes}


def resource_without(field: str) -> Callable[[Builder, Target], Json]:
    def body(b: Builder, t: Target) -> Json:
        out = bodies.resource(b.shared_resource["facility_id"])
        del out[field]
        return out

    return body


def window(start: datetime, end: datetime, **extra: Any) -> Callable[[Builder, Target], Json]:
    return lambda b, t: {
        "line_items": [
            {"id": t["line"], "planned_start": iso(start), "planned_end": iso(end), **extra}
        ]
    }


def without(body: Json, field: str) -> Json:
    return {k: v for k, v in body.items() if k != field}


def _set(path: str, value: Any) -> Callable[[Json], None]:
    """Sets a dotted path (numbers index lists) in a production order body."""

    def change(order: Json) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = order
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return change


_DELETE = object()
T0 = WINDOW_BASE + timedelta(days=400)
T1 = T0 + timedelta(hours=2)
UNKNOWN = "0190f1d2-0000-7000-8000-000000000000"  # a well-formed id that nobody has

CASES: dict[str, Bad] = {
    # items
    "item: sku of the wrong type": Bad("POST", "/items", bodies.item(sku=123), "body.sku"),
    "item: unknown type": Bad("POST", "/items", bodies.item(type="GADGET"), "body.type"),
    "item: sku missing": Bad("POST", "/items", without(bodies.item(), "sku"), "body.sku"),
    "item: empty name": Bad("POST", "/items", bodies.item(name=""), "body.name"),
    "item: unknown field": Bad("POST", "/items", bodies.item(colour="red"), "body.colour"),
    "item patch: sku of the wrong type": Bad(
        "PATCH", "/items/{id}", {"sku": 5}, "body.sku", "item"
    ),
    "item patch: unknown field": Bad(
        "PATCH", "/items/{id}", {"colour": "red"}, "body.colour", "item"
    ),
    "item patch: null for a required field": Bad(
        "PATCH", "/items/{id}", {"name": None}, "body.name", "item"
    ),
    # facilities and customers
    "facility: not a time zone": Bad(
        "POST", "/facilities", bodies.facility(timezone="Mars/Olympus_Mons"), "body.timezone"
    ),
    "facility: time zone missing": Bad(
        "POST", "/facilities", without(bodies.facility(), "timezone"), "body.timezone"
    ),
    "facility: unknown field": Bad("POST", "/facilities", bodies.facility(city="X"), "body.city"),
    "facility patch: not a time zone": Bad(
        "PATCH", "/facilities/{id}", {"timezone": "Chicago"}, "body.timezone", "facility"
    ),
    "customer: name of the wrong type": Bad(
        "POST", "/customers", bodies.customer(name=["x"]), "body.name"
    ),
    "customer: name missing": Bad("POST", "/customers", {"code": "C1"}, "body.name"),
    "customer patch: unknown field": Bad(
        "PATCH", "/customers/{id}", {"vat": "X"}, "body.vat", "customer"
    ),
    # resources
    "resource: parallel capacity of the wrong type": Bad(
        "POST", "/resources", resource_body(parallel_capacity="two"), "body.parallel_capacity"
    ),
    "resource: zero parallel capacity": Bad(
        "POST", "/resources", resource_body(parallel_capacity=0), "body.parallel_capacity"
    ),
    "resource: negative capacity": Bad(
        "POST", "/resources", resource_body(capacity_max="-1"), "body.capacity_max"
    ),
    "resource: capacity range reversed": Bad(
        "POST",
        "/resources",
        resource_body(capacity_min="500", capacity_max="100"),
        "body.capacity_max",
    ),
    "resource: unknown kind": Bad("POST", "/resources", resource_body(kind="ROBOT"), "body.kind"),
    "resource: facility id not an id": Bad(
        "POST", "/resources", resource_body(facility_id="plant-1"), "body.facility_id"
    ),
    "resource: unknown facility": Bad(
        "POST", "/resources", resource_body(facility_id=UNKNOWN), "body.facility_id"
    ),
    "resource: facility missing": Bad(
        "POST", "/resources", resource_without("facility_id"), "body.facility_id"
    ),
    "resource: unknown field": Bad("POST", "/resources", resource_body(speed=5), "body.speed"),
    "resource patch: capacity below the minimum it has": Bad(
        "PATCH", "/resources/{id}", {"capacity_max": "5"}, "body.capacity_max", "resource"
    ),
    "resource patch: zero parallel capacity": Bad(
        "PATCH", "/resources/{id}", {"parallel_capacity": 0}, "body.parallel_capacity", "resource"
    ),
    "resource patch: unknown facility": Bad(
        "PATCH", "/resources/{id}", {"facility_id": UNKNOWN}, "body.facility_id", "resource"
    ),
    # production orders
    "production order: no items": Bad(
        "POST", "/production-orders", po_body(_set("items", [])), "body.items"
    ),
    "production order: items missing": Bad(
        "POST", "/production-orders", po_body(_set("items", _DELETE)), "body.items"
    ),
    "production order: zero quantity": Bad(
        "POST",
        "/production-orders",
        po_body(_set("items.0.quantity", "0")),
        "body.items.0.quantity",
    ),
    "production order: negative quantity": Bad(
        "POST", "/production-orders", po_body(_set("items.0.quantity", -5)), "body.items.0.quantity"
    ),
    "production order: naive due date": Bad(
        "POST", "/production-orders", po_body(_set("due_date", NAIVE)), "body.due_date"
    ),
    "production order: priority out of range": Bad(
        "POST", "/production-orders", po_body(_set("priority", 101)), "body.priority"
    ),
    "production order: zero quantity of a work order": Bad(
        "POST",
        "/production-orders",
        po_body(_set("work_orders.0.quantity", 0)),
        "body.work_orders.0.quantity",
    ),
    "production order: reversed window of a work order's line item": Bad(
        "POST",
        "/production-orders",
        po_body(_set("work_orders.0.line_items.0.planned_end", iso(WINDOW_BASE))),
        "body.work_orders.0.line_items.0.planned_end",
    ),
    "production order: unknown owner": Bad(
        "POST", "/production-orders", po_body(_set("owner_id", UNKNOWN)), "body.owner_id"
    ),
    "production order: unknown item": Bad(
        "POST",
        "/production-orders",
        po_body(_set("items.0.item_id", UNKNOWN)),
        "body.items.0.item_id",
    ),
    "production order: unknown field of an item": Bad(
        "POST", "/production-orders", po_body(_set("items.0.lot", "L1")), "body.items.0.lot"
    ),
    "production order patch: no items": Bad(
        "PATCH", "/production-orders/{id}", {"items": []}, "body.items", "po"
    ),
    "production order patch: priority of the wrong type": Bad(
        "PATCH", "/production-orders/{id}", {"priority": "high"}, "body.priority", "po"
    ),
    "production order patch: naive due date": Bad(
        "PATCH", "/production-orders/{id}", {"due_date": NAIVE}, "body.due_date", "po"
    ),
    "production order patch: unknown owner": Bad(
        "PATCH", "/production-orders/{id}", {"owner_id": UNKNOWN}, "body.owner_id", "po"
    ),
    "production order patch: unknown field": Bad(
        "PATCH", "/production-orders/{id}", {"state": "COMPLETED"}, "body.state", "po"
    ),
    # work orders
    "work order: quantity of the wrong type": Bad(
        "POST", "/work-orders", wo_body(quantity="lots"), "body.quantity"
    ),
    "work order: zero quantity": Bad("POST", "/work-orders", wo_body(quantity=0), "body.quantity"),
    "work order: negative quantity": Bad(
        "POST", "/work-orders", wo_body(quantity="-3"), "body.quantity"
    ),
    "work order: quantity finer than a millionth": Bad(
        "POST", "/work-orders", wo_body(quantity="1.0000001"), "body.quantity"
    ),
    "work order: priority of the wrong type": Bad(
        "POST", "/work-orders", wo_body(priority=True), "body.priority"
    ),
    "work order: item missing": Bad("POST", "/work-orders", wo_without("item_id"), "body.item_id"),
    "work order: quantity missing": Bad(
        "POST", "/work-orders", wo_without("quantity"), "body.quantity"
    ),
    "work order: naive due date": Bad(
        "POST", "/work-orders", wo_body(due_date=NAIVE), "body.due_date"
    ),
    "work order: line items not a list": Bad(
        "POST", "/work-orders", wo_body(line_items="Bottling"), "body.line_items"
    ),
    "work order: naive planned start": Bad(
        "POST", "/work-orders", wo_line(planned_start=NAIVE), "body.line_items.0.planned_start"
    ),
    "work order: reversed window": Bad(
        "POST",
        "/work-orders",
        wo_line(window=(T1, T0)),
        "body.line_items.0.planned_end",
    ),
    "work order: empty window": Bad(
        "POST",
        "/work-orders",
        wo_line(window=(T0, T0)),
        "body.line_items.0.planned_end",
    ),
    "work order: negative setup time": Bad(
        "POST", "/work-orders", wo_line(setup_minutes="-1"), "body.line_items.0.setup_minutes"
    ),
    "work order: line item without operation": Bad(
        "POST", "/work-orders", wo_line_without("operation"), "body.line_items.0.operation"
    ),
    "work order: unknown field of a line item": Bad(
        "POST", "/work-orders", wo_line(speed=3), "body.line_items.0.speed"
    ),
    "work order: unknown field": Bad("POST", "/work-orders", wo_body(colour="red"), "body.colour"),
    "work order: unknown item": Bad(
        "POST", "/work-orders", wo_body(item_id=UNKNOWN), "body.item_id"
    ),
    "work order: unknown resource": Bad(
        "POST", "/work-orders", wo_line(resource_id=UNKNOWN), "body.line_items.0.resource_id"
    ),
    "work order: unknown production order": Bad(
        "POST", "/work-orders", wo_body(production_order_id=UNKNOWN), "body.production_order_id"
    ),
    "work order patch: zero quantity": Bad(
        "PATCH", "/work-orders/{id}", {"quantity": "0"}, "body.quantity", "wo"
    ),
    "work order patch: naive due date": Bad(
        "PATCH", "/work-orders/{id}", {"due_date": NAIVE}, "body.due_date", "wo"
    ),
    "work order patch: unknown item": Bad(
        "PATCH", "/work-orders/{id}", {"item_id": UNKNOWN}, "body.item_id", "wo"
    ),
    "work order patch: reversed window": Bad(
        "PATCH",
        "/work-orders/{id}",
        lambda b, t: {"line_items": [b.line_item(window=(T1, T0))]},
        "body.line_items.0.planned_end",
        "wo",
    ),
    "work order patch: unknown field": Bad(
        "PATCH", "/work-orders/{id}", {"state": "COMPLETED"}, "body.state", "wo"
    ),
    # work order actions
    "schedule: naive start": Bad(
        "POST", "/work-orders/{id}/schedule", {"start": NAIVE}, "body.start", "wo"
    ),
    "schedule: start not a time": Bad(
        "POST", "/work-orders/{id}/schedule", {"start": "tomorrow"}, "body.start", "wo"
    ),
    "schedule: reversed window": Bad(
        "POST", "/work-orders/{id}/schedule", window(T1, T0), "body.line_items.0.planned_end", "wo"
    ),
    "schedule: window without end": Bad(
        "POST",
        "/work-orders/{id}/schedule",
        lambda b, t: {"line_items": [{"id": t["line"], "planned_start": iso(T0)}]},
        "body.line_items.0.planned_end",
        "wo",
    ),
    "schedule: unknown line item": Bad(
        "POST",
        "/work-orders/{id}/schedule",
        lambda b, t: {
            "line_items": [{"id": UNKNOWN, "planned_start": iso(T0), "planned_end": iso(T1)}]
        },
        "body.line_items.0.id",
        "wo",
    ),
    "schedule: unknown resource": Bad(
        "POST",
        "/work-orders/{id}/schedule",
        window(T0, T1, resource_id=UNKNOWN),
        "body.line_items.0.resource_id",
        "wo",
    ),
    "schedule: unknown field": Bad(
        "POST", "/work-orders/{id}/schedule", {"begin": iso(T0)}, "body.begin", "wo"
    ),
    "pause: reason missing": Bad(
        "POST", "/work-orders/{id}/pause", {}, "body.reason", "wo:IN_PROCESS"
    ),
    "pause: empty reason": Bad(
        "POST", "/work-orders/{id}/pause", {"reason": "  "}, "body.reason", "wo:IN_PROCESS"
    ),
    "pause: unknown field": Bad(
        "POST",
        "/work-orders/{id}/pause",
        {"reason": "x", "until": "later"},
        "body.until",
        "wo:IN_PROCESS",
    ),
    "cancel: reason missing": Bad("POST", "/work-orders/{id}/cancel", {}, "body.reason", "wo"),
    "cancel: reason of the wrong type": Bad(
        "POST", "/work-orders/{id}/cancel", {"reason": 42}, "body.reason", "wo"
    ),
    "complete: negative quantity": Bad(
        "POST",
        "/work-orders/{id}/complete",
        {"quantity_produced": "-1"},
        "body.quantity_produced",
        "wo:IN_PROCESS",
    ),
    "complete: unknown field": Bad(
        "POST", "/work-orders/{id}/complete", {"quantity": "5"}, "body.quantity", "wo:IN_PROCESS"
    ),
    "report: negative quantity": Bad(
        "POST",
        "/work-orders/{id}/line-items/{line}/report",
        {"quantity_completed": "-5"},
        "body.quantity_completed",
        "wo:IN_PROCESS",
    ),
    "report: done of the wrong type": Bad(
        "POST",
        "/work-orders/{id}/line-items/{line}/report",
        {"quantity_completed": "5", "done": "maybe"},
        "body.done",
        "wo:IN_PROCESS",
    ),
    "report: unknown field": Bad(
        "POST",
        "/work-orders/{id}/line-items/{line}/report",
        {"quantity_good": "5"},
        "body.quantity_good",
        "wo:IN_PROCESS",
    ),
    "report: nothing to report": Bad(
        "POST", "/work-orders/{id}/line-items/{line}/report", {}, "body", "wo:IN_PROCESS"
    ),
    "skip: reason missing": Bad(
        "POST", "/work-orders/{id}/line-items/{line}/skip", {}, "body.reason", "wo:IN_PROCESS"
    ),
    # production order actions
    "production order schedule: naive start": Bad(
        "POST", "/production-orders/{id}/schedule", {"start": NAIVE}, "body.start", "po"
    ),
    "production order schedule: unknown field": Bad(
        "POST", "/production-orders/{id}/schedule", {"when": iso(T0)}, "body.when", "po"
    ),
    "production order cancel: reason missing": Bad(
        "POST", "/production-orders/{id}/cancel", {}, "body.reason", "po"
    ),
    # queries
    "list: limit over 500": Bad("GET", "/work-orders?limit=501", None, "query.limit"),
    "list: limit zero": Bad("GET", "/production-orders?limit=0", None, "query.limit"),
    "list: limit not a number": Bad("GET", "/items?limit=ten", None, "query.limit"),
    "list: bad cursor": Bad("GET", "/work-orders?cursor=not-a-cursor", None, "query.cursor"),
    "list: cursor of the wrong length": Bad("GET", "/resources?cursor=AAAA", None, "query.cursor"),
    "list: unknown state": Bad("GET", "/work-orders?state=DONE", None, "query.state.0"),
    "list: id filter not an id": Bad("GET", "/work-orders?item_id=juice", None, "query.item_id"),
    "list: planned window reversed": Bad(
        "GET",
        f"/work-orders?planned_from={iso(T1)}&planned_to={iso(T0)}".replace("+", "%2B"),
        None,
        "query.planned_to",
    ),
    "list: naive planned_from": Bad(
        "GET", f"/work-orders?planned_from={NAIVE}", None, "query.planned_from"
    ),
    "list: naive due_before of work orders": Bad(
        "GET", f"/work-orders?due_before={NAIVE}", None, "query.due_before"
    ),
    "list: naive due_before of production orders": Bad(
        "GET", f"/production-orders?due_before={NAIVE}", None, "query.due_before"
    ),
    # headers
    "If-Match not an ETag (patch)": Bad(
        "PATCH",
        "/items/{id}",
        {"name": "Renamed"},
        "header.If-Match",
        "item",
        headers=(("If-Match", "yesterday"),),
    ),
    "If-Match not an ETag (action)": Bad(
        "POST",
        "/work-orders/{id}/cancel",
        {"reason": "x"},
        "header.If-Match",
        "wo",
        headers=(("If-Match", '"v1"'),),
    ),
    "If-Match of an older version (patch)": Bad(
        "PATCH",
        "/items/{id}",
        {"name": "Renamed"},
        None,
        "item",
        status=412,
        type_slug="version-mismatch",
        headers=(("If-Match", '"7"'),),
    ),
    "If-Match of an older version (action)": Bad(
        "POST",
        "/work-orders/{id}/start",
        None,
        None,
        "wo:IN_PROCESS",
        status=412,
        type_slug="version-mismatch",
        headers=(("If-Match", '"1"'),),
    ),
    "Idempotency-Key too long": Bad(
        "POST",
        "/items",
        bodies.item(),
        "header.Idempotency-Key",
        headers=(("Idempotency-Key", "k" * 201),),
    ),
    "Idempotency-Key with a NUL": Bad(
        "POST",
        "/items",
        bodies.item(),
        "header.Idempotency-Key",
        headers=(("Idempotency-Key", "key\x00one"),),
    ),
    "Idempotency-Key with a control character": Bad(
        "POST",
        "/items",
        bodies.item(),
        "header.Idempotency-Key",
        headers=(("Idempotency-Key", "key\x7f"),),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_request_gets_its_problem_and_changes_nothing(
    case: Bad, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    builder.shared_item, builder.shared_resource  # noqa: B018 (made before counting)
    target = TARGETS[case.target](builder)
    body = case.body(builder, target) if callable(case.body) else case.body
    path = API + case.path.format(id=target.get("id"), line=target.get("line"))
    watches = observe(client, app, ())

    response = client.request(
        case.method,
        path,
        headers={**builder.headers(), **dict(case.headers)},
        **({} if body is None else {"json": body}),
    )

    problem = assert_problem(response, case.status, case.type_slug)
    assert problem["title"]
    assert problem["detail"]
    if case.loc is not None:
        assert error_fields(problem) == [case.loc], problem
        for error in problem["errors"]:
            assert error["msg"], problem
        assert case.loc.split(".", 1)[-1] in problem["detail"] or case.loc == "body"
    assert observe(client, app, ()) == watches


# --- the cells of an imported CSV file (POST /boms/import) -------------------------------

Rows = list[dict[str, str]]


def _import_rows(b: Builder) -> Rows:
    """A valid file of one BOM: an input (row 2), an operation (row 3) and its alternative
    (row 4), every column given."""
    bom = {
        "bom_code": f"CSV-{uuid.uuid4().hex[:8]}",
        "bom_name": "Apple juice",
        "bom_type": "FORMULA",
        "output_sku": b.item(unit="gal")["sku"],
        "owner": b.customer()["code"],
        "batch_quantity": "1000",
        "batch_unit": "gal",
        "output_loss_percent": "1",
        "notes": "cold",
    }
    return [
        {
            **bom,
            "line": "input",
            "item_sku": b.shared_item["sku"],
            "quantity": "180",
            "unit": "ea",
            "loss_percent": "2",
        },
        {
            **bom,
            "line": "operation",
            "sequence": "10",
            "operation": "Pressing",
            "resource_code": b.shared_resource["code"],
            "setup_minutes": "30",
            "run_minutes_per_unit": "0.5",
            "interruptible": "no",
        },
        {
            **bom,
            "line": "alternative",
            "sequence": "10",
            "resource_code": b.resource()["code"],
            "setup_minutes": "45",
            "run_minutes_per_unit": "0.6",
        },
    ]


@dataclass(frozen=True)
class BadCell:
    """A file with one cell (or one column of a BOM, on every row) broken, and the one error
    it gets: at `row` (the header is row 1) and `column`, with `words` in its message."""

    rows: tuple[int, ...]  # the rows changed
    column: str
    value: str
    row: int  # where the error is told
    words: str


def _cell(row: int, column: str, value: str, words: str, at: int | None = None) -> BadCell:
    return BadCell((row,), column, value, at or row, words)


def _bom_column(column: str, value: str, words: str) -> BadCell:
    return BadCell((2, 3, 4), column, value, 2, words)


LONG = "x" * 201
CSV_CASES: dict[str, BadCell] = {
    "bom_code blank": _cell(4, "bom_code", "", "every row names its bill of material"),
    "bom_code too long": _bom_column("bom_code", "C" * 65, "at most 64 characters"),
    "bom_name blank": _bom_column("bom_name", "", "needs one"),
    "bom_name too long": _bom_column("bom_name", LONG, "at most 200 characters"),
    "bom_name differing": _cell(3, "bom_name", "Pear juice", "a bill of material has one"),
    "bom_type unknown": _bom_column("bom_type", "RECIPE", "must be FORMULA, PACKAGING"),
    "output_sku unknown": _bom_column("output_sku", "NO-SUCH-SKU", "no item has the SKU"),
    "output_sku blank": _bom_column("output_sku", "", "needs one"),
    "owner unknown": _bom_column("owner", "NO-SUCH-BRAND", "no customer has the code or name"),
    "batch_quantity zero": _bom_column("batch_quantity", "0", "must be more than 0"),
    "batch_quantity not a number": _bom_column("batch_quantity", "lots", "must be a number"),
    "batch_quantity too precise": _bom_column("batch_quantity", "1.0000001", "decimal places"),
    "batch_quantity too large": _bom_column("batch_quantity", "1" + "0" * 18, "digits"),
    "batch_unit too long": _bom_column("batch_unit", "u" * 33, "at most 32 characters"),
    "output_loss_percent negative": _bom_column("output_loss_percent", "-1", "0 or more"),
    "output_loss_percent over 1000": _bom_column("output_loss_percent", "1001", "1000 or less"),
    "notes too long": _bom_column("notes", "n" * 10_001, "at most 10000 characters"),
    "notes with a NUL": _cell(2, "notes", "cold\x00", "NUL character"),
    "line unknown": _cell(4, "line", "step", "input, operation or alternative"),
    "item_sku unknown": _cell(2, "item_sku", "NO-SUCH-SKU", "no item has the SKU"),
    "item_sku blank": _cell(2, "item_sku", "", "needs the SKU"),
    "quantity zero": _cell(2, "quantity", "0", "must be more than 0"),
    "quantity negative": _cell(2, "quantity", "-5", "must be more than 0"),
    "quantity with a decimal comma": _cell(2, "quantity", "1,5", "a point before the decimals"),
    "quantity blank": _cell(2, "quantity", "", "needs the quantity"),
    "unit too long": _cell(2, "unit", "u" * 33, "at most 32 characters"),
    "loss_percent negative": _cell(2, "loss_percent", "-2", "0 or more"),
    "loss_percent not a number": _cell(2, "loss_percent", "2%", "must be a number"),
    "an operation's cell on an input": _cell(2, "setup_minutes", "5", "not part of an input"),
    "sequence not a whole number": _cell(4, "sequence", "ten", "whole number"),
    "sequence of no operation": _cell(4, "sequence", "20", "no operation of"),
    "operation too long": _cell(3, "operation", LONG, "at most 200 characters"),
    "operation on an alternative": _cell(4, "operation", "Mixing", "not part of an alternative"),
    "resource_code unknown": _cell(3, "resource_code", "NO-SUCH-RES", "no resource has the code"),
    "alternative resource_code unknown": _cell(4, "resource_code", "NO-SUCH", "no resource"),
    "alternative on its operation's resource": BadCell(
        (4,), "resource_code", "", 3, "another resource than the operation's own"
    ),  # (the value: the operation's own resource code)
    "setup_minutes negative": _cell(3, "setup_minutes", "-1", "0 or more"),
    "alternative setup_minutes not a number": _cell(4, "setup_minutes", "soon", "a number"),
    "run_minutes_per_unit negative": _cell(3, "run_minutes_per_unit", "-0.5", "0 or more"),
    "alternative run_minutes_per_unit too precise": _cell(
        4, "run_minutes_per_unit", "0.0000001", "decimal places"
    ),
    "interruptible neither yes nor no": _cell(3, "interruptible", "sometimes", "yes or no"),
    "interruptible on an alternative": _cell(4, "interruptible", "yes", "not part of"),
}


@pytest.mark.parametrize("case", CSV_CASES.values(), ids=CSV_CASES.keys())
def test_a_bad_cell_of_an_imported_file_is_named_by_row_and_column_and_changes_nothing(
    case: BadCell, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    builder.shared_item, builder.shared_resource  # noqa: B018 (made before counting)
    rows = _import_rows(builder)
    value = case.value
    if case.column == "resource_code" and case.row == 3 and not value:
        value = rows[1]["resource_code"]  # the alternative is the operation's own resource
    for row in case.rows:
        rows[row - 2][case.column] = value
    before = observe(client, app, ())

    response = client.post(
        f"{API}/boms/import",
        content=csv_of(*rows),
        headers={**builder.headers(), "Content-Type": "text/csv"},
    )

    problem = assert_problem(response, 422, "validation-error")
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [(case.row, case.column)]
    assert [e["loc"] for e in problem["errors"]] == [["body", case.row, case.column]]
    assert case.words in problem["errors"][0]["msg"], problem
    assert f"row {case.row}, {case.column}: " in problem["detail"]
    assert observe(client, app, ()) == before


def test_the_file_the_bad_cells_are_made_from_is_imported(
    client: TestClient, builder: Builder
) -> None:
    response = client.post(
        f"{API}/boms/import",
        content=csv_of(*_import_rows(builder)),
        headers={**builder.headers(), "Content-Type": "text/csv"},
    )

    assert response.status_code == 201, response.text


def test_a_header_of_an_imported_file_that_is_not_the_layouts_is_told_in_row_1(
    client: TestClient, app: FastAPI, builder: Builder
) -> None:
    rows = _import_rows(builder)
    header = (*csv_format.NAMES[1:], "colour")  # no bom_code, and a column of no layout
    before = observe(client, app, ())

    response = client.post(
        f"{API}/boms/import",
        content=csv_of(*rows, header=header),
        headers={**builder.headers(), "Content-Type": "text/csv"},
    )

    problem = assert_problem(response, 422, "validation-error")
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [
        (1, "bom_code"),
        (1, "colour"),
    ]
    assert observe(client, app, ()) == before


# --- the body itself -----------------------------------------------------------------------

BODY_OPERATIONS = [op for op in operations() if op.split()[0] in ("POST", "PATCH")]
# Actions that take no body at all: there is no JSON to be malformed.
BODILESS = {"/unschedule", "/start", "/resume", "/activate", "/retire"}
# Operations whose body is not JSON: a CSV file (its own cases are below).
NOT_JSON = {"/boms/import"}


def _url(operation: str) -> str:
    """The operation's path with fresh ids (and a version number no BOM has): the body is
    refused before any lookup."""
    path = operation.split()[1].replace("{number}", "999999")
    return re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), path)


MALFORMED = (b'{"name": ', b"{'name': 'single quotes'}", b'{"a": 1} trailing', b"{,}")


@pytest.mark.parametrize(
    "operation", [op for op in BODY_OPERATIONS if not op.endswith(tuple(BODILESS | NOT_JSON))]
)
def test_malformed_json_answers_400(
    operation: str, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    before = observe(client, app, ())

    for raw in MALFORMED:
        response = client.request(
            operation.split()[0],
            _url(operation),
            content=raw,
            headers={**builder.headers(), "Content-Type": "application/json"},
        )

        problem = assert_problem(response, 400, "malformed-request")
        assert "JSON" in problem["detail"], raw
    assert observe(client, app, ()) == before


def test_a_body_that_is_not_utf_8_is_malformed_json_too(
    client: TestClient, app: FastAPI, builder: Builder
) -> None:
    """JSON is UTF-8 (RFC 8259): bytes that are not are as malformed as a missing brace, and
    get the same problem type."""
    before = observe(client, app, ())

    response = client.post(
        f"{API}/items",
        content=b'{"sku": "\xff\xfe"}',
        headers={**builder.headers(), "Content-Type": "application/json"},
    )

    assert_problem(response, 400, "malformed-request")
    assert observe(client, app, ()) == before


def _oversized(size: int) -> Iterator[bytes]:
    chunk = b" " * (64 * 1024)
    sent = 0
    yield b'{"name": "'
    while sent < size:
        yield chunk
        sent += len(chunk)
    yield b'"}'


@pytest.mark.parametrize("operation", BODY_OPERATIONS)
def test_a_body_over_1_mib_answers_413_whether_announced_or_chunked(
    operation: str, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    method, url = operation.split()[0], _url(operation)
    headers = {**builder.headers(), "Content-Type": "application/json"}
    before = observe(client, app, ())

    announced = client.request(method, url, content=b" " * (MiB + 1), headers=headers)
    chunked = client.request(method, url, content=_oversized(MiB), headers=headers)

    assert announced.request.headers["content-length"] == str(MiB + 1)
    assert "content-length" not in chunked.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    for response in (announced, chunked):
        problem = assert_problem(response, 413, "payload-too-large")
        assert str(MiB) in problem["detail"]
    assert observe(client, app, ()) == before


def test_a_body_over_1_mib_answers_413_over_real_http_too(
    live_server: str, builder: Builder
) -> None:
    """Through a real server the refusal arrives whole, before the body is even all sent."""
    headers = {**builder.headers(), "Content-Type": "application/json"}

    with httpx.Client(base_url=live_server, timeout=30) as http:
        announced = http.post(f"{API}/items", content=b" " * (2 * MiB), headers=headers)
        chunked = http.post(f"{API}/items", content=_oversized(2 * MiB), headers=headers)

    for response in (announced, chunked):
        assert_problem(response, 413, "payload-too-large")


def test_a_body_of_exactly_1_mib_is_read(client: TestClient, builder: Builder) -> None:
    raw = json.dumps(bodies.item()).encode()
    padded = raw[:-1] + b" " * (MiB - len(raw)) + b"}"
    assert len(padded) == MiB

    response = client.post(
        f"{API}/items",
        content=padded,
        headers={**builder.headers(), "Content-Type": "application/json"},
    )

    assert response.status_code == 201, response.text


# --- ids in the path -----------------------------------------------------------------------

# The query a GET needs to get as far as looking its ids up.
_VALID_QUERIES = {"explode": "?quantity=1", "diff": "?against=1"}
_VALID_ACTION_BODIES: dict[str, Json] = {
    "pause": {"reason": "x"},
    "cancel": {"reason": "x"},
    "skip": {"reason": "x"},
    "report": {"quantity_completed": "1"},
    "reverse_report": {"report_id": "01a00000-0000-7000-8000-000000000000", "reason": "x"},
    "versions": {"copy_of": 1},
    "complete": {},
    "adjust": {"quantity": "1", "reason": "x"},
    "scrap": {"quantity": "1", "reason": "x"},
    "allocate": {"auto": True},
    "pulls": {"allocated": True},
    "return": {"reason": "x"},
    "calendar": {"shifts": []},
    "exceptions": {
        "kind": "HOLIDAY",
        "starts_at": "2031-01-01T06:00:00Z",
        "ends_at": "2031-01-02T06:00:00Z",
    },
}


@pytest.mark.parametrize("operation", path_id_operations())
def test_an_unknown_id_in_the_path_answers_404_and_one_that_is_no_id_422(
    operation: str, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    method, template = operation.split()
    body = {} if method == "PATCH" else _VALID_ACTION_BODIES.get(template.rsplit("/", 1)[-1])
    send = {} if body is None else {"json": body}
    headers = builder.headers(scenario_for(operation).owner_role)
    before = observe(client, app, ())

    query = _VALID_QUERIES.get(template.rsplit("/", 1)[-1], "")
    unknown = client.request(method, _url(operation) + query, headers=headers, **send)
    not_an_id = client.request(
        method, re.sub(r"\{[a-z_]+\}", "WO-000001", template) + query, headers=headers, **send
    )

    problem = assert_problem(unknown, 404, "not-found")
    assert problem["detail"].startswith("No ")
    problem = assert_problem(not_an_id, 422, "validation-error")
    params = re.findall(r"\{([a-z_]+)\}", template)
    assert {f"path.{p}" for p in params} == set(error_fields(problem))
    assert observe(client, app, ()) == before


def test_an_unknown_route_answers_404_and_a_wrong_method_405_as_problems(
    client: TestClient, builder: Builder
) -> None:
    assert_problem(client.get(f"{API}/machines", headers=builder.headers()), 404, "not-found")
    assert_problem(
        client.put(f"{API}/items", json={}, headers=builder.headers()), 405, "method-not-allowed"
    )


# --- what comes back -----------------------------------------------------------------------

OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TIMESTAMPS = {
    "created_at",
    "updated_at",
    "due_date",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "at",
}
DECIMALS = {
    "quantity",
    "quantity_produced",
    "quantity_scrapped",
    "quantity_completed",
    "quantity_planned",
    "setup_minutes",
    "run_minutes_per_unit",
    "capacity_min",
    "capacity_max",
    "progress_percent",
}


def _walk(value: Json, where: str = "") -> Iterator[tuple[str, str, Json]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, f"{where}.{key}", inner
            yield from _walk(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            yield from _walk(inner, f"{where}.{n}")


def test_decimals_come_back_as_strings_and_timestamps_with_an_offset(
    client: TestClient, builder: Builder
) -> None:
    resource = builder.resource(capacity_min=0, capacity_max=1000.5)
    po = builder.production_order(
        work_orders=1,
        due_date="2031-03-01T17:00:00+02:00",
        items=[{"item_id": builder.shared_item["id"], "quantity": 10000}],
    )
    wo = builder.work_order(
        quantity=1234.5, resource_id=resource["id"], due_date="2031-03-01T09:00:00-06:00"
    )
    wo = builder.wo_action(wo, "schedule")
    wo = builder.wo_action(wo, "start")
    wo = builder.report(wo, quantity_completed="0.000001", quantity_scrapped=2)
    events = builder.get(f"/work-orders/{wo['id']}/events")
    answers = [resource, po, builder.get(f"/production-orders/{po['id']}"), wo, events]
    answers.append(builder.get("/work-orders?limit=5"))
    seen_decimals = seen_timestamps = 0

    for answer in answers:
        for key, where, value in _walk(answer):
            if key in DECIMALS and value is not None:
                assert isinstance(value, str), f"{where} = {value!r}"
                assert re.fullmatch(r"-?\d+(\.\d+)?", value), f"{where} = {value!r}"
                seen_decimals += 1
            if key in TIMESTAMPS and value is not None:
                assert OFFSET.match(value), f"{where} = {value!r}"
                seen_timestamps += 1

    assert seen_decimals > 20
    assert seen_timestamps > 20
    assert (resource["capacity_max"], wo["quantity"]) == ("1000.5", "1234.5")
    assert wo["line_items"][0]["quantity_completed"] == "0.000001"
    assert po["items"][0]["quantity"] == "10000"
    # The instant is kept, whatever offset it was given in.
    assert datetime.fromisoformat(po["due_date"]) == datetime.fromisoformat(
        "2031-03-01T15:00:00+00:00"
    )
    assert datetime.fromisoformat(wo["due_date"]) == datetime.fromisoformat("2031-03-01T15:00:00Z")


def test_a_create_answers_decimals_as_every_later_read_does(builder: Builder) -> None:
    """One value, one spelling: the answer to a create shows a quantity exactly as reading the
    record back does (the plain, shortest form: never exponent notation, no trailing zeros)."""
    resource = builder.resource(capacity_min="0.500", capacity_max="1000.000")
    created = [builder.work_order(quantity=q) for q in ("1e3", "2.50", 1000.0)]
    po = builder.production_order(
        work_orders=0, items=[{"item_id": builder.shared_item["id"], "quantity": "12E2"}]
    )

    read = builder.get(f"/resources/{resource['id']}")
    assert (
        (resource["capacity_min"], resource["capacity_max"])
        == (
            read["capacity_min"],
            read["capacity_max"],
        )
        == ("0.5", "1000")
    )
    for wo in created:
        assert wo["quantity"] == builder.get(f"/work-orders/{wo['id']}")["quantity"]
    assert [wo["quantity"] for wo in created] == ["1000", "2.5", "1000"]
    assert po["items"][0]["quantity"] == "1200"


def test_a_quantity_sent_as_a_json_number_is_kept_to_the_last_digit_or_refused(
    client: TestClient, builder: Builder
) -> None:
    """Quantities are decimals, never floats: a JSON number with more digits than a float
    holds must not be rounded on the way in."""
    raw = (
        f'{{"item_id": "{builder.shared_item["id"]}", "quantity": 123456789012.123456}}'
    ).encode()

    response = client.post(
        f"{API}/work-orders",
        content=raw,
        headers={**builder.headers(), "Content-Type": "application/json"},
    )

    if response.status_code == 201:
        assert response.json()["quantity"] == "123456789012.123456"
    else:
        problem = assert_problem(response, 422, "validation-error")
        assert error_fields(problem) == ["body.quantity"]


def test_the_openapi_document_is_3_1_and_the_docs_are_served(client: TestClient) -> None:
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert f"{API}/work-orders/{{work_order_id}}/start" in document["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert f"{API}/openapi.json" in docs.text
    scripts = re.findall(r'src="([^"]+\.js)"', docs.text)
    assert scripts
    for script in scripts:
        if script.startswith("/"):
            assert client.get(script).status_code == 200, script


def test_errors_are_problem_json_with_a_stable_type(client: TestClient, builder: Builder) -> None:
    """Spot check that a validation problem carries every member clients rely on."""
    response = client.post(f"{API}/items", json={"sku": ""}, headers=builder.headers())

    problem = assert_problem(response, 422, "validation-error")
    assert problem["instance"] == f"{API}/items"
    assert {e["loc"][-1] for e in problem["errors"]} == {"sku", "name", "unit"}
    assert all(set(e) >= {"loc", "msg", "type"} for e in problem["errors"])


def test_an_unexpected_error_is_a_500_problem_too(database_url: str) -> None:
    """Whatever goes wrong inside, a client of the API gets problem+json, not a bare text
    page: a route that fails unexpectedly is added to a fresh application to show it."""
    application = create_app(Settings(database_url=database_url))

    @application.get(f"{API}/test-only-failure")
    def fail() -> None:
        raise RuntimeError("unexpected")

    with TestClient(application, raise_server_exceptions=False) as client:
        response = client.get(f"{API}/test-only-failure")
    application.state.engine.dispose()

    problem = assert_problem(response, 500)
    assert "unexpected" not in problem["detail"], "internals stay inside"
