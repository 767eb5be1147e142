"""`"generate": true` when creating a production order, on both databases: the order and the
work orders generated from the BOMs of its items in one transaction, with the options of
POST .../generate (`generation`: split, round up to the minimum, versions); refused with 422
beside typed work orders, and with nothing written when the generation is refused;
Idempotency-Key as for any create; bad input on every new field; roles."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.boms.test_boms_api import Plant
from tests.helpers import API, Tenant, assert_problem, db_counts, error_fields

Json = dict[str, Any]


@pytest.fixture
def plant(client: TestClient, tenant: Tenant) -> Plant:
    """The juice (1,000 gal a run on the press) and the bottle (8,000 a run on the line),
    both BOMs ACTIVE."""
    made = Plant(client, tenant)
    made.juice_bom()
    made.bottle_bom()
    return made


def order_body(plant: Plant, quantity: str = "10000", **fields: Any) -> Json:
    return {
        "reference": "HJ-PO-2001",
        "items": [{"item_id": plant.bottle["id"], "quantity": quantity}],
        **fields,
    }


def post_order(plant: Plant, body: Json, **headers: str) -> Any:
    return plant.client.post(
        f"{API}/production-orders", json=body, headers={**plant.tenant.headers(), **headers}
    )


def work_orders_of(plant: Plant, po_id: str) -> list[Json]:
    found: list[Json] = plant.get("/work-orders", production_order_id=po_id)["items"]
    return found


def quantities(plant: Plant, wos: list[Json], item: Json) -> list[str]:
    return sorted((wo["quantity"] for wo in wos if wo["item_id"] == item["id"]), key=float)


def test_generate_true_creates_the_order_with_the_work_orders_its_boms_make(
    plant: Plant,
) -> None:
    response = post_order(plant, order_body(plant, generate=True))

    assert response.status_code == 201, response.text
    po = response.json()
    assert po["state"] == "DRAFT"
    wos = work_orders_of(plant, po["id"])
    assert {wo["id"] for wo in wos} == {wo["id"] for wo in po["work_orders"]}
    # as POST .../generate makes them: full runs, then the remainder
    assert quantities(plant, wos, plant.bottle) == ["2000", "8000"]
    assert quantities(plant, wos, plant.juice) == ["275", "1000"]
    assert all(wo["state"] == "DRAFT" and wo["bom_version_id"] for wo in wos)
    bottling = next(wo for wo in wos if wo["quantity"] == "8000")
    assert {wo["id"] for wo in wos if wo["item_id"] == plant.juice["id"]} == set(
        bottling["depends_on"]
    )
    materials = plant.get(f"/work-orders/{bottling['id']}/materials")
    assert [(m["item_id"], m["quantity"]) for m in materials] == [
        (plant.juice["id"], "1020"),
        (plant.glass["id"], "8000"),
    ]
    events = plant.get(f"/production-orders/{po['id']}/events")
    mine = [e for e in events if e["entity_id"] == po["id"]]
    assert [e["action"] for e in mine] == ["create", "generate"]
    assert mine[1]["changes"]["work_orders"] == 4
    assert mine[1]["changes"]["replaced"] == []


def test_the_generation_options_are_those_of_generate(plant: Plant) -> None:
    even = post_order(plant, order_body(plant, generate=True, generation={"split": "EVEN"}))

    assert even.status_code == 201, even.text
    wos = work_orders_of(plant, even.json()["id"])
    assert quantities(plant, wos, plant.bottle) == ["5000", "5000"]
    assert quantities(plant, wos, plant.juice) == ["637.5", "637.5"]


def test_a_version_named_in_generation_is_used_instead_of_the_active_one(
    plant: Plant,
) -> None:
    (juice_bom,) = plant.get("/boms", item_id=plant.juice["id"])["items"]
    version_1 = plant.get(f"/boms/{juice_bom['id']}/versions/1")
    plant.post(f"/boms/{juice_bom['id']}/versions", {"copy_of": 1}, status=201)
    changed = plant.client.patch(
        f"{API}/boms/{juice_bom['id']}/versions/2",
        json={"batch_quantity": "500"},  # twice the concentrate per gallon
        headers=plant.tenant.headers(),
    )
    assert changed.status_code == 200, changed.text
    plant.post(f"/boms/{juice_bom['id']}/versions/2/activate")
    body = order_body(plant, "2000", generate=True, generation={"versions": {juice_bom["id"]: 1}})

    response = post_order(plant, body)

    assert response.status_code == 201, response.text
    (juice,) = [
        wo
        for wo in work_orders_of(plant, response.json()["id"])
        if wo["item_id"] == plant.juice["id"]
    ]
    assert juice["bom_version_id"] == version_1["id"]
    materials = plant.get(f"/work-orders/{juice['id']}/materials")
    assert [(m["item_id"], m["quantity"]) for m in materials] == [
        (plant.concentrate["id"], "45.9")  # 255 gal x 180 / 1,000 (version 2: 91.8)
    ]


def test_below_a_minimum_it_is_refused_and_nothing_is_created_unless_rounding_up(
    plant: Plant, app: FastAPI
) -> None:
    press = plant.client.patch(
        f"{API}/resources/{plant.press['id']}",
        json={"capacity_min": "500"},
        headers=plant.tenant.headers("admin"),
    )
    assert press.status_code == 200, press.text
    before = db_counts(app.state.engine)

    refused = post_order(plant, order_body(plant, "2000", generate=True))

    problem = assert_problem(refused, 409)
    assert "below the minimum" in problem["detail"]
    assert db_counts(app.state.engine) == before  # no order, no work orders, no events
    rounded = post_order(
        plant, order_body(plant, "2000", generate=True, generation={"round_up_to_minimum": True})
    )
    assert rounded.status_code == 201, rounded.text
    wos = work_orders_of(plant, rounded.json()["id"])
    assert quantities(plant, wos, plant.juice) == ["500"]  # 255 gal, rounded up


def test_an_item_without_an_active_bom_refuses_the_whole_create(plant: Plant, app: FastAPI) -> None:
    before = db_counts(app.state.engine)
    body = {"items": [{"item_id": plant.glass["id"], "quantity": "10"}], "generate": True}

    refused = post_order(plant, body)

    assert "has no active bill of material" in assert_problem(refused, 409)["detail"]
    assert db_counts(app.state.engine) == before


def test_generate_beside_typed_work_orders_is_refused_with_422(plant: Plant, app: FastAPI) -> None:
    typed = {"item_id": plant.bottle["id"], "quantity": "100"}
    before = db_counts(app.state.engine)

    refused = post_order(plant, order_body(plant, generate=True, work_orders=[typed]))

    problem = assert_problem(refused, 422, "validation-error")
    assert error_fields(problem) == ["body.work_orders"]
    assert "not both" in problem["errors"][0]["msg"]
    assert db_counts(app.state.engine) == before
    # without generate, the same work orders are simply created
    assert post_order(plant, order_body(plant, work_orders=[typed])).status_code == 201


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"generate": "yes"}, "body.generate"),
        ({"generate": 1}, "body.generate"),
        ({"generate": None}, "body.generate"),
        ({"generation": {"split": "EVEN"}}, "body.generation"),
        ({"generate": False, "generation": {}}, "body.generation"),
        ({"generate": True, "generation": "EVEN"}, "body.generation"),
        ({"generate": True, "generation": {"split": "HALF"}}, "body.generation.split"),
        (
            {"generate": True, "generation": {"round_up_to_minimum": "true"}},
            "body.generation.round_up_to_minimum",
        ),
        (
            {"generate": True, "generation": {"versions": {"juice": 1}}},
            "body.generation.versions.juice.[key]",
        ),
        (
            {
                "generate": True,
                "generation": {"versions": {"01a00000-0000-7000-8000-000000000000": "one"}},
            },
            "body.generation.versions.01a00000-0000-7000-8000-000000000000",
        ),
        (
            {
                "generate": True,
                "generation": {"versions": {"01a00000-0000-7000-8000-000000000000": 0}},
            },
            "body.generation.versions.01a00000-0000-7000-8000-000000000000",
        ),
        (
            {
                "generate": True,
                "generation": {"versions": {"01a00000-0000-7000-8000-000000000000": 2**31}},
            },
            "body.generation.versions.01a00000-0000-7000-8000-000000000000",
        ),
        ({"generate": True, "generation": {"batch": 2}}, "body.generation.batch"),
    ],
    ids=[
        "generate text",
        "generate a number",
        "generate null",
        "generation without generate",
        "generation with generate false",
        "generation not an object",
        "split unknown",
        "round_up_to_minimum text",
        "versions key not an id",
        "versions number text",
        "versions number zero",
        "versions number beyond the database's integers",
        "generation unknown field",
    ],
)
def test_bad_generation_fields_are_refused_at_their_place_and_change_nothing(
    plant: Plant, app: FastAPI, fields: Json, loc: str
) -> None:
    before = db_counts(app.state.engine)

    response = post_order(plant, order_body(plant, **fields))

    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == [loc], problem
    assert db_counts(app.state.engine) == before


def test_a_retry_with_the_same_idempotency_key_generates_nothing_more(
    plant: Plant, app: FastAPI
) -> None:
    body = order_body(plant, generate=True)
    first = post_order(plant, body, **{"Idempotency-Key": "generate-once"})
    assert first.status_code == 201, first.text
    after_first = db_counts(app.state.engine)

    again = post_order(plant, body, **{"Idempotency-Key": "generate-once"})
    other = post_order(plant, {**body, "reference": "X"}, **{"Idempotency-Key": "generate-once"})

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert_problem(other, 422, "idempotency-key-reused")
    assert db_counts(app.state.engine) == after_first
    orders = plant.get("/production-orders", q="HJ-PO-2001")["items"]
    assert [po["id"] for po in orders] == [first.json()["id"]]
    assert len(work_orders_of(plant, first.json()["id"])) == 4


def test_only_planners_create_with_generate(plant: Plant, app: FastAPI) -> None:
    before = db_counts(app.state.engine)
    for role in ("viewer", "operator"):
        response = plant.client.post(
            f"{API}/production-orders",
            json=order_body(plant, generate=True),
            headers=plant.tenant.headers(role),
        )
        assert_problem(response, 403)
    assert db_counts(app.state.engine) == before


def test_another_organisations_item_is_refused_before_anything_is_generated(
    plant: Plant, other_tenant: Tenant, app: FastAPI
) -> None:
    before = db_counts(app.state.engine)

    response = plant.client.post(
        f"{API}/production-orders",
        json=order_body(plant, generate=True),
        headers=other_tenant.headers(),
    )

    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == ["body.items.0.item_id"]
    assert db_counts(app.state.engine) == before


def test_generate_itself_takes_the_same_body_and_refuses_a_version_no_database_holds(
    plant: Plant, app: FastAPI
) -> None:
    po = plant.order()
    (juice_bom,) = plant.get("/boms", item_id=plant.juice["id"])["items"]
    before = db_counts(app.state.engine)

    refused = plant.client.post(
        f"{API}/production-orders/{po['id']}/generate",
        json={"versions": {juice_bom["id"]: 2**31}},
        headers=plant.tenant.headers(),
    )

    problem = assert_problem(refused, 422, "validation-error")
    assert error_fields(problem) == [f"body.versions.{juice_bom['id']}"]
    assert db_counts(app.state.engine) == before
