"""Items over the API: /api/v1/items."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.helpers import API, Tenant, assert_problem, bodies, create, db_counts, error_fields
from tests.helpers import list_all as list_records
from tests.helpers.contract import RecordContract, RecordSpec


def _item(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    return bodies.item()


class TestItemsFollowTheRecordContract(RecordContract):
    spec = RecordSpec(
        path="/items",
        make_body=_item,
        natural_key="sku",
        required="name",
        new_value=lambda: bodies.item()["name"],
    )


def test_type_defaults_to_finished_good(client: TestClient, tenant: Tenant) -> None:
    body = bodies.item()
    del body["type"]

    assert create(client, tenant, "/items", body)["type"] == "FINISHED_GOOD"


def test_an_unknown_type_answers_422_naming_type(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    before = db_counts(session)

    response = client.post(
        f"{API}/items", json=bodies.item(type="GADGET"), headers=tenant.headers()
    )

    assert "body.type" in error_fields(assert_problem(response, 422, "validation-error"))
    assert db_counts(session) == before


def test_an_empty_sku_answers_422_naming_sku(client: TestClient, tenant: Tenant) -> None:
    response = client.post(f"{API}/items", json=bodies.item(sku="  "), headers=tenant.headers())

    assert "body.sku" in error_fields(assert_problem(response, 422, "validation-error"))


def test_list_filters_by_type_and_by_text_in_sku_or_name(
    client: TestClient, tenant: Tenant
) -> None:
    juice = create(client, tenant, "/items", bodies.item(name="Apple Juice 16oz"))
    bottle = create(
        client, tenant, "/items", bodies.item(sku="BTL-16", name="Bottle", type="RAW_MATERIAL")
    )
    create(client, tenant, "/items", bodies.item(name="100% Cotton Rag", type="RAW_MATERIAL"))

    raw = list_records(client, tenant, "/items", type="RAW_MATERIAL")
    by_name = list_records(client, tenant, "/items", q="apple")
    by_sku = list_records(client, tenant, "/items", q="btl-")
    literal_percent = list_records(client, tenant, "/items", q="0%")

    assert bottle["id"] in [r["id"] for r in raw]
    assert juice["id"] not in [r["id"] for r in raw]
    assert [r["id"] for r in by_name] == [juice["id"]]
    assert [r["id"] for r in by_sku] == [bottle["id"]]
    assert [r["name"] for r in literal_percent] == ["100% Cotton Rag"]


# --- precision and the units an item is counted in -------------------------------------------


def test_an_item_keeps_its_precision_and_the_conversions_it_declares(
    client: TestClient, tenant: Tenant
) -> None:
    water = create(
        client,
        tenant,
        "/items",
        bodies.item(
            unit="gal",
            precision=3,
            conversions=[{"unit": "L", "quantity": "3.785", "base_quantity": "1"}],
        ),
    )

    assert water["precision"] == 3
    assert water["conversions"] == [{"unit": "L", "quantity": "3.785", "base_quantity": "1"}]
    changed = client.patch(
        f"{API}/items/{water['id']}",
        json={"conversions": [{"unit": "mL", "quantity": "3785", "base_quantity": "1.000"}]},
        headers=tenant.headers(),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["conversions"] == [
        {"unit": "mL", "quantity": "3785", "base_quantity": "1"}
    ]
    # by default quantities keep every decimal they are given
    assert create(client, tenant, "/items", bodies.item())["precision"] == 6


def test_conversions_that_say_nothing_or_twice_are_refused_at_their_field(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    before = db_counts(session)
    cases = {
        "of its own unit": [{"unit": "ea", "quantity": "1", "base_quantity": "1"}],
        "of one unit twice": [
            {"unit": "case", "quantity": "1", "base_quantity": "24"},
            {"unit": "case", "quantity": "1", "base_quantity": "12"},
        ],
        "of nothing": [{"unit": "case", "quantity": "0", "base_quantity": "24"}],
    }
    for name, conversions in cases.items():
        response = client.post(
            f"{API}/items",
            json=bodies.item(unit="ea", conversions=conversions),
            headers=tenant.headers(),
        )
        problem = assert_problem(response, 422, "validation-error")
        assert any(f.startswith("body") for f in error_fields(problem)), (name, problem)
    too_precise = client.post(
        f"{API}/items", json=bodies.item(precision=7), headers=tenant.headers()
    )
    assert "body.precision" in error_fields(assert_problem(too_precise, 422, "validation-error"))
    assert db_counts(session) == before
