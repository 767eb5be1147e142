"""Tenancy: to one organisation, another organisation's records do not exist.

Every operation with an id in its path, called with another organisation's ids, answers 404
exactly as for an id that does not exist, and changes nothing; a body that refers to another
organisation's record is refused exactly as one that refers to an unknown id; lists never show
another organisation's records. The operations come from the OpenAPI document, so a new one
cannot be left out (see `SCENARIOS` in conftest.py).
"""

import copy
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import (
    PUBLIC_OPERATIONS,
    SCENARIOS,
    WO,
    Builder,
    Call,
    Json,
    Watch,
    import_file,
    iso,
    observe,
    operations,
    path_id_operations,
    scenario_for,
)
from tests.boms.sheets import csv_of, rows_of
from tests.helpers import API, assert_problem, bodies, error_fields, list_all


def normalised(response: httpx.Response, ids: Mapping[str, str]) -> Json:
    """The body with each id replaced by its name: two answers that differ only in which id
    was asked for compare equal."""
    text = response.text
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    return json.loads(text)


def ids_of(params: Mapping[str, str]) -> dict[str, str]:
    """The path parameters that are ids (not a version's number)."""
    return {name: value for name, value in params.items() if name.endswith("_id")}


def unknown_ids(names: Mapping[str, str]) -> dict[str, str]:
    return {name: str(uuid.uuid4()) for name in ids_of(names)}


def test_every_operation_of_the_api_has_a_scenario() -> None:
    documented = operations()
    missing = [op for op in documented if op not in SCENARIOS and op not in PUBLIC_OPERATIONS]
    stale = [op for op in SCENARIOS if op not in documented]

    assert missing == [], "operations without a scenario in tests/api/conftest.py"
    assert stale == [], "scenarios of operations the API no longer has"
    assert len(path_id_operations()) >= 25  # the collection below really sees the API


@pytest.mark.parametrize("operation", path_id_operations())
def test_another_organisations_id_in_the_path_answers_404_like_an_unknown_id_and_changes_nothing(
    operation: str,
    client: TestClient,
    app: FastAPI,
    builder: Builder,
    other_builder: Builder,
) -> None:
    scenario = scenario_for(operation)
    role = scenario.owner_role  # the planner, or the admin where only admins may
    call = scenario.build(other_builder)
    before = observe(client, app, call.watches)

    foreign = call.send(client, builder.headers(role))

    assert_problem(foreign, 404, "not-found")
    assert observe(client, app, call.watches) == before
    missing_ids = unknown_ids(call.params)
    missing = call.with_params(**missing_ids).send(client, builder.headers(role))
    assert_problem(missing, 404, "not-found")
    assert normalised(foreign, ids_of(call.params)) == normalised(missing, missing_ids)
    assert foreign.headers["content-type"] == missing.headers["content-type"]
    assert "etag" not in foreign.headers
    # The owner's very same request goes through: only the organisation made the difference.
    assert call.send(client, other_builder.headers(role)).status_code == call.success


@pytest.mark.parametrize("action", ["report", "skip"])
def test_another_organisations_line_item_under_ones_own_work_order_is_not_found(
    action: str,
    client: TestClient,
    app: FastAPI,
    builder: Builder,
    other_builder: Builder,
) -> None:
    own = builder.wo_in("IN_PROCESS")
    theirs = other_builder.wo_in("IN_PROCESS")
    body = {"reason": "not needed"} if action == "skip" else {"quantity_completed": "5"}
    call = Call(
        "POST",
        f"{WO}/{{work_order_id}}/line-items/{{line_item_id}}/{action}",
        {"work_order_id": own["id"], "line_item_id": theirs["line_items"][0]["id"]},
        body,
        (
            Watch(builder.headers("viewer"), f"{WO}/{own['id']}"),
            Watch(other_builder.headers("viewer"), f"{WO}/{theirs['id']}"),
        ),
    )
    before = observe(client, app, call.watches)

    foreign = call.send(client, builder.headers("planner"))

    assert_problem(foreign, 404, "not-found")
    assert observe(client, app, call.watches) == before
    missing_id = {"line_item_id": str(uuid.uuid4())}
    missing = call.with_params(**missing_id).send(client, builder.headers("planner"))
    assert normalised(foreign, {"line_item_id": call.params["line_item_id"]}) == normalised(
        missing, missing_id
    )
    own_line = call.with_params(line_item_id=own["line_items"][0]["id"])
    assert own_line.send(client, builder.headers("planner")).status_code == 200


# --- references in request bodies ----------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A body field that refers to a record: `prepare` builds the target of the request in
    the caller's organisation and returns the request for a given referenced id, together
    with a valid id of the caller's own; `record` makes a record of the kind referred to."""

    loc: str
    prepare: Callable[[Builder], tuple[Callable[[str], Call], str]]
    record: Callable[[Builder], str]


def _post(path: str, body: Callable[[str], Json], success: int = 201) -> Callable[[str], Call]:
    return lambda ref: Call("POST", f"{API}{path}", body=body(ref), success=success)


def _patch(path: str, body: Callable[[str], Json]) -> Callable[[str], Call]:
    return lambda ref: Call("PATCH", f"{API}{path}", body=body(ref))


def _facility(b: Builder) -> str:
    return str(b.facility()["id"])


def _item(b: Builder) -> str:
    return str(b.item()["id"])


def _resource(b: Builder) -> str:
    return str(b.resource()["id"])


def _customer(b: Builder) -> str:
    return str(b.customer()["id"])


def _production_order(b: Builder) -> str:
    return str(b.production_order(work_orders=0)["id"])


def _line_item_of_a_draft(b: Builder) -> str:
    return str(b.work_order()["line_items"][0]["id"])


def _resource_create(b: Builder) -> tuple[Callable[[str], Call], str]:
    return _post("/resources", lambda ref: bodies.resource(ref)), _facility(b)


def _resource_patch(b: Builder) -> tuple[Callable[[str], Call], str]:
    resource = b.resource()
    return _patch(f"/resources/{resource['id']}", lambda ref: {"facility_id": ref}), _facility(b)


def _wo_create(field: str, own: Callable[[Builder], str]) -> Callable[[Builder], tuple[Any, str]]:
    def prepare(b: Builder) -> tuple[Callable[[str], Call], str]:
        if field == "resource_id":
            return _post("/work-orders", lambda ref: b.work_order_body(resource_id=ref)), own(b)
        return (
            _post("/work-orders", lambda ref: b.work_order_body() | {field: ref}),
            own(b),
        )

    return prepare


def _wo_create_alternative(b: Builder) -> tuple[Callable[[str], Call], str]:
    def body(ref: str) -> Json:
        wo = b.work_order_body()
        wo["line_items"][0]["alternatives"] = [{"resource_id": ref, "run_minutes_per_unit": "1"}]
        return wo

    return _post("/work-orders", body), _resource(b)


def _wo_create_depends_on(b: Builder) -> tuple[Callable[[str], Call], str]:
    po = b.production_order(work_orders=1)
    own = po["work_orders"][0]["id"]
    return (
        _post(
            "/work-orders",
            lambda ref: (
                b.work_order_body() | {"production_order_id": po["id"], "depends_on": [ref]}
            ),
        ),
        own,
    )


def _work_order(b: Builder) -> str:
    return str(b.work_order()["id"])


def _wo_patch_item(b: Builder) -> tuple[Callable[[str], Call], str]:
    wo = b.work_order()
    return _patch(f"/work-orders/{wo['id']}", lambda ref: {"item_id": ref}), _item(b)


def _wo_patch_line_resource(b: Builder) -> tuple[Callable[[str], Call], str]:
    wo = b.work_order()
    return (
        _patch(f"/work-orders/{wo['id']}", lambda ref: {"line_items": [b.line_item(ref)]}),
        _resource(b),
    )


def _wo_schedule(field: str) -> Callable[[Builder], tuple[Callable[[str], Call], str]]:
    def prepare(b: Builder) -> tuple[Callable[[str], Call], str]:
        wo = b.work_order()
        own_line = wo["line_items"][0]["id"]
        start, end = b.window()

        def body(ref: str) -> Json:
            window = {"id": own_line, "planned_start": iso(start), "planned_end": iso(end)}
            window[field] = ref
            return {"line_items": [window]}

        own = own_line if field == "id" else b.resource(parallel_capacity=5)["id"]
        return _post(f"/work-orders/{wo['id']}/schedule", body, success=200), own

    return prepare


def _po_create(place: str, own: Callable[[Builder], str]) -> Callable[[Builder], Any]:
    def prepare(b: Builder) -> tuple[Callable[[str], Call], str]:
        base = b.production_order_body(work_orders=1)

        def body(ref: str) -> Json:
            order = copy.deepcopy(base)
            if place == "owner_id":
                order["owner_id"] = ref
            elif place == "items.0.item_id":
                order["items"][0]["item_id"] = ref
                order["work_orders"] = []
            elif place == "work_orders.0.item_id":
                order["work_orders"][0]["item_id"] = ref
            else:
                order["work_orders"][0]["line_items"][0]["resource_id"] = ref
            return order

        return _post("/production-orders", body), own(b)

    return prepare


def _po_patch(place: str, own: Callable[[Builder], str]) -> Callable[[Builder], Any]:
    def prepare(b: Builder) -> tuple[Callable[[str], Call], str]:
        po = b.production_order(work_orders=0)

        def body(ref: str) -> Json:
            if place == "owner_id":
                return {"owner_id": ref}
            return {"items": [{"item_id": ref, "quantity": "10"}]}

        return _patch(f"/production-orders/{po['id']}", body), own(b)

    return prepare


REFERENCES = {
    "resource create facility_id": Reference("body.facility_id", _resource_create, _facility),
    "resource patch facility_id": Reference("body.facility_id", _resource_patch, _facility),
    "work order create item_id": Reference("body.item_id", _wo_create("item_id", _item), _item),
    "work order create production_order_id": Reference(
        "body.production_order_id",
        _wo_create("production_order_id", _production_order),
        _production_order,
    ),
    "work order create line item resource_id": Reference(
        "body.line_items.0.resource_id", _wo_create("resource_id", _resource), _resource
    ),
    "work order create line item alternative resource_id": Reference(
        "body.line_items.0.alternatives.0.resource_id", _wo_create_alternative, _resource
    ),
    "work order create depends_on": Reference(
        "body.depends_on.0", _wo_create_depends_on, _work_order
    ),
    "work order patch item_id": Reference("body.item_id", _wo_patch_item, _item),
    "work order patch line item resource_id": Reference(
        "body.line_items.0.resource_id", _wo_patch_line_resource, _resource
    ),
    "work order schedule window resource_id": Reference(
        "body.line_items.0.resource_id", _wo_schedule("resource_id"), _resource
    ),
    "work order schedule window line item id": Reference(
        "body.line_items.0.id", _wo_schedule("id"), _line_item_of_a_draft
    ),
    "production order create owner_id": Reference(
        "body.owner_id", _po_create("owner_id", _customer), _customer
    ),
    "production order create item": Reference(
        "body.items.0.item_id", _po_create("items.0.item_id", _item), _item
    ),
    "production order create work order item": Reference(
        "body.work_orders.0.item_id", _po_create("work_orders.0.item_id", _item), _item
    ),
    "production order create work order line item resource": Reference(
        "body.work_orders.0.line_items.0.resource_id",
        _po_create("work_orders.0.line_items.0.resource_id", _resource),
        _resource,
    ),
    "production order patch owner_id": Reference(
        "body.owner_id", _po_patch("owner_id", _customer), _customer
    ),
    "production order patch item": Reference(
        "body.items.0.item_id", _po_patch("items.0.item_id", _item), _item
    ),
}


@pytest.mark.parametrize("case", REFERENCES.values(), ids=REFERENCES.keys())
def test_a_body_referring_to_another_organisations_record_is_refused_like_an_unknown_id(
    case: Reference,
    client: TestClient,
    app: FastAPI,
    builder: Builder,
    other_builder: Builder,
) -> None:
    builder.shared_item, builder.shared_resource  # noqa: B018 (made before counting)
    request_for, own_id = case.prepare(builder)
    foreign_id = case.record(other_builder)
    missing_id = str(uuid.uuid4())
    before = observe(client, app, ())

    foreign = request_for(foreign_id).send(client, builder.headers())
    missing = request_for(missing_id).send(client, builder.headers())

    problem = assert_problem(foreign, 422, "validation-error")
    assert error_fields(problem) == [case.loc]
    assert normalised(foreign, {"ref": foreign_id}) == normalised(missing, {"ref": missing_id})
    assert observe(client, app, ()) == before
    # With an id of one's own, the same body goes through.
    accepted = request_for(own_id).send(client, builder.headers())
    assert accepted.status_code == request_for(own_id).success, accepted.text


# --- lists ---------------------------------------------------------------------------------


def _everything(b: Builder) -> dict[str, set[str]]:
    """One record of every kind, work orders in several states; their ids by collection."""
    po = b.production_order(work_orders=2)
    wos = [b.wo_in(state) for state in ("DRAFT", "SCHEDULED", "IN_PROCESS", "DELETED")]
    return {
        "facilities": {b.facility()["id"]},
        "customers": {po["owner_id"]},
        "items": {b.shared_item["id"]},
        "resources": {b.shared_resource["id"]},
        "production-orders": {po["id"]},
        "work-orders": {wo["id"] for wo in wos} | {wo["id"] for wo in po["work_orders"]},
    }


def test_lists_never_show_another_organisations_records(
    client: TestClient, builder: Builder, other_builder: Builder
) -> None:
    theirs = _everything(other_builder)
    ours = _everything(builder)
    tenant = builder.tenant

    for collection, their_ids in theirs.items():
        listed = {r["id"] for r in list_all(client, tenant, f"/{collection}", limit=2)}
        assert listed.isdisjoint(their_ids), collection
        assert listed, collection
    for collection in ("work-orders", "production-orders"):
        for state in ("DRAFT", "SCHEDULED", "IN_PROCESS", "DELETED", "CANCELED"):
            listed = {r["id"] for r in list_all(client, tenant, f"/{collection}", state=state)}
            assert listed.isdisjoint(theirs[collection]), (collection, state)
    assert {r["id"] for r in list_all(client, tenant, "/work-orders", state="DELETED")} <= ours[
        "work-orders"
    ]


def test_list_filters_naming_another_organisations_records_find_nothing(
    client: TestClient, builder: Builder, other_builder: Builder
) -> None:
    theirs = _everything(other_builder)
    _everything(builder)
    their_item = other_builder.shared_item
    (their_po,) = theirs["production-orders"]
    (their_owner,) = theirs["customers"]
    (their_facility,) = theirs["facilities"]
    tenant = builder.tenant
    filters: list[tuple[str, dict[str, str]]] = [
        ("/work-orders", {"production_order_id": their_po}),
        ("/work-orders", {"resource_id": other_builder.shared_resource["id"]}),
        ("/work-orders", {"item_id": their_item["id"]}),
        ("/work-orders", {"q": their_item["sku"]}),
        ("/production-orders", {"owner_id": their_owner}),
        ("/production-orders", {"q": their_item["name"]}),
        ("/resources", {"facility_id": their_facility}),
        ("/items", {"q": their_item["sku"]}),
    ]

    for path, params in filters:
        assert list_all(client, tenant, path, **params) == [], (path, params)


def test_natural_keys_and_numbers_are_per_organisation(
    client: TestClient, builder: Builder, other_builder: Builder
) -> None:
    """A SKU, code or name another organisation uses is free in this one, and each
    organisation numbers its orders from 1: nothing about the other one shows through."""
    their_item = other_builder.item()
    their_facility = other_builder.facility()
    their_customer = other_builder.customer()
    their_resource = other_builder.resource(their_facility["id"])
    their_po = other_builder.production_order(work_orders=1)

    item = builder.item(sku=their_item["sku"])
    facility = builder.facility(name=their_facility["name"])
    builder.customer(name=their_customer["name"], code=their_customer["code"])
    builder.resource(facility["id"], code=their_resource["code"])
    po = builder.production_order(work_orders=1, item_id=item["id"])

    assert po["number"] == their_po["number"] == "PO-000001"
    assert po["work_orders"][0]["number"] == their_po["work_orders"][0]["number"] == "WO-000001"


# --- bills of material by code: CSV import and export ---------------------------------------


@pytest.mark.parametrize("column", ["output_sku", "item_sku", "resource_code", "owner"])
def test_an_imported_file_naming_another_organisations_record_is_refused_like_an_unknown_code(
    column: str,
    client: TestClient,
    app: FastAPI,
    builder: Builder,
    other_builder: Builder,
) -> None:
    theirs = {
        "output_sku": other_builder.item()["sku"],
        "item_sku": other_builder.item()["sku"],
        "resource_code": other_builder.resource()["code"],
        "owner": other_builder.customer()["code"],
    }[column]
    rows = rows_of(import_file(builder))
    row = 3 if column == "resource_code" else 2
    before = observe(client, app, ())

    answers = []
    for code in (theirs, f"NO-SUCH-{uuid.uuid4().hex[:6]}"):
        rows[row - 2][column] = code
        answers.append(
            (
                code,
                client.post(
                    f"{API}/boms/import",
                    content=csv_of(*rows),
                    headers={**builder.headers(), "Content-Type": "text/csv"},
                ),
            )
        )

    (foreign_code, foreign), (missing_code, missing) = answers
    problem = assert_problem(foreign, 422, "validation-error")
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [(row, column)]
    assert normalised(foreign, {"code": foreign_code}) == normalised(
        missing, {"code": missing_code}
    )
    assert observe(client, app, ()) == before


def test_another_organisations_bom_code_is_a_new_bom_of_ones_own_and_exports_stay_apart(
    client: TestClient, builder: Builder, other_builder: Builder
) -> None:
    their_import = client.post(
        f"{API}/boms/import",
        content=import_file(other_builder, code="SHARED-CODE"),
        headers={**other_builder.headers(), "Content-Type": "text/csv"},
    )
    assert their_import.status_code == 201, their_import.text
    theirs = their_import.json()["boms"][0]

    ours = client.post(
        f"{API}/boms/import",
        content=import_file(builder, code="SHARED-CODE"),
        headers={**builder.headers(), "Content-Type": "text/csv"},
    )

    assert ours.status_code == 201, ours.text
    (made,) = ours.json()["boms"]
    assert (made["created"], made["version"]) == (True, 1)
    assert made["bom_id"] != theirs["bom_id"]
    for b, other in ((builder, other_builder), (other_builder, builder)):
        exported = client.get(f"{API}/boms/export", headers=b.headers("viewer"))
        assert exported.status_code == 200, exported.text
        (row,) = [r for r in rows_of(exported.content) if r["line"] == "input"]
        assert row["bom_code"] == "SHARED-CODE"
        assert row["item_sku"] == b.shared_item["sku"] != other.shared_item["sku"]
    assert their_import.json()["boms"][0]["version"] == 1
    their_bom = client.get(f"{API}/boms/{theirs['bom_id']}", headers=other_builder.headers())
    assert [v["number"] for v in their_bom.json()["versions"]] == [1]
