"""The edges of what a request may carry, on both databases: timestamps outside the one range
Taktline accepts (1900-01-01 to 9000-12-31, UTC), text with a NUL character, and quantities
that Python's Decimal() would read but that are no plain decimal ("1_000", " 1 "). Each is a
422 naming the field, in words, and changes nothing; just inside the edges is accepted.

The rules are decided once, in taktline.schemas; the last tests walk every request body to
check that none of its text fields escapes them.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError

from taktline.app import create_app
from taktline.config import Settings
from taktline.schemas import (
    NUL_MESSAGE,
    PLAIN_DECIMAL_MESSAGE,
    RANGE_MESSAGE,
    RequestBody,
    Timestamp,
    day_in_range,
    in_range,
)
from tests.api.conftest import WINDOW_BASE, Builder, Json, iso, observe
from tests.helpers import API, assert_problem, bodies, error_fields

# Past what Python's datetime holds once in UTC (10000-01-01T00:59:59Z and 0000-12-31T23:00Z):
# these gave 500 (OverflowError) before the range was checked.
LATE = "9999-12-31T23:59:59-01:00"
EARLY = "0001-01-01T00:00:00+01:00"
# Inside what datetime holds, outside the range, by the least amount.
JUST_AFTER = "9001-01-01T00:00:00Z"
JUST_BEFORE = "1900-01-01T00:59:59.999999+01:00"
OUTSIDE = {"year 9999": LATE, "year 1": EARLY, "9001": JUST_AFTER, "1899": JUST_BEFORE}
# The edges themselves, given with an offset: inside.
FIRST = "1900-01-01T01:00:00+01:00"
LAST = "9000-12-31T22:59:59.999999-01:00"
NUL = "Line\x00 1"
NOT_PLAIN = ("1_000", " 1 ", "+5", "١٢", "1_000.5", "Infinity")

Target = dict[str, Any]
Value = Any
Body = Callable[[Builder, Target, Value], Json]


@dataclass(frozen=True)
class Edge:
    """A request carrying `value` in one field (the body's, or a query parameter's), which
    the answer must name at `loc`. `path` may use {id} and {line} of the target."""

    method: str
    path: str
    loc: str
    body: Body | None = None
    query: Callable[[Value], dict[str, str]] | None = None
    target: str = "none"


def _wo_target(state: str) -> Callable[[Builder], Target]:
    def build(b: Builder) -> Target:
        wo = b.wo_in(state)
        return {"id": wo["id"], "line": wo["line_items"][0]["id"]}

    return build


TARGETS: dict[str, Callable[[Builder], Target]] = {
    "none": lambda b: {},
    "item": lambda b: {"id": b.item()["id"]},
    "facility": lambda b: {"id": b.facility()["id"]},
    "customer": lambda b: {"id": b.customer()["id"]},
    "resource": lambda b: {"id": b.resource()["id"]},
    "po": lambda b: {"id": b.production_order(work_orders=1)["id"]},
    "wo": _wo_target("DRAFT"),
    "wo:IN_PROCESS": _wo_target("IN_PROCESS"),
}


def fixed(**fields: Any) -> Body:
    """A body of `fields`, with the value at the one given as ...: {"due_date": ...}."""
    return lambda b, t, v: {k: (v if f is ... else f) for k, f in fields.items()}


def wo(**fields: Any) -> Body:
    def body(b: Builder, t: Target, v: Value) -> Json:
        return {**b.work_order_body(), **{k: (v if f is ... else f) for k, f in fields.items()}}

    return body


def wo_line(**fields: Any) -> Body:
    def body(b: Builder, t: Target, v: Value) -> Json:
        line = b.line_item(**{k: (v if f is ... else f) for k, f in fields.items()})
        return {**b.work_order_body(), "line_items": [line]}

    return body


def po(path: str) -> Body:
    """A production order body with the value at a dotted path (numbers index lists)."""

    def body(b: Builder, t: Target, v: Value) -> Json:
        order = b.production_order_body(work_orders=1)
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = order
        for part in parents:
            node = node[part]
        node[last] = v
        return order

    return body


def resource(field: str) -> Body:
    return lambda b, t, v: {**bodies.resource(b.shared_resource["facility_id"]), field: v}


def exception(**fields: Any) -> Body:
    start = WINDOW_BASE + timedelta(days=3)
    base = {"kind": "HOLIDAY", "starts_at": iso(start), "ends_at": iso(start + timedelta(days=1))}
    return lambda b, t, v: {**base, **{k: (v if f is ... else f) for k, f in fields.items()}}


def window(field: str) -> Body:
    start, end = WINDOW_BASE + timedelta(days=500), WINDOW_BASE + timedelta(days=500, hours=1)

    def body(b: Builder, t: Target, v: Value) -> Json:
        line = {"id": t["line"], "planned_start": iso(start), "planned_end": iso(end)}
        return {"line_items": [{**line, field: v}]}

    return body


def query(name: str, **others: str) -> Callable[[Value], dict[str, str]]:
    return lambda v: {**others, name: v}


EXCEPTIONS = "/{collection}/{id}/calendar/exceptions"

TIMESTAMP_EDGES: dict[str, Edge] = {
    # work orders
    "work order due date": Edge("POST", "/work-orders", "body.due_date", wo(due_date=...)),
    "work order release": Edge("POST", "/work-orders", "body.release_at", wo(release_at=...)),
    "line item planned start": Edge(
        "POST", "/work-orders", "body.line_items.0.planned_start", wo_line(planned_start=...)
    ),
    "line item planned end": Edge(
        "POST", "/work-orders", "body.line_items.0.planned_end", wo_line(planned_end=...)
    ),
    "work order patch: due date": Edge(
        "PATCH", "/work-orders/{id}", "body.due_date", fixed(due_date=...), target="wo"
    ),
    "work order patch: release": Edge(
        "PATCH", "/work-orders/{id}", "body.release_at", fixed(release_at=...), target="wo"
    ),
    "work order patch: line item planned start": Edge(
        "PATCH",
        "/work-orders/{id}",
        "body.line_items.0.planned_start",
        lambda b, t, v: {"line_items": [b.line_item(planned_start=v)]},
        target="wo",
    ),
    "schedule: start": Edge(
        "POST", "/work-orders/{id}/schedule", "body.start", fixed(start=...), target="wo"
    ),
    "schedule: window start": Edge(
        "POST",
        "/work-orders/{id}/schedule",
        "body.line_items.0.planned_start",
        window("planned_start"),
        target="wo",
    ),
    "schedule: window end": Edge(
        "POST",
        "/work-orders/{id}/schedule",
        "body.line_items.0.planned_end",
        window("planned_end"),
        target="wo",
    ),
    # production orders
    "production order due date": Edge(
        "POST", "/production-orders", "body.due_date", po("due_date")
    ),
    "production order: its work order's due date": Edge(
        "POST", "/production-orders", "body.work_orders.0.due_date", po("work_orders.0.due_date")
    ),
    "production order: its work order's release": Edge(
        "POST",
        "/production-orders",
        "body.work_orders.0.release_at",
        po("work_orders.0.release_at"),
    ),
    "production order: its work order's planned start": Edge(
        "POST",
        "/production-orders",
        "body.work_orders.0.line_items.0.planned_start",
        po("work_orders.0.line_items.0.planned_start"),
    ),
    "production order patch: due date": Edge(
        "PATCH", "/production-orders/{id}", "body.due_date", fixed(due_date=...), target="po"
    ),
    "production order schedule: start": Edge(
        "POST", "/production-orders/{id}/schedule", "body.start", fixed(start=...), target="po"
    ),
    # calendars
    "facility exception start": Edge(
        "POST",
        EXCEPTIONS.replace("{collection}", "facilities"),
        "body.starts_at",
        exception(starts_at=...),
        target="facility",
    ),
    "resource exception end": Edge(
        "POST",
        EXCEPTIONS.replace("{collection}", "resources"),
        "body.ends_at",
        exception(ends_at=...),
        target="resource",
    ),
    # the scheduler
    "preview horizon": Edge(
        "POST", "/schedule/preview", "body.horizon_start", fixed(horizon_start=...)
    ),
    "apply horizon": Edge(
        "POST", "/schedule/apply", "body.horizon_start", fixed(horizon_start=...)
    ),
    # lists
    "work orders planned from": Edge(
        "GET", "/work-orders", "query.planned_from", query=query("planned_from")
    ),
    "work orders planned to": Edge(
        "GET",
        "/work-orders",
        "query.planned_to",
        query=query("planned_to", planned_from="2031-01-01T00:00:00Z"),
    ),
    "work orders due before": Edge(
        "GET", "/work-orders", "query.due_before", query=query("due_before")
    ),
    "production orders due before": Edge(
        "GET", "/production-orders", "query.due_before", query=query("due_before")
    ),
    "facility exceptions from": Edge(
        "GET",
        EXCEPTIONS.replace("{collection}", "facilities"),
        "query.from",
        query=query("from"),
        target="facility",
    ),
    "resource exceptions to": Edge(
        "GET",
        EXCEPTIONS.replace("{collection}", "resources"),
        "query.to",
        query=query("to"),
        target="resource",
    ),
    "bottlenecks from": Edge("GET", "/bottlenecks", "query.from", query=query("from")),
    "bottlenecks to": Edge("GET", "/bottlenecks", "query.to", query=query("to")),
}

TEXT_EDGES: dict[str, Edge] = {
    "item sku": Edge("POST", "/items", "body.sku", lambda b, t, v: bodies.item(sku=v)),
    "item name": Edge("POST", "/items", "body.name", lambda b, t, v: bodies.item(name=v)),
    "item unit": Edge("POST", "/items", "body.unit", lambda b, t, v: bodies.item(unit=v)),
    "item patch: name": Edge("PATCH", "/items/{id}", "body.name", fixed(name=...), target="item"),
    "facility name": Edge(
        "POST", "/facilities", "body.name", lambda b, t, v: bodies.facility(name=v)
    ),
    "facility time zone": Edge(
        "POST", "/facilities", "body.timezone", lambda b, t, v: bodies.facility(timezone=f"UTC{v}")
    ),
    "facility patch: name": Edge(
        "PATCH", "/facilities/{id}", "body.name", fixed(name=...), target="facility"
    ),
    "customer name": Edge(
        "POST", "/customers", "body.name", lambda b, t, v: bodies.customer(name=v)
    ),
    "customer code": Edge(
        "POST", "/customers", "body.code", lambda b, t, v: bodies.customer(code=v)
    ),
    "customer patch: code": Edge(
        "PATCH", "/customers/{id}", "body.code", fixed(code=...), target="customer"
    ),
    "resource code": Edge("POST", "/resources", "body.code", resource("code")),
    "resource name": Edge("POST", "/resources", "body.name", resource("name")),
    "resource capacity unit": Edge(
        "POST", "/resources", "body.capacity_unit", resource("capacity_unit")
    ),
    "resource patch: name": Edge(
        "PATCH", "/resources/{id}", "body.name", fixed(name=...), target="resource"
    ),
    "work order unit": Edge("POST", "/work-orders", "body.unit", wo(unit=...)),
    "work order instructions": Edge(
        "POST", "/work-orders", "body.instructions", wo(instructions=...)
    ),
    "line item operation": Edge(
        "POST", "/work-orders", "body.line_items.0.operation", wo_line(operation=...)
    ),
    "work order patch: instructions": Edge(
        "PATCH", "/work-orders/{id}", "body.instructions", fixed(instructions=...), target="wo"
    ),
    "production order reference": Edge(
        "POST", "/production-orders", "body.reference", po("reference")
    ),
    "production order notes": Edge("POST", "/production-orders", "body.notes", po("notes")),
    "production order item unit": Edge(
        "POST", "/production-orders", "body.items.0.unit", po("items.0.unit")
    ),
    "production order: its work order's instructions": Edge(
        "POST",
        "/production-orders",
        "body.work_orders.0.instructions",
        po("work_orders.0.instructions"),
    ),
    "production order: its work order's operation": Edge(
        "POST",
        "/production-orders",
        "body.work_orders.0.line_items.0.operation",
        po("work_orders.0.line_items.0.operation"),
    ),
    "production order patch: notes": Edge(
        "PATCH", "/production-orders/{id}", "body.notes", fixed(notes=...), target="po"
    ),
    "production order cancel: reason": Edge(
        "POST", "/production-orders/{id}/cancel", "body.reason", fixed(reason=...), target="po"
    ),
    "cancel: reason": Edge(
        "POST", "/work-orders/{id}/cancel", "body.reason", fixed(reason=...), target="wo"
    ),
    "pause: reason": Edge(
        "POST",
        "/work-orders/{id}/pause",
        "body.reason",
        fixed(reason=...),
        target="wo:IN_PROCESS",
    ),
    "report: note": Edge(
        "POST",
        "/work-orders/{id}/line-items/{line}/report",
        "body.note",
        fixed(quantity_completed="1", note=...),
        target="wo:IN_PROCESS",
    ),
    "skip: reason": Edge(
        "POST",
        "/work-orders/{id}/line-items/{line}/skip",
        "body.reason",
        fixed(reason=...),
        target="wo:IN_PROCESS",
    ),
    "calendar exception reason": Edge(
        "POST",
        EXCEPTIONS.replace("{collection}", "facilities"),
        "body.reason",
        exception(reason=...),
        target="facility",
    ),
    # query strings
    "items search": Edge("GET", "/items", "query.q", query=query("q")),
    "resources search": Edge("GET", "/resources", "query.q", query=query("q")),
    "work orders search": Edge("GET", "/work-orders", "query.q", query=query("q")),
    "production orders search": Edge("GET", "/production-orders", "query.q", query=query("q")),
    "list cursor": Edge(
        "GET",
        "/work-orders",
        "query.cursor",
        query=lambda v: {"cursor": "AZD6QAAAcACAAAAAAAAAAA" + v},
    ),
}

QUANTITY_EDGES: dict[str, Edge] = {
    "work order quantity": Edge("POST", "/work-orders", "body.quantity", wo(quantity=...)),
    "line item setup minutes": Edge(
        "POST", "/work-orders", "body.line_items.0.setup_minutes", wo_line(setup_minutes=...)
    ),
    "line item run minutes": Edge(
        "POST",
        "/work-orders",
        "body.line_items.0.run_minutes_per_unit",
        wo_line(run_minutes_per_unit=...),
    ),
    "production order item quantity": Edge(
        "POST", "/production-orders", "body.items.0.quantity", po("items.0.quantity")
    ),
    "resource capacity": Edge("POST", "/resources", "body.capacity_max", resource("capacity_max")),
    "work order patch: quantity": Edge(
        "PATCH", "/work-orders/{id}", "body.quantity", fixed(quantity=...), target="wo"
    ),
    "report: completed": Edge(
        "POST",
        "/work-orders/{id}/line-items/{line}/report",
        "body.quantity_completed",
        fixed(quantity_completed=...),
        target="wo:IN_PROCESS",
    ),
    "complete: produced": Edge(
        "POST",
        "/work-orders/{id}/complete",
        "body.quantity_produced",
        fixed(quantity_produced=...),
        target="wo:IN_PROCESS",
    ),
}


def _refused(
    edge: Edge, value: Value, client: TestClient, app: FastAPI, builder: Builder
) -> dict[str, Any]:
    """Sends the edge's request with `value`; checks the 422 names the one field and that
    nothing changed; returns the field's error."""
    builder.shared_item, builder.shared_resource  # noqa: B018 (made before counting)
    target = TARGETS[edge.target](builder)
    path = API + edge.path.format(id=target.get("id"), line=target.get("line"))
    body = edge.body(builder, target, value) if edge.body is not None else None
    before = observe(client, app, ())

    response = client.request(
        edge.method,
        path,
        params=edge.query(value) if edge.query is not None else None,
        headers=builder.headers(),
        **({} if body is None else {"json": body}),
    )

    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == [edge.loc], problem
    assert edge.loc.split(".", 1)[-1] in problem["detail"], problem
    assert observe(client, app, ()) == before
    error: dict[str, Any] = problem["errors"][0]
    return error


@pytest.mark.parametrize("moment", OUTSIDE.values(), ids=OUTSIDE.keys())
@pytest.mark.parametrize("edge", TIMESTAMP_EDGES.values(), ids=TIMESTAMP_EDGES.keys())
def test_a_timestamp_outside_the_range_is_refused_at_its_field(
    edge: Edge, moment: str, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    error = _refused(edge, moment, client, app, builder)

    assert error["msg"] == RANGE_MESSAGE == "must be between 1900-01-01 and 9000-12-31 (UTC)"
    assert error["type"] == "datetime_out_of_range"


@pytest.mark.parametrize("edge", TEXT_EDGES.values(), ids=TEXT_EDGES.keys())
def test_text_with_a_nul_character_is_refused_at_its_field(
    edge: Edge, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    """PostgreSQL cannot store a NUL (it answered 500), SQLite stored it: both refuse it."""
    error = _refused(edge, NUL, client, app, builder)

    if edge.loc != "query.cursor":
        assert error["msg"] == NUL_MESSAGE == "must not contain a NUL character"
        assert error["type"] == "nul_character"


@pytest.mark.parametrize("text", NOT_PLAIN, ids=repr)
@pytest.mark.parametrize("edge", QUANTITY_EDGES.values(), ids=QUANTITY_EDGES.keys())
def test_a_quantity_that_is_no_plain_decimal_is_refused_at_its_field(
    edge: Edge, text: str, client: TestClient, app: FastAPI, builder: Builder
) -> None:
    error = _refused(edge, text, client, app, builder)

    assert error["msg"] == PLAIN_DECIMAL_MESSAGE == "must be a plain decimal number such as 12.5"
    assert error["type"] == "decimal_not_plain"


# --- just inside the edges -----------------------------------------------------------------


def test_the_first_and_last_instants_of_the_range_are_accepted_and_kept(
    builder: Builder,
) -> None:
    first = datetime(1900, 1, 1, tzinfo=UTC)
    last = datetime(9000, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

    wo = builder.work_order(due_date=FIRST, release_at=LAST)
    po = builder.production_order(work_orders=0, due_date=LAST)
    other = builder.work_order()
    patched = builder.ok("PATCH", f"/work-orders/{other['id']}", {"due_date": LAST})
    due_first = builder.get(f"/work-orders?due_before={quote('1900-01-01T01:00:01+01:00')}")

    read = builder.get(f"/work-orders/{wo['id']}")
    assert (read["due_date"], read["release_at"]) == (wo["due_date"], wo["release_at"])
    assert datetime.fromisoformat(read["due_date"]) == first
    assert datetime.fromisoformat(read["release_at"]) == last
    assert datetime.fromisoformat(po["due_date"]) == last
    assert datetime.fromisoformat(patched["due_date"]) == last
    assert [w["id"] for w in due_first["items"]] == [wo["id"]]


def test_lists_and_the_bottleneck_report_answer_at_the_edges_of_the_range(
    builder: Builder,
) -> None:
    """Defaults and arithmetic (the report's `to` defaults to 7 days after `from`) stay
    inside what a datetime holds, from either end of the range."""
    facility = builder.facility()
    exceptions = f"/facilities/{facility['id']}/calendar/exceptions"
    builder.ok("POST", exceptions, {"kind": "HOLIDAY", "starts_at": FIRST, "ends_at": LAST})

    first, last = quote(FIRST), quote(LAST)

    for start in (quote("9000-12-31T00:00:00Z"), first):
        report = builder.request("GET", f"/bottlenecks?from={start}")
        assert report.status_code == 200, report.text
    for params in (f"from={first}", f"to={last}", f"from={first}&to={last}"):
        found = builder.get(f"{exceptions}?{params}")
        assert len(found["items"]) == 1
    for params in (f"planned_from={first}&planned_to={last}", f"due_before={first}"):
        assert builder.get(f"/work-orders?{params}")["items"] == []
    assert builder.get(f"/production-orders?due_before={first}")["items"] == []


def test_a_preview_from_the_end_of_the_range_answers_and_its_proposal_past_it_is_refused(
    client: TestClient, app: FastAPI, builder: Builder
) -> None:
    """The range leaves room for arithmetic: from a horizon at its last hour, the scheduler
    places work that ends after it, and the preview shows it (it answered 500). Sent back to
    apply, that proposal carries timestamps past the range: refused, naming them."""
    wo = builder.work_order(due_date="9000-12-31T12:00:00Z")
    horizon = "9000-12-31T23:00:00Z"

    answer = builder.request(
        "POST", "/schedule/preview", {"work_order_ids": [wo["id"]], "horizon_start": horizon}
    )

    assert answer.status_code == 200, answer.text
    proposal = answer.json()
    (planned,) = proposal["work_orders"]
    assert planned["id"] == wo["id"]
    assert datetime.fromisoformat(planned["planned_end"]) > datetime(9001, 1, 1, tzinfo=UTC)
    before = observe(client, app, ())
    refused = builder.request("POST", "/schedule/apply", {"proposal": proposal})
    problem = assert_problem(refused, 422, "validation-error")
    assert "body.proposal.work_orders.0.planned_end" in error_fields(problem)
    assert "body.proposal.work_orders.0.line_items.0.planned_end" in error_fields(problem)
    assert {e["msg"] for e in problem["errors"]} == {RANGE_MESSAGE}
    assert observe(client, app, ()) == before
    assert builder.get(f"/work-orders/{wo['id']}")["state"] == "DRAFT"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("12", "12"),
        ("12.5", "12.5"),
        (".5", "0.5"),
        ("12.", "12"),
        ("1e3", "1000"),
        ("1E-3", "0.001"),
        (7, "7"),
        (2.25, "2.25"),
    ],
    ids=repr,
)
def test_a_plain_decimal_is_accepted_as_text_or_a_json_number(
    sent: object, kept: str, builder: Builder
) -> None:
    assert builder.work_order(quantity=sent)["quantity"] == kept


def test_a_negative_quantity_is_told_its_bound_not_that_it_is_no_number(builder: Builder) -> None:
    response = builder.request("POST", "/work-orders", builder.work_order_body(quantity="-3"))
    zero = builder.request("POST", "/work-orders", builder.work_order_body(quantity="-0"))
    minutes = builder.request(
        "POST",
        "/work-orders",
        builder.work_order_body(line_items=[builder.line_item(setup_minutes="-0")]),
    )

    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["msg"] == "Input should be greater than 0"
    assert_problem(zero, 422, "validation-error")
    assert minutes.status_code == 201, minutes.text
    assert minutes.json()["line_items"][0]["setup_minutes"] == "0"


# --- every request body, without a database ------------------------------------------------


def _request_bodies() -> Iterator[type[BaseModel]]:
    create_app(Settings(database_url="sqlite://"))  # imports every module that declares one
    seen: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [RequestBody]
    while pending:
        model = pending.pop()
        for sub in model.__subclasses__():
            if sub not in seen and "[" not in sub.__name__:
                seen.add(sub)
                pending.append(sub)
    yield from sorted(seen, key=lambda m: f"{m.__module__}.{m.__qualname__}")


def _takes_text(schema: dict[str, Any]) -> bool:
    """Whether a property's JSON schema takes a string other than an id, a timestamp or one
    of a set of values, alone or as one of its choices (a decimal takes a string too)."""
    if "anyOf" in schema:
        return any(_takes_text(choice) for choice in schema["anyOf"])
    return schema.get("type") == "string" and not ({"format", "enum", "const"} & set(schema))


def _choices(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "anyOf" in schema:
        for choice in schema["anyOf"]:
            yield from _choices(choice)
    else:
        yield schema


def _free_text(schema: dict[str, Any]) -> bool:
    """Text that no pattern or number constrains: a name, a reason, a note."""
    choices = list(_choices(schema))
    if any(c.get("type") in ("number", "integer") for c in choices):
        return False
    return not any("pattern" in c for c in choices)


def _string_fields() -> list[tuple[type[BaseModel], str, bool]]:
    found = []
    for model in _request_bodies():
        properties = model.model_json_schema()["properties"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            if _takes_text(properties[key]):
                found.append((model, key, _free_text(properties[key])))
    return found


STRING_FIELDS = _string_fields()


def test_the_walk_finds_the_fields_it_must() -> None:
    names = {f"{model.__name__}.{field}": free for model, field, free in STRING_FIELDS}
    assert {"ItemCreate.sku", "WorkOrderUpdate.instructions", "ReportRequest.note"} <= set(names)
    assert {"ExceptionIn.reason", "FacilityCreate.timezone", "ProposalOut.note"} <= set(names)
    assert names["ItemCreate.sku"]
    assert names["ProposalOut.note"]
    assert names["WorkOrderCreate.quantity"] is False


@pytest.mark.parametrize(
    ("model", "field", "free"),
    STRING_FIELDS,
    ids=[f"{m.__name__}.{f}" for m, f, _ in STRING_FIELDS],
)
def test_every_string_field_of_every_request_body_refuses_a_nul_character(
    model: type[BaseModel], field: str, free: bool
) -> None:
    """Free text says why ("must not contain a NUL character"); a quantity or a field with a
    pattern of its own refuses it as it refuses any other wrong text."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate({field: NUL})

    at_field = [e for e in refused.value.errors() if e["loc"] == (field,)]
    assert len(at_field) == 1, refused.value.errors()
    if free:
        assert at_field[0]["type"] == "nul_character", at_field


def test_the_range_is_checked_without_converting_first() -> None:
    """Comparing aware datetimes never overflows; converting one near year 1 or 9999 does.
    The shared checks are what the query parameters and the portal's dates go through."""
    for moment in OUTSIDE.values():
        with pytest.raises(ValueError, match="1900-01-01 and 9000-12-31"):
            in_range(datetime.fromisoformat(moment.replace("Z", "+00:00")))
    assert in_range(datetime.fromisoformat(FIRST)) == datetime(1900, 1, 1, tzinfo=UTC)
    for day in ("1899-12-31", "9001-01-01", "9999-12-31", "0001-01-01"):
        with pytest.raises(ValueError, match="1900-01-01 and 9000-12-31"):
            day_in_range(datetime.fromisoformat(day).date())


def test_what_a_client_sends_is_checked_and_what_taktline_computed_is_only_converted() -> None:
    timestamp = TypeAdapter(Timestamp)
    computed = datetime(9001, 1, 1, 2, 5, tzinfo=timezone(timedelta(hours=2)))

    assert timestamp.validate_python(computed) == datetime(9001, 1, 1, 0, 5, tzinfo=UTC)
    for sent in ("9001-01-01T02:05:00+02:00", JUST_AFTER, LATE, EARLY):
        with pytest.raises(ValidationError, match="1900-01-01 and 9000-12-31"):
            timestamp.validate_python(sent)
        with pytest.raises(ValidationError, match="1900-01-01 and 9000-12-31"):
            timestamp.validate_json(json.dumps(sent))
    past_utc = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1)))
    with pytest.raises(ValidationError, match="1900-01-01 and 9000-12-31"):
        timestamp.validate_python(past_utc)
