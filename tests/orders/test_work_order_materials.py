"""A work order's material requirements, edited as its line items are, on both databases:
PATCH /work-orders/{id} with `materials` (and If-Match) replaces the whole list while the
work order is DRAFT; the lifecycle refuses it in every other state. Each material is an item
of the organisation, a positive plain decimal within the item's precision, in the item's unit
or one it converts from; a typed one has no BOM line, a generated one sent back keeps its own.
Every change is audited."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.boms.test_boms_api import Plant as BomPlant
from tests.factories import (
    API,
    STATES,
    Json,
    World,
    drive_work_order,
    expect_object,
    make_item,
    make_work_order,
    make_world,
)
from tests.helpers import Tenant, assert_problem, db_counts, error_fields


@pytest.fixture
def world(app: FastAPI, client: TestClient, tenant: Tenant) -> World:
    return make_world(app, client, tenant)


@pytest.fixture
def stock(world: World) -> dict[str, Json]:
    """Items of three kinds: whole bottles, juice in gallons (3 places, also counted in
    litres) and labels (whole), for the world's tenant."""
    client, tenant = world.client, world.tenant
    return {
        "bottle": make_item(
            client, tenant, name="Glass bottle", unit="ea", precision=0, type="RAW_MATERIAL"
        ),
        "juice": make_item(
            client,
            tenant,
            name="Apple juice",
            unit="gal",
            precision=3,
            type="WORK_IN_PROGRESS",
            conversions=[{"unit": "L", "quantity": "3.785", "base_quantity": "1"}],
        ),
        "label": make_item(client, tenant, name="Label", unit="ea", precision=0),
    }


def patch(world: World, wo: Json, body: Any, role: str = "planner", **headers: str) -> Any:
    return world.client.patch(
        f"{API}/work-orders/{wo['id']}",
        json=body,
        headers={**world.tenant.headers(role), **headers},
    )


def materials_of(world: World, wo: Json) -> list[Json]:
    response = world.client.get(
        f"{API}/work-orders/{wo['id']}/materials", headers=world.tenant.headers("viewer")
    )
    assert response.status_code == 200, response.text
    found: list[Json] = response.json()
    return found


def shown(materials: list[Json]) -> list[tuple[int, str, str, str, str | None]]:
    return [
        (m["position"], m["item_id"], m["quantity"], m["unit"], m["bom_input_id"])
        for m in materials
    ]


def test_a_draft_work_orders_materials_are_replaced_whole_with_its_version_and_audited(
    world: World, stock: dict[str, Json]
) -> None:
    wo = make_work_order(world.client, world.tenant, world.plant)
    bottle, juice = stock["bottle"], stock["juice"]

    first = patch(
        world,
        wo,
        {
            "materials": [
                {"item_id": juice["id"], "quantity": "12.5"},
                {"item_id": bottle["id"], "quantity": "100", "unit": "ea"},
            ]
        },
        **{"If-Match": f'"{wo["version"]}"'},
    )

    assert first.status_code == 200, first.text
    assert first.json()["version"] == wo["version"] + 1
    assert first.headers["ETag"] == f'"{wo["version"] + 1}"'
    assert shown(materials_of(world, wo)) == [
        (1, juice["id"], "12.5", "gal", None),  # the item's unit when none is given
        (2, bottle["id"], "100", "ea", None),
    ]
    again = patch(
        world, wo, {"materials": [{"item_id": juice["id"], "quantity": "40", "unit": "L"}]}
    )
    assert again.status_code == 200, again.text
    assert shown(materials_of(world, wo)) == [(1, juice["id"], "40", "L", None)]
    (update, _) = [e for e in world.events(wo["id"]) if e["action"] == "update"][::-1]
    assert update["changes"]["materials"] == [
        "replaced",
        [{"item_id": juice["id"], "quantity": "40", "unit": "L", "bom_input_id": None}],
    ]
    cleared = patch(world, wo, {"materials": []})
    assert cleared.status_code == 200, cleared.text
    assert materials_of(world, wo) == []


def test_an_older_version_in_if_match_is_refused_and_changes_nothing(
    world: World, stock: dict[str, Json]
) -> None:
    wo = make_work_order(world.client, world.tenant, world.plant)
    patch(world, wo, {"materials": [{"item_id": stock["label"]["id"], "quantity": "5"}]})
    before = db_counts(world.engine)

    stale = patch(
        world,
        wo,
        {"materials": [{"item_id": stock["bottle"]["id"], "quantity": "9"}]},
        **{"If-Match": f'"{wo["version"]}"'},
    )

    assert_problem(stale, 412, "version-mismatch")
    assert db_counts(world.engine) == before
    assert shown(materials_of(world, wo)) == [(1, stock["label"]["id"], "5", "ea", None)]


@pytest.mark.parametrize("state", [s for s in STATES if s != "DRAFT"])
def test_outside_draft_the_lifecycle_refuses_new_materials(
    world: World, stock: dict[str, Json], state: str
) -> None:
    wo = make_work_order(world.client, world.tenant, world.plant)
    patch(world, wo, {"materials": [{"item_id": stock["label"]["id"], "quantity": "5"}]})
    moved = drive_work_order(world.client, world.tenant, world.get(wo["id"]), state)
    before = db_counts(world.engine)

    refused = patch(
        world, moved, {"materials": [{"item_id": stock["bottle"]["id"], "quantity": "1"}]}
    )

    problem = assert_problem(refused, 409, "invalid-transition")
    assert state in problem["detail"]
    assert "update is allowed only from DRAFT" in problem["detail"]
    assert db_counts(world.engine) == before
    assert shown(materials_of(world, wo)) == [(1, stock["label"]["id"], "5", "ea", None)]


def test_a_generated_material_sent_back_keeps_its_bom_line_and_a_typed_one_has_none(
    client: TestClient, tenant: Tenant
) -> None:
    plant = BomPlant(client, tenant)
    plant.juice_bom()
    plant.bottle_bom()
    po = plant.order("800")
    plant.post(f"/production-orders/{po['id']}/generate")
    (bottling,) = [
        wo
        for wo in plant.get("/work-orders", production_order_id=po["id"])["items"]
        if wo["item_id"] == plant.bottle["id"]
    ]
    generated = plant.get(f"/work-orders/{bottling['id']}/materials")
    juice_line, glass_line = (m["bom_input_id"] for m in generated)
    label = plant.item(name="Label", unit="ea", precision=0)
    body = {
        "materials": [
            {
                **{k: generated[0][k] for k in ("item_id", "unit", "bom_input_id")},
                "quantity": "105",
            },
            {"item_id": label["id"], "quantity": "800"},
        ]
    }

    response = client.patch(
        f"{API}/work-orders/{bottling['id']}", json=body, headers=tenant.headers()
    )

    assert response.status_code == 200, response.text
    assert shown(plant.get(f"/work-orders/{bottling['id']}/materials")) == [
        (1, plant.juice["id"], "105", "gal", juice_line),
        (2, label["id"], "800", "ea", None),
    ]
    # a BOM line is the work order's own, of the same item, and given once
    for line, loc, words in (
        (glass_line, "body.materials.0.bom_input_id", "another item"),
        ("01a00000-0000-7000-8000-000000000000", "body.materials.0.bom_input_id", "no line"),
    ):
        wrong = {
            "materials": [{"item_id": plant.juice["id"], "quantity": "1", "bom_input_id": line}]
        }
        problem = assert_problem(
            client.patch(
                f"{API}/work-orders/{bottling['id']}", json=wrong, headers=tenant.headers()
            ),
            422,
            "validation-error",
        )
        assert error_fields(problem) == [loc]
        assert words in problem["errors"][0]["msg"]
    twice = {
        "materials": [
            {"item_id": plant.juice["id"], "quantity": "1", "bom_input_id": juice_line},
            {"item_id": plant.juice["id"], "quantity": "2", "bom_input_id": juice_line},
        ]
    }
    problem = assert_problem(
        client.patch(f"{API}/work-orders/{bottling['id']}", json=twice, headers=tenant.headers()),
        422,
    )
    assert error_fields(problem) == ["body.materials.1.bom_input_id"]


def test_a_typed_work_order_takes_no_bom_line(world: World, stock: dict[str, Json]) -> None:
    wo = make_work_order(world.client, world.tenant, world.plant)
    line = "01a00000-0000-7000-8000-000000000000"

    refused = patch(
        world,
        wo,
        {"materials": [{"item_id": stock["bottle"]["id"], "quantity": "1", "bom_input_id": line}]},
    )

    problem = assert_problem(refused, 422, "validation-error")
    assert error_fields(problem) == ["body.materials.0.bom_input_id"]
    assert "typed" in problem["errors"][0]["msg"]


UNKNOWN = "01a00000-0000-7000-8000-000000000000"


def _one(**fields: Any) -> Any:
    """A body of one material (bottles unless `item_id` is given); `_DROP` leaves a field out."""

    def build(stock: dict[str, Json]) -> Json:
        material = {"item_id": stock["bottle"]["id"], "quantity": "10", **fields}
        return {"materials": [{k: v for k, v in material.items() if v is not _DROP}]}

    return build


_DROP = object()
BAD: dict[str, tuple[Any, str]] = {
    "materials null": (lambda s: {"materials": None}, "body.materials"),
    "materials not a list": (lambda s: {"materials": {"item_id": UNKNOWN}}, "body.materials"),
    "a material not an object": (lambda s: {"materials": ["bottle"]}, "body.materials.0"),
    "too many materials": (
        lambda s: {"materials": [{"item_id": s["bottle"]["id"], "quantity": "1"}] * 201},
        "body.materials",
    ),
    "item_id missing": (_one(item_id=_DROP), "body.materials.0.item_id"),
    "item_id not an id": (_one(item_id="BTL-1"), "body.materials.0.item_id"),
    "item_id unknown": (_one(item_id=UNKNOWN), "body.materials.0.item_id"),
    "quantity missing": (_one(quantity=_DROP), "body.materials.0.quantity"),
    "quantity zero": (_one(quantity="0"), "body.materials.0.quantity"),
    "quantity negative": (_one(quantity="-3"), "body.materials.0.quantity"),
    "quantity not a number": (_one(quantity="ten"), "body.materials.0.quantity"),
    "quantity not plain": (_one(quantity="1_000"), "body.materials.0.quantity"),
    "quantity infinite": (_one(quantity="Infinity"), "body.materials.0.quantity"),
    "quantity a boolean": (_one(quantity=True), "body.materials.0.quantity"),
    "quantity beyond the item's precision": (_one(quantity="10.5"), "body.materials.0.quantity"),
    "quantity beyond any precision": (_one(quantity="1.0000001"), "body.materials.0.quantity"),
    "unit not the item's nor converted": (_one(unit="kg"), "body.materials.0.unit"),
    "unit empty": (_one(unit=""), "body.materials.0.unit"),
    "unit too long": (_one(unit="u" * 33), "body.materials.0.unit"),
    "unit with a NUL": (_one(unit="e\x00a"), "body.materials.0.unit"),
    "bom_input_id not an id": (_one(bom_input_id="line 1"), "body.materials.0.bom_input_id"),
    "an unknown field": (_one(lot="L-1"), "body.materials.0.lot"),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_materials_are_refused_at_their_place_and_change_nothing(
    world: World, stock: dict[str, Json], case: tuple[Any, str]
) -> None:
    build, loc = case
    wo = make_work_order(world.client, world.tenant, world.plant)
    before = db_counts(world.engine)

    response = patch(world, wo, build(stock))

    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == [loc], problem
    assert db_counts(world.engine) == before
    assert world.get(wo["id"])["version"] == wo["version"]


def test_the_precision_is_the_items_own(world: World, stock: dict[str, Json]) -> None:
    wo = make_work_order(world.client, world.tenant, world.plant)

    fine = patch(world, wo, {"materials": [{"item_id": stock["juice"]["id"], "quantity": "0.125"}]})
    too_fine = patch(
        world, wo, {"materials": [{"item_id": stock["juice"]["id"], "quantity": "0.1255"}]}
    )

    assert fine.status_code == 200, fine.text
    problem = assert_problem(too_fine, 422, "validation-error")
    assert error_fields(problem) == ["body.materials.0.quantity"]
    assert "at most 3" in problem["errors"][0]["msg"]


def test_another_organisations_item_is_refused_as_unknown_and_its_work_orders_are_not_found(
    world: World, stock: dict[str, Json], other_tenant: Tenant
) -> None:
    wo = make_work_order(world.client, world.tenant, world.plant)
    theirs = make_item(world.client, other_tenant, unit="ea")
    before = db_counts(world.engine)

    foreign_item = patch(world, wo, {"materials": [{"item_id": theirs["id"], "quantity": "1"}]})
    foreign_work_order = world.client.patch(
        f"{API}/work-orders/{wo['id']}",
        json={"materials": [{"item_id": theirs["id"], "quantity": "1"}]},
        headers=other_tenant.headers(),
    )

    problem = assert_problem(foreign_item, 422, "validation-error")
    assert error_fields(problem) == ["body.materials.0.item_id"]
    assert problem["errors"][0]["msg"] == "no item with this id"
    assert_problem(foreign_work_order, 404, "not-found")
    assert db_counts(world.engine) == before


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_planners_change_materials(world: World, stock: dict[str, Json], role: str) -> None:
    wo = make_work_order(world.client, world.tenant, world.plant)
    before = db_counts(world.engine)

    response = patch(
        world, wo, {"materials": [{"item_id": stock["bottle"]["id"], "quantity": "1"}]}, role
    )

    assert_problem(response, 403)
    assert db_counts(world.engine) == before


def test_materials_and_line_items_change_together_in_one_version(
    world: World, stock: dict[str, Json]
) -> None:
    wo = make_work_order(world.client, world.tenant, world.plant)
    line = {
        "operation": "Filling",
        "resource_id": world.plant.resource_ids[0],
        "setup_minutes": "5",
    }

    changed = expect_object(
        patch(
            world,
            wo,
            {
                "line_items": [line],
                "materials": [{"item_id": stock["bottle"]["id"], "quantity": "100"}],
            },
        )
    )

    assert changed["version"] == wo["version"] + 1
    assert [li["operation"] for li in changed["line_items"]] == ["Filling"]
    assert shown(materials_of(world, wo)) == [(1, stock["bottle"]["id"], "100", "ea", None)]
    (update,) = [e for e in world.events(wo["id"]) if e["action"] == "update"]
    assert set(update["changes"]) == {"line_items", "materials"}
